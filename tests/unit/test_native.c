/* ps_native: classifying native frames, splicing native and Python stacks
 * (pure functions over synthetic arrays, including the mismatch that must
 * fall back), and unwinding a real paused child with no Python in it.
 *
 *   test_native --bench PID [N]
 *       cost of native stacks on a live Python process: N (default 200)
 *       paused snapshots without, then with PS_SNAP_NATIVE; prints the time
 *       per snapshot and per thread-sample, and what libunwind read. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ps_native.h"
#include "ps_proc.h"
#include "ps_record.h"
#include "ps_stack.h"
#include "ps_tasks.h"

/* ---- building synthetic stacks ---- */

static struct ps_code codes[8]; /* distinct addresses stand for distinct code */

static struct ps_frame py(int i, unsigned entries)
{
	return (struct ps_frame){ .code = &codes[i], .line = 10 + i, .entries = entries };
}

static struct ps_nframe nat(const char *sym, const char *obj, int kind)
{
	return (struct ps_nframe){ .ip = 0x1000, .symbol = sym, .object = obj, .kind = kind };
}

#define K PS_NATIVE_KEEP
#define E PS_NATIVE_EVAL
#define D PS_NATIVE_DROP
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* out[i] is Python frame `code` (index into codes) or native `sym` */
static void expect(const struct ps_frame *out, size_t n, const char *const *want, size_t nwant)
{
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		if (want[i][0] == '#') {
			assert_non_null(out[i].code);
			assert_ptr_equal(out[i].code, &codes[want[i][1] - '0']);
		} else {
			assert_null(out[i].code);
			assert_string_equal(out[i].symbol, want[i]);
		}
	}
}

/* ---- merge ---- */

/* Up to 3.10 every Python frame has its own eval call. */
static void test_merge_one_eval_frame_per_python_frame(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat("select", "libc.so.6", K), nat("eval", "libpython", E),
				 nat("call_function", "libpython", D), nat("compute", "ext.so", K),
				 nat("PyObject_Call", "libpython", D), nat("eval", "libpython", E),
				 nat("Py_Main", "python", D) };
	struct ps_frame p[] = { py(0, 1), py(1, 1) };
	struct ps_frame out[N(n) + N(p)];
	size_t k;
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 0, out, &k), PS_OK);
	const char *want[] = { "select", "#0", "compute", "#1" };
	expect(out, k, want, N(want));
}

/* 3.11+: one eval call runs a run of frames ending at its entry frame. */
static void test_merge_one_eval_frame_runs_many_python_frames(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat("inner_c", "ext.so", K), nat("eval", "libpython", E),
				 nat("callback_c", "ext.so", K), nat("eval", "libpython", E) };
	struct ps_frame p[] = { py(0, 0), py(1, 0), py(2, 1), py(3, 0), py(4, 1) };
	struct ps_frame out[N(n) + N(p)];
	size_t k;
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 0, out, &k), PS_OK);
	const char *want[] = { "inner_c", "#0", "#1", "#2", "callback_c", "#3", "#4" };
	expect(out, k, want, N(want));
}

/* Two more eval frames than eval calls, or fewer: no interleaving at all. */
static void test_merge_mismatch_is_refused(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat("eval", "libpython", E), nat("c", "ext.so", K),
				 nat("eval", "libpython", E), nat("eval", "libpython", E) };
	struct ps_frame p[] = { py(0, 1) };
	struct ps_frame out[N(n) + 4];
	size_t k = 99;
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 0, out, &k), PS_EINVAL);
	assert_int_equal(k, 0);
	/* and fewer */
	struct ps_frame p2[] = { py(0, 1), py(1, 1) };
	assert_int_equal(ps_native_merge(n, 1, p2, N(p2), 0, out, &k), PS_EINVAL);
	/* a native stack cut before the outermost eval frame */
	struct ps_frame p4[] = { py(0, 1), py(1, 1), py(2, 1), py(3, 1) };
	assert_int_equal(ps_native_merge(n, N(n), p4, N(p4), 0, out, &k), PS_EINVAL);
}

/* The innermost eval call returning (its frame gone) or starting (not
 * linked yet): one EVAL frame more than calls, and it is the innermost. */
static void test_merge_innermost_eval_between_frames_runs_nothing(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat("eval", "libpython", E), nat("slot_tp_richcompare", "lp", D),
				 nat("sort_key", "ext.so", K), nat("eval", "libpython", E),
				 nat("eval", "libpython", E) };
	struct ps_frame p[] = { py(0, 1), py(1, 0), py(2, 1) };
	struct ps_frame out[N(n) + N(p)];
	size_t k;
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 0, out, &k), PS_OK);
	const char *want[] = { "sort_key", "#0", "#1", "#2" };
	expect(out, k, want, N(want));
}

