/* Walking the thread states and frames of an interpreter. */
#include "ps_stack.h"

#include <stdlib.h>
#include <string.h>

#include "ps_native.h"
#include "ps_pyobj.h"
#include "ps_time.h"

#define MAX_CHUNKS 64
#define TOO_DEEP 1 /* a walk stopped at PS_MAX_FRAMES: cut, but not an error */
#define MAX_CHUNK_BYTES ((size_t)16 << 20)

static uint64_t u64_at(const uint8_t *b, int off)
{
	uint64_t v = 0;
	if (off >= 0)
		memcpy(&v, b + off, 8);
	return v;
}

static int max_off(const int *offs, size_t n)
{
	int m = 0;
	for (size_t i = 0; i < n; i++)
		if (offs[i] > m)
			m = offs[i];
	return m;
}

/* ---- frames ---- */

static int push_frame(struct ps_thread *t, struct ps_code *code, int line, uint64_t addr)
{
	if (t->nframes == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		struct ps_frame *nf = realloc(t->frames, nc * sizeof(*nf));
		if (!nf)
			return PS_ENOMEM;
		t->frames = nf;
		t->cap = nc;
	}
	t->frames[t->nframes++] = (struct ps_frame){ .code = code, .line = line, .addr = addr };
	return PS_OK;
}

/* An eval-loop call ends here: at the frame pushed last, or, when none is
 * yet, above the innermost frame. */
static void mark_entry(struct ps_thread *t)
{
	if (t->nframes)
		t->frames[t->nframes - 1].entries++;
	else
		t->hidden_entries++;
}

/* Up to 3.10: a linked list of heap frame objects, one read each. */
static int walk_frame_objects(struct ps_proc *p, struct ps_thread *t, uint64_t f)
{
	const struct ps_layout *l = &p->lay;
	uint8_t buf[1024];
	int offs[] = { l->frame_back, l->frame_code, l->frame_lasti };
	size_t len = (size_t)max_off(offs, 3) + 8;
	if (len > sizeof(buf))
		return PS_EINVAL;
	while (f) {
		if (t->nframes >= PS_MAX_FRAMES)
			return TOO_DEEP;
		int rc = ps_mem_read(&p->mem, f, buf, len);
		struct ps_code *code;
		/* a frame with no reference (ob_refcnt, first in every object)
		 * was freed while we walked (not pausing): its f_back links the
		 * free list, not callers, and a stack read on through it would
		 * pass for a complete one that ends early */
		if (rc == PS_OK && u64_at(buf, 0) == 0)
			rc = PS_EREAD;
		if (rc == PS_OK)
			rc = ps_code_get(p, u64_at(buf, l->frame_code), &code);
		if (rc)
			return rc;
		int32_t lasti;
		memcpy(&lasti, buf + l->frame_lasti, 4);
		rc = push_frame(t, code, ps_code_line(p, code, lasti), f);
		if (rc)
			return rc;
		mark_entry(t); /* up to 3.10 each frame has its own eval call */
		f = u64_at(buf, l->frame_back);
	}
	return PS_OK;
}

/* 3.11+: frames owned by the thread live in the data-stack chunks. We read
 * each chunk's used part whole, then walk frames out of our copy; frames
 * outside every chunk (generators, frame objects) cost a read each. */
struct chunk {
	uint64_t start;
	size_t len;
	uint8_t *data;
};

struct chunks {
	struct chunk v[MAX_CHUNKS];
	size_t n;
	uint64_t next;    /* chunk to load next (the previous of the last) */
	size_t total;
};

static void chunks_release(struct chunks *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].data);
	c->n = 0;
}

static int chunk_load(struct ps_proc *p, struct chunks *c, uint64_t start, size_t len)
{
	const struct ps_layout *l = &p->lay;
	if (c->n == MAX_CHUNKS || len > MAX_CHUNK_BYTES || c->total + len > MAX_CHUNK_BYTES ||
	    len < (size_t)l->chunk_data)
		return PS_ENOMEM;
	uint8_t *d = malloc(len);
	if (!d)
		return PS_ENOMEM;
	int rc = ps_mem_read(&p->mem, start, d, len);
	if (rc) {
		free(d);
		return rc;
	}
	c->v[c->n++] = (struct chunk){ start, len, d };
	c->total += len;
	c->next = u64_at(d, l->chunk_previous);
	return PS_OK;
}

