#include "ps_record.h"

#include "ps_code.h"
#include "ps_db.h"
#include "ps_tasks.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define NS 1000000000ull

/* The writer's tables start again (a new segment of the stream) past
 * these: a steady program never gets there, one that keeps making new
 * code or threads (generated functions, numbered threads) would otherwise
 * grow the sampler by every name it ever saw (some 20 kB/s at 1 kHz on
 * bench/workloads/churn.py) and end at the stream's table limits. A few
 * MB of tables at most; a new segment costs its entries written again. */
#define PS_RECORD_SEGMENT_ENTRIES (1u << 16)
#define PS_RECORD_SEGMENT_BYTES (2u << 20)

void ps_record_init(struct ps_record *r, int fd, const struct ps_record_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->opts = *o;
}

static int open_writer(struct ps_record *r, const struct ps_proc *p, uint64_t t0)
{
	struct ps_stream_header h = {
		.sampler = r->opts.sampler, .pid = (uint32_t)p->pid, .argc = (uint32_t)p->argc,
		.argv = (const char *const *)p->argv, .python_version = p->version,
		.rate_hz = r->opts.rate_hz, .wall_start_ns = (int64_t)ps_wall_ns(),
		.mono_origin_ns = t0,
	};
	struct ps_sw_opts wo = { .level = r->opts.level, .flush_ms = 1000,
				 .segment_entries = PS_RECORD_SEGMENT_ENTRIES,
				 .segment_bytes = PS_RECORD_SEGMENT_BYTES };
	r->t0 = r->last_flush = t0;
	if (r->opts.db_path)
		return ps_db_create(r->opts.db_path, &h, &wo, &r->w, &r->err);
	return ps_sw_open_fd(r->fd, &h, &wo, &r->w, &r->err);
}

static int rec_start(void *ctx, struct ps_proc *p, uint64_t t0)
{
	struct ps_record *r = ctx;
	int rc = open_writer(r, p, t0);
	if (rc == PS_OK)
		rc = ps_sw_process(r->w, (uint32_t)p->pid, (uint32_t)ps_parent_of(p->pid),
				   (uint32_t)p->argc, (const char *const *)p->argv, &r->err);
	return r->write_error = rc;
}

struct ps_stream_frame ps_record_frame(const struct ps_frame *f)
{
	if (!f->code)
		return (struct ps_stream_frame){ .function = f->symbol, .file = f->object,
						 .kind = PS_FRAME_NATIVE };
	return (struct ps_stream_frame){ .function = f->code->name, .qualname = f->code->qualname,
					 .file = f->code->file,
					 .line = f->line > 0 ? (uint32_t)f->line : 0,
					 .kind = PS_FRAME_PYTHON };
}

/* A frame's stream id. A Python frame's strings are interned once per code
 * object (its entry remembers their ids for this writer). */
static int frame_id(struct ps_record *r, const struct ps_frame *f, uint32_t *id)
{
	struct ps_code *c = f->code;
	struct ps_stream_frame sf = ps_record_frame(f);
	if (!c || !c->name)
		return ps_sw_frame(r->w, &sf, id, &r->err);
	if (c->ids_for != r->w || c->ids_epoch != ps_sw_epoch(r->w)) {
		int rc;
		if ((rc = ps_sw_string(r->w, sf.function, &c->ids[0], &r->err)) ||
		    (rc = ps_sw_string(r->w, sf.qualname, &c->ids[1], &r->err)) ||
		    (rc = ps_sw_string(r->w, sf.file, &c->ids[2], &r->err)))
			return rc;
		c->ids_for = r->w;
		c->ids_epoch = ps_sw_epoch(r->w);
	}
	return ps_sw_frame_ids(r->w, sf.kind, c->ids[0], c->ids[1], c->ids[2], sf.line, id,
			       &r->err);
}

/* A thread's last stack, root first: most samples of a thread share a long
 * prefix with its previous one (a deep program moves at its leaves), and
 * the stack ids of that prefix are then known without interning its
 * frames again, which was most of the writer's cost on deep stacks. A
 * frame is the same when its code entry (by serial: never reused) and its
 * line are; native and marker frames end what is remembered. Slots are
 * found by tid, one thread each: a thread that takes another's slot just
 * interns in full that time. Bounded: MEMO_SLOTS x MEMO_DEPTH frames. */
#define MEMO_SLOTS 256
#define MEMO_DEPTH 256

struct ps_record_memo {
	const struct ps_sw *w;
	uint32_t epoch, pid;
	pid_t tid;
	size_t n;               /* frames known, from the root */
	struct {
		uint64_t serial;
		int line;
		uint32_t stack;     /* the stack id down to this frame */
	} f[MEMO_DEPTH];
};

