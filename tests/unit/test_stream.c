/* The sample stream (lib/ps_stream): varints, every record type, interning,
 * truncation at every byte, random corruption, forward compatibility,
 * auto-flush, pipes, and the conformance vectors of format/vectors/.
 *
 *   test_stream                     run the tests (from the repository root,
 *                                   or with PYSPY_VECTORS=DIR)
 *   test_stream --gen-vectors DIR   write the conformance vectors into DIR */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zstd.h>

#include "ps_error.h"
#include "ps_stream.h"

#include "mem_sink.h"
#include "stream_rb.h"

/* The zstd the committed vectors were compressed with: another version may
 * compress differently, and then only their content is compared. */
#define VECTORS_ZSTD_VERSION 10504

#define MS 1000000ULL
#define ORIGIN (5 * 1000 * MS)

/* ---- helpers: a memory sink, a record list ----------------------------- */

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n] = strdup(s);
	assert_non_null(l->v[l->n]);
	l->n++;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static const char *nz(const char *s)
{
	return s ? s : "-";
}

/* One line per record, with everything the reader resolved. */
static void rec_text(const struct ps_sr_record *r, char *out, size_t cap)
{
	const struct ps_sr_sample *s = &r->sample;
	int n;

	switch (r->type) {
	case PS_REC_STRING:
		snprintf(out, cap, "string %u %s", r->id, r->string);
		return;
	case PS_REC_FRAME:
		snprintf(out, cap, "frame %u kind=%u %s qn=%s file=%s line=%u", r->id,
			 r->frame->kind, r->frame->function, nz(r->frame->qualname),
			 nz(r->frame->file), r->frame->line);
		return;
	case PS_REC_STACK:
		snprintf(out, cap, "stack %u parent=%u frame=%u", r->id, r->stack.parent,
			 r->stack.frame);
		return;
	case PS_REC_THREAD:
		snprintf(out, cap, "thread %u pid=%u tid=%u name=%s", r->id, r->thread->pid,
			 r->thread->tid, nz(r->thread->name));
		return;
	case PS_REC_PROCESS:
		n = snprintf(out, cap, "process %u pid=%u ppid=%u argv", r->id, r->process->pid,
			     r->process->ppid);
		for (uint32_t i = 0; i < r->process->argc && (size_t)n < cap; i++)
			n += snprintf(out + n, cap - (size_t)n, " %s", r->process->argv[i]);
		return;
	case PS_REC_SAMPLE:
		snprintf(out, cap, "sample t=%llu thread=%u(%u/%u) stack=%u depth=%u flags=%u leaf=%s proc=%d",
			 (unsigned long long)s->time_ns, s->thread_id, s->thread->pid,
			 s->thread->tid, s->stack_id, s->depth, s->flags,
			 s->depth && s->frames ? s->frames[s->depth - 1]->function : "-",
			 s->process ? (int)s->process->id : 0);
		return;
	case PS_REC_EVENT:
		snprintf(out, cap, "event kind=%u t=%llu pid=%u count=%llu value=%lld text=%s",
			 r->event.kind, (unsigned long long)r->event.time_ns, r->event.pid,
			 (unsigned long long)r->event.count, (long long)r->event.value,
			 nz(r->event.text));
		return;
	case PS_REC_END:
		snprintf(out, cap, "end samples=%llu errors=%llu late=%llu duration=%llu",
			 (unsigned long long)r->end.samples, (unsigned long long)r->end.errors,
			 (unsigned long long)r->end.late,
			 (unsigned long long)r->end.duration_ns);
		return;
	default:
		snprintf(out, cap, "type %d", (int)r->type);
	}
}

/* Read a whole stream from memory: the records as lines, and the final
 * status (the open error, PS_STREAM_EOF, PS_STREAM_TRUNCATED or < 0). */
static int read_all(const void *buf, size_t len, struct lines *out, struct ps_errmsg *e)
{
	struct ps_sr *r;
	struct ps_sr_record rec;
	char line[1024];
	int rc = ps_sr_open_mem(buf, len, &r, e);

	if (rc)
		return rc;
	while ((rc = ps_sr_next(r, &rec, e)) == PS_OK) {
		rec_text(&rec, line, sizeof(line));
		if (out)
			lines_add(out, line);
	}
	ps_sr_free(r);
	return rc;
}

static void assert_prefix(const struct lines *part, const struct lines *full)
{
	assert_true(part->n <= full->n);
	for (size_t i = 0; i < part->n; i++)
		assert_string_equal(part->v[i], full->v[i]);
}

/* ---- helpers: a hand-built stream ---------------------------------------- */

/* Signature and a header of the given version; extra trailing fields when
 * asked, as a later minor version would add. */
static void rb_header(struct rb *b, uint64_t major, uint64_t minor, int extra)
{
	struct rb pay = { 0 };

	rb_uv(&pay, major);
	rb_uv(&pay, minor);
	rb_str(&pay, "handmade");
	rb_uv(&pay, 99);
	rb_uv(&pay, 1);
	rb_str(&pay, "python3");
	rb_str(&pay, "3.12.1");
	rb_uv(&pay, 100);
	rb_uv(&pay, ps_zigzag(1795000000000000000LL));
	rb_uv(&pay, ORIGIN);
	if (extra) {
		rb_uv(&pay, 12345);
		rb_str(&pay, "a field from the future");
	}
	rb_rec(b, PS_REC_HEADER, &pay);
	free(pay.p);
}

static void rb_start(struct rb *b, uint64_t major, uint64_t minor, int extra)
{
	rb_bytes(b, PS_STREAM_SIGNATURE, PS_STREAM_SIGNATURE_LEN);
	rb_header(b, major, minor, extra);
}

/* string "main", frame 1, stack 1, thread 1: enough for samples */
static void rb_basics(struct rb *b)
{
	struct rb pay = { 0 };

	rb_str(&pay, "main");
	rb_rec(b, PS_REC_STRING, &pay);
	rb_uv(&pay, PS_FRAME_PYTHON);
	rb_uv(&pay, 1);
	rb_uv(&pay, 0);
	rb_uv(&pay, 1);
	rb_uv(&pay, 3);
	rb_rec(b, PS_REC_FRAME, &pay);
	rb_uv(&pay, 0);
	rb_uv(&pay, 1);
	rb_rec(b, PS_REC_STACK, &pay);
	rb_uv(&pay, 99);
	rb_uv(&pay, 99);
	rb_uv(&pay, 0);
	rb_rec(b, PS_REC_THREAD, &pay);
	free(pay.p);
}

static void rb_sample(struct rb *b, uint64_t dt, uint64_t thread, uint64_t stack)
{
	struct rb pay = { 0 };

	rb_uv(&pay, dt);
	rb_uv(&pay, thread);
	rb_uv(&pay, stack);
	rb_uv(&pay, 0);
	rb_rec(b, PS_REC_SAMPLE, &pay);
	free(pay.p);
}

static void rb_end(struct rb *b, uint64_t samples)
{
	struct rb pay = { 0 };

	rb_uv(&pay, samples);
	rb_uv(&pay, 0);
	rb_uv(&pay, 0);
	rb_uv(&pay, 1000);
	rb_rec(b, PS_REC_END, &pay);
	free(pay.p);
}

/* Compress b as one zstd frame (appended to z). */
static void zc_append(struct rb *z, const void *src, size_t n)
{
	size_t bound = ZSTD_compressBound(n), got;
	uint8_t *tmp = malloc(bound);

	assert_non_null(tmp);
	got = ZSTD_compress(tmp, bound, src, n, 3);
	assert_false(ZSTD_isError(got));
	rb_bytes(z, tmp, got);
	free(tmp);
}

/* Compress raw and read it back: the final status, the message in e. */
static int read_raw(const struct rb *raw, struct lines *out, struct ps_errmsg *e)
{
	struct rb z = { 0 };
	int rc;

	zc_append(&z, raw->p, raw->n);
	rc = read_all(z.p, z.n, out, e);
	free(z.p);
	return rc;
}

static void expect_raw_error(const struct rb *raw, int code, const char *words)
{
	struct ps_errmsg e = { 0 };
	int rc = read_raw(raw, NULL, &e);

	if (rc != code || !strstr(e.msg, words))
		fail_msg("got %d '%s', want %d with '%s'", rc, e.msg, code, words);
}

/* ---- helpers: a synthetic workload -------------------------------------- */

static struct ps_stream_header test_header(void)
{
	static const char *const argv[] = { "python3", "app.py", "--n", "20" };
	struct ps_stream_header h = {
		.sampler = "pyspy-sample 0.1.0", .pid = 4242, .argc = 4, .argv = argv,
		.python_version = "3.11.7", .rate_hz = 100,
		.wall_start_ns = 1795000000123456789LL, .mono_origin_ns = ORIGIN,
	};
	return h;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct synth {
	uint32_t nthreads, nstacks, depth, nsamples;
	uint32_t jitter_us;      /* random extra time per sample */
	int random_stacks;       /* else round robin */
	int idle_others;         /* the first thread busy in 5 stacks, the others idle in one each */
	uint64_t seed;
};

/* Stacks share all frames but the last three; samples every 10 ms. The
 * samples written are recorded as lines for comparing with a reader. */
static void synth_write(struct ps_sw *w, const struct synth *s, struct lines *want)
{
	uint32_t threads[64], stacks[64], frames[PS_STREAM_MAX_DEPTH];
	uint64_t seed = s->seed, t = ORIGIN;
	char fn[32], file[32], line[256];

	for (uint32_t i = 0; i < s->nthreads; i++) {
		snprintf(fn, sizeof(fn), "worker-%u", i);
		assert_int_equal(ps_sw_thread(w, 4242, 5000 + i, fn, &threads[i], NULL), 0);
	}
	for (uint32_t k = 0; k < s->nstacks; k++) {
		for (uint32_t d = 0; d < s->depth; d++) {
			int leafy = d + 3 >= s->depth;
			struct ps_stream_frame f = { .function = fn, .file = file,
						     .line = 10 + d + (leafy ? 100 * k : 0) };
			snprintf(fn, sizeof(fn), "func_%u", leafy ? d + 1000 * k : d);
			snprintf(file, sizeof(file), "pkg/mod%u.py", d % 7);
			assert_int_equal(ps_sw_frame(w, &f, &frames[d], NULL), 0);
		}
		assert_int_equal(ps_sw_stack_path(w, frames, s->depth, &stacks[k], NULL), 0);
	}
	for (uint32_t i = 0; i < s->nsamples; i++) {
		uint32_t th = i % s->nthreads;
		uint32_t busy = s->idle_others ? 5 : s->nstacks;
		uint32_t k = s->random_stacks ? rnd(&seed) % busy : (i / s->nthreads) % s->nstacks;
		unsigned flags = (i % 3 == 0 ? PS_SAMPLE_GIL : 0) | (i % 11 == 0 ? PS_SAMPLE_IDLE : 0);

		if (s->idle_others && th > 0) {
			k = (4 + th) % s->nstacks;
			flags = PS_SAMPLE_IDLE;
		}
		if (th == 0)
			t += 10 * MS + (s->jitter_us ? (rnd(&seed) % s->jitter_us) * 1000 : 0);
		assert_int_equal(ps_sw_sample(w, t, threads[th], stacks[k], flags, NULL), 0);
		if (want) {
			snprintf(line, sizeof(line), "%llu %u %u %u",
				 (unsigned long long)(t / 1000 * 1000), threads[th], stacks[k], flags);
			lines_add(want, line);
		}
	}
}

/* A small stream of every record type, into sink (closed unless !close). */
static void small_stream(struct sink *out, uint32_t nsamples, int close)
{
	struct ps_stream_header h = test_header();
	struct synth s = { .nthreads = 2, .nstacks = 3, .depth = 4, .nsamples = nsamples, .seed = 7 };
	static const char *const argv[] = { "python3", "-c", "pass" };
	struct ps_stream_event ev = { .kind = PS_STREAM_EV_ERRORS, .time_ns = ORIGIN + 5 * MS,
				      .pid = 4242, .count = 2, .value = PS_EREAD,
				      .text = "remote read failed" };
	struct ps_stream_totals tot = { .errors = 2, .late = 1, .duration_ns = 123456789 };
	struct ps_sw *w;

	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_process(w, 4242, 1, 3, argv, NULL), 0);
	assert_int_equal(ps_sw_event(w, &ev, NULL), 0);
	synth_write(w, &s, NULL);
	if (close)
		assert_int_equal(ps_sw_close(w, &tot, NULL), 0);
	else
		ps_sw_free(w);
}