/* An eval call that began but whose frame has not started yet runs no
 * visible frame: its eval frame is matched with nothing. */
static void test_merge_hidden_entry_matches_innermost_eval_frame(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat("eval", "libpython", E), nat("c", "ext.so", K),
				 nat("eval", "libpython", E) };
	struct ps_frame p[] = { py(0, 1) };
	struct ps_frame out[N(n) + N(p)];
	size_t k;
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 1, out, &k), PS_OK);
	const char *want[] = { "c", "#0" };
	expect(out, k, want, N(want));
	/* unseen, it is inferred the same way (one EVAL frame over) */
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 0, out, &k), PS_OK);
	expect(out, k, want, N(want));
	/* seen, and one more frame in its prologue: both are innermost */
	struct ps_nframe n3[] = { nat("eval", "libpython", E), nat("eval", "libpython", E),
				  nat("c", "ext.so", K), nat("eval", "libpython", E) };
	assert_int_equal(ps_native_merge(n3, N(n3), p, N(p), 1, out, &k), PS_OK);
	expect(out, k, want, N(want));
}

/* entries 2: after this frame's call ends, one more call without frames. */
static void test_merge_empty_call_between_frames(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat("eval", "libpython", E), nat("a", "ext.so", K),
				 nat("eval", "libpython", E), nat("b", "ext.so", K),
				 nat("eval", "libpython", E) };
	struct ps_frame p[] = { py(0, 2), py(1, 1) };
	struct ps_frame out[N(n) + N(p)];
	size_t k;
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 0, out, &k), PS_OK);
	const char *want[] = { "#0", "a", "b", "#1" };
	expect(out, k, want, N(want));
}

/* Frames above the outermost boundary still belong to one more call. */
static void test_merge_unterminated_outer_run_is_one_call(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat("eval", "libpython", E), nat("eval", "libpython", E) };
	struct ps_frame p[] = { py(0, 1), py(1, 0), py(2, 0) };
	struct ps_frame out[N(n) + N(p)];
	size_t k;
	assert_int_equal(ps_native_merge(n, N(n), p, N(p), 0, out, &k), PS_OK);
	const char *want[] = { "#0", "#1", "#2" };
	expect(out, k, want, N(want));
}

static void test_merge_native_only_and_unknown_symbols(void **state)
{
	(void)state;
	struct ps_nframe n[] = { nat(NULL, "libfoo.so", K), nat("main", "prog", K) };
	struct ps_frame out[2];
	size_t k;
	assert_int_equal(ps_native_merge(n, N(n), NULL, 0, 0, out, &k), PS_OK);
	const char *want[] = { "<unknown>", "main" };
	expect(out, k, want, N(want));
	assert_string_equal(out[0].object, "libfoo.so");
}

/* What the stream gets: native frames by symbol and object, line 0. */
static void test_record_frame_kinds(void **state)
{
	(void)state;
	struct ps_code c = { .name = "f", .qualname = "A.f", .file = "a.py" };
	struct ps_frame pf = { .code = &c, .line = 7 };
	struct ps_frame nf = { .code = NULL, .line = 0, .addr = 0x1234, .symbol = "compute",
			       .object = "ext.so" };
	struct ps_stream_frame s = ps_record_frame(&pf);
	assert_int_equal(s.kind, PS_FRAME_PYTHON);
	assert_string_equal(s.function, "f");
	assert_string_equal(s.qualname, "A.f");
	assert_string_equal(s.file, "a.py");
	assert_int_equal(s.line, 7);
	s = ps_record_frame(&nf);
	assert_int_equal(s.kind, PS_FRAME_NATIVE);
	assert_string_equal(s.function, "compute");
	assert_null(s.qualname);
	assert_string_equal(s.file, "ext.so");
	assert_int_equal(s.line, 0);
	nf.object = NULL; /* anonymous memory: no file */
	assert_null(ps_record_frame(&nf).file);
}

/* ---- classify ---- */

static void test_classify_eval_internal_start_and_kept_frames(void **state)
{
	(void)state;
	const char *const pyobjs[] = { "python3.11", "libpython3.11.so.1.0", NULL };
	struct ps_nframe f[] = {
		nat(NULL, "libc.so.6", 0),                       /* unnamed, innermost: kept */
		nat("compute", "ext.cpython-311.so", 0),
		nat("_PyEval_EvalFrameDefault.cold", "libpython3.11.so.1.0", 0),
		nat("_PyFunction_Vectorcall", "libpython3.11.so.1.0", 0),
		nat("_PyEval_EvalFrameDefault", "python3.11", 0), /* static build */
		nat("Py_BytesMain", "python3.11", 0),
		nat("__libc_start_call_main", "libc.so.6", 0),
		nat("__libc_start_main", "libc.so.6", 0),
		nat("_start", "python3.11", 0),
	};
	ps_native_classify(f, N(f), pyobjs, 3);
	int want[] = { K, K, E, D, E, D, D, D, D };
	for (size_t i = 0; i < N(f); i++)
		assert_int_equal(f[i].kind, want[i]);
}

