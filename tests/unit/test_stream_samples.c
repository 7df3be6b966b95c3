/* SAMPLES records (stream format 2.0): samples range-coded against a
 * model. Round trips through the writer and reader on workloads that
 * exercise every part of the model, SAMPLES mixed with plain SAMPLE
 * records, type 10 in a 1.x stream, hand-coded records (with an encoder
 * written here from the specification) that are corrupt in each way a
 * reader must refuse, and bounds on bytes per sample of synthetic
 * workloads (deterministic: sizes, not times). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "ps_error.h"
#include "ps_stream.h"
#include "ps_stream_impl.h"

#include "mem_sink.h"
#include "stream_rb.h"

#define MS 1000000ULL
#define ORIGIN (5 * 1000 * MS)

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct ps_stream_header header(uint32_t rate)
{
	static const char *const argv[] = { "python3", "work.py" };
	struct ps_stream_header h = {
		.sampler = "test", .pid = 4242, .argc = 2, .argv = argv,
		.python_version = "3.12.1", .rate_hz = rate,
		.wall_start_ns = 1795000000000000000LL, .mono_origin_ns = ORIGIN,
	};
	return h;
}

/* A sample as written and as read back: comparable whatever the ids. */
struct want {
	uint64_t time_us;
	uint32_t tid, line, depth;
	unsigned flags;
};

struct wants {
	struct want *v;
	size_t n, cap;
};

static void want_add(struct wants *w, struct want x)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 1024;
		w->v = realloc(w->v, w->cap * sizeof(*w->v));
		assert_non_null(w->v);
	}
	w->v[w->n++] = x;
}

/* Read every sample of buf and compare with want; the reader's status. */
static int read_compare(const struct sink *s, const struct wants *want, size_t *nread)
{
	struct ps_errmsg e = { 0 };
	struct ps_sr_record rec;
	struct ps_sr *r;
	size_t n = 0;
	int rc;

	assert_int_equal(ps_sr_open_mem(s->p, s->len, &r, &e), 0);
	while ((rc = ps_sr_next(r, &rec, &e)) == PS_OK) {
		const struct ps_sr_sample *x = &rec.sample;
		if (rec.type != PS_REC_SAMPLE)
			continue;
		assert_true(n < want->n);
		const struct want *w = &want->v[n++];
		if (x->time_ns != ORIGIN + w->time_us * 1000 || x->thread->tid != w->tid ||
		    x->depth != w->depth || x->flags != w->flags ||
		    (x->depth && x->frames[x->depth - 1]->line != w->line))
			fail_msg("sample %zu: got t=%llu tid=%u depth=%u flags=%u, want t=%llu tid=%u "
				 "depth=%u line=%u flags=%u", n - 1,
				 (unsigned long long)(x->time_ns - ORIGIN) / 1000, x->thread->tid,
				 x->depth, x->flags, (unsigned long long)w->time_us, w->tid, w->depth,
				 w->line, w->flags);
	}
	if (rc != PS_STREAM_EOF)
		print_message("reader: %s\n", e.msg);
	ps_sr_free(r);
	*nread = n;
	return rc;
}

/* ---- a workload generator ---------------------------------------------- */

struct load {
	uint32_t threads;        /* sampled in rounds, in order */
	uint32_t stacks;         /* per thread; leaf lines tell them apart */
	uint32_t rounds;
	uint32_t period_us;
	unsigned pattern;        /* bits: LOAD_* */
	uint32_t p_other;        /* busy thread: in 1/1024, a stack other than the last */
	uint64_t seed;
};

enum {
	LOAD_MISSED = 1 << 0,     /* some rounds come 2-4 periods late */
	LOAD_GRID = 1 << 1,       /* dt of 3 or 4 periods, as a sampler behind its grid */
	LOAD_SKIP = 1 << 2,       /* threads other than the first skip some rounds */
	LOAD_FLAGS = 1 << 3,      /* GIL flags come and go on the same stack */
	LOAD_SEGMENTS = 1 << 4,   /* a segment every 300 rounds */
	LOAD_FLUSH = 1 << 5,      /* a flush or an event now and then */
	LOAD_IDLE = 1 << 6,       /* threads other than the first idle in one stack */
	LOAD_EMPTY = 1 << 7,      /* some samples have the empty stack */
	LOAD_BIGDT = 1 << 8,      /* now and then a gap of hours */
};