/* ---- varints -------------------------------------------------------------- */

static void test_varint_round_trip(void **state)
{
	static const uint64_t vals[] = {
		0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX, (uint64_t)1 << 32,
		((uint64_t)1 << 63) - 1, (uint64_t)1 << 63, UINT64_MAX,
	};
	static const size_t lens[] = { 1, 1, 1, 2, 2, 2, 3, 5, 5, 9, 10, 10 };
	uint8_t b[PS_VARINT_MAX];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		size_t n = ps_varint_put(b, vals[i]);
		assert_int_equal(n, lens[i]);
		assert_int_equal(ps_varint_get(b, n, &v), (int)n);
		assert_true(v == vals[i]);
		/* every shorter prefix asks for more */
		for (size_t k = 0; k < n; k++)
			assert_int_equal(ps_varint_get(b, k, &v), 0);
	}
	ps_varint_put(b, 128);
	assert_int_equal(b[0], 0x80);
	assert_int_equal(b[1], 0x01);
}

static void test_varint_rejects_bad(void **state)
{
	/* 11 bytes; bits beyond 64; a needless trailing zero byte */
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
	static const uint8_t over[] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02 };
	static const uint8_t padded[] = { 0x80, 0x00 };
	static const uint8_t padded2[] = { 0xFF, 0x80, 0x00 };
	static const uint8_t unterminated[] = { 0x80, 0x80, 0x80 };
	uint64_t v;

	(void)state;
	assert_int_equal(ps_varint_get(eleven, sizeof(eleven), &v), PS_EINVAL);
	assert_int_equal(ps_varint_get(over, sizeof(over), &v), PS_EINVAL);
	assert_int_equal(ps_varint_get(padded, sizeof(padded), &v), PS_EINVAL);
	assert_int_equal(ps_varint_get(padded2, sizeof(padded2), &v), PS_EINVAL);
	assert_int_equal(ps_varint_get(unterminated, sizeof(unterminated), &v), 0);
}

static void test_zigzag(void **state)
{
	static const int64_t vals[] = { 0, -1, 1, -2, 2, 63, -64, 64, INT32_MIN, INT32_MAX,
					INT64_MIN, INT64_MAX };
	static const uint64_t enc[] = { 0, 1, 2, 3, 4, 126, 127, 128 };

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		assert_true(ps_unzigzag(ps_zigzag(vals[i])) == vals[i]);
		if (i < sizeof(enc) / sizeof(enc[0]))
			assert_true(ps_zigzag(vals[i]) == enc[i]);
	}
	assert_true(ps_zigzag(INT64_MIN) == UINT64_MAX);
}

/* ---- every record type, every field ------------------------------------- */

static void next_ok(struct ps_sr *r, struct ps_sr_record *rec, enum ps_rec type)
{
	struct ps_errmsg e = { 0 };
	int rc = ps_sr_next(r, rec, &e);

	if (rc != PS_OK || rec->type != type)
		fail_msg("want a %d record, got status %d type %d: %s", type, rc, rec->type, e.msg);
}

static void test_round_trip_all_fields(void **state)
{
	struct ps_stream_header h = test_header();
	static const char *const pargv[] = { "python3", "-m", "worker pool", "" };
	struct ps_stream_frame fr = { .function = "parse", .qualname = "Parser.parse",
				      .file = "/srv/app/parser.py", .line = 4711,
				      .kind = PS_FRAME_PYTHON };
	struct ps_stream_frame nat = { .function = "select", .kind = PS_FRAME_NATIVE };
	struct ps_stream_event ev = { .kind = PS_STREAM_EV_PROC_EXIT, .time_ns = ORIGIN + 7 * MS + 999,
				      .pid = 4243, .count = 1, .value = -1, .text = "killed" };
	struct ps_stream_totals tot = { .samples = 99, .errors = 3, .late = 4,
					.duration_ns = 5 * 1000 * MS + 1234 };
	const struct ps_stream_header *g;
	struct ps_sr_record rec;
	struct sink out = { 0 };
	struct ps_sw *w;
	struct ps_sr *r;
	uint32_t s_id, f1, f2, st1, st2, th;

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_string(w, "héllo wörld", &s_id, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &fr, &f1, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &nat, &f2, NULL), 0);
	assert_int_equal(ps_sw_stack(w, 0, f1, &st1, NULL), 0);
	assert_int_equal(ps_sw_stack(w, st1, f2, &st2, NULL), 0);
	assert_int_equal(ps_sw_process(w, 4243, 4242, 4, pargv, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 4243, 4250, "Thread-3 (run)", &th, NULL), 0);
	assert_int_equal(ps_sw_sample(w, ORIGIN + 3 * MS + 456789, th, st2,
				      PS_SAMPLE_GIL | PS_SAMPLE_IDLE | 0x40, NULL), 0);
	assert_int_equal(ps_sw_event(w, &ev, NULL), 0);
	assert_int_equal(ps_sw_close(w, &tot, NULL), 0);

	assert_int_equal(ps_sr_open_mem(out.p, out.len, &r, NULL), 0);
	g = ps_sr_header(r);
	assert_int_equal(g->major, PS_STREAM_MAJOR);
	assert_int_equal(g->minor, PS_STREAM_MINOR);
	assert_string_equal(g->sampler, "pyspy-sample 0.1.0");
	assert_int_equal(g->pid, 4242);
	assert_int_equal(g->argc, 4);
	assert_string_equal(g->argv[2], "--n");
	assert_null(g->argv[4]);
	assert_string_equal(g->python_version, "3.11.7");
	assert_int_equal(g->rate_hz, 100);
	assert_true(g->wall_start_ns == 1795000000123456789LL);
	assert_true(g->mono_origin_ns == ORIGIN);

	next_ok(r, &rec, PS_REC_STRING);
	assert_int_equal(rec.id, s_id);
	assert_string_equal(rec.string, "héllo wörld");
	for (int i = 0; i < 3; i++)   /* parse, Parser.parse, parser.py */
		next_ok(r, &rec, PS_REC_STRING);
	next_ok(r, &rec, PS_REC_FRAME);
	assert_int_equal(rec.id, f1);
	assert_string_equal(rec.frame->function, "parse");
	assert_string_equal(rec.frame->qualname, "Parser.parse");
	assert_string_equal(rec.frame->file, "/srv/app/parser.py");
	assert_int_equal(rec.frame->line, 4711);
	assert_int_equal(rec.frame->kind, PS_FRAME_PYTHON);
	next_ok(r, &rec, PS_REC_STRING);
	next_ok(r, &rec, PS_REC_FRAME);
	assert_null(rec.frame->qualname);
	assert_null(rec.frame->file);
	assert_int_equal(rec.frame->line, 0);
	assert_int_equal(rec.frame->kind, PS_FRAME_NATIVE);
	next_ok(r, &rec, PS_REC_STACK);
	assert_int_equal(rec.stack.parent, 0);
	assert_int_equal(rec.stack.frame, f1);
	next_ok(r, &rec, PS_REC_STACK);
	assert_int_equal(rec.id, st2);
	assert_int_equal(rec.stack.parent, st1);
	next_ok(r, &rec, PS_REC_PROCESS);
	assert_int_equal(rec.process->pid, 4243);
	assert_int_equal(rec.process->ppid, 4242);
	assert_int_equal(rec.process->argc, 4);
	assert_string_equal(rec.process->argv[2], "worker pool");
	assert_string_equal(rec.process->argv[3], "");
	next_ok(r, &rec, PS_REC_STRING);
	next_ok(r, &rec, PS_REC_THREAD);
	assert_int_equal(rec.thread->pid, 4243);
	assert_int_equal(rec.thread->tid, 4250);
	assert_string_equal(rec.thread->name, "Thread-3 (run)");
	/* the event's text: a definition goes before the samples still
	 * being coded, the event after them */
	next_ok(r, &rec, PS_REC_STRING);
	next_ok(r, &rec, PS_REC_SAMPLE);
	assert_true(rec.sample.time_ns == ORIGIN + 3 * MS + 456000);
	assert_int_equal(rec.sample.thread_id, th);
	assert_int_equal(rec.sample.thread->tid, 4250);
	assert_int_equal(rec.sample.process->pid, 4243);
	assert_int_equal(rec.sample.stack_id, st2);
	assert_int_equal(rec.sample.flags, PS_SAMPLE_GIL | PS_SAMPLE_IDLE | 0x40);
	assert_int_equal(rec.sample.depth, 2);
	assert_string_equal(rec.sample.frames[0]->qualname, "Parser.parse");
	assert_string_equal(rec.sample.frames[1]->function, "select");
	next_ok(r, &rec, PS_REC_EVENT);
	assert_int_equal(rec.event.kind, PS_STREAM_EV_PROC_EXIT);
	assert_true(rec.event.time_ns == ORIGIN + 7 * MS);
	assert_int_equal(rec.event.pid, 4243);
	assert_int_equal(rec.event.count, 1);
	assert_true(rec.event.value == -1);
	assert_string_equal(rec.event.text, "killed");
	assert_null(ps_sr_totals(r));
	next_ok(r, &rec, PS_REC_END);
	assert_int_equal(rec.end.samples, 1);   /* counted by the writer */
	assert_int_equal(rec.end.errors, 3);
	assert_int_equal(rec.end.late, 4);
	assert_true(rec.end.duration_ns == 5 * 1000 * MS + 1000);
	assert_non_null(ps_sr_totals(r));
	assert_int_equal(ps_sr_next(r, &rec, NULL), PS_STREAM_EOF);
	assert_int_equal(ps_sr_next(r, &rec, NULL), PS_STREAM_EOF);
	ps_sr_free(r);
	free(out.p);
}

/* ---- interning ------------------------------------------------------------ */