/* The slot of (pid, tid), emptied when it was another thread's or from
 * another writer or segment; NULL when memory is short (no memo then). */
static struct ps_record_memo *memo_for(struct ps_record *r, uint32_t pid, pid_t tid)
{
	if (!r->memo && !(r->memo = calloc(MEMO_SLOTS, sizeof(*r->memo))))
		return NULL;
	struct ps_record_memo **slot = &r->memo[((uint32_t)tid * 2654435761u) >> 24];
	if (!*slot && !(*slot = calloc(1, sizeof(**slot))))
		return NULL;
	struct ps_record_memo *m = *slot;
	if (m->w != r->w || m->epoch != ps_sw_epoch(r->w) || m->pid != pid || m->tid != tid) {
		m->w = r->w;
		m->epoch = ps_sw_epoch(r->w);
		m->pid = pid;
		m->tid = tid;
		m->n = 0;
	}
	return m;
}

static void memo_free(struct ps_record *r)
{
	if (!r->memo)
		return;
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		free(r->memo[i]);
	free(r->memo);
	r->memo = NULL;
}

/* The stack id of the "<truncated>" marker alone, interned once for each
 * writer and segment (a torn stack is no rarity: fib before 3.11). */
static int truncated_root(struct ps_record *r, uint32_t *id)
{
	if (r->trunc.w == r->w && r->trunc.epoch == ps_sw_epoch(r->w)) {
		*id = r->trunc.stack;
		return PS_OK;
	}
	struct ps_stream_frame mark = { .function = "<truncated>", .kind = PS_FRAME_MARKER };
	uint32_t fid;
	int rc = ps_sw_frame(r->w, &mark, &fid, &r->err);
	if (rc == PS_OK)
		rc = ps_sw_stack(r->w, 0, fid, id, &r->err);
	if (rc == PS_OK) {
		r->trunc.w = r->w;
		r->trunc.epoch = ps_sw_epoch(r->w);
		r->trunc.stack = *id;
	}
	return rc;
}

/* A thread's stack as a stream stack id: frames interned root first, from
 * where it parts from the thread's last stack (memo). A stack we could not
 * read to its root (an error, or deeper than we walk) hangs under a
 * "<truncated>" marker, so that it never passes for a complete one. */
static int stack_id(struct ps_record *r, uint32_t pid, const struct ps_thread *t, uint32_t *id)
{
	uint32_t parent = 0;
	size_t n = t->nframes, d = 0;
	struct ps_record_memo *m = NULL;
	if (t->flags & PS_THREAD_TRUNCATED) {
		int rc = truncated_root(r, &parent);
		if (rc)
			return rc;
		if (n > PS_STREAM_MAX_DEPTH - 1)
			n = PS_STREAM_MAX_DEPTH - 1; /* keep the innermost */
	} else if (t->tid > 0) {
		m = memo_for(r, pid, t->tid);
	}
	/* d counts frames from the root: frames[n - 1 - d] */
	for (; m && d < m->n && d < n; d++) {
		const struct ps_frame *f = &t->frames[n - 1 - d];
		if (!f->code || f->code->serial != m->f[d].serial || f->line != m->f[d].line)
			break;
		parent = m->f[d].stack;
	}
	if (m)
		m->n = d;
	for (; d < n; d++) {
		const struct ps_frame *f = &t->frames[n - 1 - d];
		uint32_t fid;
		int rc = frame_id(r, f, &fid);
		if (rc == PS_OK)
			rc = ps_sw_stack(r->w, parent, fid, &parent, &r->err);
		if (rc)
			return rc;
		if (m && m->n == d && d < MEMO_DEPTH && f->code && f->code->serial) {
			m->f[d].serial = f->code->serial;
			m->f[d].line = f->line;
			m->f[d].stack = parent;
			m->n = d + 1;
		}
	}
	*id = parent;
	return PS_OK;
}

/* Write the LATE counts gathered since the last LATE event, if any. */
static int late_write(struct ps_record *r)
{
	struct ps_stream_event ev = { .kind = PS_STREAM_EV_LATE, .time_ns = r->late.time,
				      .pid = r->late.pid, .count = r->late.count,
				      .value = (int64_t)r->late.worst_us };
	if (!r->late.count)
		return PS_OK;
	r->late.count = r->late.worst_us = 0;
	return ps_sw_event(r->w, &ev, &r->err);
}

static int late_add(struct ps_record *r, uint32_t pid, uint64_t t, uint64_t count, uint64_t us)
{
	int rc = PS_OK;
	if (r->late.count && r->late.pid != pid)
		rc = late_write(r);
	if (!r->late.count)
		r->late.since = t;
	r->late.pid = pid;
	r->late.time = t;
	r->late.count += count;
	if (us > r->late.worst_us)
		r->late.worst_us = us;
	if (rc == PS_OK && t - r->late.since >= NS)
		rc = late_write(r);
	return rc;
}

