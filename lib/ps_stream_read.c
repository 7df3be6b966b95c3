/* The sample stream reader (ps_sr_*). */
#include "ps_stream_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

/* ---- reader storage: entries that never move --------------------------- */

/* Chunks of 1024 entries: pointers handed to the caller stay valid as
 * tables grow. */
#define CV_SHIFT 10

struct cvec {
	uint8_t **chunk;
	size_t nchunk;
	uint32_t n;
	size_t size;
};

static void *cv_at(const struct cvec *v, uint32_t i)
{
	return v->chunk[i >> CV_SHIFT] + (size_t)(i & ((1u << CV_SHIFT) - 1)) * v->size;
}

static void *cv_push(struct cvec *v)
{
	if ((v->n >> CV_SHIFT) >= v->nchunk) {
		uint8_t **c = realloc(v->chunk, (v->nchunk + 1) * sizeof(*c));
		if (!c)
			return NULL;
		v->chunk = c;
		c[v->nchunk] = calloc((size_t)1 << CV_SHIFT, v->size);
		if (!c[v->nchunk])
			return NULL;
		v->nchunk++;
	}
	return cv_at(v, v->n++);
}

static void cv_free(struct cvec *v)
{
	for (size_t i = 0; i < v->nchunk; i++)
		free(v->chunk[i]);
	free(v->chunk);
}

/* Bytes for strings and argv arrays, in blocks that never move. */
struct arena {
	uint8_t **blk;
	size_t nblk, used, cap;
	uint64_t total;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	size_t off = (a->used + 7) & ~(size_t)7;

	if (!a->nblk || off + n > a->cap) {
		size_t cap = n > ((size_t)256 << 10) ? n : (size_t)256 << 10;
		uint8_t **b = realloc(a->blk, (a->nblk + 1) * sizeof(*b));
		if (!b)
			return NULL;
		a->blk = b;
		if (!(b[a->nblk] = malloc(cap)))
			return NULL;
		a->nblk++;
		a->cap = cap;
		off = 0;
	}
	a->used = off + n;
	a->total += n;
	return a->blk[a->nblk - 1] + off;
}

static void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->nblk; i++)
		free(a->blk[i]);
	free(a->blk);
}

/* pid -> the last process record declaring it (open addressing). */
struct pidmap {
	uint32_t *pid, *proc;   /* proc 0: empty slot */
	size_t cap;
};

static uint32_t pm_get(const struct pidmap *m, uint32_t pid)
{
	if (!m->cap)
		return 0;
	for (size_t i = (pid * 2654435761u) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->proc[i] || m->pid[i] == pid)
			return m->proc[i];
	}
}

static int pm_set(struct pidmap *m, uint32_t pid, uint32_t proc, uint32_t nprocs)
{
	if ((size_t)nprocs * 2 > m->cap) {
		struct pidmap g = { 0 };
		g.cap = m->cap ? m->cap * 2 : 64;
		g.pid = calloc(g.cap, sizeof(uint32_t));
		g.proc = calloc(g.cap, sizeof(uint32_t));
		if (!g.pid || !g.proc) {
			free(g.pid);
			free(g.proc);
			return PS_ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->proc[i])
				pm_set(&g, m->pid[i], m->proc[i], 0);
		free(m->pid);
		free(m->proc);
		*m = g;
	}
	for (size_t i = (pid * 2654435761u) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->proc[i] || m->pid[i] == pid) {
			m->pid[i] = pid;
			m->proc[i] = proc;
			return 0;
		}
	}
}

/* ---- reader: bytes in, records out -------------------------------------- */

/* The range decoder of a SAMPLES record: copied to a local for each sample
 * so that it stays in registers. */
struct rcd {
	uint32_t range, code;
	const uint8_t *c, *cend;             /* coded bytes not yet read */
};

struct sr_stack {
	uint32_t parent, frame, depth;
};

struct ps_sr {
	int fd;
	const uint8_t *mem;        /* memory source, or NULL */
	size_t mem_len;
	uint8_t *in;
	size_t in_cap;
	ZSTD_inBuffer zin;
	ZSTD_DCtx *dz;
	size_t zret;               /* last decompress result: 0 at a frame boundary */
	int zfull;                 /* the last call filled the output: it may hold more */
	int src_eof;
	uint8_t *buf;              /* decompressed; [start, end) not consumed */
	size_t cap, start, end;
	struct arena arena;
	uint64_t str_budget;       /* STR_COST of every string read */
	struct cvec strings, frames, stacks, threads, procs;
	/* entries of earlier segments (1.1): the current one's ids are
	 * these plus its own */
	struct { uint32_t strings, frames, stacks, threads; } base;
	struct pidmap pids;
	uint32_t pc_pid, pc_proc;  /* the last pid looked up in pids, and its process */
	int pc_valid;              /* until the next PROCESS record */
	struct ps_stream_header hdr;
	uint64_t time_us;
	const struct ps_stream_frame **path;
	uint32_t path_stack;       /* stack whose frames are in path; 0 none */
	int resolve;
	struct ps_stream_totals totals;
	int end_seen;              /* END read; delivered once the rest checks out */
	int have_end;              /* END delivered */
	int status;                /* sticky final status once non-zero */
	struct ps_errmsg final;
	struct ps_sr_stats st;
	/* SAMPLES (2.0): the record being delivered sample by sample (its
	 * bytes stay at buf + start until the last one), and the model */
	struct {
		const uint8_t *x, *xend;               /* extras */
		struct rcd d;                          /* the range decoder */
		uint32_t left;                         /* samples still to deliver */
		size_t size;                           /* header and payload */
	} sx;
	struct ps_sx_model sxm;
	struct ps_sx_thread *sxt;                  /* by reader thread id, 0 included */
	uint32_t sxt_cap;
};