struct ids {
	uint32_t *thread, *stack;
};

static void define(struct ps_sw *w, const struct load *l, struct ids *ids)
{
	uint32_t f[2];

	f[0] = 0;
	for (uint32_t k = 0; k < l->stacks; k++) {
		struct ps_stream_frame root = { .function = "main", .file = "w.py", .line = 1 };
		struct ps_stream_frame leaf = { .function = "work", .file = "w.py", .line = 100 + k };
		assert_int_equal(ps_sw_frame(w, &root, &f[0], NULL), 0);
		assert_int_equal(ps_sw_frame(w, &leaf, &f[1], NULL), 0);
		assert_int_equal(ps_sw_stack_path(w, f, 2, &ids->stack[k], NULL), 0);
	}
	for (uint32_t i = 0; i < l->threads; i++)
		assert_int_equal(ps_sw_thread(w, 4242, 5000 + i, "t", &ids->thread[i], NULL), 0);
}

/* The stack of thread i in a round: the busy first thread changes stack
 * with probability p_other, mostly among a few, sometimes any. */
static uint32_t pick_stack(const struct load *l, uint32_t i, uint32_t *last, uint64_t *seed)
{
	uint64_t r = rnd(seed);

	if (i > 0 && (l->pattern & LOAD_IDLE))
		return i % l->stacks;
	if ((r & 1023) < l->p_other)
		last[i] = (uint32_t)((r >> 10) % (r & 0x10000 ? l->stacks : (l->stacks < 3 ? l->stacks : 3)));
	return last[i];
}

static void write_load(const struct load *l, struct sink *out, struct wants *want)
{
	struct ps_stream_header h = header(1000000 / l->period_us);
	struct ps_sw_opts o = { .segment_entries = 1 };
	struct ids ids = { calloc(l->threads, 4), calloc(l->stacks, 4) };
	uint32_t *last = calloc(l->threads, 4);
	uint64_t seed = l->seed, t = 0;
	struct ps_sw *w;

	assert_non_null(ids.thread);
	assert_non_null(ids.stack);
	assert_non_null(last);
	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, &o, &w, NULL), 0);
	define(w, l, &ids);
	for (uint32_t round = 0; round < l->rounds; round++) {
		uint64_t r = rnd(&seed);
		uint64_t k = 1;

		if ((l->pattern & LOAD_MISSED) && r % 9 == 0)
			k = 2 + r / 9 % 3;
		if (l->pattern & LOAD_GRID)
			k = 3 + (r >> 20) % 2 + ((r >> 24) % 16 == 0 ? 1 + (r >> 28) % 5 : 0);
		t += k * l->period_us;
		if ((l->pattern & LOAD_BIGDT) && round % 97 == 96)
			t += 3600ull * 1000000 * (1 + round % 5);
		if ((l->pattern & LOAD_SEGMENTS) && round % 300 == 299) {
			int started;
			assert_int_equal(ps_sw_segment(w, &started, NULL), 0);
			assert_int_equal(started, 1);
			define(w, l, &ids);
		}
		if ((l->pattern & LOAD_FLUSH) && round % 37 == 0)
			assert_int_equal(ps_sw_flush(w, ORIGIN + t * 1000, NULL), 0);
		if ((l->pattern & LOAD_FLUSH) && round % 53 == 0) {
			struct ps_stream_event ev = { .kind = PS_STREAM_EV_LATE,
						      .time_ns = ORIGIN + t * 1000, .count = 1 };
			assert_int_equal(ps_sw_event(w, &ev, NULL), 0);
		}
		for (uint32_t i = 0; i < l->threads; i++) {
			uint32_t k2 = pick_stack(l, i, last, &seed);
			unsigned flags = i > 0 && (l->pattern & LOAD_IDLE) ? PS_SAMPLE_IDLE : PS_SAMPLE_GIL;
			int empty = (l->pattern & LOAD_EMPTY) && (r >> 32) % 23 == i;

			if (i > 0 && (l->pattern & LOAD_SKIP) && (r >> (i % 40)) % 7 == 0)
				continue;
			if ((l->pattern & LOAD_FLAGS) && (rnd(&seed) & 3) == 0)
				flags ^= PS_SAMPLE_GIL;
			assert_int_equal(ps_sw_sample(w, ORIGIN + t * 1000, ids.thread[i],
						      empty ? 0 : ids.stack[k2], flags, NULL), 0);
			want_add(want, (struct want){ t, 5000 + i, empty ? 0 : 100 + k2,
						      empty ? 0 : 2, flags });
		}
	}
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	free(ids.thread);
	free(ids.stack);
	free(last);
}