static int rec_sample(void *ctx, struct ps_proc *p, uint64_t t, const struct ps_snapshot *s)
{
	struct ps_record *r = ctx;
	int started;
	/* between ticks no id is held: the one place a segment may start */
	int rc = ps_sw_segment(r->w, &started, &r->err);
	for (size_t i = 0; rc == PS_OK && i < s->n; i++) {
		const struct ps_thread *th = &s->threads[i];
		unsigned flags = (th->flags & PS_THREAD_GIL ? PS_SAMPLE_GIL : 0) |
				 (th->flags & PS_THREAD_IDLE ? PS_SAMPLE_IDLE : 0);
		if ((r->opts.gil_only && !(flags & PS_SAMPLE_GIL)) ||
		    (r->opts.drop_idle && (flags & PS_SAMPLE_IDLE)))
			continue;
		/* a thread state with no frame at all (a thread not started
		 * yet, or ending) has nothing to attribute: its tid is often
		 * not even known yet */
		if (th->nframes == 0 && !(th->flags & PS_THREAD_TRUNCATED))
			continue;
		uint32_t thread, stack;
		rc = ps_sw_thread(r->w, (uint32_t)p->pid, (uint32_t)th->tid,
				  th->name[0] ? th->name : NULL, &thread, &r->err);
		if (rc == PS_OK)
			rc = stack_id(r, (uint32_t)p->pid, th, &stack);
		if (rc == PS_OK)
			rc = ps_sw_sample(r->w, t, thread, stack, flags, &r->err);
	}
	/* a second without samples (all idle, filtered) still gets a flush */
	if (rc == PS_OK && t - r->last_flush >= NS) {
		if (t - r->late.since >= NS)
			rc = late_write(r);
		if (rc == PS_OK)
			rc = ps_sw_flush(r->w, t, &r->err);
		r->last_flush = t;
	}
	return r->write_error = rc;
}

static int rec_event(void *ctx, struct ps_proc *p, uint64_t t, enum ps_event_kind kind,
		     uint64_t count, int64_t value)
{
	struct ps_record *r = ctx;
	struct ps_stream_event ev = { .time_ns = t, .pid = (uint32_t)p->pid, .count = count };
	if (!r->w || r->write_error)
		return r->write_error;
	switch (kind) {
	case PS_EVENT_ERRORS:
		ev.kind = PS_STREAM_EV_ERRORS;
		ev.value = PS_EREAD;
		break;
	case PS_EVENT_LATE:
		if ((uint64_t)value > r->worst_late_ns)
			r->worst_late_ns = (uint64_t)value;
		return r->write_error = late_add(r, (uint32_t)p->pid, t, count,
						 value > 0 ? (uint64_t)value / 1000 : 0);
	case PS_EVENT_PROCESS_START:
		/* a descendant (--subprocesses): its command line first */
		ev.kind = PS_STREAM_EV_PROC_START;
		ev.value = value;
		r->write_error = ps_sw_process(r->w, (uint32_t)p->pid, (uint32_t)value,
					       (uint32_t)p->argc, (const char *const *)p->argv,
					       &r->err);
		if (r->write_error)
			return r->write_error;
		break;
	case PS_EVENT_PROCESS_EXIT:
		ev.kind = PS_STREAM_EV_PROC_EXIT;
		ev.value = value < 0 ? -1 : WIFEXITED(value) ? WEXITSTATUS(value)
			: WIFSIGNALED(value) ? 256 + WTERMSIG(value) : -1;
		break;
	}
	return r->write_error = ps_sw_event(r->w, &ev, &r->err);
}

struct ps_sample_sink ps_record_sink(struct ps_record *r)
{
	return (struct ps_sample_sink){ r, rec_start, rec_sample, rec_event };
}

int ps_record_finish(struct ps_record *r, const struct ps_sampler_stats *st,
		     struct ps_errmsg *e)
{
	memo_free(r);
	if (!r->w) {
		/* never started (the target could not be opened): nothing is
		 * written, so a reader downstream fails too instead of seeing a
		 * valid, empty recording */
		if (r->write_error)
			*e = r->err;
		return r->write_error;
	}
	struct ps_stream_totals t = { .errors = st->errors, .late = st->late,
				      .duration_ns = st->elapsed_ns };
	if (!r->write_error)
		r->write_error = late_write(r);
	struct ps_sw *w = r->w;
	r->w = NULL;
	if (r->write_error) {
		ps_sw_free(w);
		*e = r->err;
		return r->write_error;
	}
	return ps_sw_close(w, &t, e);
}
