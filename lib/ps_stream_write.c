/* The sample stream writer (ps_sw_*). */
#include "ps_stream_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

/* Records are staged here and handed to zstd in pieces of this
 * size, not one by one (a call per 6-byte sample would cost more than the
 * compression). */
#define STAGE_BYTES ((size_t)64 << 10)
/* Command lines are cut to this much so a header fits in a record. */
#define MAX_ARGV_BYTES ((size_t)512 << 10)
/* The compressor's history and match tables (see sw_init_zstd). */
#define PS_SW_WINDOW_LOG 20
#define PS_SW_TABLE_LOG 16

/* ---- growable bytes ----------------------------------------------------- */

struct bbuf {
	uint8_t *p;
	size_t len, cap;
};

static int bb_reserve(struct bbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return PS_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Callers reserve first, so appends cannot fail half-way. */
static void bb_put(struct bbuf *b, const void *src, size_t n)
{
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void bb_uv(struct bbuf *b, uint64_t v)
{
	b->len += ps_varint_put(b->p + b->len, v);
}

/* Length of s as written: cut at PS_STREAM_MAX_STRING, never inside a
 * UTF-8 sequence. */
static size_t str_cut(const char *s)
{
	size_t n = s ? strnlen(s, PS_STREAM_MAX_STRING + 1) : 0;

	if (n > PS_STREAM_MAX_STRING) {
		n = PS_STREAM_MAX_STRING;
		while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
			n--;
	}
	return n;
}

/* ---- intern table: byte keys to ids 1..n, open addressing ------------- */

struct ient {
	uint64_t hash;
	size_t off;
	uint32_t len;
	uint32_t aux;        /* stacks: depth */
};

struct itab {
	uint32_t *slot;      /* 0 empty, else id */
	size_t cap;          /* power of two, at least twice n */
	struct ient *ent;
	uint32_t n, ent_cap;
	struct bbuf keys;
};

static uint64_t hash_bytes(const void *key, size_t n)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static uint32_t itab_find(const struct itab *t, const void *key, size_t n, uint64_t h)
{
	if (!t->cap)
		return 0;
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		uint32_t id = t->slot[i];
		const struct ient *x;

		if (!id)
			return 0;
		x = &t->ent[id - 1];
		if (x->hash == h && x->len == n && !memcmp(t->keys.p + x->off, key, n))
			return id;
	}
}

/* Room for one more entry of n key bytes, so that the insert after the
 * record was written cannot fail and ids stay in step with the stream. */
static int itab_reserve(struct itab *t, size_t n)
{
	if (bb_reserve(&t->keys, n + 1))
		return PS_ENOMEM;
	if (t->n + 1 > t->ent_cap) {
		uint32_t c = t->ent_cap ? t->ent_cap * 2 : 256;
		struct ient *e = realloc(t->ent, c * sizeof(*e));
		if (!e)
			return PS_ENOMEM;
		t->ent = e;
		t->ent_cap = c;
	}
	if ((t->n + 1) * 2 > t->cap) {
		size_t c = t->cap ? t->cap * 2 : 512;
		uint32_t *s = calloc(c, sizeof(*s));
		if (!s)
			return PS_ENOMEM;
		for (uint32_t id = 1; id <= t->n; id++) {
			size_t i = t->ent[id - 1].hash & (c - 1);
			while (s[i])
				i = (i + 1) & (c - 1);
			s[i] = id;
		}
		free(t->slot);
		t->slot = s;
		t->cap = c;
	}
	return 0;
}

static uint32_t itab_insert(struct itab *t, const void *key, size_t n, uint64_t h, uint32_t aux)
{
	size_t i = h & (t->cap - 1);
	uint32_t id = ++t->n;

	while (t->slot[i])
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = id;
	t->ent[id - 1] = (struct ient){ h, t->keys.len, (uint32_t)n, aux };
	bb_put(&t->keys, key, n);
	return id;
}

static void itab_free(struct itab *t)
{
	free(t->slot);
	free(t->ent);
	free(t->keys.p);
}

/* ---- SAMPLES records: the range coder and the model -------------------- */

/* The samples of one SAMPLES record being coded, and the model, which goes
 * on from record to record (ps_stream_impl.h). */
struct sx_enc {
	struct bbuf ext;        /* the record's extras */
	struct bbuf code;       /* range coder output */
	uint64_t low, pending;  /* LZMA's low and cache size */
	uint32_t range;
	uint8_t cache;
	uint8_t skip;           /* LZMA's first byte, always 0, is left out */
	uint32_t n;             /* samples in the record */
	struct ps_sx_model m;
	uint32_t rate_hz;       /* the header's: the model's period */
	struct ps_sx_thread *t; /* by thread id, 0 included */
	uint32_t tcap;
};

/* Samples go out in a SAMPLES record once it holds this many bytes, so
 * that a record stays far below the 1 MiB limit. */
#define SX_RECORD_BYTES ((size_t)256 << 10)

static void rc_start(struct sx_enc *x)
{
	x->low = 0;
	x->range = 0xFFFFFFFFu;
	x->cache = 0;
	x->pending = 1;
	x->skip = 1;
}

/* Room was reserved by the caller (sx_reserve). */
static void rc_shift_low(struct sx_enc *x)
{
	if ((uint32_t)x->low < 0xFF000000u || (x->low >> 32)) {
		uint8_t carry = (uint8_t)(x->low >> 32), b = x->cache;
		do {
			if (!x->skip)
				x->code.p[x->code.len++] = (uint8_t)(b + carry);
			x->skip = 0;
			b = 0xFF;
		} while (--x->pending);
		x->cache = (uint8_t)(x->low >> 24);
	}
	x->pending++;
	x->low = (x->low & 0x00FFFFFFu) << 8;
}

static void rc_bit(struct sx_enc *x, uint16_t *p, unsigned bit)
{
	uint32_t bound = (x->range >> PS_RC_BITS) * *p;

	if (!bit) {
		x->range = bound;
		*p = (uint16_t)(*p + ((PS_RC_ONE - *p) >> PS_RC_MOVE));
	} else {
		x->low += bound;
		x->range -= bound;
		*p = (uint16_t)(*p - (*p >> PS_RC_MOVE));
	}
	while (x->range < PS_RC_TOP) {
		x->range <<= 8;
		rc_shift_low(x);
	}
}

/* The end of a record's coded bytes: any value in [low, low + range)
 * decodes the same, so take the one whose low 24 bits are 0 (range is at
 * least 2^24) and leave out the zero bytes at the end, which the reader
 * supplies: one or two bytes instead of LZMA's four. */
static void rc_finish(struct sx_enc *x)
{
	x->low = (x->low + 0xFFFFFFu) & ~(uint64_t)0xFFFFFFu;
	rc_shift_low(x);
	rc_shift_low(x);
	while (x->code.len && !x->code.p[x->code.len - 1])
		x->code.len--;
}

/* The model's entry for thread id (ids grow as THREAD records are written). */
static int sx_thread_room(struct sx_enc *x, uint32_t id)
{
	uint32_t cap = x->tcap ? x->tcap : 16;
	struct ps_sx_thread *t;

	if (id < x->tcap)
		return 0;
	while (cap <= id)
		cap *= 2;
	t = realloc(x->t, cap * sizeof(*t));
	if (!t)
		return PS_ENOMEM;
	memset(t + x->tcap, 0, (cap - x->tcap) * sizeof(*t));
	x->t = t;
	x->tcap = cap;
	return 0;
}

/* The model starts again with each segment (and the stream). */
static void sx_reset(struct sx_enc *x)
{
	ps_sx_model_init(&x->m, x->rate_hz);
	if (x->tcap)
		memset(x->t, 0, x->tcap * sizeof(*x->t));
}

/* The thread: the one that followed the previous sample's last time, or
 * written out. */
static void sx_code_thread(struct sx_enc *x, uint32_t thread)
{
	struct ps_sx_thread *prev = &x->t[x->m.prev];

	if (prev->succ)
		rc_bit(x, &x->m.p.th, prev->succ != thread);
	if (prev->succ != thread)
		bb_uv(&x->ext, thread);
	prev->succ = thread;
	x->m.prev = thread;
}

/* dt: 0, d0, d1, a few periods (late ticks, a sampler behind its grid), or
 * written out. */
static void sx_code_dt(struct sx_enc *x, struct ps_sx_thread *t, uint64_t dt)
{
	struct ps_sx_model *m = &x->m;
	uint16_t *pd = m->p.dt[t->dt_class];
	unsigned cls = dt == 0 ? 0 : m->d0 && dt == m->d0 ? 1 : m->d1 && dt == m->d1 ? 2 : 3;
	uint64_t k = cls == 3 && m->period && dt % m->period == 0 ? dt / m->period : 0;
	int tree = k >= 1 && k <= PS_SX_MULTIPLES;

	rc_bit(x, &pd[0], cls != 0);
	if (cls && m->d0)
		rc_bit(x, &pd[1], cls != 1);
	if (cls > 1 && m->d1)
		rc_bit(x, &pd[2], cls != 2);
	if (cls == 3 && m->period)
		rc_bit(x, &m->p.mul, !tree);
	for (unsigned b = 6, node = 1; tree && b-- > 0;) {
		unsigned bit = (unsigned)((k - 1) >> b) & 1;
		rc_bit(x, &m->p.mul_tree[node], bit);
		node = 2 * node + bit;
	}
	if (cls == 3 && !tree)
		bb_uv(&x->ext, dt);
	ps_sx_dt_seen(m, cls, dt);
	t->dt_class = (uint8_t)cls;
}

/* The stack: the thread's last, another of its recent ones, or written
 * out; then the flags: as that stack had them (a new stack: as the
 * thread's last sample had them), or written out. */
static void sx_code_stack(struct sx_enc *x, struct ps_sx_thread *t, uint32_t stack,
			  unsigned flags)
{
	struct ps_sx_model *m = &x->m;
	uint16_t *ps = m->p.st[t->st_class];
	unsigned i = 0;

	while (i < t->have && t->stack[i] != stack)
		i++;
	if (i == t->have)
		i = PS_SX_RECENT;
	if (t->have >= 1)
		rc_bit(x, &ps[0], i != 0);
	if (i != 0 && t->have >= 2)
		rc_bit(x, &ps[1], i == PS_SX_RECENT);
	/* which of recent 1..7: 3 bits, high first, down a tree */
	for (unsigned k = 3, node = 1; i && i < PS_SX_RECENT && k-- > 0;) {
		unsigned b = ((i - 1) >> k) & 1;
		rc_bit(x, &m->p.pos[node], b);
		node = 2 * node + b;
	}
	if (i == PS_SX_RECENT)
		bb_uv(&x->ext, stack);
	if (t->have) {
		unsigned ref = t->flags[i < PS_SX_RECENT ? i : 0];
		rc_bit(x, &m->p.fl[i == PS_SX_RECENT], flags != ref);
		if (flags != ref)
			bb_uv(&x->ext, flags);
	} else {
		bb_uv(&x->ext, flags);
	}
	t->st_class = (uint8_t)(i == 0 ? 0 : i < PS_SX_RECENT ? 1 : 2);
	ps_sx_stack_seen(t, i, stack, flags);
}

/* Code one sample: the decisions of spec section "SAMPLES", in order. */
static void sx_code(struct sx_enc *x, uint64_t dt, uint32_t thread, uint32_t stack,
		    unsigned flags)
{
	if (x->n++ == 0)
		rc_start(x);
	sx_code_thread(x, thread);
	sx_code_dt(x, &x->t[thread], dt);
	sx_code_stack(x, &x->t[thread], stack, flags);
}

/* ---- writer ------------------------------------------------------------- */

struct ps_sw {
	ps_sw_write_fn fn;
	void *ctx;
	int fd;
	ZSTD_CCtx *cz;
	struct bbuf stage;      /* records not yet given to zstd */
	struct bbuf pay;        /* the payload being built */
	uint8_t *out;
	size_t out_cap;
	struct itab strings, frames, stacks, threads;
	uint32_t processes;
	struct bbuf header;     /* the HEADER payload, written again at each segment */
	uint32_t seg_entries, seg_bytes, epoch;
	uint64_t header_cost;   /* str_budget of the header alone */
	uint64_t str_budget;    /* STR_COST of every string written */
	uint64_t origin_ns, last_us, flush_ns, last_flush_ns;
	uint64_t samples, raw, comp;
	int err;                /* sticky: once output failed the stream is broken */
	const struct ps_sw_sink *sink;  /* records go here instead of to zstd */
	struct sx_enc sx;       /* samples waiting for their SAMPLES record */
	char err_msg[PS_ERRMSG_MAX]; /* why, repeated to every later call */
};

static int fd_write(void *ctx, const void *buf, size_t len, struct ps_errmsg *e)
{
	int fd = *(const int *)ctx;
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ps_error(e, PS_EIO, "cannot write stream: %s",
					n < 0 ? strerror(errno) : "no progress");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sw_broken(struct ps_sw *w, struct ps_errmsg *e)
{
	return ps_error(e, w->err, "%s", w->err_msg);
}

/* Hand a record (or PS_SW_SINK_FLUSH) to the sink; its first error
 * breaks the writer, as an output error does. */
static int sw_sink(struct ps_sw *w, uint64_t type, struct ps_errmsg *e)
{
	struct ps_errmsg we = { 0 };
	int rc = w->sink->record(w->ctx, type, type ? w->pay.p : NULL, type ? w->pay.len : 0, &we);
	if (rc) {
		w->err = rc;
		snprintf(w->err_msg, sizeof(w->err_msg), "%s", we.msg);
		return ps_error(e, rc, "%s", we.msg);
	}
	if (type)
		w->raw += w->pay.len;
	return 0;
}

/* Hand the staged records to zstd with mode, writing what it produces. */
static int sw_push(struct ps_sw *w, ZSTD_EndDirective mode, struct ps_errmsg *e)
{
	ZSTD_inBuffer in = { w->stage.p, w->stage.len, 0 };

	if (w->sink)
		return mode == ZSTD_e_flush ? sw_sink(w, PS_SW_SINK_FLUSH, e) : 0;

	for (;;) {
		ZSTD_outBuffer o = { w->out, w->out_cap, 0 };
		size_t rem = ZSTD_compressStream2(w->cz, &o, &in, mode);
		int rc;

		if (ZSTD_isError(rem)) {
			w->err = PS_EIO;
			snprintf(w->err_msg, sizeof(w->err_msg), "cannot compress stream: %s",
				 ZSTD_getErrorName(rem));
			return ps_error(e, PS_EIO, "%s", w->err_msg);
		}
		if (o.pos) {
			struct ps_errmsg we = { 0 };
			rc = w->fn(w->ctx, w->out, o.pos, &we);
			if (rc) {
				w->err = rc;
				snprintf(w->err_msg, sizeof(w->err_msg), "%s", we.msg);
				return ps_error(e, rc, "%s", we.msg);
			}
			w->comp += o.pos;
		}
		if (mode == ZSTD_e_continue ? in.pos == in.size : rem == 0)
			break;
	}
	w->raw += w->stage.len;
	w->stage.len = 0;
	return 0;
}

/* Stage the SAMPLES record of the samples coded so far, if any. It goes
 * straight to the stage, since w->pay may hold the record that made it
 * due. */
static int sx_close(struct ps_sw *w, struct ps_errmsg *e)
{
	struct sx_enc *x = &w->sx;
	uint8_t tmp[2 * PS_VARINT_MAX];
	size_t head, len;

	if (!x->n)
		return 0;
	rc_finish(x);
	head = ps_varint_put(tmp, x->n);
	head += ps_varint_put(tmp + head, x->ext.len);
	len = head + x->ext.len + x->code.len;
	if (bb_reserve(&w->stage, 2 * PS_VARINT_MAX + len))
		return ps_error(e, PS_ENOMEM, "out of memory staging a samples record");
	bb_uv(&w->stage, PS_REC_SAMPLES);
	bb_uv(&w->stage, len);
	bb_put(&w->stage, tmp, head);
	bb_put(&w->stage, x->ext.p, x->ext.len);
	bb_put(&w->stage, x->code.p, x->code.len);
	x->ext.len = x->code.len = 0;
	x->n = 0;
	return 0;
}

/* Whether a record may come after samples still being coded: definitions
 * may (the SAMPLES record that refers to them then follows them); anything
 * else (events, processes, a HEADER, the END) is ordered with the samples,
 * so their record goes first. */
static int sx_may_pass(uint64_t type)
{
	return type >= PS_REC_STRING && type <= PS_REC_THREAD;
}

/* Stage a record of w->pay's payload. */
static int sw_emit(struct ps_sw *w, uint64_t type, struct ps_errmsg *e)
{
	int rc;

	if (w->sink)
		return sw_sink(w, type, e);
	if (!sx_may_pass(type) && (rc = sx_close(w, e)))
		return rc;
	if (bb_reserve(&w->stage, 2 * PS_VARINT_MAX + w->pay.len))
		return ps_error(e, PS_ENOMEM, "out of memory staging a %s record", ps_stream_rec_name(type));
	bb_uv(&w->stage, type);
	bb_uv(&w->stage, w->pay.len);
	bb_put(&w->stage, w->pay.p, w->pay.len);
	if (w->stage.len >= STAGE_BYTES)
		return sw_push(w, ZSTD_e_continue, e);
	return 0;
}

/* Start a payload with room for extra bytes beyond nvar varints. */
static int sw_pay(struct ps_sw *w, size_t nvar, size_t extra, struct ps_errmsg *e)
{
	w->pay.len = 0;
	if (bb_reserve(&w->pay, nvar * PS_VARINT_MAX + extra))
		return ps_error(e, PS_ENOMEM, "out of memory building a record");
	return 0;
}

static void pay_str(struct bbuf *b, const char *s, size_t n)
{
	bb_uv(b, n);
	bb_put(b, s, n);
}

/* A command line: count, then each string; cut to what a record holds. */
static int sw_pay_argv(struct ps_sw *w, uint32_t argc, const char *const *argv,
		       struct ps_errmsg *e)
{
	size_t total = 0;
	uint32_t n = 0;

	while (n < argc && n < PS_STREAM_MAX_ARGS && argv && argv[n]) {
		size_t len = str_cut(argv[n]);
		if (total + len + PS_VARINT_MAX > MAX_ARGV_BYTES)
			break;
		total += len + PS_VARINT_MAX;
		n++;
	}
	if (w->str_budget + total + 16 * (uint64_t)n > PS_STREAM_MAX_STRING_BYTES)
		return ps_error(e, PS_ENOMEM, "strings exceed %u bytes", PS_STREAM_MAX_STRING_BYTES);
	if (bb_reserve(&w->pay, PS_VARINT_MAX + total))
		return ps_error(e, PS_ENOMEM, "out of memory building a command line");
	bb_uv(&w->pay, n);
	for (uint32_t i = 0; i < n; i++) {
		size_t len = str_cut(argv[i]);
		pay_str(&w->pay, argv[i], len);
		w->str_budget += STR_COST(len);
	}
	return 0;
}

static int sw_header(struct ps_sw *w, const struct ps_stream_header *h, struct ps_errmsg *e)
{
	const char *sampler = h->sampler ? h->sampler : "";
	const char *pyver = h->python_version ? h->python_version : "";
	size_t ls = str_cut(sampler), lp = str_cut(pyver);
	int rc;

	if ((rc = sw_pay(w, 10, ls + lp, e)))
		return rc;
	w->str_budget += STR_COST(ls) + STR_COST(lp);
	bb_uv(&w->pay, PS_STREAM_MAJOR);
	bb_uv(&w->pay, PS_STREAM_MINOR);
	pay_str(&w->pay, sampler, ls);
	bb_uv(&w->pay, h->pid);
	if ((rc = sw_pay_argv(w, h->argc, h->argv, e)))
		return rc;
	if (bb_reserve(&w->pay, 5 * PS_VARINT_MAX + lp))
		return ps_error(e, PS_ENOMEM, "out of memory building the header");
	pay_str(&w->pay, pyver, lp);
	bb_uv(&w->pay, h->rate_hz);
	bb_uv(&w->pay, ps_zigzag(h->wall_start_ns));
	bb_uv(&w->pay, h->mono_origin_ns);
	if (bb_reserve(&w->header, w->pay.len))
		return ps_error(e, PS_ENOMEM, "out of memory building the header");
	bb_put(&w->header, w->pay.p, w->pay.len);
	w->header_cost = w->str_budget;
	return sw_emit(w, PS_REC_HEADER, e);
}

static int sw_init_zstd(struct ps_sw *w, const struct ps_sw_opts *o, struct ps_errmsg *e)
{
	int level = o && o->level ? o->level : PS_STREAM_LEVEL;
	size_t r;

	w->cz = ZSTD_createCCtx();
	w->out_cap = ZSTD_CStreamOutSize();
	w->out = malloc(w->out_cap);
	if (!w->cz || !w->out)
		return ps_error(e, PS_ENOMEM, "out of memory for the compressor");
	r = ZSTD_CCtx_setParameter(w->cz, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->cz, ZSTD_c_checksumFlag, 1);
	/* 1 MiB of history (readers accept up to 8) and match tables of 2^16
	 * entries: records repeat within seconds, so a bigger window finds
	 * nothing more (measured: 0.5 % at most on churn and 10 M-sample
	 * streams), while the compressor's memory goes from 12.3 MB to 2.2 MB,
	 * and the window is resident memory that fills as the stream grows */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->cz, ZSTD_c_windowLog, PS_SW_WINDOW_LOG);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->cz, ZSTD_c_hashLog, PS_SW_TABLE_LOG);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(w->cz, ZSTD_c_chainLog, PS_SW_TABLE_LOG);
	if (ZSTD_isError(r))
		return ps_error(e, PS_EUSAGE, "bad zstd level %d: %s", level,
				ZSTD_getErrorName(r));
	return 0;
}