static void test_classify_thread_root_in_stripped_libc_is_dropped(void **state)
{
	(void)state;
	const char *const pyobjs[] = { "python2.7", NULL };
	struct ps_nframe f[] = {
		nat("PyEval_EvalFrameEx", "python2.7", 0),
		nat("t_bootstrap", "python2.7", 0),
		nat(NULL, "libc.so.6", 0), /* start_thread, unnamed */
		nat(NULL, "libc.so.6", 0), /* clone3, unnamed */
	};
	ps_native_classify(f, N(f), pyobjs, 2);
	int want[] = { E, D, D, D };
	for (size_t i = 0; i < N(f); i++)
		assert_int_equal(f[i].kind, want[i]);
	/* 3.x does not count 2.7's eval function, nor the other way round */
	struct ps_nframe g[] = { nat("PyEval_EvalFrameEx", "libpython3.6m.so.1.0", 0),
				 nat("_PyEval_EvalFrameDefault", "libpython2.7.so", 0) };
	const char *const none[] = { NULL };
	ps_native_classify(g, 2, none, 3);
	assert_int_equal(g[0].kind, K);
	assert_int_equal(g[1].kind, E);
}

/* ---- unwinding a real process ---- */

static volatile int keep_going = 1;

__attribute__((noinline)) static void leaf_spin(void)
{
	while (keep_going)
		__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void middle_calls_leaf(void)
{
	leaf_spin();
	__asm__ volatile("" ::: "memory"); /* no tail call */
}

struct child {
	pid_t pid;
	struct ps_proc *p;
};

static int spinning_child(void **state)
{
	static struct child c;
	int ready[2];
	char b;
	assert_int_equal(pipe(ready), 0);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		middle_calls_leaf();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &b, 1), 1);
	close(ready[0]);
	usleep(20000);
	/* a ps_proc without a Python in it: what ps_native needs of one */
	c.p = calloc(1, sizeof(*c.p));
	assert_non_null(c.p);
	c.p->pid = c.pid;
	ps_mem_init(&c.p->mem, c.pid);
	assert_int_equal(ps_maps_read(c.pid, &c.p->maps, NULL), PS_OK);
	c.p->exe = strdup("python-that-is-not-here");
	c.p->major = 3;
	*state = &c;
	return 0;
}

static int child_teardown(void **state)
{
	struct child *c = *state;
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	ps_maps_release(&c->p->maps);
	free(c->p->exe);
	free(c->p);
	return 0;
}

static int find(const struct ps_nframe *f, size_t n, const char *sym)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].symbol && strcmp(f[i].symbol, sym) == 0)
			return (int)i;
	return -1;
}

static void test_unwind_paused_child_names_its_functions_in_order(void **state)
{
	struct child *c = *state;
	struct ps_native *n;
	struct ps_pause pz = { 0 };
	static struct ps_nframe f[PS_MAX_NATIVE_FRAMES];
	size_t nf = 0;
	int cut = 1;
	assert_int_equal(ps_native_new(c->p, &n, NULL), PS_OK);
	for (int round = 0; round < 3; round++) { /* again: from libunwind's cache */
		ps_native_begin(n);
		assert_int_equal(ps_pause(c->pid, &pz, 1000, NULL), PS_OK);
		int rc = ps_native_unwind(n, c->pid, f, PS_MAX_NATIVE_FRAMES, &nf, &cut);
		assert_int_equal(ps_resume(&pz), 0);
		assert_int_equal(rc, PS_OK);
		assert_false(cut);
		int leaf = find(f, nf, "leaf_spin"), mid = find(f, nf, "middle_calls_leaf");
		int setup = find(f, nf, "spinning_child");
		assert_int_equal(leaf, 0);
		assert_true(mid > leaf);
		assert_true(setup > mid);
		assert_string_equal(f[leaf].object, "test_native");
		assert_int_equal(f[leaf].kind, PS_NATIVE_KEEP);
	}
	struct ps_native_stats st;
	ps_native_stats(n, &st);
	assert_int_equal(st.unwinds, 3);
	assert_true(st.mem_reads > 0);
	ps_native_free(n);
}