/* Load the chunk before the last one loaded: its header says how much of
 * it is in use (top, in words, saved when the next chunk was pushed). */
static int chunk_load_previous(struct ps_proc *p, struct chunks *c)
{
	const struct ps_layout *l = &p->lay;
	uint8_t hdr[64];
	int offs[] = { l->chunk_previous, l->chunk_size, l->chunk_top };
	size_t hlen = (size_t)max_off(offs, 3) + 8;
	if (!c->next || hlen > sizeof(hdr))
		return PS_EINVAL;
	uint64_t start = c->next;
	c->next = 0;
	int rc = ps_mem_read(&p->mem, start, hdr, hlen);
	if (rc)
		return rc;
	uint64_t top = u64_at(hdr, l->chunk_top), size = u64_at(hdr, l->chunk_size);
	uint64_t used = (uint64_t)l->chunk_data + top * 8;
	if (used > size || used > MAX_CHUNK_BYTES)
		return PS_EINVAL;
	return chunk_load(p, c, start, (size_t)used);
}

static const uint8_t *chunk_find(struct chunks *c, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < c->n; i++)
		if (addr >= c->v[i].start && addr - c->v[i].start + len <= c->v[i].len)
			return c->v[i].data + (addr - c->v[i].start);
	return NULL;
}

static const uint8_t *frame_bytes(struct ps_proc *p, struct chunks *c, uint64_t f,
				  size_t len, uint8_t *scratch, int *rc)
{
	const uint8_t *b = chunk_find(c, f, len);
	while (!b && c->next && chunk_load_previous(p, c) == PS_OK)
		b = chunk_find(c, f, len);
	if (b)
		return b;
	*rc = ps_mem_read(&p->mem, f, scratch, len);
	return *rc ? NULL : scratch;
}

static int walk_interp_frames(struct ps_proc *p, struct ps_thread *t, uint64_t f,
			      struct chunks *c)
{
	const struct ps_layout *l = &p->lay;
	uint8_t scratch[256];
	int offs[] = { l->iframe_code, l->iframe_previous, l->iframe_instr, l->iframe_owner,
		       l->iframe_is_entry };
	size_t len = (size_t)max_off(offs, 5) + 8;
	if (len > sizeof(scratch))
		return PS_EINVAL;
	for (int guard = 0; f; guard++) {
		int rc = PS_OK;
		if (guard >= PS_MAX_FRAMES)
			return TOO_DEEP;
		const uint8_t *b = frame_bytes(p, c, f, len, scratch, &rc);
		if (!b)
			return rc;
		uint64_t code_addr = u64_at(b, l->iframe_code);
		int owner = b[l->iframe_owner];
		uint64_t next = u64_at(b, l->iframe_previous);
		/* A shim (3.12+) is pushed by each eval-loop call below its
		 * frames; on 3.11 the call's first frame says is_entry. */
		if (owner == l->frame_owned_by_cstack) {
			mark_entry(t);
		} else {
			struct ps_code *code;
			rc = ps_code_get(p, code_addr, &code);
			if (rc)
				return rc;
			uint64_t first = code_addr + (uint64_t)l->code_code_adaptive;
			int64_t unit = ((int64_t)u64_at(b, l->iframe_instr) - (int64_t)first) / 2;
			/* a frame pushed but not started yet is not on the
			 * stack as Python reports it */
			if (unit >= 0 || owner == l->frame_owned_by_generator)
				rc = push_frame(t, code, ps_code_line(p, code, unit), f);
			if (rc)
				return rc;
			if (l->iframe_is_entry >= 0 && b[l->iframe_is_entry])
				mark_entry(t);
		}
		f = next;
	}
	return PS_OK;
}

