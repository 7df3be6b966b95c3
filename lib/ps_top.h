/* The model behind pyspy-top: per-function (or per-line) own and total
 * sample counts, kept per thread and for all threads, separately for idle
 * and active samples so that the view can switch idle, line/function and
 * thread filters at any moment without sampling again. No terminal code
 * here: the tool draws what ps_top_rows / ps_top_render give it.
 *
 * Own: samples where the function is the innermost frame. Total: samples
 * where it appears anywhere in the stack, once per sample even when it
 * recurses. A "sample" is one thread's stack at one instant. */
#ifndef PS_TOP_H
#define PS_TOP_H

#include <stddef.h>
#include <stdint.h>

#include "ps_stream.h"

struct ps_top;

enum ps_top_sort {
	PS_TOP_SORT_OWN = 0,      /* %Own (and OwnTime: same order) */
	PS_TOP_SORT_TOTAL,        /* %Total */
	PS_TOP_SORT_OWN_TIME,
	PS_TOP_SORT_TOTAL_TIME,
};

/* What the table shows. */
struct ps_top_view {
	int by_line;              /* one row per function and line; else per function */
	int idle;                 /* count idle samples too */
	int thread;               /* index into the threads (ps_top_thread), -1 for all */
	enum ps_top_sort sort;
};

struct ps_top_row {
	const char *function;     /* qualname when known; owned by the model */
	const char *file;         /* NULL when none */
	uint32_t line;            /* 0 when unknown or aggregating by function */
	uint64_t own, total;      /* samples */
};

struct ps_top_stats {
	uint64_t samples;         /* thread samples in the view */
	uint64_t gil;             /* of those, holding the GIL */
	uint64_t active;          /* of those, not idle */
	uint64_t seen;            /* samples of the view's threads, idle or not */
	uint64_t all_samples;     /* every thread sample added, idle or not */
	uint64_t errors;          /* failed samples reported */
	size_t threads;           /* threads seen */
	size_t processes;         /* distinct pids among them */
};

struct ps_top_thread {
	uint32_t tid;
	const char *name;         /* "" when unknown */
	uint32_t pid;             /* 0 when added without one */
};

struct ps_top *ps_top_new(void);
void ps_top_free(struct ps_top *t);   /* NULL is a no-op */

/* One thread's sample: frames root first (as the stream gives them),
 * flags PS_SAMPLE_GIL / PS_SAMPLE_IDLE. name may be NULL. PS_ENOMEM. */
int ps_top_add(struct ps_top *t, uint32_t tid, const char *name, unsigned flags,
	       const struct ps_stream_frame *const *frames, size_t n);
/* The same for a thread of process pid: threads are told apart by (pid,
 * tid), for --subprocesses. ps_top_add is this with pid 0. */
int ps_top_add_pid(struct ps_top *t, uint32_t pid, uint32_t tid, const char *name,
		   unsigned flags, const struct ps_stream_frame *const *frames, size_t n);
void ps_top_add_errors(struct ps_top *t, uint64_t n);

/* Forget every count and thread (the R key). */
void ps_top_reset(struct ps_top *t);

size_t ps_top_nthreads(const struct ps_top *t);
/* Thread i (0 <= i < ps_top_nthreads), in order of first appearance. */
struct ps_top_thread ps_top_thread(const struct ps_top *t, size_t i);

void ps_top_stats(const struct ps_top *t, const struct ps_top_view *v, struct ps_top_stats *st);

/* The rows of the view, sorted (descending by the sort column, ties by the
 * other count, then by name); rows with neither own nor total are left out.
 * *rows is freed with free(); its strings belong to the model and live
 * until ps_top_reset or ps_top_free. PS_ENOMEM. */
int ps_top_rows(const struct ps_top *t, const struct ps_top_view *v,
		struct ps_top_row **rows, size_t *n);

/* Column heading and one row as fixed-width plain text (no newline):
 *   %Own   %Total  OwnTime  TotalTime  Function (file:line)
 * Percentages of total (samples in the view), times = samples / rate_hz. */
void ps_top_heading(char *buf, size_t cap);
void ps_top_format_row(const struct ps_top_row *r, uint64_t total, double rate_hz,
		       char *buf, size_t cap);

/* The whole table (heading, then at most max_rows rows, 0 for all), one
 * line each, into a malloc'd NUL-terminated string. PS_ENOMEM. */
int ps_top_render(const struct ps_top *t, const struct ps_top_view *v, double rate_hz,
		  size_t max_rows, char **out);

#endif