/* Write l, read it back, compare; bytes per sample. */
static double round_trip(const struct load *l)
{
	struct sink out = { 0 };
	struct wants want = { 0 };
	size_t n;

	write_load(l, &out, &want);
	assert_int_equal(read_compare(&out, &want, &n), PS_STREAM_EOF);
	assert_int_equal(n, want.n);
	double b = (double)out.len / (double)want.n;
	free(out.p);
	free(want.v);
	return b;
}

/* ---- round trips ---------------------------------------------------------- */

static void test_round_trip_every_pattern(void **state)
{
	static const struct load loads[] = {
		{ 1, 2, 3000, 10000, 0, 300, 1 },
		{ 1, 40, 3000, 10000, LOAD_MISSED, 700, 2 },
		{ 1, 3, 20000, 10, LOAD_GRID, 40, 3 },
		{ 8, 12, 2000, 1000, LOAD_IDLE | LOAD_SKIP | LOAD_FLAGS, 500, 4 },
		{ 50, 5, 400, 10000, LOAD_IDLE | LOAD_SKIP | LOAD_MISSED, 300, 5 },
		{ 3, 30, 1500, 1000, LOAD_SEGMENTS | LOAD_FLUSH | LOAD_EMPTY | LOAD_FLAGS, 900, 6 },
		{ 70, 9, 60, 10000, LOAD_SKIP | LOAD_FLAGS | LOAD_BIGDT, 1000, 7 },
		{ 2, 20, 2000, 7, LOAD_GRID | LOAD_BIGDT | LOAD_EMPTY | LOAD_FLUSH, 600, 8 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++)
		print_message("load %zu: %.3f bytes/sample\n", i, round_trip(&loads[i]));
}

/* The model's edges: more stacks than a thread's 8 recent ones, taken in
 * turn so that each comes back just after it was pushed out, or just
 * before (index 7); a thread sampled twice in a row; the order of threads
 * changing; the same stack with other flags. */
static void test_model_edges(void **state)
{
	struct ps_stream_header h = header(100);
	struct sink out = { 0 };
	struct wants want = { 0 };
	struct load l = { .threads = 3, .stacks = 10 };
	struct ids ids = { calloc(3, 4), calloc(10, 4) };
	uint64_t t = 0;
	struct ps_sw *w;
	size_t n;

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	define(w, &l, &ids);
	for (uint32_t i = 0; i < 400; i++) {
		uint32_t th = i < 100 ? 0 : i < 200 ? i % 3 : i < 300 ? (i * 7 / 3) % 3 : 2 - i % 3;
		uint32_t k = i < 100 ? i % (8 + i / 50) : i % 10;
		unsigned flags = (i / 3) % 2 ? PS_SAMPLE_GIL : PS_SAMPLE_GIL | PS_SAMPLE_IDLE | 0x80;

		t += i % 4 == 0 ? 0 : i % 5 + 1;
		assert_int_equal(ps_sw_sample(w, ORIGIN + t * 1000, ids.thread[th], ids.stack[k],
					      flags, NULL), 0);
		want_add(&want, (struct want){ t, 5000 + th, 100 + k, 2, flags });
	}
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_int_equal(read_compare(&out, &want, &n), PS_STREAM_EOF);
	assert_int_equal(n, want.n);
	free(out.p);
	free(want.v);
	free(ids.thread);
	free(ids.stack);
}

/* A sink gets plain SAMPLE records (the capture database stores each). */
static int count_rec(void *ctx, uint64_t type, const uint8_t *p, size_t len, struct ps_errmsg *e)
{
	uint64_t *counts = ctx;
	(void)p;
	(void)len;
	(void)e;
	if (type < 16)
		counts[type]++;
	return 0;
}

static void test_sink_gets_sample_records(void **state)
{
	static const struct ps_sw_sink sink = { count_rec, NULL };
	struct ps_stream_header h = header(100);
	uint64_t counts[16] = { 0 };
	uint32_t th, f, s;
	struct ps_stream_frame fr = { .function = "f" };
	struct ps_sw *w;

	(void)state;
	assert_int_equal(ps_sw_open_sink(&sink, counts, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 1, 1, NULL, &th, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &fr, &f, NULL), 0);
	assert_int_equal(ps_sw_stack(w, 0, f, &s, NULL), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, s, 0, NULL), 0);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_int_equal(counts[PS_REC_SAMPLE], 10);
	assert_int_equal(counts[PS_REC_SAMPLES], 0);
}