/* fd >= 0: write there (ctx unused); sink: hand records there (fn unused). */
static int sw_open(ps_sw_write_fn fn, const struct ps_sw_sink *sink, void *ctx, int fd,
		   const struct ps_stream_header *h, const struct ps_sw_opts *opts,
		   struct ps_sw **out, struct ps_errmsg *e)
{
	struct ps_sw *w;
	int rc;

	*out = NULL;
	if ((!fn && !sink) || !h)
		return ps_error(e, PS_EUSAGE, "stream writer needs an output and a header");
	w = calloc(1, sizeof(*w));
	if (!w)
		return ps_error(e, PS_ENOMEM, "out of memory for the stream writer");
	w->fn = fn;
	w->sink = sink;
	w->ctx = fd >= 0 ? &w->fd : ctx;
	w->fd = fd;
	w->origin_ns = w->last_flush_ns = h->mono_origin_ns;
	w->flush_ns = (uint64_t)(opts && opts->flush_ms ? opts->flush_ms : 1000) * 1000000;
	w->seg_entries = opts ? opts->segment_entries : 0;
	w->seg_bytes = opts ? opts->segment_bytes : 0;
	w->sx.rate_hz = h->rate_hz;
	sx_reset(&w->sx);
	rc = sink ? 0 : sw_init_zstd(w, opts, e);
	if (!rc && bb_reserve(&w->stage, PS_STREAM_SIGNATURE_LEN))
		rc = ps_error(e, PS_ENOMEM, "out of memory for the stream writer");
	if (!rc) {
		if (!sink)
			bb_put(&w->stage, PS_STREAM_SIGNATURE, PS_STREAM_SIGNATURE_LEN);
		rc = sw_header(w, h, e);
	}
	/* a reader on a pipe can open as soon as we did */
	if (!rc)
		rc = ps_sw_flush(w, h->mono_origin_ns, e);
	if (rc) {
		ps_sw_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int ps_sw_open_cb(ps_sw_write_fn fn, void *ctx, const struct ps_stream_header *h,
		  const struct ps_sw_opts *opts, struct ps_sw **out,
		  struct ps_errmsg *e)
{
	return sw_open(fn, NULL, ctx, -1, h, opts, out, e);
}

int ps_sw_open_sink(const struct ps_sw_sink *sink, void *ctx, const struct ps_stream_header *h,
		    const struct ps_sw_opts *opts, struct ps_sw **out, struct ps_errmsg *e)
{
	if (!sink || !sink->record) {
		if (sink && sink->free)
			sink->free(ctx);
		return ps_error(e, PS_EUSAGE, "stream writer needs a sink");
	}
	int rc = sw_open(NULL, sink, ctx, -1, h, opts, out, e);
	/* sw_open freed w (and with it ctx) on error */
	return rc;
}

int ps_sw_open_fd(int fd, const struct ps_stream_header *h,
		  const struct ps_sw_opts *opts, struct ps_sw **out,
		  struct ps_errmsg *e)
{
	if (fd < 0)
		return ps_error(e, PS_EUSAGE, "stream writer needs a file descriptor");
	return sw_open(fd_write, NULL, NULL, fd, h, opts, out, e);
}

static int table_full(struct ps_errmsg *e, const char *what, uint32_t max)
{
	return ps_error(e, PS_ENOMEM, "%s table full (%u entries)", what, max);
}

int ps_sw_string(struct ps_sw *w, const char *s, uint32_t *id, struct ps_errmsg *e)
{
	size_t n = str_cut(s);
	uint64_t h;
	int rc;

	if (w->err)
		return sw_broken(w, e);
	if (!s) {
		*id = 0;
		return 0;
	}
	h = hash_bytes(s, n);
	if ((*id = itab_find(&w->strings, s, n, h)))
		return 0;
	if (w->strings.n >= PS_STREAM_MAX_STRINGS ||
	    w->str_budget + STR_COST(n) > PS_STREAM_MAX_STRING_BYTES)
		return table_full(e, "string", PS_STREAM_MAX_STRINGS);
	if (itab_reserve(&w->strings, n))
		return ps_error(e, PS_ENOMEM, "out of memory interning a string");
	if ((rc = sw_pay(w, 1, n, e)))
		return rc;
	pay_str(&w->pay, s, n);
	if ((rc = sw_emit(w, PS_REC_STRING, e)))
		return rc;
	*id = itab_insert(&w->strings, s, n, h, 0);
	w->str_budget += STR_COST(n);
	return 0;
}

static void itab_clear(struct itab *t)
{
	itab_free(t);
	memset(t, 0, sizeof(*t));
}

static int sw_past_budget(const struct ps_sw *w)
{
	uint64_t n = (uint64_t)w->strings.n + w->frames.n + w->stacks.n + w->threads.n;
	uint64_t bytes = (uint64_t)w->strings.keys.len + w->frames.keys.len +
			 w->stacks.keys.len + w->threads.keys.len;
	return (w->seg_entries && n >= w->seg_entries) || (w->seg_bytes && bytes >= w->seg_bytes);
}

int ps_sw_segment(struct ps_sw *w, int *started, struct ps_errmsg *e)
{
	int rc;

	*started = 0;
	if (w->err)
		return sw_broken(w, e);
	if (!sw_past_budget(w))
		return 0;
	if ((rc = sw_pay(w, 0, w->header.len, e)))
		return rc;
	bb_put(&w->pay, w->header.p, w->header.len);
	if ((rc = sw_emit(w, PS_REC_HEADER, e)))
		return rc;
	/* the tables' memory goes back, not only their entries */
	itab_clear(&w->strings);
	itab_clear(&w->frames);
	itab_clear(&w->stacks);
	itab_clear(&w->threads);
	sx_reset(&w->sx);
	/* the limits count each segment's strings: its header's and those
	 * it defines */
	w->str_budget = w->header_cost;
	w->epoch++;
	*started = 1;
	return 0;
}

uint32_t ps_sw_epoch(const struct ps_sw *w)
{
	return w->epoch;
}

int ps_sw_frame_ids(struct ps_sw *w, uint32_t kind, uint32_t function,
		    uint32_t qualname, uint32_t file, uint32_t line, uint32_t *id,
		    struct ps_errmsg *e)
{
	uint32_t key[5] = { kind, function, qualname, file, line };
	uint64_t h = hash_bytes(key, sizeof(key));
	int rc;

	if (w->err)
		return sw_broken(w, e);
	if (!function || function > w->strings.n || qualname > w->strings.n ||
	    file > w->strings.n)
		return ps_error(e, PS_EUSAGE, "frame refers to an undefined string");
	if ((*id = itab_find(&w->frames, key, sizeof(key), h)))
		return 0;
	if (w->frames.n >= PS_STREAM_MAX_FRAMES)
		return table_full(e, "frame", PS_STREAM_MAX_FRAMES);
	if (itab_reserve(&w->frames, sizeof(key)))
		return ps_error(e, PS_ENOMEM, "out of memory interning a frame");
	if ((rc = sw_pay(w, 5, 0, e)))
		return rc;
	for (int i = 0; i < 5; i++)
		bb_uv(&w->pay, key[i]);
	if ((rc = sw_emit(w, PS_REC_FRAME, e)))
		return rc;
	*id = itab_insert(&w->frames, key, sizeof(key), h, 0);
	return 0;
}

int ps_sw_frame(struct ps_sw *w, const struct ps_stream_frame *f, uint32_t *id,
		struct ps_errmsg *e)
{
	uint32_t fn, qn, file;
	int rc;

	if (!f->function)
		return ps_error(e, PS_EUSAGE, "frame without a function name");
	if ((rc = ps_sw_string(w, f->function, &fn, e)) ||
	    (rc = ps_sw_string(w, f->qualname, &qn, e)) ||
	    (rc = ps_sw_string(w, f->file, &file, e)))
		return rc;
	return ps_sw_frame_ids(w, f->kind, fn, qn, file, f->line, id, e);
}

int ps_sw_stack(struct ps_sw *w, uint32_t parent, uint32_t frame, uint32_t *id,
		struct ps_errmsg *e)
{
	uint32_t key[2] = { parent, frame };
	uint64_t h = hash_bytes(key, sizeof(key));
	uint32_t depth;
	int rc;

	if (w->err)
		return sw_broken(w, e);
	if (parent > w->stacks.n || !frame || frame > w->frames.n)
		return ps_error(e, PS_EUSAGE, "stack refers to an undefined %s",
				parent > w->stacks.n ? "stack" : "frame");
	if ((*id = itab_find(&w->stacks, key, sizeof(key), h)))
		return 0;
	depth = parent ? w->stacks.ent[parent - 1].aux + 1 : 1;
	if (depth > PS_STREAM_MAX_DEPTH)
		return ps_error(e, PS_EUSAGE, "stack deeper than %u frames", PS_STREAM_MAX_DEPTH);
	if (w->stacks.n >= PS_STREAM_MAX_STACKS)
		return table_full(e, "stack", PS_STREAM_MAX_STACKS);
	if (itab_reserve(&w->stacks, sizeof(key)))
		return ps_error(e, PS_ENOMEM, "out of memory interning a stack");
	if ((rc = sw_pay(w, 2, 0, e)))
		return rc;
	bb_uv(&w->pay, parent);
	bb_uv(&w->pay, frame);
	if ((rc = sw_emit(w, PS_REC_STACK, e)))
		return rc;
	*id = itab_insert(&w->stacks, key, sizeof(key), h, depth);
	return 0;
}

int ps_sw_stack_path(struct ps_sw *w, const uint32_t *frames, size_t n,
		     uint32_t *id, struct ps_errmsg *e)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i++) {
		int rc = ps_sw_stack(w, s, frames[i], &s, e);
		if (rc)
			return rc;
	}
	*id = s;
	return 0;
}

