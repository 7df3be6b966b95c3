/* ps_fold: roots by process, asked for (--pids) or because the samples
 * come from several processes (--subprocesses recordings). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ps_fold.h"
#include "ps_stream.h"

#include "mem_sink.h"

#define T0 1000000000ull

/* A recording of a parent (pid 42: 3 samples in main) and a child it
 * started (pid 43, declared by a PROCESS record: 2 samples in work). */
static void write_two_processes(struct sink *s)
{
	static const char *const parent[] = { "python3", "app.py" };
	static const char *const child[] = { "python3", "worker.py", "7" };
	struct ps_stream_header h = { .sampler = "test", .pid = 42, .argc = 2, .argv = parent,
				      .python_version = "3.12.1", .rate_hz = 100,
				      .mono_origin_ns = T0 };
	struct ps_stream_frame fr[2] = {
		{ "main", NULL, "app.py", 3, PS_FRAME_PYTHON },
		{ "work", NULL, "worker.py", 9, PS_FRAME_PYTHON },
	};
	struct ps_sw *w;
	uint32_t f[2], st[2], th[2];
	uint64_t t = T0;
	assert_int_equal(ps_sw_open_cb(sink_write, s, &h, NULL, &w, NULL), PS_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ps_sw_frame(w, &fr[i], &f[i], NULL), PS_OK);
		assert_int_equal(ps_sw_stack_path(w, &f[i], 1, &st[i], NULL), PS_OK);
	}
	assert_int_equal(ps_sw_process(w, 42, 1, 2, parent, NULL), PS_OK);
	assert_int_equal(ps_sw_thread(w, 42, 42, "MainThread", &th[0], NULL), PS_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ps_sw_sample(w, t += 10000000, th[0], st[0], 0, NULL), PS_OK);
	assert_int_equal(ps_sw_process(w, 43, 42, 3, child, NULL), PS_OK);
	assert_int_equal(ps_sw_thread(w, 43, 43, "MainThread", &th[1], NULL), PS_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(ps_sw_sample(w, t += 10000000, th[1], st[1], 0, NULL), PS_OK);
	assert_int_equal(ps_sw_close(w, NULL, NULL), PS_OK);
}

/* The folded lines of the stream through filter f, joined by '|'. */
static void fold_text(const struct sink *s, const struct ps_filter *f, char *out, size_t cap,
		      int *by_process)
{
	struct ps_sr *r;
	struct ps_sr_record rec;
	struct ps_fold_line *v;
	size_t n;
	int rc;
	struct ps_fold *fo = ps_fold_new(f);
	assert_non_null(fo);
	assert_int_equal(ps_sr_open_mem(s->p, s->len, &r, NULL), PS_OK);
	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK)
		if (rec.type == PS_REC_SAMPLE && ps_filter_accept(f, &rec.sample, T0))
			assert_int_equal(ps_fold_add(fo, r, &rec.sample), PS_OK);
	assert_int_equal(rc, PS_STREAM_EOF);
	assert_int_equal(ps_fold_lines(fo, r, &v, &n), PS_OK);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(out);
		snprintf(out + len, cap - len, "%s%s %llu", i ? "|" : "", v[i].text,
			 (unsigned long long)v[i].count);
	}
	*by_process = ps_fold_by_process(fo);
	ps_fold_lines_free(v, n);
	ps_sr_free(r);
	ps_fold_free(fo);
}

static void test_several_processes_root_by_process(void **state)
{
	struct sink s = { 0 };
	struct ps_filter f = { 0 };
	char text[512];
	int by;
	(void)state;
	write_two_processes(&s);
	fold_text(&s, &f, text, sizeof(text), &by);
	assert_true(by);
	assert_string_equal(text, "process 42: python3 app.py;main (app.py:3) 3|"
				  "process 43: python3 worker.py 7;work (worker.py:9) 2");
	free(s.p);
}

static void test_one_process_left_has_no_root(void **state)
{
	struct sink s = { 0 };
	struct ps_filter f = { .pid_set = 1, .pid = 43 };
	char text[512];
	int by;
	(void)state;
	write_two_processes(&s);
	fold_text(&s, &f, text, sizeof(text), &by);
	assert_false(by);
	assert_string_equal(text, "work (worker.py:9) 2");
	/* --pids asks for the root even then */
	f.pids = 1;
	fold_text(&s, &f, text, sizeof(text), &by);
	assert_true(by);
	assert_string_equal(text, "process 43: python3 worker.py 7;work (worker.py:9) 2");
	free(s.p);
}