static void test_interning(void **state)
{
	struct ps_stream_header h = test_header();
	struct ps_stream_frame a = { .function = "a", .file = "x.py", .line = 1 };
	struct ps_stream_frame b = { .function = "b", .file = "x.py", .line = 2 };
	struct ps_stream_frame c = { .function = "c", .file = "x.py", .line = 3 };
	struct ps_stream_frame a2 = { .function = "a", .file = "x.py", .line = 2 };
	struct ps_stream_frame an = { .function = "a", .file = "x.py", .line = 1,
				      .kind = PS_FRAME_NATIVE };
	uint32_t fa, fb, fc, f, s1, s2, s3, t1, t2, t3, id, path[3];
	struct ps_sr_stats st;
	struct sink out = { 0 };
	struct ps_sw *w;
	struct ps_sr *r;
	struct ps_sr_record rec;
	int kinds[10] = { 0 };

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &a, &fa, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &b, &fb, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &c, &fc, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &a, &f, NULL), 0);
	assert_int_equal(f, fa);
	assert_int_equal(ps_sw_frame(w, &a2, &f, NULL), 0);
	assert_int_not_equal(f, fa);    /* another line is another frame */
	assert_int_equal(ps_sw_frame(w, &an, &f, NULL), 0);
	assert_int_not_equal(f, fa);    /* and so is another kind */
	path[0] = fa, path[1] = fb, path[2] = fc;
	assert_int_equal(ps_sw_stack_path(w, path, 3, &s1, NULL), 0);
	assert_int_equal(ps_sw_stack_path(w, path, 3, &s2, NULL), 0);
	assert_int_equal(s1, s2);
	/* a;b;a shares a;b: one new stack record */
	path[2] = fa;
	assert_int_equal(ps_sw_stack_path(w, path, 3, &s3, NULL), 0);
	assert_int_equal(s3, 4);
	assert_int_equal(ps_sw_stack_path(w, path, 0, &id, NULL), 0);
	assert_int_equal(id, 0);
	assert_int_equal(ps_sw_thread(w, 1, 2, "main", &t1, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 1, 2, "main", &t2, NULL), 0);
	assert_int_equal(t1, t2);
	assert_int_equal(ps_sw_thread(w, 1, 2, "renamed", &t3, NULL), 0);
	assert_int_not_equal(t1, t3);
	assert_int_equal(ps_sw_thread(w, 1, 2, NULL, &id, NULL), 0);
	assert_int_equal(id, 3);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);

	assert_int_equal(ps_sr_open_mem(out.p, out.len, &r, NULL), 0);
	while (ps_sr_next(r, &rec, NULL) == PS_OK)
		kinds[rec.type]++;
	assert_int_equal(kinds[PS_REC_STRING], 6);   /* a x.py b c main renamed */
	assert_int_equal(kinds[PS_REC_FRAME], 5);
	assert_int_equal(kinds[PS_REC_STACK], 4);
	assert_int_equal(kinds[PS_REC_THREAD], 3);
	ps_sr_stats(r, &st);
	assert_int_equal(st.records, 6 + 5 + 4 + 3 + 1);
	ps_sr_free(r);
	free(out.p);
}

static void test_writer_usage_errors(void **state)
{
	struct ps_stream_header h = test_header();
	struct ps_stream_frame f = { .function = "f" };
	struct ps_errmsg e = { 0 };
	struct sink out = { 0 };
	struct ps_sw *w;
	uint32_t fid, s = 0, th, id;
	char *big = malloc(70000);

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &f, &fid, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 1, 1, "t", &th, NULL), 0);
	assert_int_equal(ps_sw_stack(w, 9, fid, &id, &e), PS_EUSAGE);
	assert_non_null(strstr(e.msg, "undefined stack"));
	assert_int_equal(ps_sw_stack(w, 0, 99, &id, &e), PS_EUSAGE);
	assert_int_equal(ps_sw_frame_ids(w, 0, 0, 0, 0, 1, &id, &e), PS_EUSAGE);
	assert_int_equal(ps_sw_frame_ids(w, 0, 1, 50, 0, 1, &id, &e), PS_EUSAGE);
	assert_int_equal(ps_sw_sample(w, ORIGIN, th + 1, 0, 0, &e), PS_EUSAGE);
	assert_int_equal(ps_sw_sample(w, ORIGIN, th, 5, 0, &e), PS_EUSAGE);
	assert_int_equal(ps_sw_raw_record(w, PS_REC_SAMPLE, "x", 1, &e), PS_EUSAGE);
	/* the depth limit holds */
	for (uint32_t d = 0; d < PS_STREAM_MAX_DEPTH; d++)
		assert_int_equal(ps_sw_stack(w, s, fid, &s, NULL), 0);
	assert_int_equal(ps_sw_stack(w, s, fid, &id, &e), PS_EUSAGE);
	assert_non_null(strstr(e.msg, "deeper than 8192"));
	/* long strings are cut at a character boundary: 'é' is 2 bytes */
	memset(big, 'a', 70000);
	for (size_t i = 65530; i < 69998; i += 2)
		memcpy(big + i, "\xC3\xA9", 2);
	big[69999] = 0;     /* the cut at 65535 would split the 'é' at 65534 */
	assert_int_equal(ps_sw_string(w, big, &id, NULL), 0);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	{
		struct ps_sr *r;
		struct ps_sr_record rec;
		size_t longest = 0;
		assert_int_equal(ps_sr_open_mem(out.p, out.len, &r, NULL), 0);
		while (ps_sr_next(r, &rec, NULL) == PS_OK)
			if (rec.type == PS_REC_STRING && strlen(rec.string) > longest)
				longest = strlen(rec.string);
		assert_int_equal(longest, 65534);
		ps_sr_free(r);
	}
	free(big);
	free(out.p);
}

static void test_writer_io_error_is_sticky(void **state)
{
	struct ps_stream_header h = test_header();
	struct ps_errmsg e = { 0 };
	struct sink out = { 0 };
	struct ps_sw *w;
	uint32_t th;

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 1, 1, "t", &th, NULL), 0);
	out.fail = 1;
	assert_int_equal(ps_sw_flush(w, ORIGIN, &e), PS_EIO);
	assert_non_null(strstr(e.msg, "sink full"));
	/* later calls repeat the first cause (a tool tells a closed pipe by it) */
	memset(&e, 0, sizeof(e));
	assert_int_equal(ps_sw_sample(w, ORIGIN, th, 0, 0, &e), PS_EIO);
	assert_non_null(strstr(e.msg, "sink full"));
	memset(&e, 0, sizeof(e));
	assert_int_equal(ps_sw_close(w, NULL, &e), PS_EIO);
	assert_non_null(strstr(e.msg, "sink full"));
	free(out.p);
}

/* ---- a few thousand samples, exactly back ------------------------------- */

/* The samples of a stream as synth_write records them. */
static void read_samples(struct ps_sr *r, struct lines *got, int *status)
{
	struct ps_sr_record rec;
	char line[256];
	int rc;

	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK) {
		if (rec.type != PS_REC_SAMPLE)
			continue;
		snprintf(line, sizeof(line), "%llu %u %u %u",
			 (unsigned long long)rec.sample.time_ns, rec.sample.thread_id,
			 rec.sample.stack_id, rec.sample.flags);
		lines_add(got, line);
	}
	*status = rc;
}

static void assert_same_lines(const struct lines *a, const struct lines *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
}

static void test_many_samples_memory_and_file(void **state)
{
	struct ps_stream_header h = test_header();
	struct synth s = { .nthreads = 4, .nstacks = 9, .depth = 40, .nsamples = 5000,
			   .jitter_us = 300, .random_stacks = 1, .seed = 42 };
	struct lines want = { 0 }, got = { 0 }, got2 = { 0 };
	char path[] = "/tmp/test_stream_XXXXXX";
	struct sink out = { 0 };
	struct ps_sw *w;
	struct ps_sr *r;
	int status, fd;

	(void)state;
	/* memory */
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	synth_write(w, &s, &want);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_int_equal(ps_sr_open_mem(out.p, out.len, &r, NULL), 0);
	read_samples(r, &got, &status);
	assert_int_equal(status, PS_STREAM_EOF);
	assert_int_equal(ps_sr_totals(r)->samples, 5000);
	ps_sr_free(r);
	assert_same_lines(&want, &got);

	/* a file, written and read through file descriptors */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ps_sw_open_fd(fd, &h, NULL, &w, NULL), 0);
	lines_free(&want);
	synth_write(w, &s, &want);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_true(lseek(fd, 0, SEEK_SET) == 0);
	assert_int_equal(ps_sr_open_fd(fd, &r, NULL), 0);
	read_samples(r, &got2, &status);
	assert_int_equal(status, PS_STREAM_EOF);
	ps_sr_free(r);
	close(fd);
	assert_same_lines(&want, &got2);

	lines_free(&want);
	lines_free(&got);
	lines_free(&got2);
	free(out.p);
}

/* A writer in a child process on a pipe: the reader sees the first half
 * (flushed) while the writer still waits, then the rest. */
static void test_pipe_reader_sees_flushed_data_live(void **state)
{
	struct ps_stream_header h = test_header();
	int data[2], go[2], status;
	struct ps_sr_record rec;
	struct ps_sr *r;
	unsigned samples = 0;
	pid_t pid;
	int rc;

	(void)state;
	assert_int_equal(pipe(data), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ps_sw *w;
		uint32_t th;
		char c;
		close(data[0]);
		close(go[1]);
		alarm(20);
		if (ps_sw_open_fd(data[1], &h, NULL, &w, NULL) ||
		    ps_sw_thread(w, 1, 1, "main", &th, NULL))
			_exit(1);
		for (int i = 0; i < 50; i++)
			ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, 0, 0, NULL);
		ps_sw_flush(w, ORIGIN + 50 * MS, NULL);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		for (int i = 50; i < 100; i++)
			ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, 0, 0, NULL);
		_exit(ps_sw_close(w, NULL, NULL) ? 1 : 0);
	}
	close(data[1]);
	close(go[0]);
	alarm(20);   /* a reader that waits for more than was flushed hangs */
	assert_int_equal(ps_sr_open_fd(data[0], &r, NULL), 0);
	while (samples < 50 && (rc = ps_sr_next(r, &rec, NULL)) == PS_OK)
		samples += rec.type == PS_REC_SAMPLE;
	assert_int_equal(samples, 50);
	assert_int_equal(write(go[1], "g", 1), 1);
	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK)
		samples += rec.type == PS_REC_SAMPLE;
	assert_int_equal(rc, PS_STREAM_EOF);
	assert_int_equal(samples, 100);
	alarm(0);
	ps_sr_free(r);
	close(data[0]);
	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- truncation ------------------------------------------------------------ */

static void check_prefixes(const struct sink *full, size_t step)
{
	struct lines all = { 0 };
	struct ps_errmsg e;
	int rc = read_all(full->p, full->len, &all, NULL);

	assert_int_equal(rc, PS_STREAM_EOF);
	for (size_t n = 0; n < full->len; n += step) {
		struct lines part = { 0 };
		memset(&e, 0, sizeof(e));
		rc = read_all(full->p, n, &part, &e);
		/* before the header is complete the open fails; after, every
		 * complete record comes and then "truncated" */
		if (rc != PS_STREAM_TRUNCATED && rc != PS_EINVAL)
			fail_msg("prefix %zu of %zu: status %d: %s", n, full->len, rc, e.msg);
		if (!strstr(e.msg, "truncated"))
			fail_msg("prefix %zu of %zu: '%s'", n, full->len, e.msg);
		assert_prefix(&part, &all);
		/* the END record never comes without the rest of the frame */
		assert_true(part.n < all.n);
		lines_free(&part);
	}
	lines_free(&all);
}

static void test_every_prefix_small(void **state)
{
	struct sink out = { 0 };

	(void)state;
	small_stream(&out, 40, 1);
	check_prefixes(&out, 1);
	free(out.p);
}

static void test_prefixes_large_with_flushes(void **state)
{
	struct ps_stream_header h = test_header();
	struct synth s = { .nthreads = 3, .nstacks = 20, .depth = 25, .nsamples = 30000,
			   .jitter_us = 50, .random_stacks = 1, .seed = 3 };
	struct ps_sw_opts o = { .flush_ms = 100 };
	struct sink out = { 0 };
	struct ps_sw *w;

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, &o, &w, NULL), 0);
	synth_write(w, &s, NULL);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	check_prefixes(&out, out.len / 300 + 1);
	free(out.p);
}

/* Records come up to the last flush; after it, nothing: cut anywhere in the
 * unflushed part and the same records come. */
static void test_killed_writer_keeps_flushed_records(void **state)
{
	struct ps_stream_header h = test_header();
	struct ps_errmsg e = { 0 };
	struct lines got = { 0 };
	struct sink out = { 0 };
	struct ps_sw *w;
	uint32_t th;
	size_t flushed;

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 1, 1, "main", &th, NULL), 0);
	for (int i = 0; i < 30; i++)
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, 0, 0, NULL), 0);
	assert_int_equal(ps_sw_flush(w, ORIGIN + 30 * MS, NULL), 0);
	flushed = out.len;
	for (int i = 30; i < 60; i++)
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, 0, 0, NULL), 0);
	ps_sw_free(w);    /* killed: nothing after the flush reaches the file */
	assert_int_equal(out.len, flushed);
	assert_int_equal(read_all(out.p, out.len, &got, &e), PS_STREAM_TRUNCATED);
	assert_non_null(strstr(e.msg, "truncated"));
	assert_int_equal(got.n, 32);   /* "main", the thread, 30 samples */
	lines_free(&got);
	free(out.p);
}