static int sr_fail(struct ps_sr *r, struct ps_errmsg *e, int code, const char *msg)
{
	r->status = code;
	r->final.code = code;
	snprintf(r->final.msg, sizeof(r->final.msg), "%s", msg);
	return ps_error(e, code, "%s", msg);
}

static int sr_read_src(struct ps_sr *r, struct ps_errmsg *e)
{
	ssize_t n;

	if (r->src_eof)
		return 0;
	if (r->mem) {
		r->zin = (ZSTD_inBuffer){ r->mem, r->mem_len, 0 };
		r->src_eof = 1;
		r->st.compressed_bytes += r->mem_len;
		return r->mem_len > 0;
	}
	do
		n = read(r->fd, r->in, r->in_cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ps_error(e, PS_EIO, "cannot read stream: %s", strerror(errno));
	if (n == 0)
		r->src_eof = 1;
	r->zin = (ZSTD_inBuffer){ r->in, (size_t)n, 0 };
	r->st.compressed_bytes += (size_t)n;
	return n > 0;
}

static int sr_zerror(struct ps_sr *r, struct ps_errmsg *e, size_t ret)
{
	char msg[PS_ERRMSG_MAX];

	if (ZSTD_getErrorCode(ret) == ZSTD_error_prefix_unknown && r->st.raw_bytes == 0 &&
	    r->end == 0)
		snprintf(msg, sizeof(msg), "not a pyspy stream: not zstd-compressed");
	else
		snprintf(msg, sizeof(msg), "corrupt stream: zstd: %s", ZSTD_getErrorName(ret));
	return sr_fail(r, e, PS_EINVAL, msg);
}

/* Decompress more into buf: 1 when bytes were added, 0 at the end of the
 * input, < 0 on error. */
static int sr_more(struct ps_sr *r, struct ps_errmsg *e)
{
	struct ps_errmsg err;

	if (r->start && r->cap - r->end < r->cap / 4) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->st.raw_bytes += r->start;
		r->start = 0;
	}
	/* callers never ask for more than a record, which fits */
	if (r->end == r->cap)
		return sr_fail(r, e, PS_EINVAL, "stream reader buffer full");
	for (;;) {
		ZSTD_outBuffer o = { r->buf, r->cap, r->end };
		size_t inpos = r->zin.pos, ret;
		int rc;

		if (r->zin.pos < r->zin.size || r->zfull) {
			ret = ZSTD_decompressStream(r->dz, &o, &r->zin);
			if (ZSTD_isError(ret))
				return sr_zerror(r, e, ret);
			r->zret = ret;
			r->zfull = o.pos == o.size;
			if (o.pos > r->end) {
				r->end = o.pos;
				return 1;
			}
			if (r->zin.pos > inpos)
				continue;
			/* with room and input zstd always moves: never drop input */
			if (r->zin.pos < r->zin.size)
				return sr_fail(r, e, PS_EINVAL, "corrupt stream: zstd makes no progress");
			r->zfull = 0;
		}
		rc = sr_read_src(r, &err);
		if (rc < 0)
			return sr_fail(r, e, rc, err.msg);
		if (rc == 0)
			return 0;
	}
}

/* At the end of the input with n bytes of a record (or nothing) pending. */
static int sr_at_eof(struct ps_sr *r, struct ps_errmsg *e, size_t n, uint64_t len)
{
	char msg[PS_ERRMSG_MAX];

	if (r->zret != 0 || n == 0) {
		snprintf(msg, sizeof(msg), "truncated stream: %s after %llu records",
			 r->zret ? "cut inside a zstd frame" : "no end record",
			 (unsigned long long)r->st.records);
		return sr_fail(r, e, PS_STREAM_TRUNCATED, msg);
	}
	/* writers end zstd frames only between records: a record cut at the
	 * end of a complete frame has a bad length, it was not cut short */
	if (len)
		snprintf(msg, sizeof(msg), "corrupt stream: a record of %llu bytes runs past the end of the last zstd frame",
			 (unsigned long long)len);
	else
		snprintf(msg, sizeof(msg), "corrupt stream: a record header runs past the end of the last zstd frame");
	return sr_fail(r, e, PS_EINVAL, msg);
}