static int walk_chunked(struct ps_proc *p, struct ps_thread *t, const uint8_t *ts)
{
	const struct ps_layout *l = &p->lay;
	struct chunks c = { .n = 0 };
	uint64_t f;
	if (l->tstate_current_frame >= 0) {
		f = u64_at(ts, l->tstate_current_frame);
	} else {
		uint64_t cframe = u64_at(ts, l->tstate_cframe);
		int rc = ps_mem_read_ptr(&p->mem, cframe + (uint64_t)l->cframe_current_frame, &f);
		if (rc)
			return rc;
	}
	uint64_t chunk = u64_at(ts, l->tstate_datastack_chunk);
	uint64_t top = u64_at(ts, l->tstate_datastack_top);
	if (chunk && top > chunk && top - chunk <= MAX_CHUNK_BYTES)
		chunk_load(p, &c, chunk, (size_t)(top - chunk)); /* a miss is not fatal */
	int rc = walk_interp_frames(p, t, f, &c);
	chunks_release(&c);
	return rc;
}

/* ---- threads ---- */

/* Learn where glibc keeps the kernel tid inside struct pthread (pthread_t
 * points at it): the offset at which every thread's value is one of the
 * process's tids, all distinct. Needed before 3.8 (no native_thread_id). */
static void calibrate_tid_offset(struct ps_proc *p, const struct ps_snapshot *s,
				 const struct ps_tasks *tasks)
{
	enum { SPAN = 2048, MAX_THREADS = 64 };
	/* 64 threads whose values at one offset are all distinct tids of the
	 * process can only be the tid field; more would cost n^2 compares
	 * per offset (a second with a thousand threads, inside a pause) */
	size_t n = s->n < MAX_THREADS ? s->n : MAX_THREADS;
	uint8_t *mem = calloc(n ? n : 1, SPAN);
	if (!mem || !tasks)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (ps_mem_read(&p->mem, s->threads[i].thread_id, mem + i * SPAN, SPAN))
			goto out;
	for (int off = 0; off + 4 <= SPAN; off += 4) {
		size_t ok = 0;
		for (size_t i = 0; i < n; i++) {
			int32_t v;
			memcpy(&v, mem + i * SPAN + off, 4);
			int distinct = 1;
			for (size_t j = 0; j < i; j++)
				if (!memcmp(mem + j * SPAN + off, &v, 4))
					distinct = 0;
			if (v > 0 && distinct && ps_tasks_state(tasks, v) != '?')
				ok++;
		}
		if (n && ok == n) {
			p->pthread_tid_offset = off;
			break;
		}
	}
out:
	free(mem);
}

static uint64_t gil_holder(struct ps_proc *p)
{
	const struct ps_layout *l = &p->lay;
	uint64_t gil, holder = 0;
	int32_t locked = 0;
	if (l->interp_gil >= 0) {
		if (ps_mem_read_ptr(&p->mem, p->interp + (uint64_t)l->interp_gil, &gil))
			return 0;
		p->gil = gil;
		if (ps_mem_read(&p->mem, gil + (uint64_t)l->gil_locked, &locked, 4) || !locked ||
		    ps_mem_read_ptr(&p->mem, gil + (uint64_t)l->gil_last_holder, &holder))
			return 0;
		return holder;
	}
	if (l->runtime_tstate_current >= 0 && p->runtime) {
		if (ps_mem_read_ptr(&p->mem, p->runtime + (uint64_t)l->runtime_tstate_current, &holder))
			return 0;
		return holder;
	}
	if (p->tstate_current_sym && ps_mem_read_ptr(&p->mem, p->tstate_current_sym, &holder))
		return 0;
	return holder;
}

static int push_thread(struct ps_snapshot *s, struct ps_thread **out)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct ps_thread *nt = realloc(s->threads, nc * sizeof(*nt));
		if (!nt)
			return PS_ENOMEM;
		s->threads = nt;
		s->cap = nc;
	}
	*out = &s->threads[s->n++];
	memset(*out, 0, sizeof(**out));
	return PS_OK;
}

/* Read the thread state at ts_addr and walk its stack into a new thread of
 * s; *added says whether one was added (a thread state that is no thread
 * is passed over, its next still followed). */
