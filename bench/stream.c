/* bench/stream: pyspy-fold and pyspy-svg throughput on a stream (issue 8).
 *
 *   stream PATH.pss BIN_DIR [SAMPLES]
 *
 * Writes a synthetic stream of SAMPLES (default 10,000,000) samples through
 * the library (ps_sw_open_fd and the ps_sw_* calls pyspy-sample makes): 4
 * threads sampled at 1 kHz, 3,000 distinct stacks 12 to 40 frames deep drawn
 * with a skew (a few hot, the rest spread), one thread idle half the time,
 * flushed every second of stream time as the sampler does. Prints the write
 * rate and the size, then runs BIN_DIR/pyspy-fold PATH and BIN_DIR/pyspy-svg
 * PATH with their output to /dev/null, 5 times each, and prints the median
 * CPU time (user + system, from wait4) and the samples read per CPU second (every SAMPLE record is read and
 * filtered; idle ones are then left out, as the tools do by default). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ps_stream.h"
#include "synth.h"

#define RUNS 5

static int die(const char *what, const struct ps_errmsg *e)
{
	fprintf(stderr, "stream: %s: %s\n", what, e->msg);
	return 1;
}

static int build(const char *path, uint64_t n)
{
	struct ps_stream_header h = synth_header("bench/stream");
	struct ps_errmsg e = { 0 };
	struct ps_sw *w;
	uint64_t t = h.mono_origin_ns;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	if (ps_sw_open_fd(fd, &h, NULL, &w, &e))
		return die("open", &e);
	uint64_t t0 = now_ns();
	if (synth_build(w, n, &t, &e))
		return die("write", &e);
	struct ps_stream_totals tot = { .duration_ns = t - h.mono_origin_ns };
	if (ps_sw_close(w, &tot, &e))
		return die("close", &e);
	close(fd);
	double secs = (double)(now_ns() - t0) / 1e9;
	struct stat st;
	stat(path, &st);
	printf("write: %llu samples in %.2f s = %.1f M samples/s (bench/stream %s, through "
	       "ps_sw_open_fd + ps_sw_sample)\n", (unsigned long long)n, secs, (double)n / secs / 1e6,
	       path);
	printf("size: %.1f MiB, %.3f bytes/sample\n", (double)st.st_size / 1048576,
	       (double)st.st_size / (double)n);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* CPU seconds (user + system) of one run of tool on path, output to
 * /dev/null, wall seconds in *wall; < 0 when it failed. CPU time is what
 * is compared: on a shared machine the wall time mostly measures the
 * others. */
static double run_once(const char *tool, const char *path, double *wall)
{
	uint64_t t0 = now_ns();
	struct rusage ru;
	pid_t pid = fork();
	int status;
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		execl(tool, tool, path, (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	*wall = (double)(now_ns() - t0) / 1e9;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int time_tool(const char *bin, const char *name, const char *path, uint64_t n)
{
	char tool[4096];
	double s[RUNS], w[RUNS];
	snprintf(tool, sizeof(tool), "%s/%s", bin, name);
	for (int i = 0; i < RUNS; i++)
		if ((s[i] = run_once(tool, path, &w[i])) < 0) {
			fprintf(stderr, "stream: %s %s failed\n", tool, path);
			return 1;
		}
	qsort(s, RUNS, sizeof(s[0]), cmp);
	qsort(w, RUNS, sizeof(w[0]), cmp);
	printf("%s: %.2f s CPU median of %d (%.2f-%.2f; wall %.2f s), %.1f M samples/s "
	       "(%s %s > /dev/null)\n", name, s[RUNS / 2], RUNS, s[0], s[RUNS - 1], w[RUNS / 2],
	       (double)n / s[RUNS / 2] / 1e6, tool, path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: stream PATH.pss BIN_DIR [SAMPLES]\n");
		return 2;
	}
	uint64_t n = argc > 3 ? strtoull(argv[3], NULL, 10) : 10000000;
	if (build(argv[1], n))
		return 1;
	return time_tool(argv[2], "pyspy-fold", argv[1], n) ||
	       time_tool(argv[2], "pyspy-svg", argv[1], n);
}
