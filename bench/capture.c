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
#include "synth.h"

#define RUNS 5

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int die(const char *what, const struct ps_errmsg *e)
{
	fprintf(stderr, "capture: %s: %s\n", what, e->msg);
	return 1;
}

static int build(const char *path, uint64_t n)
{
	struct ps_stream_header h = synth_header("bench/capture");
	struct ps_errmsg e = { 0 };
	struct ps_sw *w;
	uint64_t t = h.mono_origin_ns;
	if (ps_db_create(path, &h, NULL, &w, &e))
		return die("create", &e);
	uint64_t t0 = now_ns(), c0 = cpu_ns();
	if (synth_build(w, n, &t, &e))
		return die("insert", &e);
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
	double mid = (double)(n / SYNTH_THREADS) / 1000 / 2; /* seconds */
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
