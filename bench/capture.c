/* bench/capture: figures for indexed captures (issue 6).
 *
 *   capture PATH.db [SAMPLES]
 *
 * Writes a synthetic capture of SAMPLES (default 10,000,000) samples
 * through the library (ps_db_create, the ps_sw_* calls pyspy-sample
 * makes): 4 threads sampled at 1 kHz (2,500 s for 10 M), 3,000 distinct
 * stacks 12 to 40 frames deep drawn with a skew, one thread idle half the
 * time. Prints the insert rate and the database size, then the median of
 * 5 runs, through the library (ps_input_open + ps_fold, what pyspy-fold
 * does), of: a 1-minute window fold in the middle, the same window for one
 * thread, and one thread over 10 minutes. bench/run.sh times pyspy-fold
 * itself on the same file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ps_db.h"
#include "ps_filter.h"
#include "ps_fold.h"
#include "ps_input.h"

#define THREADS 4
#define STACKS 3000
#define FRAMES 1500
#define RUNS 5

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int die(const char *what, const struct ps_errmsg *e)
{
	fprintf(stderr, "capture: %s: %s\n", what, e->msg);
	return 1;
}

/* Stacks: a tree where each new stack extends a random earlier one. */
static int make_stacks(struct ps_sw *w, uint32_t *stack, struct ps_errmsg *e)
{
	uint32_t frames[FRAMES];
	uint64_t seed = 42;
	char fn[32], file[48];
	for (uint32_t i = 0; i < FRAMES; i++) {
		snprintf(fn, sizeof(fn), "func_%u", i);
		snprintf(file, sizeof(file), "/srv/app/module_%u.py", i % 97);
		struct ps_stream_frame f = { .function = fn, .qualname = fn, .file = file,
					     .line = 10 + i % 300, .kind = PS_FRAME_PYTHON };
		if (ps_sw_frame(w, &f, &frames[i], e))
			return -1;
	}
	uint32_t depth[STACKS];
	for (uint32_t i = 0; i < STACKS; i++) {
		uint32_t s = 0, d = 0;
		if (i >= 20) {
			uint32_t base = (uint32_t)(rnd(&seed) % i);
			s = stack[base];
			d = depth[base];
		}
		uint32_t want = 12 + (uint32_t)(rnd(&seed) % 29);
		do {
			if (ps_sw_stack(w, s, frames[rnd(&seed) % FRAMES], &s, e))
				return -1;
		} while (++d < want);
		stack[i] = s;
		depth[i] = d;
	}
	return 0;
}

static int build(const char *path, uint64_t n)
{
	static const char *const argv[] = { "python3", "-m", "bench.app" };
	struct ps_stream_header h = { .sampler = "bench/capture", .pid = 4242, .argc = 3,
				      .argv = argv, .python_version = "3.11.7", .rate_hz = 1000,
				      .wall_start_ns = 1795000000000000000, .mono_origin_ns = 1000000000 };
	struct ps_errmsg e = { 0 };
	struct ps_sw *w;
	uint32_t stack[STACKS], thread[THREADS];
	static const char *const names[THREADS] = { "MainThread", "worker-1", "worker-2", "io" };
	uint64_t seed = 7, t = h.mono_origin_ns;
	if (ps_db_create(path, &h, NULL, &w, &e))
		return die("create", &e);
	if (make_stacks(w, stack, &e))
		return die("stacks", &e);
	for (uint32_t i = 0; i < THREADS; i++)
		if (ps_sw_thread(w, 4242, 4242 + i, names[i], &thread[i], &e))
			return die("thread", &e);
	uint64_t t0 = now_ns(), c0 = cpu_ns();
	for (uint64_t i = 0; i < n; i++) {
		uint32_t k = (uint32_t)(i % THREADS);
		if (k == 0)
			t += 1000000; /* 1 kHz */
		/* skewed: a few stacks are hot */
		uint64_t r = rnd(&seed);
		uint32_t s = (uint32_t)((r % 4 == 0 ? r >> 8 : (r >> 8) % 50) % STACKS);
		unsigned flags = k == 3 && (r & 0x100) ? PS_SAMPLE_IDLE : PS_SAMPLE_GIL * (k == 1);
		if (ps_sw_sample(w, t, thread[k], stack[s], flags, &e))
			return die("sample", &e);
	}
	struct ps_stream_totals tot = { .duration_ns = t - h.mono_origin_ns };
	if (ps_sw_close(w, &tot, &e))
		return die("close", &e);
	double secs = (double)(now_ns() - t0) / 1e9, csecs = (double)(cpu_ns() - c0) / 1e9;
	struct stat st;
	stat(path, &st);
	printf("insert: %llu samples in %.2f s = %.0f samples/s (CPU %.2f s) "
	       "(bench/capture %s %llu, through ps_db_create + ps_sw_sample)\n",
	       (unsigned long long)n, secs, (double)n / secs, csecs, path, (unsigned long long)n);
	printf("size: %.1f MiB, %.1f bytes/sample (%s)\n", (double)st.st_size / 1048576,
	       (double)st.st_size / (double)n, path);
	return 0;
}