/* ---- hand-made streams: an encoder written from the specification ------- */

/* Signature, header of major.minor; strings "main", "w.py"; frames 1, 2;
 * stacks 1 (main), 2 (main;main:2), 3; threads 1, 2. */
static void rb_start(struct rb *b, uint64_t major, uint64_t minor)
{
	struct rb p = { 0 };

	rb_bytes(b, PS_STREAM_SIGNATURE, PS_STREAM_SIGNATURE_LEN);
	rb_uv(&p, major);
	rb_uv(&p, minor);
	rb_str(&p, "handmade");
	rb_uv(&p, 99);
	rb_uv(&p, 0);
	rb_str(&p, "3.12.1");
	rb_uv(&p, 100);
	rb_uv(&p, 0);
	rb_uv(&p, ORIGIN);
	rb_rec(b, PS_REC_HEADER, &p);
	rb_str(&p, "main");
	rb_rec(b, PS_REC_STRING, &p);
	for (int line = 1; line <= 2; line++) {
		rb_uv(&p, 0);
		rb_uv(&p, 1);
		rb_uv(&p, 0);
		rb_uv(&p, 1);
		rb_uv(&p, (uint64_t)line);
		rb_rec(b, PS_REC_FRAME, &p);
	}
	uint64_t stacks[3][2] = { { 0, 1 }, { 1, 2 }, { 0, 2 } };
	for (int i = 0; i < 3; i++) {
		rb_uv(&p, stacks[i][0]);
		rb_uv(&p, stacks[i][1]);
		rb_rec(b, PS_REC_STACK, &p);
	}
	for (int i = 1; i <= 2; i++) {
		rb_uv(&p, 99);
		rb_uv(&p, 100 + (uint64_t)i);
		rb_uv(&p, 0);
		rb_rec(b, PS_REC_THREAD, &p);
	}
	free(p.p);
}

static void rb_end(struct rb *b, uint64_t samples)
{
	struct rb p = { 0 };

	rb_uv(&p, samples);
	rb_uv(&p, 0);
	rb_uv(&p, 0);
	rb_uv(&p, 0);
	rb_rec(b, PS_REC_END, &p);
	free(p.p);
}

/* LZMA's range encoder with 15-bit probabilities, as the specification
 * states it: decisions with
 * probabilities the caller keeps, as a reader's model would have them. */
struct henc {
	struct rb code, ext;
	uint64_t low, pending;
	uint32_t range;
	uint8_t cache;
	int first;
	struct ps_sx_model m;
	uint32_t n;
};

static void he_init(struct henc *x)
{
	memset(x, 0, sizeof(*x));
	ps_sx_model_init(&x->m, 100);
	x->range = 0xFFFFFFFFu;
	x->pending = 1;
	x->first = 1;
}

static void he_shift(struct henc *x)
{
	if ((uint32_t)x->low < 0xFF000000u || (x->low >> 32)) {
		uint8_t b = x->cache;
		do {
			uint8_t out = (uint8_t)(b + (x->low >> 32));
			if (!x->first)
				rb_bytes(&x->code, &out, 1);
			x->first = 0;
			b = 0xFF;
		} while (--x->pending);
		x->cache = (uint8_t)(x->low >> 24);
	}
	x->pending++;
	x->low = (x->low & 0xFFFFFF) << 8;
}

static void he_bit(struct henc *x, uint16_t *p, unsigned bit)
{
	uint32_t bound = (x->range >> 15) * *p;

	if (bit) {
		x->low += bound;
		x->range -= bound;
		*p -= *p >> 5;
	} else {
		x->range = bound;
		*p += (32768 - *p) >> 5;
	}
	while (x->range < (1u << 24)) {
		x->range <<= 8;
		he_shift(x);
	}
}

/* The plain LZMA flush (4 more bytes than the reference writer's). */
static void he_flush(struct henc *x)
{
	for (int i = 0; i < 5; i++)
		he_shift(x);
}

