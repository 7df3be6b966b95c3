/* Speedscope: a sample stream as a speedscope file (the JSON format of
 * https://www.speedscope.app/file-format-schema.json), one "sampled"
 * profile per thread over one shared frame table. Used by pyspy-speedscope.
 *
 * Weights are times, not counts: a sample stands for the time from it to
 * the next sample of its thread (pid, tid) in the stream, whether or not
 * the filter keeps that next one. A gap longer than PS_SPEEDSCOPE_GAP_MAX
 * times the thread's median interval (the thread was not recorded in
 * between: a recording made with --no-idle or --gil, a read that failed)
 * and the thread's last sample weigh the median interval instead: the
 * lower median of the thread's nonzero intervals, or 1/rate of the header
 * (1/100 s without one) for a thread seen once. man/pyspy-speedscope.1
 * states the rules for users. */
#ifndef PS_SPEEDSCOPE_H
#define PS_SPEEDSCOPE_H

#include <stdint.h>
#include <stdio.h>

#include "ps_error.h"
#include "ps_filter.h"
#include "ps_input.h"
#include "ps_stream.h"

#define PS_SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"
#define PS_SPEEDSCOPE_GAP_MAX 10

struct ps_speedscope;

/* f selects samples as for pyspy-fold; f->no_lines merges frames that
 * differ only by line; f->threads and f->pids are ignored (a profile per
 * thread already). NULL when out of memory. */
struct ps_speedscope *ps_speedscope_new(const struct ps_filter *f);
void ps_speedscope_free(struct ps_speedscope *ss);

/* Give it EVERY sample of the stream, in stream order, not only those the
 * filter accepts: it applies the filter itself, and the samples left out
 * still mark where the kept ones end. r must outlive ss's last use (frame
 * and thread names are the reader's). PS_ENOMEM, or PS_EINVAL for a stack
 * the reader cannot resolve. */
int ps_speedscope_add(struct ps_speedscope *ss, const struct ps_sr *r,
		      const struct ps_sr_sample *s);

/* Feed every sample of in to ss (ps_speedscope_add). Returns as
 * ps_input_each: PS_OK, PS_STREAM_TRUNCATED (what came before the cut was
 * added), or < 0; e says why. */
int ps_speedscope_read(struct ps_speedscope *ss, struct ps_input *in, struct ps_errmsg *e);

struct ps_speedscope_stats {
	uint64_t samples;       /* kept, over all profiles */
	size_t profiles;        /* threads with at least one kept sample */
	size_t frames;          /* entries of the shared frame table */
	size_t active;          /* activeProfileIndex: the profile with most samples */
};
void ps_speedscope_stats(const struct ps_speedscope *ss, struct ps_speedscope_stats *st);

/* Write the file (r: the reader given to ps_speedscope_add, for the
 * header's command line, pid and rate). No further samples may be added
 * afterwards. PS_EIO when out reports an error. */
int ps_speedscope_write(struct ps_speedscope *ss, const struct ps_sr *r, FILE *out);

#endif
