/* ps_record: what the sampler's stream sink writes, measured in records
 * and bytes (no timing, no target: a made-up process and snapshots). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps_code.h"
#include "ps_record.h"
#include "ps_stream.h"

#define MS 1000000ull
#define T0 (9 * 1000 * MS)

static char *fake_argv[] = { "python3", "app.py", NULL };

static struct ps_proc fake_proc(void)
{
	struct ps_proc p;
	memset(&p, 0, sizeof(p));
	p.pid = getpid();
	p.argv = fake_argv;
	p.argc = 2;
	strcpy(p.version, "3.12.1");
	return p;
}

struct counts {
	uint64_t events, late, late_count, samples;
	int64_t worst;
};

static void read_back(int fd, struct counts *c)
{
	struct ps_sr *r;
	struct ps_sr_record rec;
	int rc;
	memset(c, 0, sizeof(*c));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(ps_sr_open_fd(fd, &r, NULL), 0);
	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK) {
		if (rec.type == PS_REC_EVENT) {
			c->events++;
			if (rec.event.kind == PS_STREAM_EV_LATE) {
				c->late++;
				c->late_count += rec.event.count;
				if (rec.event.value > c->worst)
					c->worst = rec.event.value;
			}
		}
		c->samples += rec.type == PS_REC_SAMPLE;
	}
	assert_int_equal(rc, PS_STREAM_EOF);
	ps_sr_free(r);
}

/* A sampler that cannot keep up is late at every tick: its LATE counts
 * are summed into at most one event a second (an event per tick cost ten
 * times the samples themselves), and none is lost, at the end either. */
static void test_late_events_summed_once_a_second(void **state)
{
	(void)state;
	int fd = memfd_create("test_record", 0);
	struct ps_record r;
	struct ps_record_opts o = { .rate_hz = 1000, .sampler = "test_record" };
	struct ps_proc p = fake_proc();
	struct ps_snapshot snap = { 0 };
	struct ps_sampler_stats st = { 0 };
	struct ps_errmsg e = { 0 };
	struct counts c;
	assert_true(fd >= 0);
	ps_record_init(&r, fd, &o);
	struct ps_sample_sink sink = ps_record_sink(&r);
	assert_int_equal(sink.start(sink.ctx, &p, T0), 0);
	/* 10.5 s of ticks at 1 kHz, each late by 1-3 deadlines */
	for (uint64_t i = 0; i < 10500; i++) {
		uint64_t t = T0 + i * MS;
		assert_int_equal(sink.event(sink.ctx, &p, t, PS_EVENT_LATE, 1 + i % 3,
					    (int64_t)(1000 + i)), 0);
		assert_int_equal(sink.sample(sink.ctx, &p, t, &snap), 0);
	}
	assert_int_equal(ps_record_finish(&r, &st, &e), 0);
	read_back(fd, &c);
	assert_in_range(c.late, 10, 12);
	assert_int_equal(c.late_count, 10500 / 3 * 6);
	assert_int_equal(c.worst, (1000 + 10499) / 1000);
	close(fd);
}

/* The stacks a thread walks: a random walk in depth (past the memo's 256
 * frames at times), lines changing at the leaf and sometimes deeper, an
 * occasional native frame, code entries shared between threads, and one
 * entry replaced in place by another code object (same address, new
 * serial, other name): every sample read back must be the stack given,
 * whatever the writer's memo of each thread's last stack reused. 300
 * threads share 256 memo slots. */
#define NTHREADS 300
#define MAXD 300