/* The SAMPLES record of n samples (a count may be forced) into raw, with
 * tail bytes after the coded ones. */
static void he_record_tail(struct henc *x, struct rb *raw, uint64_t n, const char *tail,
			   size_t tail_len)
{
	struct rb p = { 0 };

	he_flush(x);
	rb_bytes(&x->code, tail, tail_len);
	rb_uv(&p, n);
	rb_uv(&p, x->ext.n);
	rb_bytes(&p, x->ext.p, x->ext.n);
	rb_bytes(&p, x->code.p, x->code.n);
	rb_rec(raw, PS_REC_SAMPLES, &p);
	free(p.p);
	free(x->code.p);
	free(x->ext.p);
}

static void he_record(struct henc *x, struct rb *raw, uint64_t n)
{
	he_record_tail(x, raw, n, NULL, 0);
}

static int read_raw(const struct rb *raw, size_t *samples, struct ps_sr_stats *st,
		    struct ps_errmsg *e)
{
	size_t bound = ZSTD_compressBound(raw->n);
	uint8_t *z = malloc(bound);
	struct ps_sr_record rec;
	struct ps_sr *r;
	size_t zn;
	int rc;

	assert_non_null(z);
	zn = ZSTD_compress(z, bound, raw->p, raw->n, 3);
	assert_false(ZSTD_isError(zn));
	*samples = 0;
	rc = ps_sr_open_mem(z, zn, &r, e);
	if (!rc) {
		while ((rc = ps_sr_next(r, &rec, e)) == PS_OK)
			*samples += rec.type == PS_REC_SAMPLE;
		if (st)
			ps_sr_stats(r, st);
		ps_sr_free(r);
	}
	free(z);
	return rc;
}

static void expect_error(const struct rb *raw, const char *words)
{
	struct ps_errmsg e = { 0 };
	size_t n;
	int rc = read_raw(raw, &n, NULL, &e);

	if (rc != PS_EINVAL || !strstr(e.msg, words))
		fail_msg("got %d '%s', want a corrupt stream with '%s'", rc, e.msg, words);
}

/* The spec's first sample: no thread predicted (explicit), dt decision,
 * no recent stack (stack and flags explicit). */
static void he_first(struct henc *x, uint32_t thread, uint64_t dt_cls0, uint32_t stack)
{
	rb_uv(&x->ext, thread);
	he_bit(x, &x->m.p.dt[0][0], dt_cls0 ? 1 : 0);
	if (dt_cls0) {
		/* no d0 yet: not a multiple of the period (10 ms), explicit */
		assert_true(dt_cls0 % 10000 != 0);
		he_bit(x, &x->m.p.mul, 1);
		rb_uv(&x->ext, dt_cls0);
		x->m.d0 = dt_cls0;
	}
	rb_uv(&x->ext, stack);
	rb_uv(&x->ext, 0);
	x->n++;
}

/* A hand-coded record reads as the samples it codes; the plain LZMA flush
 * (trailing zeros not left out) reads the same. */
static void test_hand_coded_record(void **state)
{
	struct rb raw = { 0 };
	struct henc x;
	struct ps_errmsg e = { 0 };
	size_t n;

	(void)state;
	rb_start(&raw, 2, 0);
	he_init(&x);
	he_first(&x, 1, 1000, 2);
	/* thread 1 again: explicit (nothing followed 1 yet), dt = d0 (class 1
	 * after class 3), stack = its recent 0, flags as it had them */
	rb_uv(&x.ext, 1);
	he_bit(&x, &x.m.p.dt[3][0], 1);
	he_bit(&x, &x.m.p.dt[3][1], 0);
	he_bit(&x, &x.m.p.st[2][0], 0);
	he_bit(&x, &x.m.p.fl[0], 0);
	/* then 3 periods later (neither d0 nor d1: 2 = 000010 down the
	 * tree of multiples), the same stack */
	he_bit(&x, &x.m.p.th, 0);
	he_bit(&x, &x.m.p.dt[1][0], 1);
	he_bit(&x, &x.m.p.dt[1][1], 1);
	he_bit(&x, &x.m.p.mul, 0);
	for (unsigned b = 6, node = 1; b-- > 0;) {
		unsigned bit = (2 >> b) & 1;
		he_bit(&x, &x.m.p.mul_tree[node], bit);
		node = 2 * node + bit;
	}
	he_bit(&x, &x.m.p.st[0][0], 0);
	he_bit(&x, &x.m.p.fl[0], 0);
	he_record(&x, &raw, 3);
	rb_end(&raw, 3);
	assert_int_equal(read_raw(&raw, &n, NULL, &e), PS_STREAM_EOF);
	assert_int_equal(n, 3);
	free(raw.p);
}