/* Bytes buf[start, start + n) available: 1, or 0 at the end of input. */
static int sr_need(struct ps_sr *r, size_t n, struct ps_errmsg *e)
{
	while (r->end - r->start < n) {
		int rc = sr_more(r, e);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

static int sr_varint(struct ps_sr *r, size_t *off, uint64_t *v, struct ps_errmsg *e)
{
	for (;;) {
		int n = ps_varint_get1(r->buf + r->start + *off, r->end - r->start - *off, v);
		if (n > 0) {
			*off += (size_t)n;
			return 1;
		}
		if (n < 0)
			return sr_fail(r, e, PS_EINVAL, "corrupt stream: bad varint in a record header");
		n = sr_more(r, e);
		if (n <= 0)
			return n;
	}
}

/* The next whole record: 1 (payload at buf + start + *hdr), or a final
 * status (the end of the input gives truncated or corrupt). */
static int sr_record(struct ps_sr *r, uint64_t *type, size_t *hdr, uint64_t *len,
		     struct ps_errmsg *e)
{
	char msg[PS_ERRMSG_MAX];
	const uint8_t *p = r->buf + r->start;
	size_t off = 0, avail = r->end - r->start;
	int rc;

	/* the common case, a small record already decompressed, at once */
	if (avail >= 2 && p[0] - 1u < 0x7F && p[1] < 0x80 && avail >= 2u + p[1]) {
		*type = p[0];
		*len = p[1];
		*hdr = 2;
		return 1;
	}
	*len = 0;
	if ((rc = sr_varint(r, &off, type, e)) == 1 && (rc = sr_varint(r, &off, len, e)) == 1) {
		if (*len > PS_STREAM_MAX_RECORD) {
			snprintf(msg, sizeof(msg), "corrupt stream: %s record of %llu bytes exceeds the %u-byte limit",
				 ps_stream_rec_name(*type), (unsigned long long)*len, PS_STREAM_MAX_RECORD);
			return sr_fail(r, e, PS_EINVAL, msg);
		}
		rc = sr_need(r, off + *len, e);
	}
	if (rc == 0)
		return sr_at_eof(r, e, r->end - r->start, *len);
	if (rc < 0)
		return rc;
	if (*type == 0)
		return sr_fail(r, e, PS_EINVAL, "corrupt stream: record of type 0");
	*hdr = off;
	return 1;
}

/* ---- reader: payloads --------------------------------------------------- */

struct cur {
	const uint8_t *p, *end;
	struct ps_sr *r;
	uint64_t type;
	struct ps_errmsg *e;
};

static int cu_bad(struct cur *c, const char *fmt, unsigned long long a)
{
	char why[160], msg[PS_ERRMSG_MAX];

	snprintf(why, sizeof(why), fmt, a);
	snprintf(msg, sizeof(msg), "corrupt stream: %s record after %llu records: %s",
		 ps_stream_rec_name(c->type), (unsigned long long)c->r->st.records, why);
	return sr_fail(c->r, c->e, PS_EINVAL, msg);
}

static __attribute__((noinline)) int cu_u_bad(struct cur *c, int n)
{
	return cu_bad(c, n ? "bad varint" : "payload ends inside a field", 0);
}

/* Inline with its error path out of line: a sample is four of these. */
static inline int cu_u(struct cur *c, uint64_t *v)
{
	int n = ps_varint_get1(c->p, (size_t)(c->end - c->p), v);

	if (n > 0) {
		c->p += n;
		return 0;
	}
	return cu_u_bad(c, n);
}

static int cu_u32(struct cur *c, uint32_t *v)
{
	uint64_t x;

	*v = 0; /* defined on every path, as the compiler cannot see */
	if (cu_u(c, &x))
		return -1;
	if (x > UINT32_MAX)
		return cu_bad(c, "value %llu out of range", x);
	*v = (uint32_t)x;
	return 0;
}

/* An id into a table of n entries of which the current segment defined
 * those after base; 0 only where optional. *id becomes the reader's id:
 * ids go on across segments, so that callers never see one reused. */
static int cu_ref(struct cur *c, uint32_t *id, uint32_t n, uint32_t base, int optional,
		  const char *what)
{
	char fmt[80];

	if (cu_u32(c, id))
		return -1;
	if ((*id == 0 && !optional) || *id > n - base) {
		snprintf(fmt, sizeof(fmt), "refers to undefined %s %%llu", what);
		return cu_bad(c, fmt, *id);
	}
	if (*id)
		*id += base;
	return 0;
}

static const char *sr_string(const struct ps_sr *r, uint32_t id)
{
	return id ? *(const char *const *)cv_at(&r->strings, id - 1) : NULL;
}

/* A length-prefixed string, copied with a NUL. */
static int cu_str(struct cur *c, const char **out)
{
	uint64_t n;
	char *s;

	if (cu_u(c, &n))
		return -1;
	if (n > PS_STREAM_MAX_STRING)
		return cu_bad(c, "string of %llu bytes", n);
	if (n > (uint64_t)(c->end - c->p))
		return cu_bad(c, "string of %llu bytes runs past the record", n);
	if (memchr(c->p, 0, n))
		return cu_bad(c, "string holds a NUL byte", 0);
	if (c->r->str_budget + STR_COST(n) > PS_STREAM_MAX_STRING_BYTES)
		return cu_bad(c, "strings exceed %llu bytes", PS_STREAM_MAX_STRING_BYTES);
	if (!(s = arena_alloc(&c->r->arena, n + 1)))
		return sr_fail(c->r, c->e, PS_ENOMEM, "out of memory reading a string");
	c->r->str_budget += STR_COST(n);
	memcpy(s, c->p, n);
	s[n] = 0;
	c->p += n;
	*out = s;
	return 0;
}

static int cu_argv(struct cur *c, uint32_t *argc, const char *const **argv)
{
	const char **v;

	if (cu_u32(c, argc))
		return -1;
	if (*argc > PS_STREAM_MAX_ARGS)
		return cu_bad(c, "command line of %llu strings", *argc);
	v = arena_alloc(&c->r->arena, (*argc + 1) * sizeof(*v));
	if (!v)
		return sr_fail(c->r, c->e, PS_ENOMEM, "out of memory reading a command line");
	for (uint32_t i = 0; i < *argc; i++)
		if (cu_str(c, &v[i]))
			return -1;
	v[*argc] = NULL;
	*argv = v;
	return 0;
}

static int p_header(struct cur *c, struct ps_stream_header *h)
{
	uint64_t wall;
	char msg[PS_ERRMSG_MAX];

	if (cu_u32(c, &h->major) || cu_u32(c, &h->minor))
		return -1;
	/* the major version decides how the rest reads: check it first */
	if (h->major < PS_STREAM_MAJOR_MIN || h->major > PS_STREAM_MAJOR) {
		snprintf(msg, sizeof(msg), "unsupported stream format version %u.%u: this reader reads %u.x to %u.x",
			 h->major, h->minor, PS_STREAM_MAJOR_MIN, PS_STREAM_MAJOR);
		return sr_fail(c->r, c->e, PS_EUNSUPPORTED, msg);
	}
	if (cu_str(c, &h->sampler) || cu_u32(c, &h->pid) || cu_argv(c, &h->argc, &h->argv) ||
	    cu_str(c, &h->python_version) || cu_u32(c, &h->rate_hz) || cu_u(c, &wall) ||
	    cu_u(c, &h->mono_origin_ns))
		return -1;
	h->wall_start_ns = ps_unzigzag(wall);
	return 0;
}

static int p_string(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_sr *r = c->r;
	const char **slot;

	if (r->strings.n - r->base.strings >= PS_STREAM_MAX_STRINGS)
		return cu_bad(c, "more than %llu strings", PS_STREAM_MAX_STRINGS);
	if (cu_str(c, &rec->string))
		return -1;
	if (!(slot = cv_push(&r->strings)))
		return sr_fail(r, c->e, PS_ENOMEM, "out of memory reading strings");
	*slot = rec->string;
	rec->id = r->strings.n;
	return 0;
}

static int p_frame(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_sr *r = c->r;
	uint32_t fn, qn, file, n = r->strings.n, b = r->base.strings;
	struct ps_stream_frame f, *slot;

	if (r->frames.n - r->base.frames >= PS_STREAM_MAX_FRAMES)
		return cu_bad(c, "more than %llu frames", PS_STREAM_MAX_FRAMES);
	if (cu_u32(c, &f.kind) || cu_ref(c, &fn, n, b, 0, "string") ||
	    cu_ref(c, &qn, n, b, 1, "string") || cu_ref(c, &file, n, b, 1, "string") ||
	    cu_u32(c, &f.line))
		return -1;
	f.function = sr_string(r, fn);
	f.qualname = sr_string(r, qn);
	f.file = sr_string(r, file);
	if (!(slot = cv_push(&r->frames)))
		return sr_fail(r, c->e, PS_ENOMEM, "out of memory reading frames");
	*slot = f;
	rec->frame = slot;
	rec->id = r->frames.n;
	return 0;
}

static int p_stack(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_sr *r = c->r;
	struct sr_stack *s;
	uint32_t parent, frame, depth;

	if (r->stacks.n - r->base.stacks >= PS_STREAM_MAX_STACKS)
		return cu_bad(c, "more than %llu stacks", PS_STREAM_MAX_STACKS);
	if (cu_ref(c, &parent, r->stacks.n, r->base.stacks, 1, "stack") ||
	    cu_ref(c, &frame, r->frames.n, r->base.frames, 0, "frame"))
		return -1;
	depth = parent ? ((struct sr_stack *)cv_at(&r->stacks, parent - 1))->depth + 1 : 1;
	if (depth > PS_STREAM_MAX_DEPTH)
		return cu_bad(c, "stack deeper than %llu frames", PS_STREAM_MAX_DEPTH);
	if (!(s = cv_push(&r->stacks)))
		return sr_fail(r, c->e, PS_ENOMEM, "out of memory reading stacks");
	*s = (struct sr_stack){ parent, frame, depth };
	rec->stack.parent = parent;
	rec->stack.frame = frame;
	rec->id = r->stacks.n;
	return 0;
}

static int p_thread(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_sr *r = c->r;
	struct ps_sr_thread t, *slot;
	uint32_t name;

	if (r->threads.n - r->base.threads >= PS_STREAM_MAX_THREADS)
		return cu_bad(c, "more than %llu threads", PS_STREAM_MAX_THREADS);
	if (cu_u32(c, &t.pid) || cu_u32(c, &t.tid) ||
	    cu_ref(c, &name, r->strings.n, r->base.strings, 1, "string"))
		return -1;
	t.name = sr_string(r, name);
	if (!(slot = cv_push(&r->threads)))
		return sr_fail(r, c->e, PS_ENOMEM, "out of memory reading threads");
	t.id = r->threads.n;
	*slot = t;
	rec->thread = slot;
	rec->id = t.id;
	return 0;
}

static int p_process(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_sr *r = c->r;
	struct ps_sr_process p, *slot;

	if (r->procs.n >= PS_STREAM_MAX_PROCESSES)
		return cu_bad(c, "more than %llu processes", PS_STREAM_MAX_PROCESSES);
	if (cu_u32(c, &p.pid) || cu_u32(c, &p.ppid) || cu_argv(c, &p.argc, &p.argv))
		return -1;
	if (!(slot = cv_push(&r->procs)) || pm_set(&r->pids, p.pid, r->procs.n, r->procs.n))
		return sr_fail(r, c->e, PS_ENOMEM, "out of memory reading processes");
	p.id = r->procs.n;
	*slot = p;
	r->pc_valid = 0;
	rec->process = slot;
	rec->id = p.id;
	return 0;
}

static const struct ps_stream_frame *const *sr_path(struct ps_sr *r, uint32_t stack)
{
	if (stack != r->path_stack) {
		uint32_t id = stack;
		while (id) {
			const struct sr_stack *s = cv_at(&r->stacks, id - 1);
			r->path[s->depth - 1] = cv_at(&r->frames, s->frame - 1);
			id = s->parent;
		}
		r->path_stack = stack;
	}
	return r->path;
}

/* The rest of a sample whose thread and stack (the reader's ids) were
 * checked, whichever record it came in. */
static int sr_sample(struct cur *c, struct ps_sr_sample *s, uint64_t dt, uint64_t flags)
{
	struct ps_sr *r = c->r;
	uint32_t proc;

	if (dt > UINT64_MAX / 1000 - r->time_us)
		return cu_bad(c, "time step %llu overflows", dt);
	r->time_us += dt;
	s->time_ns = r->hdr.mono_origin_ns + r->time_us * 1000;
	s->flags = (unsigned)flags;
	s->thread = cv_at(&r->threads, s->thread_id - 1);
	if (!r->pc_valid || r->pc_pid != s->thread->pid) {
		r->pc_pid = s->thread->pid;
		r->pc_proc = pm_get(&r->pids, r->pc_pid);
		r->pc_valid = 1;
	}
	proc = r->pc_proc;
	s->process = proc ? cv_at(&r->procs, proc - 1) : NULL;
	s->depth = s->stack_id ? ((struct sr_stack *)cv_at(&r->stacks, s->stack_id - 1))->depth : 0;
	s->frames = r->resolve ? sr_path(r, s->stack_id) : NULL;
	r->st.samples++;
	return 0;
}

static int p_sample(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_sr *r = c->r;
	struct ps_sr_sample *s = &rec->sample;
	uint64_t dt, flags;

	if (cu_u(c, &dt) || cu_ref(c, &s->thread_id, r->threads.n, r->base.threads, 0, "thread") ||
	    cu_ref(c, &s->stack_id, r->stacks.n, r->base.stacks, 1, "stack") || cu_u(c, &flags))
		return -1;
	return sr_sample(c, s, dt, flags);
}

/* ---- reader: SAMPLES records (2.0) -------------------------------------- */

/* The model starts again at each segment; entries of earlier segments'
 * threads are never used again, so only the start (entry 0) is cleared. */
static void sx_reset(struct ps_sr *r)
{
	ps_sx_model_init(&r->sxm, r->hdr.rate_hz);
	if (r->sxt_cap)
		memset(&r->sxt[0], 0, sizeof(r->sxt[0]));
}

static int sx_thread_room(struct ps_sr *r, uint32_t id)
{
	uint32_t cap = r->sxt_cap ? r->sxt_cap : 16;
	struct ps_sx_thread *t;

	if (id < r->sxt_cap)
		return 0;
	while (cap <= id)
		cap *= 2;
	t = realloc(r->sxt, cap * sizeof(*t));
	if (!t)
		return PS_ENOMEM;
	memset(t + r->sxt_cap, 0, (cap - r->sxt_cap) * sizeof(*t));
	r->sxt = t;
	r->sxt_cap = cap;
	return 0;
}

/* One decision (LZMA's range decoder). The writer leaves out the zero
 * bytes that end the coded bytes: past the end they read as zeros. Inline
 * and without branches on the bit, which the data decides: a fold reads
 * 20 M samples a second, each a few of these. */
static inline __attribute__((always_inline)) unsigned rc_bit(struct rcd *d, uint16_t *p)
{
	uint32_t prob = *p, bound = (d->range >> PS_RC_BITS) * prob;
	unsigned bit = d->code >= bound;

	d->code -= bit ? bound : 0;
	d->range = bit ? d->range - bound : bound;
	*p = (uint16_t)(bit ? prob - (prob >> PS_RC_MOVE) : prob + ((PS_RC_ONE - prob) >> PS_RC_MOVE));
	while (d->range < PS_RC_TOP) {
		d->range <<= 8;
		d->code <<= 8;
		if (d->c < d->cend)
			d->code |= *d->c++;
	}
	return bit;
}

/* A varint of the record's extras. */
static int sx_ext(struct cur *c, uint64_t *v)
{
	struct ps_sr *r = c->r;
	int n = ps_varint_get1(r->sx.x, (size_t)(r->sx.xend - r->sx.x), v);

	if (n > 0) {
		r->sx.x += n;
		return 0;
	}
	return cu_bad(c, n ? "bad varint in the extras" : "the extras end early", 0);
}

/* An id from the extras into a table of n entries, base of them from
 * earlier segments; *id becomes the reader's id. */
static int sx_ref(struct cur *c, uint32_t *id, uint32_t n, uint32_t base, int optional,
		  const char *what)
{
	char fmt[80];
	uint64_t v;

	if (sx_ext(c, &v))
		return -1;
	if ((v == 0 && !optional) || v > n - base) {
		snprintf(fmt, sizeof(fmt), "refers to undefined %s %%llu", what);
		return cu_bad(c, fmt, v);
	}
	*id = v ? (uint32_t)v + base : 0;
	return 0;
}

static inline int sx_thread(struct cur *c, struct rcd *d, uint32_t *thread)
{
	struct ps_sr *r = c->r;
	uint32_t succ = r->sxt[r->sxm.prev].succ;

	if (succ && !rc_bit(d, &r->sxm.p.th))
		*thread = succ;
	else if (sx_ref(c, thread, r->threads.n, r->base.threads, 0, "thread"))
		return -1;
	r->sxt[r->sxm.prev].succ = *thread;
	r->sxm.prev = *thread;
	return 0;
}

static inline int sx_dt(struct cur *c, struct rcd *d, struct ps_sx_thread *t, uint64_t *dt)
{
	struct ps_sr *r = c->r;
	struct ps_sx_model *m = &r->sxm;
	uint16_t *p = m->p.dt[t->dt_class];
	unsigned cls = 3;

	if (!rc_bit(d, &p[0]))
		cls = 0;
	else if (m->d0 && !rc_bit(d, &p[1]))
		cls = 1;
	else if (m->d1 && !rc_bit(d, &p[2]))
		cls = 2;
	*dt = cls == 0 ? 0 : cls == 1 ? m->d0 : m->d1;
	if (cls == 3 && m->period && !rc_bit(d, &m->p.mul)) {
		unsigned node = 1;
		while (node < PS_SX_MULTIPLES)
			node = 2 * node + rc_bit(d, &m->p.mul_tree[node]);
		*dt = (uint64_t)(node - PS_SX_MULTIPLES + 1) * m->period;
	} else if (cls == 3 && sx_ext(c, dt)) {
		return -1;
	}
	ps_sx_dt_seen(m, cls, *dt);
	t->dt_class = (uint8_t)cls;
	return 0;
}

/* Which of the thread's recent pairs (PS_SX_RECENT: a new one). */
static inline unsigned sx_recent(struct ps_sr *r, struct rcd *d, struct ps_sx_thread *t)
{
	uint16_t *p = r->sxm.p.st[t->st_class];
	unsigned node = 1;

	if (t->have == 0 || !rc_bit(d, &p[0]))
		return t->have ? 0 : PS_SX_RECENT;
	if (t->have == 1 || rc_bit(d, &p[1]))
		return PS_SX_RECENT;
	while (node < 8)
		node = 2 * node + rc_bit(d, &r->sxm.p.pos[node]);
	return node - 8 + 1;
}

static inline int sx_stack(struct cur *c, struct rcd *d, struct ps_sx_thread *t,
			   uint32_t *stack, uint64_t *flags)
{
	struct ps_sr *r = c->r;
	unsigned i = sx_recent(r, d, t);

	if (i < PS_SX_RECENT && i >= t->have)
		return cu_bad(c, "refers to recent stack %llu of a thread that has fewer", i);
	if (i < PS_SX_RECENT)
		*stack = t->stack[i];
	else if (sx_ref(c, stack, r->stacks.n, r->base.stacks, 1, "stack"))
		return -1;
	if (t->have && !rc_bit(d, &r->sxm.p.fl[i == PS_SX_RECENT]))
		*flags = t->flags[i < PS_SX_RECENT ? i : 0];
	else if (sx_ext(c, flags))
		return -1;
	else if (*flags > UINT32_MAX)
		return cu_bad(c, "flags %llu out of range", *flags);
	t->st_class = (uint8_t)(i == 0 ? 0 : i < PS_SX_RECENT ? 1 : 2);
	ps_sx_stack_seen(t, i, *stack, (uint32_t)*flags);
	return 0;
}

/* The next sample of the SAMPLES record being delivered; with its last,
 * every byte of the record must have been used. */
static int sx_next(struct ps_sr *r, struct ps_sr_record *rec, struct ps_errmsg *e)
{
	struct cur c = { .r = r, .e = e, .type = PS_REC_SAMPLES };
	struct ps_sr_sample *s = &rec->sample;
	struct rcd d = r->sx.d;
	uint64_t dt, flags;
	int rc;

	memset(rec, 0, sizeof(*rec));
	rec->type = PS_REC_SAMPLE;
	rc = sx_thread(&c, &d, &s->thread_id) ||
	     sx_dt(&c, &d, &r->sxt[s->thread_id], &dt) ||
	     sx_stack(&c, &d, &r->sxt[s->thread_id], &s->stack_id, &flags);
	r->sx.d = d;
	if (rc)
		return -1;
	if (--r->sx.left == 0) {
		if (r->sx.x != r->sx.xend)
			return cu_bad(&c, "%llu bytes of extras left over",
				      (unsigned long long)(r->sx.xend - r->sx.x));
		if (d.c != d.cend)
			return cu_bad(&c, "%llu range-coded bytes left over",
				      (unsigned long long)(d.cend - d.c));
		r->start += r->sx.size;
	}
	return sr_sample(&c, s, dt, flags);
}

/* Start delivering a SAMPLES record of size bytes (header included): n,
 * the extras, the coded bytes. */
static int p_samples(struct cur *c, size_t size)
{
	struct ps_sr *r = c->r;
	uint64_t n, xlen;

	if (cu_u(c, &n) || cu_u(c, &xlen))
		return -1;
	if (n == 0 || n > UINT32_MAX)
		return cu_bad(c, "a count of %llu samples", n);
	if (xlen > (uint64_t)(c->end - c->p))
		return cu_bad(c, "extras of %llu bytes run past the record", xlen);
	r->sx.x = c->p;
	r->sx.xend = r->sx.d.c = c->p + xlen;
	r->sx.d.cend = c->end;
	/* the code starts as 4 bytes (LZMA's first byte, always 0, is not
	 * written), zeros where the record ends first */
	r->sx.d.code = 0;
	for (int i = 0; i < 4; i++) {
		r->sx.d.code <<= 8;
		if (r->sx.d.c < r->sx.d.cend)
			r->sx.d.code |= *r->sx.d.c++;
	}
	r->sx.d.range = 0xFFFFFFFFu;
	r->sx.left = (uint32_t)n;
	r->sx.size = size;
	/* every thread the record can name has its entry: none moves while
	 * it is decoded */
	if (sx_thread_room(r, r->threads.n))
		return sr_fail(r, c->e, PS_ENOMEM, "out of memory decoding samples");
	return 0;
}

static int p_event(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_stream_event *ev = &rec->event;
	uint64_t us, value;
	uint32_t text;

	if (cu_u32(c, &ev->kind) || cu_u(c, &us) || cu_u32(c, &ev->pid) ||
	    cu_u(c, &ev->count) || cu_u(c, &value) ||
	    cu_ref(c, &text, c->r->strings.n, c->r->base.strings, 1, "string"))
		return -1;
	if (us > UINT64_MAX / 1000)
		return cu_bad(c, "time %llu out of range", us);
	ev->time_ns = c->r->hdr.mono_origin_ns + us * 1000;
	ev->value = ps_unzigzag(value);
	ev->text = sr_string(c->r, text);
	return 0;
}

/* END is delivered only once nothing but the end of the input follows. */
static int sr_drain(struct ps_sr *r, struct ps_errmsg *e)
{
	char msg[PS_ERRMSG_MAX];
	int rc = 0;

	while (r->end == r->start && (rc = sr_more(r, e)) > 0)
		;
	if (r->end > r->start)
		return sr_fail(r, e, PS_EINVAL, "corrupt stream: data after the end record");
	if (rc < 0)
		return rc;
	if (r->zret) {
		snprintf(msg, sizeof(msg), "truncated stream: cut inside a zstd frame after %llu records",
			 (unsigned long long)r->st.records);
		return sr_fail(r, e, PS_STREAM_TRUNCATED, msg);
	}
	return 0;
}

/* Deliver the END record if nothing but the end of the input follows it;
 * after "truncated" this runs again when the caller retries. */
static int sr_end_checked(struct ps_sr *r, struct ps_sr_record *rec, struct ps_errmsg *e)
{
	if (sr_drain(r, e))
		return -1;
	rec->type = PS_REC_END;
	rec->end = r->totals;
	r->have_end = 1;
	return 0;
}

static int p_end(struct cur *c, struct ps_sr_record *rec)
{
	struct ps_stream_totals *t = &rec->end;
	uint64_t us;

	if (cu_u(c, &t->samples) || cu_u(c, &t->errors) || cu_u(c, &t->late) || cu_u(c, &us))
		return -1;
	t->duration_ns = us > UINT64_MAX / 1000 ? UINT64_MAX : us * 1000;
	if (t->samples != c->r->st.samples)
		return cu_bad(c, "counts a different number of samples than the %llu read",
			      c->r->st.samples);
	c->r->start = (size_t)(c->end - c->r->buf);
	c->r->totals = *t;
	c->r->end_seen = 1;
	return sr_end_checked(c->r, rec, c->e);
}

/* A HEADER after the first starts a segment (1.1): the tables are empty
 * again for the records that follow. Readers keep the entries (callers
 * hold them) and number the new ones after them. A 1.0 stream has one
 * segment. */
static int sr_segment(struct cur *c)
{
	struct ps_sr *r = c->r;
	struct ps_stream_header h;

	if (r->hdr.major == 1 && r->hdr.minor < 1)
		return cu_bad(c, "a second header", 0);
	r->str_budget = 0;
	if (p_header(c, &h))
		return -1;
	if (h.major != r->hdr.major)
		return cu_bad(c, "a header of major version %llu in another's stream", h.major);
	sx_reset(r);
	r->base.strings = r->strings.n;
	r->base.frames = r->frames.n;
	r->base.stacks = r->stacks.n;
	r->base.threads = r->threads.n;
	r->st.segments++;
	return 0;
}

typedef int (*parse_fn)(struct cur *c, struct ps_sr_record *rec);

static const parse_fn parsers[] = {
	[PS_REC_STRING] = p_string, [PS_REC_FRAME] = p_frame,
	[PS_REC_STACK] = p_stack, [PS_REC_THREAD] = p_thread,
	[PS_REC_PROCESS] = p_process, [PS_REC_SAMPLE] = p_sample,
	[PS_REC_EVENT] = p_event, [PS_REC_END] = p_end,
};

int ps_sr_next(struct ps_sr *r, struct ps_sr_record *rec, struct ps_errmsg *e)
{
	/* a file still being written may have grown: read on (a pipe at its
	 * end just says so again) */
	if (r->status == PS_STREAM_TRUNCATED && !r->mem) {
		r->status = 0;
		r->src_eof = 0;
	}
	for (;;) {
		struct cur c = { .r = r, .e = e };
		uint64_t type, len;
		size_t hdr;
		int rc;

		if (r->status)
			return ps_error(e, r->status, "%s", r->final.msg);
		if (r->have_end)
			return sr_fail(r, e, PS_STREAM_EOF, "end of stream");
		if (r->sx.left) {
			if (sx_next(r, rec, e))
				return r->status;
			r->st.records++;
			return PS_OK;
		}
		if (r->end_seen) {
			memset(rec, 0, sizeof(*rec));
			if (sr_end_checked(r, rec, e))
				return r->status;
			r->st.records++;
			return PS_OK;
		}
		rc = sr_record(r, &type, &hdr, &len, e);
		if (rc != 1)
			return rc;
		c.type = type;
		c.p = r->buf + r->start + hdr;
		c.end = c.p + len;
		if (type == PS_REC_HEADER) {
			if (sr_segment(&c))
				return r->status;
			r->start += hdr + len;
			continue;
		}
		/* 1.x has no SAMPLES record: there type 10 is unknown */
		if (type == PS_REC_SAMPLES && r->hdr.major >= 2) {
			if (p_samples(&c, hdr + len))
				return r->status;
			continue;
		}
		if (type >= sizeof(parsers) / sizeof(parsers[0]) || !parsers[type]) {
			r->start += hdr + len;
			r->st.skipped++;
			continue;
		}
		memset(rec, 0, sizeof(*rec));
		rec->type = (enum ps_rec)type;
		/* fields beyond those we know are a later minor version's */
		if (parsers[type](&c, rec))
			return r->status;
		if (type != PS_REC_END)
			r->start += hdr + len;
		r->st.records++;
		return PS_OK;
	}
}

/* ---- reader: opening ---------------------------------------------------- */

static int sr_start(struct ps_sr *r, struct ps_errmsg *e)
{
	struct cur c = { .r = r, .e = e, .type = PS_REC_HEADER };
	uint64_t type, len;
	size_t hdr;
	int rc = sr_need(r, PS_STREAM_SIGNATURE_LEN, e);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return sr_fail(r, e, PS_EINVAL, r->end == 0 ? "truncated stream: empty"
				: "truncated stream: cut inside the signature");
	if (memcmp(r->buf, PS_STREAM_SIGNATURE, PS_STREAM_SIGNATURE_LEN))
		return sr_fail(r, e, PS_EINVAL, "not a pyspy stream: bad signature");
	r->start = PS_STREAM_SIGNATURE_LEN;
	rc = sr_record(r, &type, &hdr, &len, e);
	if (rc == PS_STREAM_TRUNCATED)
		return sr_fail(r, e, PS_EINVAL, "truncated stream: cut before the end of the header");
	if (rc != 1)
		return rc;
	c.p = r->buf + r->start + hdr;
	c.end = c.p + len;
	if (type != PS_REC_HEADER)
		return cu_bad(&c, "the first record is of type %llu, not a header", type);
	if (p_header(&c, &r->hdr))
		return r->status;
	r->start += hdr + len;
	sx_reset(r);
	return 0;
}

static int sr_open(struct ps_sr *r, struct ps_sr **out, struct ps_errmsg *e)
{
	size_t z;
	int rc;

	r->cap = PS_STREAM_MAX_RECORD + ((size_t)64 << 10);
	r->buf = malloc(r->cap);
	r->path = malloc(PS_STREAM_MAX_DEPTH * sizeof(*r->path));
	r->dz = ZSTD_createDCtx();
	r->resolve = 1;
	r->strings.size = sizeof(const char *);
	r->frames.size = sizeof(struct ps_stream_frame);
	r->stacks.size = sizeof(struct sr_stack);
	r->threads.size = sizeof(struct ps_sr_thread);
	r->procs.size = sizeof(struct ps_sr_process);
	if (!r->mem) {
		r->in_cap = ZSTD_DStreamInSize();
		r->in = malloc(r->in_cap);
	}
	if (!r->buf || !r->path || !r->dz || (!r->mem && !r->in)) {
		ps_sr_free(r);
		return ps_error(e, PS_ENOMEM, "out of memory for the stream reader");
	}
	/* a corrupt frame header must not make zstd allocate a huge window */
	z = ZSTD_DCtx_setParameter(r->dz, ZSTD_d_windowLogMax, PS_STREAM_WINDOW_LOG_MAX);
	rc = ZSTD_isError(z) ? ps_error(e, PS_EUNSUPPORTED, "zstd: %s", ZSTD_getErrorName(z))
			     : sr_start(r, e);
	if (rc) {
		ps_sr_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int ps_sr_open_fd(int fd, struct ps_sr **out, struct ps_errmsg *e)
{
	struct ps_sr *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return ps_error(e, PS_ENOMEM, "out of memory for the stream reader");
	r->fd = fd;
	return sr_open(r, out, e);
}

int ps_sr_open_mem(const void *buf, size_t len, struct ps_sr **out, struct ps_errmsg *e)
{
	static const uint8_t empty[1];
	struct ps_sr *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return ps_error(e, PS_ENOMEM, "out of memory for the stream reader");
	r->fd = -1;
	r->mem = buf ? buf : empty;
	r->mem_len = buf ? len : 0;
	return sr_open(r, out, e);
}

void ps_sr_free(struct ps_sr *r)
{
	if (!r)
		return;
	ZSTD_freeDCtx(r->dz);
	free(r->in);
	free(r->buf);
	free(r->path);
	arena_free(&r->arena);
	cv_free(&r->strings);
	cv_free(&r->frames);
	cv_free(&r->stacks);
	cv_free(&r->threads);
	cv_free(&r->procs);
	free(r->sxt);
	free(r->pids.pid);
	free(r->pids.proc);
	free(r);
}

const struct ps_stream_header *ps_sr_header(const struct ps_sr *r)
{
	return &r->hdr;
}

int ps_sr_stack(const struct ps_sr *r, uint32_t id,
		const struct ps_stream_frame **out, uint32_t cap, uint32_t *depth)
{
	if (id > r->stacks.n)
		return PS_EUSAGE;
	*depth = id ? ((const struct sr_stack *)cv_at(&r->stacks, id - 1))->depth : 0;
	while (id) {
		const struct sr_stack *s = cv_at(&r->stacks, id - 1);
		if (s->depth <= cap)
			out[s->depth - 1] = cv_at(&r->frames, s->frame - 1);
		id = s->parent;
	}
	return 0;
}

void ps_sr_resolve_frames(struct ps_sr *r, int on)
{
	r->resolve = on;
	r->path_stack = 0;
}

const struct ps_stream_totals *ps_sr_totals(const struct ps_sr *r)
{
	return r->have_end ? &r->totals : NULL;
}

void ps_sr_stats(const struct ps_sr *r, struct ps_sr_stats *st)
{
	*st = r->st;
	st->raw_bytes += r->start;
}