int ps_sw_thread(struct ps_sw *w, uint32_t pid, uint32_t tid, const char *name,
		 uint32_t *id, struct ps_errmsg *e)
{
	uint32_t key[3] = { pid, tid, 0 };
	uint64_t h;
	int rc;

	if ((rc = ps_sw_string(w, name, &key[2], e)))
		return rc;
	h = hash_bytes(key, sizeof(key));
	if ((*id = itab_find(&w->threads, key, sizeof(key), h)))
		return 0;
	if (w->threads.n >= PS_STREAM_MAX_THREADS)
		return table_full(e, "thread", PS_STREAM_MAX_THREADS);
	if (itab_reserve(&w->threads, sizeof(key)))
		return ps_error(e, PS_ENOMEM, "out of memory interning a thread");
	if ((rc = sw_pay(w, 3, 0, e)))
		return rc;
	for (int i = 0; i < 3; i++)
		bb_uv(&w->pay, key[i]);
	if ((rc = sw_emit(w, PS_REC_THREAD, e)))
		return rc;
	*id = itab_insert(&w->threads, key, sizeof(key), h, 0);
	return 0;
}

int ps_sw_process(struct ps_sw *w, uint32_t pid, uint32_t ppid, uint32_t argc,
		  const char *const *argv, struct ps_errmsg *e)
{
	int rc;

	if (w->err)
		return sw_broken(w, e);
	if (w->processes >= PS_STREAM_MAX_PROCESSES)
		return table_full(e, "process", PS_STREAM_MAX_PROCESSES);
	if ((rc = sw_pay(w, 2, 0, e)))
		return rc;
	bb_uv(&w->pay, pid);
	bb_uv(&w->pay, ppid);
	if ((rc = sw_pay_argv(w, argc, argv, e)) || (rc = sw_emit(w, PS_REC_PROCESS, e)))
		return rc;
	w->processes++;
	return 0;
}