static int read_thread(struct ps_proc *p, struct ps_snapshot *s, uint64_t ts_addr,
		       uint64_t *next, int *added)
{
	const struct ps_layout *l = &p->lay;
	uint8_t ts[1024];
	int offs[] = { l->tstate_next, l->tstate_thread_id, l->tstate_native_thread_id,
		       l->tstate_frame, l->tstate_cframe, l->tstate_current_frame,
		       l->tstate_datastack_chunk, l->tstate_datastack_top, l->tstate_interp };
	size_t len = (size_t)max_off(offs, sizeof(offs) / sizeof(offs[0])) + 8;
	struct ps_thread *t;
	if (len > sizeof(ts))
		return PS_EINVAL;
	int rc = ps_mem_read(&p->mem, ts_addr, ts, len);
	if (rc)
		return rc;
	if (u64_at(ts, l->tstate_interp) != p->interp)
		return PS_EINVAL; /* not one of ours any more */
	*added = 0;
	*next = u64_at(ts, l->tstate_next);
	/* 3.11+ binds a thread state to its OS thread when the thread starts:
	 * tid 0 is a state not running yet, or (nonblocking) a torn read */
	if (l->tstate_native_thread_id >= 0 && (pid_t)u64_at(ts, l->tstate_native_thread_id) == 0)
		return PS_OK;
	rc = push_thread(s, &t);
	if (rc)
		return rc;
	*added = 1;
	t->tstate = ts_addr;
	t->thread_id = u64_at(ts, l->tstate_thread_id);
	if (l->tstate_native_thread_id >= 0)
		t->tid = (pid_t)u64_at(ts, l->tstate_native_thread_id);
	if (l->iframe_size > 0)
		rc = walk_chunked(p, t, ts);
	else
		rc = walk_frame_objects(p, t, u64_at(ts, l->tstate_frame));
	if (rc) {
		t->flags |= PS_THREAD_TRUNCATED;
		if (rc != TOO_DEEP) {
			t->error = rc;
			s->errors++;
		}
	}
	return PS_OK;
}

#define TID_CALIBRATE_RETRY_NS 1000000000u

/* The kernel tid of the thread whose struct pthread is at thread_id, by
 * the calibrated offset; 0 when it cannot be read (or is not positive). */
static pid_t pthread_tid(struct ps_proc *p, uint64_t thread_id)
{
	int32_t tid;
	if (ps_mem_read(&p->mem, thread_id + (uint64_t)p->pthread_tid_offset, &tid, 4) != PS_OK ||
	    tid <= 0)
		return 0;
	return tid;
}

static void fill_tids(struct ps_proc *p, struct ps_snapshot *s, const struct ps_tasks *tasks)
{
	if (p->lay.tstate_native_thread_id >= 0)
		return;
	if (p->pthread_tid_offset < 0 && ps_now_ns() >= p->tid_calibrate_at) {
		calibrate_tid_offset(p, s, tasks);
		/* what made it fail (a thread state that another shares, a
		 * thread starting) may well last: each try reads 2 KB a thread,
		 * inside the pause when pausing, so not again for a second */
		if (p->pthread_tid_offset < 0)
			p->tid_calibrate_at = ps_now_ns() + TID_CALIBRATE_RETRY_NS;
	}
	if (p->pthread_tid_offset < 0)
		return;
	for (size_t i = 0; i < s->n; i++) {
		pid_t tid = pthread_tid(p, s->threads[i].thread_id);
		if (tid)
			s->threads[i].tid = tid;
	}
}