/* A reader on a file that grows reads on after "truncated", through a cut
 * inside a block, inside a record and inside the final checksum. */
static void test_follow_growing_file(void **state)
{
	struct lines all = { 0 }, got = { 0 };
	char path[] = "/tmp/test_stream_XXXXXX", line[1024];
	struct sink full = { 0 };
	struct ps_sr_record rec;
	struct ps_sr *r;
	size_t cuts[5], done = 0;
	int wfd, rfd, rc = 0;

	(void)state;
	small_stream(&full, 200, 1);
	assert_int_equal(read_all(full.p, full.len, &all, NULL), PS_STREAM_EOF);
	cuts[0] = full.len / 3, cuts[1] = full.len / 2, cuts[2] = full.len - 2;
	cuts[3] = full.len - 1, cuts[4] = full.len;
	wfd = mkstemp(path);
	assert_true(wfd >= 0);
	rfd = open(path, O_RDONLY);
	unlink(path);
	assert_true(rfd >= 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(write(wfd, full.p + done, cuts[i] - done), (ssize_t)(cuts[i] - done));
		done = cuts[i];
		if (i == 0)
			assert_int_equal(ps_sr_open_fd(rfd, &r, NULL), 0);
		while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK) {
			rec_text(&rec, line, sizeof(line));
			lines_add(&got, line);
		}
		assert_int_equal(rc, i < 4 ? PS_STREAM_TRUNCATED : PS_STREAM_EOF);
		assert_prefix(&got, &all);
		assert_true(i == 4 || got.n < all.n);
	}
	assert_same_lines(&got, &all);
	ps_sr_free(r);
	close(rfd);
	close(wfd);
	lines_free(&all);
	lines_free(&got);
	free(full.p);
}

/* ---- auto-flush -------------------------------------------------------- */

static int count_samples(const struct sink *out, int *status)
{
	struct lines got = { 0 };
	int n = 0;

	*status = read_all(out->p, out->len, &got, NULL);
	for (size_t i = 0; i < got.n; i++)
		n += !strncmp(got.v[i], "sample", 6);
	lines_free(&got);
	return n;
}

static void test_auto_flush_by_sample_time(void **state)
{
	struct ps_stream_header h = test_header();
	struct ps_sw_opts o = { .flush_ms = 1000 };
	struct ps_stream_event ev = { .kind = PS_STREAM_EV_LATE, .count = 1, .value = 20000 };
	struct sink out = { 0 };
	struct ps_sw *w;
	uint32_t th;
	int status;

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, &o, &w, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 1, 1, "main", &th, NULL), 0);
	/* 99 samples over 980 ms: nothing is flushed yet */
	for (int i = 0; i < 99; i++)
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * 10 * MS, th, 0, 0, NULL), 0);
	assert_int_equal(count_samples(&out, &status), 0);
	assert_int_equal(status, PS_STREAM_TRUNCATED);
	/* the sample at 1 s flushes: all 100 are readable */
	assert_int_equal(ps_sw_sample(w, ORIGIN + 1000 * MS, th, 0, 0, NULL), 0);
	assert_int_equal(count_samples(&out, &status), 100);
	assert_int_equal(status, PS_STREAM_TRUNCATED);
	/* and the next second's */
	for (int i = 101; i < 200; i++)
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * 10 * MS, th, 0, 0, NULL), 0);
	assert_int_equal(count_samples(&out, &status), 100);
	/* an event's time counts too */
	ev.time_ns = ORIGIN + 2000 * MS;
	assert_int_equal(ps_sw_event(w, &ev, NULL), 0);
	assert_int_equal(count_samples(&out, &status), 199);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_int_equal(count_samples(&out, &status), 199);
	assert_int_equal(status, PS_STREAM_EOF);
	free(out.p);
}

/* ---- corruption ------------------------------------------------------------ */

static void test_random_byte_flips(void **state)
{
	struct lines all = { 0 };
	struct sink out = { 0 };
	uint64_t seed = 0x5eed;
	uint8_t *copy;
	int ok = 0, errors = 0, truncated = 0;

	(void)state;
	small_stream(&out, 300, 1);
	assert_int_equal(read_all(out.p, out.len, &all, NULL), PS_STREAM_EOF);
	copy = malloc(out.len);
	assert_non_null(copy);
	for (int it = 0; it < 3000; it++) {
		struct lines part = { 0 };
		struct ps_errmsg e = { 0 };
		size_t pos = rnd(&seed) % out.len;
		int flips = 1 + (int)(rnd(&seed) % 3), rc;

		memcpy(copy, out.p, out.len);
		for (int k = 0; k < flips; k++)
			copy[(pos + k * 7) % out.len] ^= (uint8_t)(1 + rnd(&seed) % 255);
		rc = read_all(copy, out.len, &part, &e);
		if (rc == PS_STREAM_EOF) {
			/* the checksums passed: it must be the same stream */
			assert_int_equal(part.n, all.n);
			assert_prefix(&part, &all);
			ok++;
		} else if (rc == PS_STREAM_TRUNCATED) {
			truncated++;
		} else {
			if (rc >= 0 || !e.msg[0])
				fail_msg("flip at %zu: status %d, message '%s'", pos, rc, e.msg);
			errors++;
		}
		lines_free(&part);
	}
	assert_true(errors > 2500);
	print_message("byte flips: %d errors, %d truncated, %d still intact\n", errors, truncated, ok);
	lines_free(&all);
	free(copy);
	free(out.p);
}

/* Damage behind zstd's back: the record parser sees garbage that
 * decompresses fine. Nothing may crash, and every end is a clear one. */
static void test_random_record_damage(void **state)
{
	struct sink out = { 0 };
	uint64_t seed = 0xdecaf;
	uint8_t *raw = malloc(1 << 20), *copy = malloc((1 << 20) + 64);
	size_t n;
	int counts[4] = { 0 };

	(void)state;
	assert_non_null(raw);
	assert_non_null(copy);
	small_stream(&out, 100, 1);
	n = ZSTD_decompress(raw, 1 << 20, out.p, out.len);
	assert_false(ZSTD_isError(n));
	for (int it = 0; it < 3000; it++) {
		struct ps_errmsg e = { 0 };
		struct rb z = { 0 };
		size_t m = n, pos = PS_STREAM_SIGNATURE_LEN + rnd(&seed) % (n - PS_STREAM_SIGNATURE_LEN);
		int rc, how = (int)(rnd(&seed) % 4);

		memcpy(copy, raw, n);
		if (how == 0) {            /* flip a few bytes */
			for (int k = 0; k < 3; k++)
				copy[(pos + rnd(&seed) % 16) % n] ^= (uint8_t)(1 + rnd(&seed) % 255);
		} else if (how == 1) {     /* delete a range */
			size_t d = 1 + rnd(&seed) % 8;
			d = d > n - pos ? n - pos : d;
			memmove(copy + pos, copy + pos + d, n - pos - d);
			m = n - d;
		} else if (how == 2) {     /* insert random bytes */
			size_t d = 1 + rnd(&seed) % 8;
			memmove(copy + pos + d, copy + pos, n - pos);
			for (size_t k = 0; k < d; k++)
				copy[pos + k] = (uint8_t)rnd(&seed);
			m = n + d;
		} else {                   /* a byte set to an extreme */
			copy[pos] = rnd(&seed) & 1 ? 0xFF : 0x00;
		}
		zc_append(&z, copy, m);
		rc = read_all(z.p, z.n, NULL, &e);
		if (rc != PS_STREAM_EOF && rc != PS_STREAM_TRUNCATED && (rc >= 0 || !e.msg[0]))
			fail_msg("damage %d at %zu: status %d '%s'", how, pos, rc, e.msg);
		/* a damaged version number reads as one we do not know */
		counts[rc == PS_STREAM_EOF ? 0 : rc == PS_STREAM_TRUNCATED ? 1 :
		       rc == PS_EINVAL || rc == PS_EUNSUPPORTED ? 2 : 3]++;
		free(z.p);
	}
	print_message("record damage: %d read through, %d truncated, %d corrupt, %d other\n",
		      counts[0], counts[1], counts[2], counts[3]);
	assert_int_equal(counts[3], 0);
	free(raw);
	free(copy);
	free(out.p);
}

static void test_not_a_stream(void **state)
{
	static const char text[] = "main;run;parse 12\n";
	struct rb z = { 0 }, raw = { 0 };
	struct ps_errmsg e = { 0 };
	struct ps_sr *r;

	(void)state;
	assert_int_equal(ps_sr_open_mem(text, sizeof(text) - 1, &r, &e), PS_EINVAL);
	assert_null(r);
	assert_non_null(strstr(e.msg, "not zstd-compressed"));
	assert_int_equal(ps_sr_open_mem(NULL, 0, &r, &e), PS_EINVAL);
	assert_non_null(strstr(e.msg, "truncated stream: empty"));
	/* zstd, but of something else */
	zc_append(&z, text, sizeof(text) - 1);
	assert_int_equal(ps_sr_open_mem(z.p, z.n, &r, &e), PS_EINVAL);
	assert_non_null(strstr(e.msg, "bad signature"));
	/* the signature, then no header */
	rb_bytes(&raw, PS_STREAM_SIGNATURE, PS_STREAM_SIGNATURE_LEN);
	rb_sample(&raw, 1, 1, 0);
	expect_raw_error(&raw, PS_EINVAL, "not a header");
	free(z.p);
	free(raw.p);
}

static void test_newer_major_version_refused(void **state)
{
	struct rb raw = { 0 };
	struct ps_errmsg e = { 0 };
	struct rb z = { 0 };
	struct ps_sr *r;

	(void)state;
	/* version 3 may change everything after its version fields */
	rb_bytes(&raw, PS_STREAM_SIGNATURE, PS_STREAM_SIGNATURE_LEN);
	rb_bytes(&raw, "\x01\x03\x03\x07\xFF", 5);
	zc_append(&z, raw.p, raw.n);
	assert_int_equal(ps_sr_open_mem(z.p, z.n, &r, &e), PS_EUNSUPPORTED);
	assert_string_equal(e.msg, "unsupported stream format version 3.7: this reader reads 1.x to 2.x");
	free(raw.p);
	free(z.p);
}

/* What a later minor version may add: unknown record types anywhere,
 * trailing fields in every known record. */