struct walk {
	int depth, code[MAXD], line[MAXD], native_at;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void step(struct walk *w, uint64_t *seed, int maxd)
{
	int d = w->depth + (int)(rnd(seed) % 7) - 3;
	if (rnd(seed) % 50 == 0)
		d = (int)(rnd(seed) % (uint64_t)maxd);
	d = d < 1 ? 1 : d > maxd ? maxd : d;
	for (int i = w->depth; i < d; i++) {
		w->code[i] = (int)(rnd(seed) % 4);
		w->line[i] = 1 + (int)(rnd(seed) % 3);
	}
	w->depth = d;
	w->line[d - 1] = 1 + (int)(rnd(seed) % 5);
	if (rnd(seed) % 10 == 0) {
		int at = (int)(rnd(seed) % (uint64_t)d);
		w->line[at] = 1 + (int)(rnd(seed) % 5);
	}
	w->native_at = rnd(seed) % 20 == 0 ? (int)(rnd(seed) % (uint64_t)d) : -1;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

/* "name:line;" root first, native frames as "symbol;" */
static void walk_text(const struct walk *w, char names[4][8], char *out)
{
	out[0] = 0;
	for (int i = 0; i < w->depth; i++) {
		if (i == w->native_at)
			strcat(out, "native_fn;");
		sprintf(out + strlen(out), "%s:%d;", names[w->code[i]], w->line[i]);
	}
}

static void test_memo_of_last_stacks_gives_the_stacks_sampled(void **state)
{
	(void)state;
	static struct walk walks[NTHREADS];
	static uint64_t want[60][NTHREADS];
	static char text[MAXD * 16];
	char names[4][8] = { "f0", "f1", "f2", "f3" };
	struct ps_code codes[4];
	struct ps_frame frames[MAXD + 1];
	struct ps_thread th;
	struct ps_snapshot snap = { .threads = &th, .n = 1 };
	struct ps_proc p = fake_proc();
	struct ps_record r;
	struct ps_record_opts o = { .rate_hz = 100, .sampler = "test_record" };
	struct ps_sampler_stats st = { 0 };
	struct ps_errmsg e = { 0 };
	uint64_t seed = 88172645463325252ull, checked = 0;
	int fd = memfd_create("test_record", 0);
	const int ticks = 60;
	assert_true(fd >= 0);
	memset(codes, 0, sizeof(codes));
	for (int c = 0; c < 4; c++) {
		codes[c].name = names[c];
		codes[c].file = "app.py";
		codes[c].serial = 1000 + (uint64_t)c;
	}
	ps_record_init(&r, fd, &o);
	struct ps_sample_sink sink = ps_record_sink(&r);
	assert_int_equal(sink.start(sink.ctx, &p, T0), 0);
	for (int k = 0; k < ticks; k++) {
		if (k == ticks / 2) {
			/* the entry at codes[2] now holds another code object */
			strcpy(names[2], "g2");
			codes[2].serial = 2000;
			codes[2].ids_for = NULL;
		}
		for (int t = 0; t < NTHREADS; t++) {
			struct walk *w = &walks[t];
			step(w, &seed, t == 0 ? MAXD : 40);
			size_t n = 0;
			/* innermost first */
			for (int i = w->depth; i-- > 0;) {
				frames[n++] = (struct ps_frame){ .code = &codes[w->code[i]],
								 .line = w->line[i] };
				if (i == w->native_at)
					frames[n++] = (struct ps_frame){ .symbol = "native_fn",
									 .object = "lib.so" };
			}
			memset(&th, 0, sizeof(th));
			th.tid = 100 + t;
			th.frames = frames;
			th.nframes = n;
			assert_int_equal(sink.sample(sink.ctx, &p, T0 + (uint64_t)k * 10 * MS, &snap), 0);
			walk_text(w, names, text);
			want[k][t] = hash(text);
		}
	}
	assert_int_equal(ps_record_finish(&r, &st, &e), 0);

	/* every sample, in the order given (ticks, then threads) */
	struct ps_sr *rd;
	struct ps_sr_record rec;
	int rc;
	uint64_t samples = 0;
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(ps_sr_open_fd(fd, &rd, NULL), 0);
	while ((rc = ps_sr_next(rd, &rec, NULL)) == PS_OK) {
		if (rec.type != PS_REC_SAMPLE)
			continue;
		uint64_t k = samples++ / NTHREADS;
		char *got = text;
		got[0] = 0;
		for (uint32_t i = 0; i < rec.sample.depth; i++) {
			const struct ps_stream_frame *f = rec.sample.frames[i];
			if (f->kind == PS_FRAME_NATIVE)
				sprintf(got + strlen(got), "%s;", f->function);
			else
				sprintf(got + strlen(got), "%s:%u;", f->function, f->line);
		}
		int t = (int)rec.sample.thread->tid - 100;
		assert_in_range(t, 0, NTHREADS - 1);
		assert_in_range(k, 0, (uint64_t)ticks - 1);
		if (hash(got) != want[k][t])
			fail_msg("tick %d thread %d: read back %s", (int)k, t, got);
		checked++;
	}
	assert_int_equal(rc, PS_STREAM_EOF);
	assert_int_equal(samples, (uint64_t)ticks * NTHREADS);
	assert_int_equal(checked, (uint64_t)ticks * NTHREADS);
	ps_sr_free(rd);
	close(fd);
}

/* Torn stacks hang under a "<truncated>" marker whose stack id the writer
 * interns once per segment: each reads back under it, across the segments
 * that new names (a string, a frame and a stack each) make the writer
 * start. */
static void test_truncated_stacks_read_back_across_segments(void **state)
{
	(void)state;
	enum { N = 50000 };
	static char names[N][12];
	struct ps_code code;
	struct ps_frame frame;
	struct ps_thread th;
	struct ps_snapshot snap = { .threads = &th, .n = 1 };
	struct ps_proc p = fake_proc();
	struct ps_record r;
	struct ps_record_opts o = { .rate_hz = 1000, .sampler = "test_record" };
	struct ps_sampler_stats st = { 0 };
	struct ps_errmsg e = { 0 };
	int fd = memfd_create("test_record", 0);
	assert_true(fd >= 0);
	ps_record_init(&r, fd, &o);
	struct ps_sample_sink sink = ps_record_sink(&r);
	assert_int_equal(sink.start(sink.ctx, &p, T0), 0);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		memset(&code, 0, sizeof(code));
		code.name = names[i];
		code.file = "app.py";
		code.serial = 1 + (uint64_t)i;
		frame = (struct ps_frame){ .code = &code, .line = 7 };
		memset(&th, 0, sizeof(th));
		th.tid = 100;
		th.frames = &frame;
		th.nframes = 1;
		th.flags = i % 2 ? PS_THREAD_TRUNCATED : 0;
		assert_int_equal(sink.sample(sink.ctx, &p, T0 + (uint64_t)i * MS, &snap), 0);
	}
	assert_int_equal(ps_record_finish(&r, &st, &e), 0);

	struct ps_sr *rd;
	struct ps_sr_record rec;
	struct ps_sr_stats rs;
	char want[16];
	int rc, i = 0;
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(ps_sr_open_fd(fd, &rd, NULL), 0);
	while ((rc = ps_sr_next(rd, &rec, NULL)) == PS_OK) {
		if (rec.type != PS_REC_SAMPLE)
			continue;
		assert_in_range(i, 0, N - 1);
		uint32_t d = rec.sample.depth;
		snprintf(want, sizeof(want), "f%d", i);
		assert_int_equal(d, i % 2 ? 2 : 1);
		if (i % 2) {
			assert_string_equal(rec.sample.frames[0]->function, "<truncated>");
			assert_int_equal(rec.sample.frames[0]->kind, PS_FRAME_MARKER);
		}
		assert_string_equal(rec.sample.frames[d - 1]->function, want);
		i++;
	}
	assert_int_equal(rc, PS_STREAM_EOF);
	assert_int_equal(i, N);
	ps_sr_stats(rd, &rs);
	assert_true(rs.segments >= 1); /* 50,000 names: past 65,536 entries */
	ps_sr_free(rd);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_late_events_summed_once_a_second),
		cmocka_unit_test(test_memo_of_last_stacks_gives_the_stacks_sampled),
		cmocka_unit_test(test_truncated_stacks_read_back_across_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