/* Code a sample into the SAMPLES record being built; the record goes out
 * at the next flush, event or other ordered record, or once it is big. */
static int sx_sample(struct ps_sw *w, uint64_t dt, uint32_t thread, uint32_t stack,
		     unsigned flags, struct ps_errmsg *e)
{
	struct sx_enc *x = &w->sx;

	/* a sample makes at most 17 decisions, each of which may let out the
	 * bytes held back for a carry and shift twice, and the end adds 2 */
	if (sx_thread_room(x, w->threads.n) || bb_reserve(&x->ext, 4 * PS_VARINT_MAX) ||
	    bb_reserve(&x->code, x->pending + 40))
		return ps_error(e, PS_ENOMEM, "out of memory coding a sample");
	sx_code(x, dt, thread, stack, flags);
	if (x->ext.len + x->code.len + x->pending >= SX_RECORD_BYTES)
		return sx_close(w, e);
	return 0;
}

static uint64_t sw_us(const struct ps_sw *w, uint64_t t_ns)
{
	return t_ns > w->origin_ns ? (t_ns - w->origin_ns) / 1000 : 0;
}

static int sw_maybe_flush(struct ps_sw *w, uint64_t now_ns, struct ps_errmsg *e)
{
	if (now_ns >= w->last_flush_ns && now_ns - w->last_flush_ns >= w->flush_ns)
		return ps_sw_flush(w, now_ns, e);
	return 0;
}