static void build_future_minor(struct rb *raw)
{
	struct rb pay = { 0 };
	static const uint64_t unknown[] = { 10, 63, 64, 127, 128, 300, 1ULL << 40 };

	rb_start(raw, 1, 9, 1);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		rb_str(&pay, "payload a reader does not know");
		rb_rec(raw, unknown[i], &pay);
	}
	rb_rec(raw, 200, &pay);   /* empty */
	rb_str(&pay, "main");
	rb_uv(&pay, 77);          /* extra field */
	rb_rec(raw, PS_REC_STRING, &pay);
	rb_str(&pay, "app.py");
	rb_rec(raw, PS_REC_STRING, &pay);
	rb_str(&pay, "Worker.loop");
	rb_rec(raw, PS_REC_STRING, &pay);
	rb_uv(&pay, PS_FRAME_PYTHON), rb_uv(&pay, 1), rb_uv(&pay, 0), rb_uv(&pay, 2);
	rb_uv(&pay, 10), rb_str(&pay, "column 4");
	rb_rec(raw, PS_REC_FRAME, &pay);
	rb_uv(&pay, 7), rb_uv(&pay, 3), rb_uv(&pay, 3), rb_uv(&pay, 2), rb_uv(&pay, 20);
	rb_rec(raw, PS_REC_FRAME, &pay);   /* a kind from the future */
	rb_uv(&pay, 0), rb_uv(&pay, 1), rb_uv(&pay, 1);
	rb_rec(raw, PS_REC_STACK, &pay);
	rb_uv(&pay, 1), rb_uv(&pay, 2), rb_uv(&pay, 99);
	rb_rec(raw, PS_REC_STACK, &pay);
	rb_uv(&pay, 99), rb_uv(&pay, 99), rb_uv(&pay, 0), rb_uv(&pay, 5);
	rb_rec(raw, PS_REC_THREAD, &pay);
	rb_uv(&pay, 99), rb_uv(&pay, 1), rb_uv(&pay, 0), rb_uv(&pay, 1);
	rb_rec(raw, PS_REC_PROCESS, &pay);
	for (int i = 0; i < 10; i++) {
		rb_uv(&pay, 10000), rb_uv(&pay, 1), rb_uv(&pay, 1 + (i % 3 == 0));
		rb_uv(&pay, i == 4 ? PS_SAMPLE_IDLE : 0x81);   /* a flag from the future */
		rb_uv(&pay, 12345);
		rb_rec(raw, PS_REC_SAMPLE, &pay);
		rb_rec(raw, 11, &pay);
	}
	rb_uv(&pay, 9), rb_uv(&pay, 500), rb_uv(&pay, 99), rb_uv(&pay, 1), rb_uv(&pay, 2);
	rb_uv(&pay, 1), rb_uv(&pay, 42);
	rb_rec(raw, PS_REC_EVENT, &pay);   /* an event kind from the future */
	rb_uv(&pay, 10), rb_uv(&pay, 0), rb_uv(&pay, 0), rb_uv(&pay, 100000), rb_uv(&pay, 8);
	rb_rec(raw, PS_REC_END, &pay);
	free(pay.p);
}

static void test_future_minor_version_read(void **state)
{
	struct rb raw = { 0 };
	struct ps_errmsg e = { 0 };
	struct rb z = { 0 };
	struct ps_sr *r;
	struct ps_sr_record rec;
	struct ps_sr_stats st;
	int samples = 0, rc;

	(void)state;
	build_future_minor(&raw);
	zc_append(&z, raw.p, raw.n);
	assert_int_equal(ps_sr_open_mem(z.p, z.n, &r, &e), 0);
	assert_int_equal(ps_sr_header(r)->minor, 9);
	assert_int_equal(ps_sr_header(r)->argc, 1);
	while ((rc = ps_sr_next(r, &rec, &e)) == PS_OK) {
		if (rec.type == PS_REC_SAMPLE) {
			samples++;
			assert_true(rec.sample.time_ns == ORIGIN + (uint64_t)samples * 10 * MS);
		}
		if (rec.type == PS_REC_FRAME && rec.id == 2)
			assert_int_equal(rec.frame->kind, 7);
		if (rec.type == PS_REC_EVENT)
			assert_int_equal(rec.event.kind, 9);
	}
	assert_int_equal(rc, PS_STREAM_EOF);
	assert_int_equal(samples, 10);
	ps_sr_stats(r, &st);
	assert_int_equal(st.skipped, 8 + 10);
	ps_sr_free(r);
	free(raw.p);
	free(z.p);
}

static void test_writer_unknown_record_skipped(void **state)
{
	struct ps_stream_header h = test_header();
	struct lines with = { 0 }, without = { 0 };
	struct sink a = { 0 }, b = { 0 };
	struct ps_sw *w;
	uint32_t th;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		struct sink *out = pass ? &b : &a;
		assert_int_equal(ps_sw_open_cb(sink_write, out, &h, NULL, &w, NULL), 0);
		assert_int_equal(ps_sw_thread(w, 1, 1, "main", &th, NULL), 0);
		assert_int_equal(ps_sw_sample(w, ORIGIN + MS, th, 0, 0, NULL), 0);
		if (pass)
			assert_int_equal(ps_sw_raw_record(w, 4000, "\x01\x02\x03", 3, NULL), 0);
		assert_int_equal(ps_sw_sample(w, ORIGIN + 2 * MS, th, 0, 0, NULL), 0);
		assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	}
	assert_int_equal(read_all(a.p, a.len, &without, NULL), PS_STREAM_EOF);
	assert_int_equal(read_all(b.p, b.len, &with, NULL), PS_STREAM_EOF);
	assert_same_lines(&with, &without);
	lines_free(&with);
	lines_free(&without);
	free(a.p);
	free(b.p);
}

/* A frame boundary anywhere between records, and zstd skippable frames,
 * change nothing. */
static void test_several_zstd_frames(void **state)
{
	struct ps_stream_header h = test_header();
	struct lines one = { 0 }, many = { 0 }, split = { 0 };
	struct sink a = { 0 }, b = { 0 };
	struct rb raw = { 0 }, z = { 0 };
	struct ps_sw *w;
	uint32_t th;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(ps_sw_open_cb(sink_write, pass ? &b : &a, &h, NULL, &w, NULL), 0);
		assert_int_equal(ps_sw_thread(w, 1, 1, "main", &th, NULL), 0);
		for (int i = 0; i < 100; i++) {
			assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, 0, 0, NULL), 0);
			if (pass && i % 10 == 0)
				assert_int_equal(ps_sw_end_frame(w, NULL), 0);
		}
		assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	}
	assert_true(b.len > a.len);
	assert_int_equal(read_all(a.p, a.len, &one, NULL), PS_STREAM_EOF);
	assert_int_equal(read_all(b.p, b.len, &many, NULL), PS_STREAM_EOF);
	assert_same_lines(&one, &many);

	/* hand-built: skippable frame, a header frame, then records frames */
	rb_start(&raw, 1, 0, 0);
	rb_basics(&raw);
	rb_bytes(&z, "\x50\x2A\x4D\x18\x03\x00\x00\x00xyz", 11);
	zc_append(&z, raw.p, raw.n);
	raw.n = 0;
	rb_sample(&raw, 5, 1, 1);
	zc_append(&z, raw.p, raw.n);
	raw.n = 0;
	rb_sample(&raw, 5, 1, 1);
	rb_end(&raw, 2);
	zc_append(&z, raw.p, raw.n);
	assert_int_equal(read_all(z.p, z.n, &split, NULL), PS_STREAM_EOF);
	assert_int_equal(split.n, 7);
	lines_free(&one);
	lines_free(&many);
	lines_free(&split);
	free(raw.p);
	free(z.p);
	free(a.p);
	free(b.p);
}

static void test_corrupt_records(void **state)
{
	struct rb raw = { 0 }, pay = { 0 };
	char *big;

	(void)state;
#define CASE(code, words, ...) do { \
		raw.n = 0; rb_start(&raw, 1, 0, 0); rb_basics(&raw); \
		__VA_ARGS__; \
		expect_raw_error(&raw, code, words); \
	} while (0)
	CASE(PS_EINVAL, "undefined string 9",
	     rb_uv(&pay, 0); rb_uv(&pay, 9); rb_uv(&pay, 0); rb_uv(&pay, 0); rb_uv(&pay, 1);
	     rb_rec(&raw, PS_REC_FRAME, &pay));
	CASE(PS_EINVAL, "undefined string 0",
	     rb_uv(&pay, 0); rb_uv(&pay, 0); rb_uv(&pay, 0); rb_uv(&pay, 0); rb_uv(&pay, 1);
	     rb_rec(&raw, PS_REC_FRAME, &pay));
	CASE(PS_EINVAL, "undefined frame 2",
	     rb_uv(&pay, 0); rb_uv(&pay, 2); rb_rec(&raw, PS_REC_STACK, &pay));
	CASE(PS_EINVAL, "undefined stack 5",
	     rb_uv(&pay, 5); rb_uv(&pay, 1); rb_rec(&raw, PS_REC_STACK, &pay));
	CASE(PS_EINVAL, "undefined stack 2", rb_sample(&raw, 1, 1, 2));
	CASE(PS_EINVAL, "undefined thread 2", rb_sample(&raw, 1, 2, 1));
	CASE(PS_EINVAL, "undefined thread 0", rb_sample(&raw, 1, 0, 1));
	CASE(PS_EINVAL, "undefined string 3",
	     rb_uv(&pay, 1); rb_uv(&pay, 2); rb_uv(&pay, 3); rb_rec(&raw, PS_REC_THREAD, &pay));
	CASE(PS_EINVAL, "ends inside a field",
	     rb_uv(&pay, 1); rb_uv(&pay, 1); rb_rec(&raw, PS_REC_SAMPLE, &pay));
	CASE(PS_EINVAL, "bad varint",
	     rb_bytes(&pay, "\x01\x81\x00\x01\x00", 5); rb_rec(&raw, PS_REC_SAMPLE, &pay));
	CASE(PS_EINVAL, "out of range",
	     rb_uv(&pay, 1); rb_uv(&pay, 1ULL << 32); rb_uv(&pay, 1); rb_uv(&pay, 0);
	     rb_rec(&raw, PS_REC_SAMPLE, &pay));
	CASE(PS_EINVAL, "NUL byte",
	     rb_uv(&pay, 3); rb_bytes(&pay, "a\0b", 3); rb_rec(&raw, PS_REC_STRING, &pay));
	CASE(PS_EINVAL, "string of 70000 bytes",
	     rb_uv(&pay, 70000); rb_rec(&raw, PS_REC_STRING, &pay));
	CASE(PS_EINVAL, "string of 20 bytes runs past",
	     rb_uv(&pay, 20); rb_str(&pay, "short"); rb_rec(&raw, PS_REC_STRING, &pay));
	CASE(PS_EINVAL, "command line of 5000",
	     rb_uv(&pay, 1); rb_uv(&pay, 1); rb_uv(&pay, 5000); rb_rec(&raw, PS_REC_PROCESS, &pay));
	CASE(PS_EINVAL, "exceeds the 1048576-byte limit",
	     rb_uv(&raw, 50); rb_uv(&raw, (1 << 20) + 1));
	CASE(PS_EINVAL, "record of type 0", rb_rec(&raw, 0, &pay));
	CASE(PS_EINVAL, "a second header", rb_rec(&raw, PS_REC_HEADER, &pay));
	CASE(PS_EINVAL, "bad varint in a record header",
	     rb_bytes(&raw, "\x87\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11));
	/* a length beyond the data in a complete frame is corruption, not a cut */
	CASE(PS_EINVAL, "runs past the end of the last zstd frame",
	     rb_uv(&pay, 1); rb_uv(&pay, 1); rb_uv(&pay, 1); rb_uv(&pay, 0);
	     rb_rec_len(&raw, PS_REC_SAMPLE, &pay, 100); pay.n = 0);
	CASE(PS_EINVAL, "different number of samples", rb_sample(&raw, 1, 1, 1); rb_end(&raw, 2));
	CASE(PS_EINVAL, "data after the end record", rb_end(&raw, 0); rb_sample(&raw, 1, 1, 1));
	/* a stack one frame too deep */
	CASE(PS_EINVAL, "deeper than 8192",
	     for (uint32_t d = 1; d <= PS_STREAM_MAX_DEPTH; d++) {
		     rb_uv(&pay, d); rb_uv(&pay, 1); rb_rec(&raw, PS_REC_STACK, &pay);
	     });
	/* more string bytes than the budget: 1100 strings of 64000 bytes */
	big = malloc(64001);
	memset(big, 'x', 64000);
	big[64000] = 0;
	CASE(PS_EINVAL, "strings exceed",
	     for (int i = 0; i < 1100; i++) {
		     big[0] = (char)('a' + i % 26); rb_str(&pay, big); rb_rec(&raw, PS_REC_STRING, &pay);
	     });
	free(big);
	/* no END: the cleanly ended frame is still a truncated stream */
	CASE(PS_STREAM_TRUNCATED, "no end record", rb_sample(&raw, 1, 1, 1));
#undef CASE
	free(raw.p);
	free(pay.p);
}

/* A big zstd window is refused rather than allocated. */
static void test_huge_window_refused(void **state)
{
	struct rb raw = { 0 }, z = { 0 };
	struct ps_errmsg e = { 0 };
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_inBuffer in;
	ZSTD_outBuffer o;
	struct ps_sr *r;

	(void)state;
	rb_start(&raw, 1, 0, 0);
	z.cap = ZSTD_compressBound(raw.n) + 64;
	z.p = malloc(z.cap);
	in = (ZSTD_inBuffer){ raw.p, raw.n, 0 };
	o = (ZSTD_outBuffer){ z.p, z.cap, 0 };
	/* streamed with no size known, the frame declares the whole window */
	ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 27);
	assert_false(ZSTD_isError(ZSTD_compressStream2(c, &o, &in, ZSTD_e_continue)));
	assert_int_equal(ZSTD_compressStream2(c, &o, &in, ZSTD_e_end), 0);
	ZSTD_freeCCtx(c);
	assert_int_equal(ps_sr_open_mem(z.p, o.pos, &r, &e), PS_EINVAL);
	assert_non_null(strstr(e.msg, "corrupt stream: zstd"));
	free(raw.p);
	free(z.p);
}

