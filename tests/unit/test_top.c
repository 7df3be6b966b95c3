/* The pyspy-top model: own/total counting, views, sorting, rendering. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ps_top.h"

static const struct ps_stream_frame F_MAIN = { "main", NULL, "app.py", 10, 0 };
static const struct ps_stream_frame F_REC1 = { "rec", NULL, "app.py", 20, 0 };
static const struct ps_stream_frame F_REC2 = { "rec", NULL, "app.py", 21, 0 };
static const struct ps_stream_frame F_HOT = { "hot", "Worker.hot", "w.py", 5, 0 };
static const struct ps_stream_frame F_WAIT = { "wait", NULL, "threading.py", 300, 0 };

/* Add a stack of frames (root first) count times. */
static void add(struct ps_top *t, uint32_t tid, unsigned flags, int count, size_t n, ...)
{
	const struct ps_stream_frame *fr[16];
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		fr[i] = va_arg(ap, const struct ps_stream_frame *);
	va_end(ap);
	for (int i = 0; i < count; i++)
		assert_int_equal(ps_top_add(t, tid, "T", flags, fr, n), 0);
}

static const struct ps_top_row *find(const struct ps_top_row *r, size_t n, const char *fn,
				     uint32_t line)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].function, fn) == 0 && r[i].line == line)
			return &r[i];
	return NULL;
}

static void test_recursion_counts_once(void **state)
{
	(void)state;
	struct ps_top *t = ps_top_new();
	struct ps_top_view v = { .by_line = 0, .thread = -1 };
	struct ps_top_row *r;
	size_t n;
	/* main -> rec -> rec -> rec (innermost), 3 times; main alone once */
	add(t, 1, 0, 3, 4, &F_MAIN, &F_REC1, &F_REC2, &F_REC1);
	add(t, 1, 0, 1, 1, &F_MAIN);
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 2);
	const struct ps_top_row *rec = find(r, n, "rec", 0), *m = find(r, n, "main", 0);
	assert_non_null(rec);
	assert_non_null(m);
	assert_int_equal(rec->own, 3);
	assert_int_equal(rec->total, 3);
	assert_int_equal(m->own, 1);
	assert_int_equal(m->total, 4);
	free(r);

	/* by line: rec:20 appears twice per stack, still total 3 */
	v.by_line = 1;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(find(r, n, "rec", 20)->own, 3);
	assert_int_equal(find(r, n, "rec", 20)->total, 3);
	assert_int_equal(find(r, n, "rec", 21)->own, 0);
	assert_int_equal(find(r, n, "rec", 21)->total, 3);
	assert_int_equal(find(r, n, "main", 10)->total, 4);
	free(r);
	ps_top_free(t);
}

static void test_sorting(void **state)
{
	(void)state;
	struct ps_top *t = ps_top_new();
	struct ps_top_view v = { .thread = -1, .sort = PS_TOP_SORT_OWN };
	struct ps_top_row *r;
	size_t n;
	add(t, 1, 0, 2, 2, &F_MAIN, &F_HOT);
	add(t, 1, 0, 5, 2, &F_MAIN, &F_REC1);
	add(t, 1, 0, 1, 1, &F_MAIN);
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(r[0].function, "rec");
	assert_string_equal(r[1].function, "Worker.hot"); /* qualname wins */
	assert_string_equal(r[2].function, "main");
	free(r);
	v.sort = PS_TOP_SORT_TOTAL;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_string_equal(r[0].function, "main");
	assert_int_equal(r[0].total, 8);
	assert_string_equal(r[1].function, "rec");
	free(r);
	v.sort = PS_TOP_SORT_OWN_TIME;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_string_equal(r[0].function, "rec");
	free(r);
	v.sort = PS_TOP_SORT_TOTAL_TIME;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_string_equal(r[0].function, "main");
	free(r);
	ps_top_free(t);
}

static void test_thread_filter(void **state)
{
	(void)state;
	struct ps_top *t = ps_top_new();
	struct ps_top_view v = { .thread = -1 };
	struct ps_top_stats st;
	struct ps_top_row *r;
	size_t n;
	add(t, 100, 0, 3, 2, &F_MAIN, &F_HOT);
	add(t, 200, 0, 1, 2, &F_MAIN, &F_REC1);
	assert_int_equal(ps_top_nthreads(t), 2);
	assert_int_equal(ps_top_thread(t, 0).tid, 100);
	assert_int_equal(ps_top_thread(t, 1).tid, 200);
	assert_string_equal(ps_top_thread(t, 1).name, "T");

	v.thread = 1;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].function, "rec");
	assert_int_equal(find(r, n, "main", 0)->total, 1);
	free(r);
	ps_top_stats(t, &v, &st);
	assert_int_equal(st.samples, 1);
	assert_int_equal(st.all_samples, 4);

	v.thread = -1;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(find(r, n, "main", 0)->total, 4);
	free(r);
	ps_top_free(t);
}