static void test_threads_under_processes(void **state)
{
	struct sink s = { 0 };
	struct ps_filter f = { .threads = 1 };
	char text[512];
	int by;
	(void)state;
	write_two_processes(&s);
	fold_text(&s, &f, text, sizeof(text), &by);
	assert_string_equal(text,
			    "process 42: python3 app.py;thread 42: MainThread;main (app.py:3) 3|"
			    "process 43: python3 worker.py 7;thread 43: MainThread;work (worker.py:9) 2");
	free(s.p);
}


struct tally {
	uint64_t n[4][600][2];  /* [thread id][stack id][idle] */
};

static int tally_entry(void *ctx, const struct ps_fold_entry *e)
{
	struct tally *t = ctx;
	assert_true(e->root < 4 && e->stack < 600 && e->idle < 2);
	assert_int_equal(t->n[e->root][e->stack][e->idle], 0); /* one entry each */
	t->n[e->root][e->stack][e->idle] = e->count;
	return PS_OK;
}

/* Counts through the per-stack memo (samples of one stack from threads in
 * turn, idle and not, the table growing meanwhile) equal counts kept by
 * hand, whatever the order. */
static void test_counts_equal_brute_force(void **state)
{
	static const char *const argv[] = { "python3" };
	struct ps_stream_header h = { .sampler = "test", .pid = 42, .argc = 1, .argv = argv,
				      .rate_hz = 100, .mono_origin_ns = T0 };
	struct ps_filter f = { .threads = 1, .idle = 1 };
	struct sink s = { 0 };
	struct ps_sw *w;
	struct ps_sr *r;
	struct ps_sr_record rec;
	uint32_t fr, st[600], th[3];
	uint64_t seed = 99;
	static struct tally want, got;
	(void)state;
	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	assert_int_equal(ps_sw_open_cb(sink_write, &s, &h, NULL, &w, NULL), PS_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ps_sw_thread(w, 42, 42 + (uint32_t)i, NULL, &th[i], NULL), PS_OK);
	st[0] = 0;
	for (uint32_t i = 1; i < 600; i++) {
		struct ps_stream_frame x = { "f", NULL, "a.py", i, PS_FRAME_PYTHON };
		assert_int_equal(ps_sw_frame(w, &x, &fr, NULL), PS_OK);
		assert_int_equal(ps_sw_stack(w, st[(i - 1) / 2], fr, &st[i], NULL), PS_OK);
	}
	for (int i = 0; i < 200000; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		/* mostly a few hot stacks, all of them now and then */
		uint32_t k = (uint32_t)(seed >> 20) % 3, idle = (uint32_t)(seed >> 30) % 5 == 0;
		uint32_t sid = st[1 + (uint32_t)(seed >> 33) % (seed % 7 ? 9 : 599)];
		assert_int_equal(ps_sw_sample(w, T0 + (uint64_t)i * 1000, th[k], sid,
					      idle ? PS_SAMPLE_IDLE : 0, NULL), PS_OK);
		want.n[th[k]][sid][idle]++;
	}
	assert_int_equal(ps_sw_close(w, NULL, NULL), PS_OK);
	struct ps_fold *fo = ps_fold_new_split(&f, 1);
	assert_int_equal(ps_sr_open_mem(s.p, s.len, &r, NULL), PS_OK);
	while (ps_sr_next(r, &rec, NULL) == PS_OK)
		if (rec.type == PS_REC_SAMPLE)
			assert_int_equal(ps_fold_add(fo, r, &rec.sample), PS_OK);
	assert_int_equal(ps_fold_each(fo, tally_entry, &got), PS_OK);
	assert_memory_equal(&want, &got, sizeof(want));
	ps_fold_free(fo);
	ps_sr_free(r);
	free(s.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_several_processes_root_by_process),
		cmocka_unit_test(test_counts_equal_brute_force),
		cmocka_unit_test(test_one_process_left_has_no_root),
		cmocka_unit_test(test_threads_under_processes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