/* ---- fold: the collapsed stacks of a stream (format/pyspy-stream.md) ----- */

struct folded {
	char *text;
	uint64_t count;
};

static int folded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded *)a)->text, ((const struct folded *)b)->text);
}

/* One frame as "name (file:line)", ';' written as ',' and control bytes
 * as '?' so that a line always splits back into the same frames. */
static size_t frame_text(const struct ps_stream_frame *f, char *out, size_t cap)
{
	const char *name = f->qualname ? f->qualname : f->function;
	size_t n;

	if (f->file && f->line)
		n = (size_t)snprintf(out, cap, "%s (%s:%u)", name, f->file, f->line);
	else if (f->file)
		n = (size_t)snprintf(out, cap, "%s (%s)", name, f->file);
	else
		n = (size_t)snprintf(out, cap, "%s", name);
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		if (out[i] == ';')
			out[i] = ',';
		else if ((unsigned char)out[i] < 0x20 || out[i] == 0x7F)
			out[i] = '?';
	}
	return n;
}

static char *stack_text(struct ps_sr *r, uint32_t id)
{
	static const struct ps_stream_frame *frames[PS_STREAM_MAX_DEPTH];
	size_t cap = 4096, len = 0;
	char *s = malloc(cap), one[4096];
	uint32_t depth;

	assert_non_null(s);
	assert_int_equal(ps_sr_stack(r, id, frames, PS_STREAM_MAX_DEPTH, &depth), 0);
	for (uint32_t i = 0; i < depth; i++) {
		size_t n = frame_text(frames[i], one, sizeof(one));
		if (len + n + 2 > cap) {
			cap = (len + n + 2) * 2;
			s = realloc(s, cap);
			assert_non_null(s);
		}
		if (i)
			s[len++] = ';';
		memcpy(s + len, one, n);
		len += n;
	}
	s[len] = 0;
	return s;
}

/* Fold a stream into text; the reader's final status in *status. */
static void fold(const void *buf, size_t len, struct sink *text, int *status)
{
	struct ps_sr *r;
	struct ps_sr_record rec;
	uint64_t *count = NULL;
	size_t ncount = 0, nf = 0;
	struct folded *f;
	char line[64];
	int rc;

	assert_int_equal(ps_sr_open_mem(buf, len, &r, NULL), 0);
	/* count by stack id, then resolve each stack once */
	ps_sr_resolve_frames(r, 0);
	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK) {
		const struct ps_sr_sample *s = &rec.sample;
		if (rec.type != PS_REC_SAMPLE || (s->flags & PS_SAMPLE_IDLE) || !s->depth)
			continue;
		if (s->stack_id >= ncount) {
			size_t n = (s->stack_id + 1) * 2;
			count = realloc(count, n * sizeof(*count));
			assert_non_null(count);
			memset(count + ncount, 0, (n - ncount) * sizeof(*count));
			ncount = n;
		}
		count[s->stack_id]++;
	}
	*status = rc;
	f = calloc(ncount + 1, sizeof(*f));
	assert_non_null(f);
	for (uint32_t id = 1; id < ncount; id++)
		if (count[id])
			f[nf++] = (struct folded){ stack_text(r, id), count[id] };
	qsort(f, nf, sizeof(*f), folded_cmp);
	for (size_t i = 0; i < nf; i++) {
		/* different frames may print the same: one line each */
		if (i + 1 < nf && !strcmp(f[i].text, f[i + 1].text)) {
			f[i + 1].count += f[i].count;
			free(f[i].text);
			continue;
		}
		sink_write(text, f[i].text, strlen(f[i].text), NULL);
		snprintf(line, sizeof(line), " %llu\n", (unsigned long long)f[i].count);
		sink_write(text, line, strlen(line), NULL);
		free(f[i].text);
	}
	free(f);
	free(count);
	ps_sr_free(r);
}

/* ---- conformance vectors ---------------------------------------------------- */

static uint32_t must_frame(struct ps_sw *w, const char *fn, const char *qn, const char *file,
			   uint32_t line, uint32_t kind)
{
	struct ps_stream_frame f = { fn, qn, file, line, kind };
	uint32_t id;

	assert_int_equal(ps_sw_frame(w, &f, &id, NULL), 0);
	return id;
}

static uint32_t must_stack(struct ps_sw *w, const uint32_t *frames, size_t n)
{
	uint32_t id;

	assert_int_equal(ps_sw_stack_path(w, frames, n, &id, NULL), 0);
	return id;
}

/* One thread, a few stacks sharing prefixes, jittered times, one idle. */
static void gen_simple(struct sink *out)
{
	struct ps_stream_header h = test_header();
	struct ps_stream_totals tot = { .duration_ns = 300 * MS };
	uint32_t f[5], s[3], th;
	struct ps_sw *w;

	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_process(w, 4242, 1, h.argc, h.argv, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 4242, 4242, "MainThread", &th, NULL), 0);
	f[0] = must_frame(w, "<module>", "<module>", "app.py", 50, PS_FRAME_PYTHON);
	f[1] = must_frame(w, "run", "Parser.run", "app.py", 35, PS_FRAME_PYTHON);
	f[2] = must_frame(w, "parse", "Parser.parse", "app.py", 30, PS_FRAME_PYTHON);
	f[3] = must_frame(w, "helper", NULL, "util.py", 7, PS_FRAME_PYTHON);
	s[0] = must_stack(w, f, 3);
	s[2] = must_stack(w, f, 4);
	f[2] = must_frame(w, "emit", "Parser.emit", "app.py", 22, PS_FRAME_PYTHON);
	s[1] = must_stack(w, f, 3);
	for (uint64_t i = 0; i < 30; i++) {
		uint32_t k = i % 5 < 3 ? 0 : i % 5 == 3 ? 1 : 2;
		unsigned flags = i == 7 ? PS_SAMPLE_IDLE : PS_SAMPLE_GIL;
		assert_int_equal(ps_sw_sample(w, ORIGIN + i * 10 * MS + (i * 37 % 50) * 1000, th,
					      s[k], flags, NULL), 0);
	}
	assert_int_equal(ps_sw_close(w, &tot, NULL), 0);
}

/* Three threads with idle and GIL flags, native and marker frames, a
 * renamed thread, events, an unknown record type, two zstd frames. */
static void gen_threads(struct sink *out)
{
	struct ps_stream_header h = test_header();
	struct ps_stream_totals tot = { .errors = 1, .late = 2, .duration_ns = 200 * MS };
	struct ps_stream_event late = { .kind = PS_STREAM_EV_LATE, .time_ns = ORIGIN + 55 * MS,
					.count = 2, .value = 1500 };
	struct ps_stream_event err = { .kind = PS_STREAM_EV_ERRORS, .time_ns = ORIGIN + 120 * MS,
				       .pid = 4242, .count = 1, .value = PS_EREAD,
				       .text = "remote read failed" };
	uint32_t f[8], s[4], th[3], fr[4];
	struct ps_sw *w;

	h.python_version = "3.12.1";
	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 4242, 4242, "MainThread", &th[0], NULL), 0);
	assert_int_equal(ps_sw_thread(w, 4242, 4250, "worker-1", &th[1], NULL), 0);
	assert_int_equal(ps_sw_thread(w, 4242, 4251, "io", &th[2], NULL), 0);
	f[0] = must_frame(w, "<module>", "<module>", "server.py", 90, PS_FRAME_PYTHON);
	f[1] = must_frame(w, "join", "Thread.join", "/usr/lib/python3.12/threading.py", 1147, PS_FRAME_PYTHON);
	f[2] = must_frame(w, "_bootstrap", "Thread._bootstrap", "/usr/lib/python3.12/threading.py", 1030, PS_FRAME_PYTHON);
	f[3] = must_frame(w, "work", "Worker.work", "server.py", 40, PS_FRAME_PYTHON);
	f[4] = must_frame(w, "crunch", "Worker.crunch;fast", "server.py", 44, PS_FRAME_PYTHON);
	f[5] = must_frame(w, "serve", "Server.serve", "server.py", 60, PS_FRAME_PYTHON);
	f[6] = must_frame(w, "select", NULL, NULL, 0, PS_FRAME_NATIVE);
	f[7] = must_frame(w, "<gc>", NULL, NULL, 0, PS_FRAME_MARKER);
	fr[0] = f[0], fr[1] = f[1];
	s[0] = must_stack(w, fr, 2);                 /* main: joining */
	fr[0] = f[2], fr[1] = f[3], fr[2] = f[4];
	s[1] = must_stack(w, fr, 3);                 /* worker: crunching */
	fr[2] = f[7];
	s[2] = must_stack(w, fr, 3);                 /* worker: in gc */
	fr[1] = f[5], fr[2] = f[6];
	s[3] = must_stack(w, fr, 3);                 /* io: select */
	for (uint64_t round = 0; round < 20; round++) {
		uint64_t t = ORIGIN + round * 10 * MS + (round % 4) * 100 * 1000;
		if (round == 10) {
			assert_int_equal(ps_sw_raw_record(w, 77, "future", 6, NULL), 0);
			assert_int_equal(ps_sw_end_frame(w, NULL), 0);
			assert_int_equal(ps_sw_thread(w, 4242, 4250, "worker-renamed", &th[1], NULL), 0);
		}
		if (round == 6)
			assert_int_equal(ps_sw_event(w, &late, NULL), 0);
		if (round == 12)
			assert_int_equal(ps_sw_event(w, &err, NULL), 0);
		assert_int_equal(ps_sw_sample(w, t, th[0], s[0], PS_SAMPLE_IDLE, NULL), 0);
		assert_int_equal(ps_sw_sample(w, t, th[1], s[round % 5 == 4 ? 2 : 1],
					      PS_SAMPLE_GIL, NULL), 0);
		assert_int_equal(ps_sw_sample(w, t + 3000, th[2], s[3],
					      round % 3 ? PS_SAMPLE_IDLE : 0, NULL), 0);
	}
	assert_int_equal(ps_sw_close(w, &tot, NULL), 0);
}