static void test_idle_and_gil(void **state)
{
	(void)state;
	struct ps_top *t = ps_top_new();
	struct ps_top_view v = { .thread = -1 };
	struct ps_top_stats st;
	struct ps_top_row *r;
	size_t n;
	add(t, 1, PS_SAMPLE_GIL, 3, 2, &F_MAIN, &F_HOT);
	add(t, 2, PS_SAMPLE_IDLE, 5, 2, &F_MAIN, &F_WAIT);
	ps_top_add_errors(t, 2);

	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_null(find(r, n, "wait", 0));
	assert_int_equal(find(r, n, "main", 0)->total, 3);
	free(r);
	ps_top_stats(t, &v, &st);
	assert_int_equal(st.samples, 3);
	assert_int_equal(st.gil, 3);
	assert_int_equal(st.active, 3);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.threads, 2);

	v.idle = 1;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_string_equal(r[0].function, "wait");
	assert_int_equal(r[0].own, 5);
	assert_int_equal(find(r, n, "main", 0)->total, 8);
	free(r);
	ps_top_stats(t, &v, &st);
	assert_int_equal(st.samples, 8);
	assert_int_equal(st.active, 3);
	ps_top_free(t);
}

static void test_reset(void **state)
{
	(void)state;
	struct ps_top *t = ps_top_new();
	struct ps_top_view v = { .thread = -1 };
	struct ps_top_stats st;
	struct ps_top_row *r;
	size_t n;
	add(t, 1, 0, 3, 2, &F_MAIN, &F_HOT);
	ps_top_add_errors(t, 1);
	ps_top_reset(t);
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 0);
	free(r);
	ps_top_stats(t, &v, &st);
	assert_int_equal(st.samples, 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(ps_top_nthreads(t), 0);
	/* usable again */
	add(t, 1, 0, 1, 1, &F_HOT);
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 1);
	free(r);
	ps_top_free(t);
	ps_top_free(NULL);
}

static void test_render_percentages(void **state)
{
	(void)state;
	struct ps_top *t = ps_top_new();
	struct ps_top_view v = { .by_line = 1, .thread = -1 };
	char *out;
	add(t, 1, 0, 3, 2, &F_MAIN, &F_HOT);
	add(t, 1, 0, 1, 2, &F_MAIN, &F_REC1);
	assert_int_equal(ps_top_render(t, &v, 100, 0, &out), 0);
	assert_string_equal(out,
			    "  %Own  %Total   OwnTime  TotalTime  Function (file:line)\n"
			    " 75.0%   75.0%     0.03s      0.03s  Worker.hot (w.py:5)\n"
			    " 25.0%   25.0%     0.01s      0.01s  rec (app.py:20)\n"
			    "  0.0%  100.0%     0.00s      0.04s  main (app.py:10)\n");
	free(out);
	assert_int_equal(ps_top_render(t, &v, 100, 1, &out), 0);
	assert_non_null(strstr(out, "Worker.hot"));
	assert_null(strstr(out, "rec"));
	free(out);

	/* a frame without a file, and no samples at all */
	struct ps_top_row row = { "<idle>", NULL, 0, 0, 0 };
	char buf[128];
	ps_top_format_row(&row, 0, 0, buf, sizeof(buf));
	assert_string_equal(buf, "  0.0%    0.0%     0.00s      0.00s  <idle>");
	ps_top_free(t);
}

static void test_many_entries(void **state)
{
	(void)state;
	struct ps_top *t = ps_top_new();
	struct ps_top_view v = { .by_line = 1, .thread = -1 };
	struct ps_top_row *r;
	size_t n;
	for (uint32_t i = 1; i <= 2000; i++) {
		struct ps_stream_frame f = { "f", NULL, "x.py", i, 0 };
		const struct ps_stream_frame *fp = &f;
		assert_int_equal(ps_top_add(t, i % 7, NULL, 0, &fp, 1), 0);
	}
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 2000);
	free(r);
	v.by_line = 0;
	assert_int_equal(ps_top_rows(t, &v, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].own, 2000);
	free(r);
	ps_top_free(t);
}

/* --subprocesses: threads are (pid, tid) pairs; the processes are counted. */
static void test_threads_by_pid_and_tid(void **state)
{
	const struct ps_stream_frame *fr[] = { &F_MAIN };
	struct ps_top *t = ps_top_new();
	struct ps_top_stats st;
	struct ps_top_view v = { .thread = -1 };
	(void)state;
	assert_int_equal(ps_top_add_pid(t, 10, 10, "MainThread", 0, fr, 1), 0);
	assert_int_equal(ps_top_add_pid(t, 20, 10, "MainThread", 0, fr, 1), 0); /* tid reused */
	assert_int_equal(ps_top_add_pid(t, 20, 21, "w", 0, fr, 1), 0);
	assert_int_equal(ps_top_add_pid(t, 10, 10, "MainThread", 0, fr, 1), 0);
	assert_int_equal(ps_top_nthreads(t), 3);
	assert_int_equal(ps_top_thread(t, 1).pid, 20);
	assert_int_equal(ps_top_thread(t, 1).tid, 10);
	ps_top_stats(t, &v, &st);
	assert_int_equal(st.processes, 2);
	assert_int_equal(st.threads, 3);
	v.thread = 0;
	ps_top_stats(t, &v, &st);
	assert_int_equal(st.samples, 2);
	ps_top_reset(t);
	ps_top_stats(t, &v, &st);
	assert_int_equal(st.processes, 0);
	ps_top_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_by_pid_and_tid),
		cmocka_unit_test(test_recursion_counts_once),
		cmocka_unit_test(test_sorting),
		cmocka_unit_test(test_thread_filter),
		cmocka_unit_test(test_idle_and_gil),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_render_percentages),
		cmocka_unit_test(test_many_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
