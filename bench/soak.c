/* The sampler alone, without the stream writer: what bench/soak.sh measures
 * minus the writer's intern tables, which grow with every new function,
 * file and thread name a churning target shows (the stream needs them).
 * Samples PID nonblocking at RATE Hz for SECONDS into a sink that keeps
 * nothing, and prints the sampler's RSS every tenth of the run and its code
 * cache at the end.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Ilib bench/soak.c build/libpyspy.a \
 *      $(pkg-config --libs libelf libzstd sqlite3 libunwind-ptrace \
 *      libunwind-generic) -o build/soak-sampler
 *   build/soak-sampler PID RATE SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_sampler.h"

struct counts {
	uint64_t samples, threads, next_report, every, t0;
};

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static int on_start(void *ctx, struct ps_proc *p, uint64_t t0)
{
	struct counts *c = ctx;
	(void)p;
	c->t0 = t0;
	c->next_report = t0;
	return PS_OK;
}

static int on_sample(void *ctx, struct ps_proc *p, uint64_t t, const struct ps_snapshot *s)
{
	struct counts *c = ctx;
	(void)p;
	c->samples++;
	c->threads += s->n;
	if (t >= c->next_report) {
		printf("%6.0f s  %8llu samples  RSS %ld kB\n", (double)(t - c->t0) / 1e9,
		       (unsigned long long)c->samples, rss_kb());
		fflush(stdout);
		c->next_report += c->every;
	}
	return PS_OK;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: soak-sampler PID RATE SECONDS\n");
		return 2;
	}
	struct ps_sampler_opts o = { .rate_hz = atof(argv[2]), .duration_s = atof(argv[3]),
				     .nonblocking = 1 };
	struct counts c = { .every = (uint64_t)(o.duration_s * 1e8) };
	struct ps_sample_sink sink = { &c, on_start, on_sample, NULL };
	struct ps_sampler_stats st;
	struct ps_errmsg e = { 0 };
	if (ps_sampler_run(&o, atoi(argv[1]), 0, &sink, &st, &e) != PS_OK) {
		fprintf(stderr, "soak-sampler: %s\n", e.msg);
		return 1;
	}
	printf("end: %llu samples, %llu errors, RSS %ld kB; code cache %llu entries, %llu bytes, "
	       "%llu evicted\n", (unsigned long long)st.samples, (unsigned long long)st.errors,
	       rss_kb(), (unsigned long long)st.code_entries, (unsigned long long)st.code_bytes,
	       (unsigned long long)st.code_evicted);
	return 0;
}