/* Not stopped by us: the registers can not be read, an error, no frames. */
static void test_unwind_running_thread_fails_cleanly(void **state)
{
	struct child *c = *state;
	struct ps_native *n;
	struct ps_nframe f[8];
	size_t nf = 7;
	int cut = 1;
	assert_int_equal(ps_native_new(c->p, &n, NULL), PS_OK);
	assert_int_not_equal(ps_native_unwind(n, c->pid, f, 8, &nf, &cut), PS_OK);
	assert_int_equal(nf, 0);
	assert_int_equal(cut, 0);
	ps_native_free(n);
}

/* ---- bench ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Paused snapshots of pid: total ns inside the pause, threads seen. */
static int bench_run(struct ps_proc *p, unsigned flags, int n, uint64_t *ns, uint64_t *threads,
		     uint64_t *frames, uint64_t *unmerged)
{
	*ns = *threads = *frames = *unmerged = 0;
	for (int i = 0; i < n; i++) {
		struct ps_pause pz = { 0 };
		struct ps_snapshot s;
		struct ps_errmsg e = { 0 };
		if (ps_pause(p->pid, &pz, 1000, &e) != PS_OK) {
			fprintf(stderr, "bench: %s\n", e.msg);
			return 1;
		}
		uint64_t t0 = now_ns();
		int rc = ps_snapshot_take(p, &s, flags, NULL, &e);
		*ns += now_ns() - t0;
		ps_resume(&pz);
		if (rc != PS_OK) {
			fprintf(stderr, "bench: %s\n", e.msg);
			return 1;
		}
		for (size_t t = 0; t < s.n; t++) {
			*frames += s.threads[t].nframes;
			*unmerged += !!(s.threads[t].flags & PS_THREAD_NO_NATIVE);
		}
		*threads += s.n;
		ps_snapshot_release(&s);
		usleep(2000);
	}
	return 0;
}

static int bench(int argc, char **argv)
{
	struct ps_proc *p;
	struct ps_errmsg e = { 0 };
	int n = argc > 3 ? atoi(argv[3]) : 200;
	if (argc < 3 || n <= 0) {
		fprintf(stderr, "usage: test_native --bench PID [N]\n");
		return 2;
	}
	if (ps_proc_open(&p, (pid_t)atoi(argv[2]), 0, &e) != PS_OK) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 1;
	}
	uint64_t ns[2], th[2], fr[2], un[2];
	int rc = bench_run(p, 0, n, &ns[0], &th[0], &fr[0], &un[0]) ||
		 bench_run(p, PS_SNAP_NATIVE, n, &ns[1], &th[1], &fr[1], &un[1]);
	if (rc == 0) {
		struct ps_native_stats st;
		ps_native_stats(p->native, &st);
		printf("python %s, %d snapshots each, %.1f threads per snapshot\n", p->version, n,
		       (double)th[0] / n);
		printf("  python only: %7.1f us per snapshot, %6.1f us per thread-sample, %.1f frames\n",
		       ns[0] / 1e3 / n, ns[0] / 1e3 / (double)th[0], (double)fr[0] / (double)th[0]);
		printf("  --native:    %7.1f us per snapshot, %6.1f us per thread-sample, %.1f frames"
		       " (%llu not merged)\n", ns[1] / 1e3 / n, ns[1] / 1e3 / (double)th[1],
		       (double)fr[1] / (double)th[1], (unsigned long long)un[1]);
		printf("  native cost: %6.1f us per thread-sample; per unwind %.1f native frames,"
		       " %.1f page reads, %.1f cached word reads, %.2f table lookups\n",
		       (ns[1] - ns[0]) / 1e3 / (double)th[1], (double)st.frames / (double)st.unwinds,
		       (double)st.mem_reads / (double)st.unwinds,
		       (double)st.cache_hits / (double)st.unwinds,
		       (double)st.lookups / (double)st.unwinds);
	}
	ps_proc_free(p);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_one_eval_frame_per_python_frame),
		cmocka_unit_test(test_merge_one_eval_frame_runs_many_python_frames),
		cmocka_unit_test(test_merge_mismatch_is_refused),
		cmocka_unit_test(test_merge_innermost_eval_between_frames_runs_nothing),
		cmocka_unit_test(test_merge_hidden_entry_matches_innermost_eval_frame),
		cmocka_unit_test(test_merge_empty_call_between_frames),
		cmocka_unit_test(test_merge_unterminated_outer_run_is_one_call),
		cmocka_unit_test(test_merge_native_only_and_unknown_symbols),
		cmocka_unit_test(test_record_frame_kinds),
		cmocka_unit_test(test_classify_eval_internal_start_and_kept_frames),
		cmocka_unit_test(test_classify_thread_root_in_stripped_libc_is_dropped),
		cmocka_unit_test_setup_teardown(test_unwind_paused_child_names_its_functions_in_order,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_unwind_running_thread_fails_cleanly,
						spinning_child, child_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