/* Functions a thread waits in when the OS can not tell us (no tid). */
static int waiting_function(const char *name)
{
	static const char *const names[] = { "wait", "_wait_for_tstate_lock", "sleep", "select",
					     "poll", "epoll", "accept", "recv", "recvfrom",
					     "read", "readline", "get", "join", "acquire", NULL };
	for (int i = 0; names[i]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

void ps_snapshot_idle(struct ps_snapshot *s, const struct ps_tasks *tasks)
{
	for (size_t i = 0; i < s->n; i++) {
		struct ps_thread *t = &s->threads[i];
		if (t->flags & PS_THREAD_GIL)
			continue; /* holding the GIL means running Python */
		char st = t->tid ? ps_tasks_state(tasks, t->tid) : '?';
		int idle;
		if (st != '?')
			idle = st != 'R';
		else
			idle = t->nframes && t->frames[0].code && t->frames[0].code->name &&
			       waiting_function(t->frames[0].code->name);
		if (idle)
			t->flags |= PS_THREAD_IDLE;
	}
}

/* ---- native frames ---- */

static void native_failed(struct ps_snapshot *s, struct ps_thread *t)
{
	t->flags |= PS_THREAD_NO_NATIVE;
	s->errors++;
}

/* Replace a thread's Python stack by the merged one, or leave it. */
static void merge_thread(struct ps_proc *p, struct ps_snapshot *s, struct ps_thread *t,
			 struct ps_nframe *nat)
{
	size_t nn = 0, nout = 0;
	int cut = 0;
	/* a Python stack we could not read whole (its error counted already)
	 * has nothing to align the native one with */
	if (t->flags & PS_THREAD_TRUNCATED) {
		t->flags |= PS_THREAD_NO_NATIVE;
		return;
	}
	/* nor has a native stack cut short; and a merged one must fit */
	if (t->tid <= 0 ||
	    ps_native_unwind(p->native, t->tid, nat, PS_MAX_NATIVE_FRAMES, &nn, &cut) || cut ||
	    nn + t->nframes > PS_MAX_FRAMES) {
		native_failed(s, t);
		return;
	}
	struct ps_frame *out = malloc((nn + t->nframes + 1) * sizeof(*out));
	if (!out || ps_native_merge(nat, nn, t->frames, t->nframes, t->hidden_entries, out,
				    &nout) != PS_OK) {
		free(out);
		native_failed(s, t);
		return;
	}
	free(t->frames);
	t->frames = out;
	t->cap = nn + t->nframes + 1;
	t->nframes = nout;
}

static void add_native(struct ps_proc *p, struct ps_snapshot *s)
{
	struct ps_nframe *nat = malloc(PS_MAX_NATIVE_FRAMES * sizeof(*nat));
	if (!nat || (!p->native && ps_native_new(p, &p->native, NULL) != PS_OK)) {
		for (size_t i = 0; i < s->n; i++)
			native_failed(s, &s->threads[i]);
		free(nat);
		return;
	}
	ps_native_begin(p->native);
	for (size_t i = 0; i < s->n; i++)
		merge_thread(p, s, &s->threads[i], nat);
	free(nat);
}

/* threading._active maps get_ident() to Thread objects; the name is the
 * Thread's _name (_Thread__name on 2.7, mangled). */
void ps_snapshot_names(struct ps_proc *p, struct ps_snapshot *s)
{
	uint64_t modules, threading, mdict, active;
	struct ps_kv kv[256];
	size_t n = 0, total;
	const char *attr = p->major == 2 ? "_Thread__name" : "_name";
	if (ps_mem_read_ptr(&p->mem, p->interp + (uint64_t)p->lay.interp_modules, &modules) ||
	    ps_py_dict_get_str(p, modules, "threading", &threading) ||
	    ps_mem_read_ptr(&p->mem, threading + (uint64_t)p->lay.module_dict, &mdict) ||
	    ps_py_dict_get_str(p, mdict, "_active", &active) ||
	    ps_py_dict_items(p, active, kv, 256, &n, &total))
		return;
	for (size_t i = 0; i < n; i++) {
		int64_t ident;
		uint64_t name;
		if (ps_py_int64(p, kv[i].key, &ident))
			continue;
		for (size_t j = 0; j < s->n; j++) {
			struct ps_thread *t = &s->threads[j];
			if (t->thread_id == (uint64_t)ident &&
			    ps_py_attr(p, kv[i].value, attr, &name) == PS_OK)
				ps_py_text(p, name, 1, 100, t->name, sizeof(t->name), NULL, NULL);
		}
	}
}

/* 3.12+: the first thread state and the GIL's holder in one read. The GIL
 * is allocated once, when the interpreter starts, so its address is read
 * once (and again every 1024 snapshots, in case). 0 when it can not be
 * done this way: the caller reads them one by one. */
static int head_and_holder(struct ps_proc *p, uint64_t *ts, uint64_t *holder)
{
	const struct ps_layout *l = &p->lay;
	int lo = l->gil_locked < l->gil_last_holder ? l->gil_locked : l->gil_last_holder;
	int hi = l->gil_locked < l->gil_last_holder ? l->gil_last_holder + 8 : l->gil_locked + 4;
	uint8_t g[64];
	if (l->interp_gil < 0 || !p->gil || (p->epoch & 1023) == 0 || lo < 0 ||
	    hi - lo > (int)sizeof(g))
		return 0;
	struct ps_mem_range r[2] = {
		{ p->interp + (uint64_t)l->interp_tstate_head, ts, 8 },
		{ p->gil + (uint64_t)lo, g, (size_t)(hi - lo) },
	};
	if (ps_mem_readv(&p->mem, r, 2) != PS_OK)
		return 0;
	int32_t locked;
	memcpy(&locked, g + (l->gil_locked - lo), 4);
	*holder = locked ? u64_at(g, l->gil_last_holder - lo) : 0;
	return 1;
}

/* A thread state that was the head of the thread list still is while its
 * prev is 0 and it belongs to the interpreter: CPython puts a new thread
 * state in front of the head, and setting the old head's prev is part of
 * that. A head freed since fails too: malloc keeps its own pointer where
 * prev was (glibc: tcache's next, mangled, or the bins' fd; never 0). Both
 * fields are in the thread state the last snapshot read, so the check is
 * served by the prefetch. */
static int head_still_first(struct ps_proc *p, uint64_t ts)
{
	const struct ps_layout *l = &p->lay;
	uint64_t prev, interp;
	return ps_mem_read_ptr(&p->mem, ts + (uint64_t)l->tstate_prev, &prev) == PS_OK &&
	       prev == 0 &&
	       ps_mem_read_ptr(&p->mem, ts + (uint64_t)l->tstate_interp, &interp) == PS_OK &&
	       interp == p->interp;
}

/* The interpreter's first thread state, or the error saying why not. The
 * head read in an earlier snapshot is used again while head_still_first
 * says so, and read afresh every PS_HEAD_RECHECK snapshots in any case:
 * one remote range less a snapshot (of 7 on a flat 3.10 program, whose
 * interpreter state is a page of its own). */
static int thread_list_head(struct ps_proc *p, uint64_t *ts, struct ps_errmsg *e)
{
	if (p->head && p->lay.tstate_prev >= 0 && p->epoch - p->head_epoch < PS_HEAD_RECHECK &&
	    head_still_first(p, p->head)) {
		*ts = p->head;
		return PS_OK;
	}
	p->head = 0;
	int rc = ps_mem_read_ptr(&p->mem, p->interp + (uint64_t)p->lay.interp_tstate_head, ts);
	if (rc == PS_EGONE)
		return ps_error(e, rc, "process %d exited", (int)p->pid);
	if (rc)
		return ps_error(e, rc, "cannot read the thread list of process %d", (int)p->pid);
	p->head = *ts;
	p->head_epoch = p->epoch;
	return PS_OK;
}

/* Every thread's Python stack, in a new code-cache epoch. */
static int walk_threads(struct ps_proc *p, struct ps_snapshot *s, struct ps_errmsg *e)
{
	uint64_t ts, holder;
	memset(s, 0, sizeof(*s));
	ps_code_cache_begin(p);
	if (!head_and_holder(p, &ts, &holder)) {
		int rc = thread_list_head(p, &ts, e);
		if (rc)
			return rc;
		holder = gil_holder(p);
	}
	for (size_t i = 0; ts && i < PS_MAX_THREADS; i++) {
		uint64_t next = 0;
		int added = 0;
		if (read_thread(p, s, ts, &next, &added)) {
			s->errors++;
			break;
		}
		if (added && s->threads[s->n - 1].tstate == holder)
			s->threads[s->n - 1].flags |= PS_THREAD_GIL;
		ts = next;
	}
	return PS_OK;
}

/* walk_threads, with code objects met again validated together at the end
 * (one read for all); if one turns out stale (freed, its address reused),
 * the walk is done again reading each as it is met, as if never cached. */
static int walk_validated(struct ps_proc *p, struct ps_snapshot *s, struct ps_errmsg *e)
{
	ps_code_defer(p, 1);
	int rc = walk_threads(p, s, e);
	if (rc == PS_OK && ps_code_validate(p)) {
		ps_snapshot_release(s);
		ps_code_defer(p, 0);
		rc = walk_threads(p, s, e);
	}
	ps_code_defer(p, 0);
	return rc;
}

int ps_snapshot_take(struct ps_proc *p, struct ps_snapshot *s, unsigned flags,
		     const struct ps_tasks *tasks, struct ps_errmsg *e)
{
	struct ps_tasks own = { 0 };
	if (!tasks) {
		ps_tasks_read(p->pid, &own);
		tasks = &own;
	}
	ps_mem_prefetch_begin(&p->mem); /* what the last snapshot read, in one call */
	int rc = walk_validated(p, s, e);
	/* A stack torn by a running target is read again at once: the
	 * prefetch, renewed, then holds the frames the torn walk went through
	 * as they are now, copied together, which a stack changing faster
	 * than one read a frame (fib before 3.11) needs to be read whole. */
	for (int again = 0; rc == PS_OK && s->errors && (flags & PS_SNAP_RETRY) &&
			    again < PS_SNAP_RETRIES; again++) {
		ps_mem_prefetch_end(&p->mem);
		ps_mem_prefetch_begin(&p->mem);
		ps_snapshot_release(s);
		rc = walk_validated(p, s, e);
		s->retries = (unsigned)again + 1;
	}
	if (rc == PS_OK)
		fill_tids(p, s, tasks);
	ps_mem_prefetch_end(&p->mem);
	if (rc) {
		ps_tasks_release(&own);
		return rc;
	}
	if (!(flags & PS_SNAP_NO_IDLE))
		ps_snapshot_idle(s, tasks);
	if (flags & PS_SNAP_NATIVE)
		add_native(p, s);
	if (flags & PS_SNAP_NAMES)
		ps_snapshot_names(p, s);
	ps_tasks_release(&own);
	return PS_OK;
}

/* ---- one thread at a time ----
 * For a process with many threads (ps_snapshot_take_each): the thread list
 * is walked as in nonblocking mode, every read validated, and each thread
 * is stopped only while its own thread state and stack are read (and, in
 * a native snapshot, unwound). */

/* The OS tid of the thread state at ts_addr, read while it runs; 0 when it
 * is unknown (no native_thread_id and no calibrated pthread offset, or a
 * state not bound to a thread yet). *next is its successor in the list. */
static pid_t tid_of_state(struct ps_proc *p, uint64_t ts_addr, uint64_t *next, int *rc)
{
	const struct ps_layout *l = &p->lay;
	uint8_t ts[1024];
	int offs[] = { l->tstate_next, l->tstate_thread_id, l->tstate_native_thread_id,
		       l->tstate_interp };
	size_t len = (size_t)max_off(offs, 4) + 8;
	*rc = len > sizeof(ts) ? PS_EINVAL : ps_mem_read(&p->mem, ts_addr, ts, len);
	if (*rc == PS_OK && u64_at(ts, l->tstate_interp) != p->interp)
		*rc = PS_EINVAL;
	if (*rc)
		return 0;
	*next = u64_at(ts, l->tstate_next);
	if (l->tstate_native_thread_id >= 0)
		return (pid_t)u64_at(ts, l->tstate_native_thread_id);
	return p->pthread_tid_offset >= 0 ? pthread_tid(p, u64_at(ts, l->tstate_thread_id)) : 0;
}

/* Stop the thread at ts_addr, read it (and unwind it), let it go. */
static int read_thread_stopped(struct ps_proc *p, struct ps_snapshot *s, uint64_t ts_addr,
			       uint64_t holder, unsigned flags, struct ps_nframe *nat,
			       const struct ps_thread_stopper *stop, uint64_t *next)
{
	int rc, added = 0;
	pid_t tid = tid_of_state(p, ts_addr, next, &rc);
	if (rc)
		return rc;
	if (tid <= 0)
		return PS_OK; /* not a running thread (yet): nothing to stop */
	rc = stop->stop(stop->ctx, tid);
	if (rc == PS_EGONE)
		return PS_OK; /* it exited meanwhile */
	if (rc == PS_OK)
		rc = read_thread(p, s, ts_addr, next, &added);
	if (rc == PS_OK && added) {
		struct ps_thread *t = &s->threads[s->n - 1];
		/* 3.11+ read it again now (a state reused for another thread
		 * since says so); before, the tid came from struct pthread */
		if (p->lay.tstate_native_thread_id < 0)
			t->tid = tid;
		if (t->tstate == holder)
			t->flags |= PS_THREAD_GIL;
		if (flags & PS_SNAP_NATIVE)
			merge_thread(p, s, t, nat);
	}
	stop->go(stop->ctx, tid);
	if (rc && rc != PS_EINVAL) {
		s->errors++; /* this thread is lost; the list goes on */
		rc = PS_OK;
	}
	return rc;
}

int ps_snapshot_take_each(struct ps_proc *p, struct ps_snapshot *s, unsigned flags,
			  const struct ps_tasks *tasks, const struct ps_thread_stopper *stop,
			  struct ps_errmsg *e)
{
	uint64_t ts, holder;
	struct ps_nframe *nat = NULL;
	memset(s, 0, sizeof(*s));
	ps_code_cache_begin(p);
	/* no deferred validation and no prefetch: both would use what was
	 * read before the thread was stopped */
	ps_code_defer(p, 0);
	int rc = thread_list_head(p, &ts, e);
	if (rc)
		return rc;
	holder = gil_holder(p); /* read once, while the threads run */
	unsigned walk = flags;
	if (flags & PS_SNAP_NATIVE) {
		nat = malloc(PS_MAX_NATIVE_FRAMES * sizeof(*nat));
		if (nat && (p->native || ps_native_new(p, &p->native, NULL) == PS_OK))
			ps_native_begin(p->native);
		else
			walk &= ~(unsigned)PS_SNAP_NATIVE; /* Python stacks alone */
	}
	for (size_t i = 0; ts && i < PS_MAX_THREADS; i++) {
		uint64_t next = 0;
		if (read_thread_stopped(p, s, ts, holder, walk, nat, stop, &next)) {
			s->errors++;
			break;
		}
		ts = next;
	}
	free(nat);
	for (size_t i = 0; (flags & ~walk & PS_SNAP_NATIVE) && i < s->n; i++)
		native_failed(s, &s->threads[i]);
	if (tasks)
		ps_snapshot_idle(s, tasks);
	if (flags & PS_SNAP_NAMES)
		ps_snapshot_names(p, s);
	return PS_OK;
}

void ps_snapshot_release(struct ps_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->threads[i].frames);
	free(s->threads);
	memset(s, 0, sizeof(*s));
}

int ps_frame_locals(struct ps_proc *p, const struct ps_frame *f, struct ps_local *out,
		    size_t cap, size_t *n)
{
	const struct ps_layout *l = &p->lay;
	struct ps_code *c = f->code;
	uint64_t vals[1024];
	*n = 0;
	if (!c)
		return PS_OK; /* a native frame has no Python locals */
	int rc = ps_code_varnames(p, c);
	if (rc)
		return rc;
	size_t count = p->minor >= 11 && p->major == 3 ? (size_t)c->nvarnames
		: (size_t)(c->nlocals < c->nvarnames ? c->nlocals : c->nvarnames);
	if (count > sizeof(vals) / 8)
		count = sizeof(vals) / 8;
	int off = l->iframe_size > 0 ? l->iframe_localsplus : l->frame_localsplus;
	rc = ps_mem_read(&p->mem, f->addr + (uint64_t)off, vals, count * 8);
	if (rc)
		return rc;
	int nargs = c->argcount + c->kwonlyargcount + !!(c->flags & l->co_varargs) +
		    !!(c->flags & l->co_varkeywords);
	for (size_t i = 0; i < count && *n < cap; i++) {
		if (c->kinds) {
			int k = c->kinds[i];
			if (!(k & l->co_fast_local) || (k & (l->co_fast_cell | l->co_fast_free)))
				continue;
		}
		if (!vals[i])
			continue; /* unbound */
		out[(*n)++] = (struct ps_local){ c->varnames[i], (int)i < nargs, vals[i] };
	}
	return PS_OK;
}