int ps_sw_sample(struct ps_sw *w, uint64_t time_ns, uint32_t thread,
		 uint32_t stack, unsigned flags, struct ps_errmsg *e)
{
	uint64_t us = sw_us(w, time_ns);
	int rc;

	if (w->err)
		return sw_broken(w, e);
	if (!thread || thread > w->threads.n || stack > w->stacks.n)
		return ps_error(e, PS_EUSAGE, "sample refers to an undefined %s",
				stack > w->stacks.n ? "stack" : "thread");
	if (us < w->last_us)
		us = w->last_us;
	if (w->sink) {
		/* a sink takes records one by one: plain SAMPLE records */
		if ((rc = sw_pay(w, 4, 0, e)))
			return rc;
		bb_uv(&w->pay, us - w->last_us);
		bb_uv(&w->pay, thread);
		bb_uv(&w->pay, stack);
		bb_uv(&w->pay, flags);
		if ((rc = sw_emit(w, PS_REC_SAMPLE, e)))
			return rc;
	} else if ((rc = sx_sample(w, us - w->last_us, thread, stack, flags, e))) {
		return rc;
	}
	w->last_us = us;
	w->samples++;
	return sw_maybe_flush(w, time_ns, e);
}

int ps_sw_event(struct ps_sw *w, const struct ps_stream_event *ev, struct ps_errmsg *e)
{
	uint32_t text;
	int rc;

	if ((rc = ps_sw_string(w, ev->text, &text, e)))
		return rc;
	if ((rc = sw_pay(w, 6, 0, e)))
		return rc;
	bb_uv(&w->pay, ev->kind);
	bb_uv(&w->pay, sw_us(w, ev->time_ns));
	bb_uv(&w->pay, ev->pid);
	bb_uv(&w->pay, ev->count);
	bb_uv(&w->pay, ps_zigzag(ev->value));
	bb_uv(&w->pay, text);
	if ((rc = sw_emit(w, PS_REC_EVENT, e)))
		return rc;
	return sw_maybe_flush(w, ev->time_ns, e);
}

