/* What the analysis tools select and how they root stacks: written once
 * here for pyspy-fold, pyspy-svg, pyspy-speedscope and the rest. */
#ifndef PS_FILTER_H
#define PS_FILTER_H

#include <getopt.h>
#include <stdint.h>
#include <time.h>

#include "ps_stream.h"

struct ps_filter {
	int idle;               /* keep idle samples (default: leave them out) */
	int gil_only;           /* keep only samples holding the GIL */
	int tid_set, pid_set;
	uint32_t tid, pid;
	int from_set, to_set;
	double from_s, to_s;    /* seconds from the start of the recording */
	const char *from_clock, *to_clock;  /* wall-clock times, until resolved */
	int threads;            /* a root frame per thread: "thread TID: NAME" */
	int pids;               /* a root frame per process: "process PID: CMD" */
	int no_lines;           /* aggregate by function: no line numbers */
};

/* Option codes for getopt_long (above any short option). */
enum {
	PS_OPT_IDLE = 0x1000,
	PS_OPT_GIL,
	PS_OPT_TID,
	PS_OPT_PID_FILTER,
	PS_OPT_FROM,
	PS_OPT_TO,
	PS_OPT_THREADS,
	PS_OPT_PIDS,
	PS_OPT_NO_LINES,
};

/* The filters' long options, to append to a tool's own (ends with the
 * all-zero entry). */
extern const struct option ps_filter_longopts[];
extern const char ps_filter_help[];

/* Handle one option: 1 if it was a filter option, 0 if not; a bad value is
 * a usage error (exits 2). */
int ps_filter_option(struct ps_filter *f, int opt, const char *arg);

/* Copy a tool's options and the filter options into out (cap entries):
 * the long-option table getopt_long wants. */
void ps_filter_merge_longopts(const struct option *own, struct option *out, size_t cap);

/* Turn wall-clock --from/--to ("14:02", "2026-11-22 14:02:30") into
 * seconds from the start, given the recording's start (CLOCK_REALTIME ns).
 * Local time; a time without a date is the first moment at or after one
 * hour before the start when the clock showed it. */
void ps_filter_resolve_clock(struct ps_filter *f, int64_t wall_start_ns);

/* Parse a wall-clock time into local broken-down time: 0, or -1 when it is
 * not one. has_date says whether a date was given; *sec has the seconds
 * (with a fraction), tm->tm_sec is 0. */
int ps_filter_parse_clock(const char *s, struct tm *tm, double *sec, int *has_date);

/* Whether a sample passes (time relative to the stream's time origin). */
int ps_filter_accept(const struct ps_filter *f, const struct ps_sr_sample *s,
		     uint64_t origin_ns);

#endif
