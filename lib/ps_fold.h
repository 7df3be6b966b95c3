/* Collapsed stacks ("folded"): aggregate samples by stack, then write one
 * line per distinct stack, root first, as format/pyspy-stream.md's
 * "Collapsed stacks" section defines. Used by pyspy-fold, and by pyspy-svg
 * and pyspy-speedscope for their own aggregation. */
#ifndef PS_FOLD_H
#define PS_FOLD_H

#include <stdint.h>
#include <stdio.h>

#include "ps_filter.h"
#include "ps_stream.h"

struct ps_fold;

/* f selects the root of each sample (threads, pids) and the frame texts
 * (no_lines). With split_idle, the idle and the other samples of one
 * (root, stack) are counted apart (pyspy-svg draws idle frames grey). */
struct ps_fold *ps_fold_new(const struct ps_filter *f);
struct ps_fold *ps_fold_new_split(const struct ps_filter *f, int split_idle);
void ps_fold_free(struct ps_fold *fo);

/* Count one sample (already accepted by the filter) of reader r; a sample
 * without a stack (no Python frames) is left out. */
int ps_fold_add(struct ps_fold *fo, const struct ps_sr *r, const struct ps_sr_sample *s);

/* One distinct (root, stack, idle) of the samples counted. */
struct ps_fold_entry {
	uint64_t root;          /* thread record id (--threads), else the pid (0: none) */
	uint32_t stack;         /* the reader's stack id */
	uint32_t idle;          /* 1: idle samples (split_idle only; else 0) */
	uint64_t count;
	const struct ps_sr_thread *thread;   /* of its first sample; owned by the reader */
	const struct ps_sr_process *process; /* likewise; NULL when none */
};

/* Call fn for every entry, in no particular order; stops at the first
 * nonzero return of fn and returns it, else PS_OK. */
typedef int (*ps_fold_each_fn)(void *ctx, const struct ps_fold_entry *e);
int ps_fold_each(struct ps_fold *fo, ps_fold_each_fn fn, void *ctx);

/* Whether stacks are rooted by process: --pids, or samples of more than
 * one process were counted (--subprocesses recordings). */
int ps_fold_by_process(const struct ps_fold *fo);

/* Root frames of --pids and --threads. */
enum ps_fold_root {
	PS_FOLD_ROOT_PROCESS,   /* "process PID: CMD" (CMD: the arguments, ' '-joined) */
	PS_FOLD_ROOT_THREAD,    /* "thread TID: NAME", "thread TID" without a name */
};

/* Append the root frame of e (cleaned as ps_fold_frame_text cleans names)
 * to buf (cap) at *len. Returns 0, writing nothing, when e has no thread
 * (the frame is then left out), else 1. */
int ps_fold_root_text(const struct ps_fold_entry *e, enum ps_fold_root which, char *buf,
		      size_t cap, size_t *len);

/* The aggregated lines, sorted bytewise, identical texts merged. */
struct ps_fold_line {
	char *text;             /* frames joined by ';', root first */
	uint64_t count;
};
int ps_fold_lines(struct ps_fold *fo, const struct ps_sr *r, struct ps_fold_line **lines,
		  size_t *n);
void ps_fold_lines_free(struct ps_fold_line *lines, size_t n);

/* Write "text count\n" lines. */
int ps_fold_write(struct ps_fold *fo, const struct ps_sr *r, FILE *out);

/* One frame as text: NAME (FILE:LINE), NAME (FILE) or NAME, with ';' made
 * ',' and control bytes '?'. Appends to buf (cap) at *len. */
void ps_fold_frame_text(const struct ps_stream_frame *f, int no_lines, char *buf,
			size_t cap, size_t *len);

#endif
