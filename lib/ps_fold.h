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

struct ps_fold *ps_fold_new(const struct ps_filter *f);
void ps_fold_free(struct ps_fold *fo);

/* Count one sample (already accepted by the filter) of reader r. */
int ps_fold_add(struct ps_fold *fo, const struct ps_sr *r, const struct ps_sr_sample *s);

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