int ps_sw_raw_record(struct ps_sw *w, uint64_t type, const void *payload,
		     size_t len, struct ps_errmsg *e)
{
	int rc;

	if (w->err)
		return sw_broken(w, e);
	if (type <= PS_REC_SAMPLES || len > PS_STREAM_MAX_RECORD)
		return ps_error(e, PS_EUSAGE, "raw record of type %llu and %zu bytes not allowed",
				(unsigned long long)type, len);
	if ((rc = sw_pay(w, 0, len, e)))
		return rc;
	bb_put(&w->pay, payload, len);
	return sw_emit(w, type, e);
}

int ps_sw_flush(struct ps_sw *w, uint64_t now_ns, struct ps_errmsg *e)
{
	int rc;

	if (w->err)
		return sw_broken(w, e);
	w->last_flush_ns = now_ns;
	if ((rc = sx_close(w, e)))
		return rc;
	return sw_push(w, ZSTD_e_flush, e);
}

int ps_sw_end_frame(struct ps_sw *w, struct ps_errmsg *e)
{
	int rc;

	if (w->err)
		return sw_broken(w, e);
	if ((rc = sx_close(w, e)))
		return rc;
	return sw_push(w, ZSTD_e_end, e);
}

int ps_sw_close(struct ps_sw *w, const struct ps_stream_totals *t, struct ps_errmsg *e)
{
	struct ps_stream_totals zero = { 0 };
	int rc;

	if (!t)
		t = &zero;
	if (w->err)
		rc = sw_broken(w, e);
	else
		rc = sw_pay(w, 4, 0, e);
	if (!rc) {
		bb_uv(&w->pay, w->samples);
		bb_uv(&w->pay, t->errors);
		bb_uv(&w->pay, t->late);
		bb_uv(&w->pay, t->duration_ns / 1000);
		rc = sw_emit(w, PS_REC_END, e);
	}
	if (!rc)
		rc = sw_push(w, ZSTD_e_end, e);
	ps_sw_free(w);
	return rc;
}

void ps_sw_free(struct ps_sw *w)
{
	if (!w)
		return;
	if (w->sink && w->sink->free)
		w->sink->free(w->ctx);
	ZSTD_freeCCtx(w->cz);
	free(w->out);
	free(w->stage.p);
	free(w->pay.p);
	free(w->header.p);
	free(w->sx.ext.p);
	free(w->sx.code.p);
	free(w->sx.t);
	itab_free(&w->strings);
	itab_free(&w->frames);
	itab_free(&w->stacks);
	itab_free(&w->threads);
	free(w);
}

void ps_sw_bytes(const struct ps_sw *w, uint64_t *raw, uint64_t *compressed)
{
	*raw = w->raw + w->stage.len + w->sx.ext.len + w->sx.code.len;
	*compressed = w->comp;
}