/* A parent and a child process that starts and exits meanwhile. */
static void gen_subprocess(struct sink *out)
{
	static const char *const cargv[] = { "python3", "-c", "import worker; worker.main()" };
	struct ps_stream_header h = test_header();
	struct ps_stream_totals tot = { .duration_ns = 150 * MS };
	struct ps_stream_event start = { .kind = PS_STREAM_EV_PROC_START, .time_ns = ORIGIN + 40 * MS,
					 .pid = 4300, .value = 4242 };
	struct ps_stream_event end = { .kind = PS_STREAM_EV_PROC_EXIT, .time_ns = ORIGIN + 125 * MS,
				       .pid = 4300, .value = 3 };
	uint32_t f[3], s[2] = { 0 }, th[2] = { 0 };
	struct ps_sw *w;

	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_process(w, 4242, 1, h.argc, h.argv, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 4242, 4242, "MainThread", &th[0], NULL), 0);
	f[0] = must_frame(w, "<module>", NULL, "app.py", 3, PS_FRAME_PYTHON);
	f[1] = must_frame(w, "wait", "Popen.wait", "subprocess.py", 1264, PS_FRAME_PYTHON);
	s[0] = must_stack(w, f, 2);
	for (uint64_t i = 0; i < 15; i++) {
		uint64_t t = ORIGIN + i * 10 * MS;
		if (i == 4) {
			assert_int_equal(ps_sw_process(w, 4300, 4242, 3, cargv, NULL), 0);
			assert_int_equal(ps_sw_event(w, &start, NULL), 0);
			assert_int_equal(ps_sw_thread(w, 4300, 4300, "MainThread", &th[1], NULL), 0);
			f[0] = must_frame(w, "<string>", NULL, "<string>", 1, PS_FRAME_PYTHON);
			f[1] = must_frame(w, "main", NULL, "worker.py", 12, PS_FRAME_PYTHON);
			f[2] = must_frame(w, "étape", NULL, "worker.py", i, PS_FRAME_PYTHON);
			s[1] = must_stack(w, f, 3);
		}
		assert_int_equal(ps_sw_sample(w, t, th[0], s[0], PS_SAMPLE_IDLE, NULL), 0);
		if (i >= 4 && i < 12)
			assert_int_equal(ps_sw_sample(w, t + 500, th[1], s[1], PS_SAMPLE_GIL, NULL), 0);
		if (i == 12)
			assert_int_equal(ps_sw_event(w, &end, NULL), 0);
	}
	assert_int_equal(ps_sw_close(w, &tot, NULL), 0);
}

/* A writer killed mid-recording: flushed by time at 1 s and 2 s, the file
 * cut just after the second flush. */
static void gen_truncated(struct sink *out)
{
	struct ps_stream_header h = test_header();
	uint32_t f[3], s[2] = { 0 }, th;
	struct ps_sw *w;
	size_t flushed = 0;

	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 4242, 4242, "MainThread", &th, NULL), 0);
	f[0] = must_frame(w, "<module>", "<module>", "loop.py", 9, PS_FRAME_PYTHON);
	f[1] = must_frame(w, "tick", "Loop.tick", "loop.py", 5, PS_FRAME_PYTHON);
	s[0] = must_stack(w, f, 2);
	for (uint64_t i = 0; i < 250; i++) {
		size_t before = out->len;
		if (i == 150) {
			f[1] = must_frame(w, "tock", "Loop.tock", "loop.py", 6, PS_FRAME_PYTHON);
			s[1] = must_stack(w, f, 2);
		}
		assert_int_equal(ps_sw_sample(w, ORIGIN + i * 10 * MS, th, s[i < 150 ? 0 : i % 2],
					      PS_SAMPLE_GIL, NULL), 0);
		if (out->len != before)
			flushed = out->len;
	}
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_true(flushed > 0 && flushed + 3 < out->len);
	/* inside the header of the block that follows: the samples after
	 * 2 s went out only with the END (a killed writer loses them), and
	 * none of them may be read, whatever kind of block zstd chose */
	out->len = flushed + 2;
}

/* Two segments (1.1): the second HEADER empties the tables; the same
 * thread, frames and stacks are defined again with ids from 1, and a new
 * frame is added. Folding merges equal texts across segments. */
static void gen_segments(struct sink *out)
{
	struct ps_stream_header h = test_header();
	struct ps_sw_opts o = { .segment_entries = 4 };
	uint32_t f[2], s, th;
	struct ps_sw *w;
	int started;

	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, &o, &w, NULL), 0);
	for (int seg = 0; seg < 2; seg++) {
		assert_int_equal(ps_sw_thread(w, 4242, 4242, "MainThread", &th, NULL), 0);
		assert_int_equal(th, 1);
		f[0] = must_frame(w, "<module>", "<module>", "app.py", 3, PS_FRAME_PYTHON);
		f[1] = must_frame(w, "work", "work", "app.py", 7, PS_FRAME_PYTHON);
		s = must_stack(w, f, 2);
		for (int i = 0; i < 3; i++)
			assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)(seg * 3 + i) * 10 * MS,
						      th, s, PS_SAMPLE_GIL, NULL), 0);
		if (seg == 1) {
			f[1] = must_frame(w, "other", "other", "app.py", 9, PS_FRAME_PYTHON);
			s = must_stack(w, f, 2);
			assert_int_equal(ps_sw_sample(w, ORIGIN + 60 * MS, th, s, 0, NULL), 0);
		}
		if (seg == 0) {
			assert_int_equal(ps_sw_segment(w, &started, NULL), 0);
			assert_int_equal(started, 1);
		}
	}
	assert_int_equal(ps_sw_epoch(w), 1);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
}

/* SAMPLES records (2.0): threads in rounds, one busy in 10 stacks (more
 * than the 8 a thread's recent list holds) with GIL flags that come and
 * go, one idle, one that skips rounds, one that appears late; missed
 * ticks (dt 20 and 30 ms, taking turns with 10), an empty stack, and the
 * model carried over a flush and an event into later records. */
static void gen_samples(struct sink *out)
{
	struct ps_stream_header h = test_header();
	struct ps_stream_event late = { .kind = PS_STREAM_EV_LATE, .count = 2, .value = 20000 };
	uint32_t f[3], s[12], th[4];
	uint64_t t = ORIGIN, seed = 3;
	struct ps_sw *w;

	assert_int_equal(ps_sw_open_cb(sink_write, out, &h, NULL, &w, NULL), 0);
	f[0] = must_frame(w, "<module>", "<module>", "srv.py", 80, PS_FRAME_PYTHON);
	for (uint32_t k = 0; k < 10; k++) {
		f[1] = must_frame(w, "handle", "Server.handle", "srv.py", 40 + k, PS_FRAME_PYTHON);
		s[k] = must_stack(w, f, 2);
	}
	f[1] = must_frame(w, "wait", "Queue.wait", "queue.py", 12, PS_FRAME_PYTHON);
	s[10] = must_stack(w, f, 2);
	f[1] = must_frame(w, "poll", NULL, "io.py", 3, PS_FRAME_PYTHON);
	s[11] = must_stack(w, f, 2);
	for (uint32_t k = 0; k < 3; k++)
		assert_int_equal(ps_sw_thread(w, 4242, 4242 + k, k ? "worker" : "MainThread",
					      &th[k], NULL), 0);
	for (uint32_t i = 0; i < 120; i++) {
		uint64_t r = rnd(&seed);
		t += (i % 17 == 5 ? 3 : i % 7 == 3 ? 2 : 1) * 10 * MS;
		if (i == 60) {
			assert_int_equal(ps_sw_thread(w, 4242, 4250, "late", &th[3], NULL), 0);
			assert_int_equal(ps_sw_flush(w, t, NULL), 0);
		}
		if (i == 90) {
			late.time_ns = t;
			assert_int_equal(ps_sw_event(w, &late, NULL), 0);
		}
		assert_int_equal(ps_sw_sample(w, t, th[0], i % 13 == 0 ? 0 : s[r % 10],
					      r & 0x100 ? PS_SAMPLE_GIL : 0, NULL), 0);
		assert_int_equal(ps_sw_sample(w, t, th[1], s[10], PS_SAMPLE_IDLE, NULL), 0);
		if (i % 5 != 2)
			assert_int_equal(ps_sw_sample(w, t, th[2], s[11], i % 3 ? 0 : PS_SAMPLE_GIL,
						      NULL), 0);
		if (i >= 60)
			assert_int_equal(ps_sw_sample(w, t, th[3], s[r % 3], PS_SAMPLE_GIL, NULL), 0);
	}
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
}

static void gen_future(struct sink *out)
{
	struct rb raw = { 0 }, z = { 0 };

	build_future_minor(&raw);
	/* a skippable frame first, and the records in two frames */
	rb_bytes(&z, "\x5E\x2A\x4D\x18\x04\x00\x00\x00note", 12);
	zc_append(&z, raw.p, raw.n / 2);
	zc_append(&z, raw.p + raw.n / 2, raw.n - raw.n / 2);
	sink_write(out, z.p, z.n, NULL);
	free(raw.p);
	free(z.p);
}

static const struct vector {
	const char *name;
	void (*gen)(struct sink *out);
	int status;             /* the reader's final status */
} vectors[] = {
	{ "simple", gen_simple, PS_STREAM_EOF },
	{ "threads", gen_threads, PS_STREAM_EOF },
	{ "subprocess", gen_subprocess, PS_STREAM_EOF },
	{ "future-minor", gen_future, PS_STREAM_EOF },
	{ "truncated", gen_truncated, PS_STREAM_TRUNCATED },
	{ "segments", gen_segments, PS_STREAM_EOF },
	{ "samples", gen_samples, PS_STREAM_EOF },
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

/* Streams of earlier versions, kept as they were written (1.1, before
 * SAMPLES records): read and folded, never regenerated. */
static const struct vector frozen[] = {
	{ "v1-simple", NULL, PS_STREAM_EOF },
	{ "v1-threads", NULL, PS_STREAM_EOF },
	{ "v1-subprocess", NULL, PS_STREAM_EOF },
	{ "v1-truncated", NULL, PS_STREAM_TRUNCATED },
	{ "v1-segments", NULL, PS_STREAM_EOF },
};
#define NFROZEN (sizeof(frozen) / sizeof(frozen[0]))

static const char *vectors_dir(void)
{
	const char *d = getenv("PYSPY_VECTORS");
	return d ? d : "format/vectors";
}

static int load(const char *dir, const char *name, const char *ext, struct sink *out)
{
	char path[512], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sink_write(out, buf, (size_t)n, NULL);
	close(fd);
	return n < 0 ? -1 : 0;
}

static void test_vectors_fold(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECTORS + NFROZEN; i++) {
		const struct vector *v = i < NVECTORS ? &vectors[i] : &frozen[i - NVECTORS];
		struct sink pss = { 0 }, want = { 0 }, got = { 0 };
		int status;

		if (load(vectors_dir(), v->name, "pss", &pss) ||
		    load(vectors_dir(), v->name, "fold", &want))
			fail_msg("cannot read %s/%s.pss or .fold (run from the repository root "
				 "or set PYSPY_VECTORS)", vectors_dir(), v->name);
		fold(pss.p, pss.len, &got, &status);
		assert_int_equal(status, v->status);
		if (got.len != want.len || memcmp(got.p, want.p, got.len))
			fail_msg("%s: folding differs from %s.fold", v->name, v->name);
		free(pss.p);
		free(want.p);
		free(got.p);
	}
}

static void test_vectors_regenerate(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECTORS; i++) {
		struct sink file = { 0 }, gen = { 0 };
		struct lines a = { 0 }, b = { 0 };

		if (load(vectors_dir(), vectors[i].name, "pss", &file))
			fail_msg("cannot read %s/%s.pss", vectors_dir(), vectors[i].name);
		vectors[i].gen(&gen);
		if (gen.len != file.len || memcmp(gen.p, file.p, gen.len)) {
			if (ZSTD_versionNumber() == VECTORS_ZSTD_VERSION)
				fail_msg("%s.pss: regenerating gives other bytes", vectors[i].name);
			/* another zstd compresses differently: compare content */
			assert_int_equal(read_all(gen.p, gen.len, &a, NULL), vectors[i].status);
			assert_int_equal(read_all(file.p, file.len, &b, NULL), vectors[i].status);
			assert_same_lines(&a, &b);
		}
		lines_free(&a);
		lines_free(&b);
		free(file.p);
		free(gen.p);
	}
}