static int add(void *ctx, const struct ps_sr *r, const struct ps_sr_sample *s)
{
	return ps_fold_add(ctx, r, s);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median ms (wall, and CPU in *cpu) of RUNS folds of path under filter
 * f; *n gets the samples. */
static double fold_ms(const char *path, const struct ps_filter *f0, uint64_t *n, double *cpu)
{
	double ms[RUNS], cms[RUNS];
	for (int i = 0; i < RUNS; i++) {
		struct ps_filter f = *f0;
		struct ps_input_opts io = { .path = path, .filter = &f };
		struct ps_input in;
		struct ps_errmsg e = { 0 };
		uint64_t t0 = now_ns(), c0 = cpu_ns();
		if (ps_input_open(&io, &in, &e))
			return die("open", &e), -1;
		struct ps_fold *fo = ps_fold_new(&f);
		if (ps_input_each(&in, &f, add, fo, &e))
			return die("fold", &e), -1;
		FILE *null = fopen("/dev/null", "w");
		ps_fold_write(fo, in.r, null);
		fclose(null);
		struct ps_sr_stats st;
		ps_sr_stats(in.r, &st);
		*n = st.samples;
		ps_fold_free(fo);
		ps_input_close(&in);
		ms[i] = (double)(now_ns() - t0) / 1e6;
		cms[i] = (double)(cpu_ns() - c0) / 1e6;
	}
	qsort(ms, RUNS, sizeof(ms[0]), cmp);
	qsort(cms, RUNS, sizeof(cms[0]), cmp);
	*cpu = cms[RUNS / 2];
	return ms[RUNS / 2];
}

static void query(const char *path, const char *what, const char *args, const struct ps_filter *f)
{
	uint64_t n = 0;
	double cpu, ms = fold_ms(path, f, &n, &cpu);
	printf("%s: %.1f ms median of %d (CPU %.1f ms), %llu samples "
	       "(library: ps_input_open + ps_fold, as pyspy-fold %s %s)\n",
	       what, ms, RUNS, cpu, (unsigned long long)n, args, path);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: capture PATH.db [SAMPLES]\n");
		return 2;
	}
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
	if (build(argv[1], n))
		return 1;
	double mid = (double)(n / THREADS) / 1000 / 2; /* seconds */
	char args[128];
	struct ps_filter f = { .from_set = 1, .to_set = 1, .from_s = mid, .to_s = mid + 60 };
	snprintf(args, sizeof(args), "--from %.0f --to %.0f", mid, mid + 60);
	query(argv[1], "1-minute window fold", args, &f);
	f.tid_set = 1;
	f.tid = 4243;
	snprintf(args, sizeof(args), "--tid 4243 --from %.0f --to %.0f", mid, mid + 60);
	query(argv[1], "1-minute window, one thread", args, &f);
	f.to_s = mid + 600;
	snprintf(args, sizeof(args), "--tid 4243 --from %.0f --to %.0f", mid, mid + 600);
	query(argv[1], "10-minute window, one thread", args, &f);
	return 0;
}