/* SAMPLE and SAMPLES records in one 2.0 stream: times chain through both,
 * and a plain SAMPLE leaves the model as it was. */
static void test_mixed_with_sample_records(void **state)
{
	struct rb raw = { 0 }, p = { 0 };
	struct henc x;
	struct ps_errmsg e = { 0 };
	struct ps_sr_record rec;
	struct ps_sr *r;
	uint8_t *z;
	size_t zn;
	uint64_t want_t[4] = { 1000, 1500, 2500, 3500 };
	uint32_t want_stack[4] = { 2, 1, 2, 2 };
	int i = 0, rc;

	(void)state;
	rb_start(&raw, 2, 0);
	he_init(&x);
	he_first(&x, 1, 1000, 2);
	he_record(&x, &raw, 1);
	rb_uv(&p, 500);                 /* a plain SAMPLE: thread 2, stack 1 */
	rb_uv(&p, 2);
	rb_uv(&p, 1);
	rb_uv(&p, 0);
	rb_rec(&raw, PS_REC_SAMPLE, &p);
	/* the model still has thread 1 last (succ of 1 unknown): explicit,
	 * dt = d0 = 1000, stack = its recent 0 */
	struct ps_sx_model keep = x.m;
	he_init(&x);
	x.m = keep;
	rb_uv(&x.ext, 1);
	he_bit(&x, &x.m.p.dt[3][0], 1);
	he_bit(&x, &x.m.p.dt[3][1], 0);
	he_bit(&x, &x.m.p.st[2][0], 0);
	he_bit(&x, &x.m.p.fl[0], 0);
	/* then predicted (succ of 1 is now 1), the same */
	he_bit(&x, &x.m.p.th, 0);
	he_bit(&x, &x.m.p.dt[1][0], 1);
	he_bit(&x, &x.m.p.dt[1][1], 0);
	he_bit(&x, &x.m.p.st[0][0], 0);
	he_bit(&x, &x.m.p.fl[0], 0);
	he_record(&x, &raw, 2);
	rb_end(&raw, 4);

	zn = ZSTD_compressBound(raw.n);
	z = malloc(zn);
	assert_non_null(z);
	zn = ZSTD_compress(z, zn, raw.p, raw.n, 3);
	assert_int_equal(ps_sr_open_mem(z, zn, &r, &e), 0);
	while ((rc = ps_sr_next(r, &rec, &e)) == PS_OK) {
		if (rec.type != PS_REC_SAMPLE)
			continue;
		assert_true(i < 4);
		assert_true(rec.sample.time_ns == ORIGIN + want_t[i] * 1000);
		assert_int_equal(rec.sample.stack_id, want_stack[i]);
		assert_int_equal(rec.sample.thread_id, i == 1 ? 2 : 1);
		i++;
	}
	assert_int_equal(rc, PS_STREAM_EOF);
	assert_int_equal(i, 4);
	ps_sr_free(r);
	free(z);
	free(raw.p);
	free(p.p);
}

/* In a 1.x stream type 10 is an unknown record: skipped, as 1.x says. */
static void test_type_10_skipped_in_1x(void **state)
{
	struct rb raw = { 0 }, p = { 0 };
	struct ps_sr_stats st;
	struct ps_errmsg e = { 0 };
	size_t n;

	(void)state;
	rb_start(&raw, 1, 1);
	rb_bytes(&p, "\x05\xFF\xFF", 3);
	rb_rec(&raw, PS_REC_SAMPLES, &p);
	rb_end(&raw, 0);
	assert_int_equal(read_raw(&raw, &n, &st, &e), PS_STREAM_EOF);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(n, 0);
	free(raw.p);
	free(p.p);
}

/* One corrupt SAMPLES record after a good start. */
typedef void (*corrupt_fn)(struct rb *raw);

static void c_extras_end_early(struct rb *raw)
{
	struct henc x;
	he_init(&x);
	he_first(&x, 1, 0, 1);
	he_record(&x, raw, 2);       /* the second sample's thread is missing */
}