static int write_file(const char *dir, const char *name, const char *ext, const struct sink *s)
{
	char path[512];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	rc = fwrite(s->p, 1, s->len, f) == s->len ? 0 : -1;
	return fclose(f) || rc ? -1 : 0;
}

static int gen_vectors(const char *dir)
{
	for (size_t i = 0; i < NVECTORS; i++) {
		struct sink pss = { 0 }, text = { 0 };
		int status;

		vectors[i].gen(&pss);
		fold(pss.p, pss.len, &text, &status);
		if (status != vectors[i].status || write_file(dir, vectors[i].name, "pss", &pss) ||
		    write_file(dir, vectors[i].name, "fold", &text)) {
			fprintf(stderr, "test_stream: cannot write vector '%s' into '%s'\n",
				vectors[i].name, dir);
			return 1;
		}
		free(pss.p);
		free(text.p);
	}
	return 0;
}


/* N identical ticks (the same threads in the same stacks at a steady
 * rate) compress to a few bytes per flush: a structural bound, so that a
 * change of the record layout or of the writer's zstd settings that
 * costs bytes on steady workloads fails here. */
static double identical_ticks(uint32_t nthreads, uint64_t period_us, uint32_t n)
{
	struct ps_stream_header h = test_header();
	struct sink out = { 0 };
	uint32_t f[3], s, th[8];
	struct ps_sw *w;
	size_t base;
	double r;

	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	f[0] = must_frame(w, "<module>", "<module>", "loop.py", 9, PS_FRAME_PYTHON);
	f[1] = must_frame(w, "run", "run", "loop.py", 5, PS_FRAME_PYTHON);
	f[2] = must_frame(w, "step", "step", "loop.py", 2, PS_FRAME_PYTHON);
	s = must_stack(w, f, 3);
	for (uint32_t k = 0; k < nthreads; k++)
		assert_int_equal(ps_sw_thread(w, 4242, 4242 + k, NULL, &th[k], NULL), 0);
	base = out.len;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < nthreads; k++)
			assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * period_us * 1000, th[k],
						      s, PS_SAMPLE_GIL, NULL), 0);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	r = (double)(out.len - base) / ((double)n * nthreads);
	free(out.p);
	return r;
}

static void test_identical_ticks_cost_almost_nothing(void **state)
{
	double a, b, c;

	(void)state;
	a = identical_ticks(1, 10000, 30000);   /* 100 Hz, 5 minutes */
	b = identical_ticks(1, 1000, 100000);   /* 1 kHz */
	c = identical_ticks(8, 1000, 20000);    /* 8 threads at 1 kHz */
	print_message("identical ticks, bytes/sample: 100 Hz %.4f, 1 kHz %.4f, 8 threads at 1 kHz %.4f\n",
		      a, b, c);
	/* about a flush's framing per second */
	assert_true(a < 0.15);
	assert_true(b < 0.02);
	assert_true(c < 0.005);
}

/* ---- segments (1.1) --------------------------------------------------------- */

/* A second HEADER in a 1.1 stream empties the tables: the segment's ids
 * start at 1 again and the reader numbers them after the earlier ones. */
static void test_segment_ids_go_on(void **state)
{
	struct rb raw = { 0 }, pay = { 0 };
	struct lines l = { 0 };

	(void)state;
	rb_start(&raw, 1, 1, 0);
	rb_basics(&raw);
	rb_sample(&raw, 1, 1, 1);
	rb_header(&raw, 1, 1, 0);
	rb_basics(&raw);
	rb_sample(&raw, 1, 1, 1);
	rb_end(&raw, 2);
	assert_int_equal(read_raw(&raw, &l, NULL), PS_STREAM_EOF);
	assert_int_equal(l.n, 11);
	assert_string_equal(l.v[4], "sample t=5000001000 thread=1(99/99) stack=1 depth=1 flags=0 leaf=main proc=0");
	assert_string_equal(l.v[5], "string 2 main");
	assert_string_equal(l.v[6], "frame 2 kind=0 main qn=- file=main line=3");
	assert_string_equal(l.v[7], "stack 2 parent=0 frame=2");
	assert_string_equal(l.v[9], "sample t=5000002000 thread=2(99/99) stack=2 depth=1 flags=0 leaf=main proc=0");
	lines_free(&l);

	/* ids of the segment before are gone */
	raw.n = 0;
	rb_start(&raw, 1, 1, 0);
	rb_basics(&raw);
	rb_header(&raw, 1, 1, 0);
	rb_basics(&raw);
	rb_sample(&raw, 1, 1, 2);
	expect_raw_error(&raw, PS_EINVAL, "undefined stack 2");
	raw.n = 0;
	rb_start(&raw, 1, 1, 0);
	rb_header(&raw, 1, 1, 0);
	rb_uv(&pay, 0);
	rb_uv(&pay, 1);
	rb_rec(&raw, PS_REC_STACK, &pay);
	expect_raw_error(&raw, PS_EINVAL, "undefined frame 1");
	/* a later header still names its version first, and keeps it */
	raw.n = 0;
	rb_start(&raw, 1, 1, 0);
	rb_header(&raw, 3, 0, 0);
	expect_raw_error(&raw, PS_EUNSUPPORTED, "version 3.0");
	raw.n = 0;
	rb_start(&raw, 1, 1, 0);
	rb_header(&raw, 2, 0, 0);
	expect_raw_error(&raw, PS_EINVAL, "a header of major version 2 in another's stream");
	/* 1.0 has one segment (test_corrupt_records: "a second header") */
	raw.n = 0;
	rb_start(&raw, 1, 0, 0);
	rb_header(&raw, 1, 0, 0);
	expect_raw_error(&raw, PS_EINVAL, "a second header");
	free(raw.p);
	free(pay.p);
}

/* The writer's budget: past it, ps_sw_segment empties the tables (ids
 * restart, memory goes back), never before, and never without a budget. */
static void test_writer_segments(void **state)
{
	struct ps_stream_header h = test_header();
	struct ps_sw_opts o = { .segment_entries = 3 };
	struct sink out = { 0 };
	struct lines l = { 0 };
	struct ps_sw *w;
	uint32_t id, th;
	int started;

	(void)state;
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, &o, &w, NULL), 0);
	assert_int_equal(ps_sw_string(w, "a", &id, NULL), 0);
	assert_int_equal(ps_sw_string(w, "b", &id, NULL), 0);
	assert_int_equal(ps_sw_segment(w, &started, NULL), 0);
	assert_int_equal(started, 0);
	assert_int_equal(ps_sw_string(w, "c", &id, NULL), 0);
	assert_int_equal(id, 3);
	assert_int_equal(ps_sw_segment(w, &started, NULL), 0);
	assert_int_equal(started, 1);
	assert_int_equal(ps_sw_epoch(w), 1);
	assert_int_equal(ps_sw_string(w, "c", &id, NULL), 0);
	assert_int_equal(id, 1);
	/* an id of the segment before is refused */
	assert_int_equal(ps_sw_frame_ids(w, 0, 2, 0, 0, 1, &id, NULL), PS_EUSAGE);
	assert_int_equal(ps_sw_thread(w, 1, 2, "c", &th, NULL), 0);
	assert_int_equal(th, 1);
	assert_int_equal(ps_sw_sample(w, ORIGIN + MS, th, 0, 0, NULL), 0);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_int_equal(read_all(out.p, out.len, &l, NULL), PS_STREAM_EOF);
	assert_int_equal(l.n, 7);
	assert_string_equal(l.v[3], "string 4 c");
	assert_string_equal(l.v[4], "thread 1 pid=1 tid=2 name=c");
	lines_free(&l);
	free(out.p);

	/* no budget: one segment whatever the tables hold */
	out = (struct sink){ 0 };
	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		assert_int_equal(ps_sw_string(w, name, &id, NULL), 0);
	}
	assert_int_equal(ps_sw_segment(w, &started, NULL), 0);
	assert_int_equal(started, 0);
	assert_int_equal(ps_sw_epoch(w), 0);
	ps_sw_free(w);
	free(out.p);
}

/* ---- compactness ------------------------------------------------------------ */

static double bytes_per_sample(const struct synth *s)
{
	struct ps_stream_header h = test_header();
	struct sink out = { 0 };
	struct ps_sw *w;
	size_t base;
	double r;

	assert_int_equal(ps_sw_open_cb(sink_write, &out, &h, NULL, &w, NULL), 0);
	base = out.len;    /* the header is not a per-sample cost */
	synth_write(w, s, NULL);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	r = (double)(out.len - base) / s->nsamples;
	free(out.p);
	return r;
}

static void test_bytes_per_sample(void **state)
{
	struct synth rr = { .nthreads = 1, .nstacks = 5, .depth = 30, .nsamples = 100000, .seed = 1 };
	struct synth jit = rr, rnd5 = rr, mt = rr, mtj;
	double a, b, c, d, f;

	(void)state;
	jit.jitter_us = 200;
	rnd5.random_stacks = 1;
	/* a server: one busy thread, seven waiting */
	mt.nthreads = 8;
	mt.nstacks = 12;
	mt.random_stacks = 1;
	mt.idle_others = 1;
	mtj = mt;
	mtj.jitter_us = 200;
	a = bytes_per_sample(&rr);
	b = bytes_per_sample(&jit);
	c = bytes_per_sample(&rnd5);
	d = bytes_per_sample(&mt);
	f = bytes_per_sample(&mtj);
	print_message("bytes/sample, 100k samples of 30 frames, 10 ms apart, auto-flush 1 s:\n"
		      "  1 thread, 5 stacks in turn: %.3f; with 0-200 us jitter: %.3f;\n"
		      "  1 thread, 5 stacks at random: %.3f;\n"
		      "  8 threads (1 busy at random, 7 idle): %.3f; with jitter: %.3f\n",
		      a, b, c, d, f);
	assert_true(a <= 0.25);
	assert_true(d <= 0.25);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_round_trip),
		cmocka_unit_test(test_varint_rejects_bad),
		cmocka_unit_test(test_zigzag),
		cmocka_unit_test(test_round_trip_all_fields),
		cmocka_unit_test(test_interning),
		cmocka_unit_test(test_writer_usage_errors),
		cmocka_unit_test(test_writer_io_error_is_sticky),
		cmocka_unit_test(test_many_samples_memory_and_file),
		cmocka_unit_test(test_pipe_reader_sees_flushed_data_live),
		cmocka_unit_test(test_every_prefix_small),
		cmocka_unit_test(test_prefixes_large_with_flushes),
		cmocka_unit_test(test_killed_writer_keeps_flushed_records),
		cmocka_unit_test(test_follow_growing_file),
		cmocka_unit_test(test_auto_flush_by_sample_time),
		cmocka_unit_test(test_random_byte_flips),
		cmocka_unit_test(test_random_record_damage),
		cmocka_unit_test(test_not_a_stream),
		cmocka_unit_test(test_newer_major_version_refused),
		cmocka_unit_test(test_future_minor_version_read),
		cmocka_unit_test(test_writer_unknown_record_skipped),
		cmocka_unit_test(test_several_zstd_frames),
		cmocka_unit_test(test_corrupt_records),
		cmocka_unit_test(test_huge_window_refused),
		cmocka_unit_test(test_vectors_fold),
		cmocka_unit_test(test_vectors_regenerate),
		cmocka_unit_test(test_bytes_per_sample),
		cmocka_unit_test(test_identical_ticks_cost_almost_nothing),
		cmocka_unit_test(test_segment_ids_go_on),
		cmocka_unit_test(test_writer_segments),
	};

	if (argc == 3 && !strcmp(argv[1], "--gen-vectors"))
		return gen_vectors(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