static void c_extras_left_over(struct rb *raw)
{
	struct henc x;
	he_init(&x);
	he_first(&x, 1, 0, 1);
	rb_uv(&x.ext, 7);
	he_record(&x, raw, 1);
}

static void c_code_left_over(struct rb *raw)
{
	struct henc x;
	he_init(&x);
	he_first(&x, 1, 0, 1);
	he_record_tail(&x, raw, 1, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A", 10);
}

/* A SAMPLES record of one sample of thread, stack, dt 0, coded right. */
static void one_coded_sample(struct rb *raw, uint32_t thread, uint32_t stack)
{
	struct henc x;
	he_init(&x);
	he_first(&x, thread, 0, stack);
	he_record(&x, raw, 1);
}

static void c_undefined_thread(struct rb *raw)
{
	one_coded_sample(raw, 3, 1);
}

static void c_thread_zero(struct rb *raw)
{
	one_coded_sample(raw, 0, 1);
}

static void c_undefined_stack(struct rb *raw)
{
	one_coded_sample(raw, 1, 4);
}

/* Three samples of thread 1: stack 1, then stack 2 (have 2), then recent
 * position 5 down the tree, which the thread does not have. */
static void c_recent_beyond(struct rb *raw)
{
	struct henc x;
	he_init(&x);
	he_first(&x, 1, 0, 1);
	rb_uv(&x.ext, 1);                    /* nothing followed 1 yet */
	he_bit(&x, &x.m.p.dt[0][0], 0);
	he_bit(&x, &x.m.p.st[2][0], 1);      /* not recent 0; have 1: new */
	rb_uv(&x.ext, 2);
	he_bit(&x, &x.m.p.fl[1], 0);
	he_bit(&x, &x.m.p.th, 0);            /* 1 followed 1 */
	he_bit(&x, &x.m.p.dt[0][0], 0);
	he_bit(&x, &x.m.p.st[2][0], 1);
	he_bit(&x, &x.m.p.st[2][1], 0);      /* one of recent 1..7 */
	he_bit(&x, &x.m.p.pos[1], 1);        /* 4: recent 5 */
	he_bit(&x, &x.m.p.pos[3], 0);
	he_bit(&x, &x.m.p.pos[6], 0);
	he_record(&x, raw, 3);
}

static void c_no_samples(struct rb *raw)
{
	struct henc x;
	he_init(&x);
	he_record(&x, raw, 0);
}

/* A SAMPLES record of one sample written byte for byte: the extras length
 * it claims, then n bytes (extras, and range-coded bytes if any). */
static void one_sample_record(struct rb *raw, uint64_t extras_len, const char *bytes, size_t n)
{
	struct rb p = { 0 };
	rb_uv(&p, 1);
	rb_uv(&p, extras_len);
	rb_bytes(&p, bytes, n);
	rb_rec(raw, PS_REC_SAMPLES, &p);
	free(p.p);
}

static void c_extras_past_record(struct rb *raw)
{
	one_sample_record(raw, 200, "\x01\x01\x00", 3);
}

static void c_bad_varint(struct rb *raw)
{
	one_sample_record(raw, 3, "\x81\x00\x00", 3);
}

static void c_flags_range(struct rb *raw)
{
	one_sample_record(raw, 7, "\x01\x01\x80\x80\x80\x80\x10", 7); /* flags 2^32 */
}

static void test_corrupt_samples_records(void **state)
{
	static const struct {
		corrupt_fn fn;
		const char *words;
	} cases[] = {
		{ c_extras_end_early, "the extras end early" },
		{ c_extras_left_over, "1 bytes of extras left over" },
		{ c_code_left_over, "range-coded bytes left over" },
		{ c_undefined_thread, "refers to undefined thread 3" },
		{ c_thread_zero, "refers to undefined thread 0" },
		{ c_undefined_stack, "refers to undefined stack 4" },
		{ c_recent_beyond, "recent stack 5 of a thread that has fewer" },
		{ c_no_samples, "a count of 0 samples" },
		{ c_extras_past_record, "extras of 200 bytes run past the record" },
		{ c_bad_varint, "bad varint in the extras" },
		{ c_flags_range, "flags 4294967296 out of range" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rb raw = { 0 };
		rb_start(&raw, 2, 0);
		cases[i].fn(&raw);
		rb_end(&raw, 1);
		expect_error(&raw, cases[i].words);
		free(raw.p);
	}
}

/* Every prefix of a stream of SAMPLES records reads as a prefix of its
 * samples (never a partial or wrong one), ending truncated, not corrupt. */
static void test_truncated_anywhere(void **state)
{
	struct load l = { 4, 6, 300, 1000, LOAD_FLUSH | LOAD_FLAGS | LOAD_SKIP, 400, 9 };
	struct sink out = { 0 };
	struct wants want = { 0 };

	(void)state;
	write_load(&l, &out, &want);
	for (size_t cut = 0; cut < out.len; cut += 1 + cut / 50) {
		struct sink part = { out.p, cut, 0, 0 };
		struct ps_errmsg e = { 0 };
		struct ps_sr_record rec;
		struct ps_sr *r;
		size_t n = 0;
		int rc = ps_sr_open_mem(part.p, part.len, &r, &e);

		if (rc)
			continue;   /* cut before the header */
		while ((rc = ps_sr_next(r, &rec, &e)) == PS_OK) {
			if (rec.type != PS_REC_SAMPLE)
				continue;
			assert_true(n < want.n);
			assert_true(rec.sample.time_ns == ORIGIN + want.v[n].time_us * 1000);
			assert_int_equal(rec.sample.thread->tid, want.v[n].tid);
			n++;
		}
		assert_int_equal(rc, PS_STREAM_TRUNCATED);
		ps_sr_free(r);
	}
	free(out.p);
	free(want.v);
}

/* ---- bytes per sample -------------------------------------------------- */

/* The size of a 2n-round recording minus that of an n-round one, per
 * sample: what a steady workload costs, without the definitions. */
static double marginal(struct load l)
{
	struct sink a = { 0 }, b = { 0 };
	struct wants wa = { 0 }, wb = { 0 };
	double r;

	write_load(&l, &a, &wa);
	l.rounds *= 2;
	write_load(&l, &b, &wb);
	r = (double)(b.len - a.len) / (double)(wb.n - wa.n);
	free(a.p);
	free(b.p);
	free(wa.v);
	free(wb.v);
	return r;
}

/* Bounds with some room over what was measured (format 2.0, zstd 1.5.4:
 * see the spec's "Why the encoding is what it is"). */
static void test_bytes_per_sample_bounds(void **state)
{
	/* flat at 100 Hz: one thread between two lines, 1 in 4 the other */
	double flat = marginal((struct load){ 1, 2, 6000, 10000, 0, 256, 11 });
	/* the same with missed ticks (1 round in 9 late) */
	double flat_late = marginal((struct load){ 1, 2, 6000, 10000, LOAD_MISSED, 256, 11 });
	/* the highest rate: 10 us grid, 3 or 4 periods apart, stack rarely changes */
	double grid = marginal((struct load){ 1, 2, 100000, 10, LOAD_GRID, 8, 12 });
	/* 50 threads at 100 Hz: one busy, 49 idle each in its stack */
	double many = marginal((struct load){ 50, 50, 600, 10000, LOAD_IDLE, 256, 13 });
	/* deep at 100 Hz: 40 stacks, a new one each sample; its entropy is
	 * real and no encoding takes it below ~0.6 bytes */
	double deep = marginal((struct load){ 1, 40, 6000, 10000, 0, 1024, 14 });

	(void)state;
	print_message("marginal bytes/sample: flat 100 Hz %.3f, with late ticks %.3f, "
		      "highest rate %.3f, 50 threads %.4f, deep 100 Hz %.3f\n",
		      flat, flat_late, grid, many, deep);
	assert_true(flat <= 0.25);
	assert_true(flat_late <= 0.30);
	assert_true(grid <= 0.25);
	assert_true(many <= 0.02);
	assert_true(deep <= 1.2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_pattern),
		cmocka_unit_test(test_model_edges),
		cmocka_unit_test(test_sink_gets_sample_records),
		cmocka_unit_test(test_hand_coded_record),
		cmocka_unit_test(test_mixed_with_sample_records),
		cmocka_unit_test(test_type_10_skipped_in_1x),
		cmocka_unit_test(test_corrupt_samples_records),
		cmocka_unit_test(test_truncated_anywhere),
		cmocka_unit_test(test_bytes_per_sample_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
