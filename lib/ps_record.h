/* Recording: a sample sink (ps_sampler) that writes snapshots to a stream
 * (ps_stream), with what to keep decided at record time. */
#ifndef PS_RECORD_H
#define PS_RECORD_H

#include <stdint.h>

#include "ps_sampler.h"
#include "ps_stream.h"

struct ps_record_opts {
	int gil_only;           /* record only threads holding the GIL */
	int drop_idle;          /* leave idle threads out (default: keep, flagged) */
	uint32_t rate_hz;       /* for the header */
	const char *sampler;    /* "pyspy-sample 0.1.0" */
	int level;              /* zstd level, 0 for the default */
	const char *db_path;    /* write a capture there (ps_db.h) instead of to fd */
};

struct ps_record {
	int fd;
	struct ps_record_opts opts;
	struct ps_sw *w;        /* NULL until the target is open */
	uint64_t t0;
	uint64_t last_flush;
	uint64_t worst_late_ns;
	/* LATE events are summed and written at most once a second: a
	 * sampler that cannot keep up is late at every tick, and an event
	 * per tick (absolute time, lateness in µs) cost ten times the
	 * samples themselves */
	struct {
		uint64_t count, worst_us, time, since;
		uint32_t pid;
	} late;
	int write_error;        /* first error of the writer */
	struct ps_errmsg err;
	struct ps_record_memo **memo; /* threads' last stacks (ps_record.c) */
	struct {                /* the "<truncated>" marker's stack id */
		const struct ps_sw *w;
		uint32_t epoch, stack;
	} trunc;
};

/* A sink writing to fd (not closed). */
/* A snapshot frame as a stream frame: Python frames with their code's
 * names, file and line; native ones (kind PS_FRAME_NATIVE) with the symbol
 * as function, the shared object's name as file, line 0. Strings are the
 * frame's own. */
struct ps_stream_frame ps_record_frame(const struct ps_frame *f);

void ps_record_init(struct ps_record *r, int fd, const struct ps_record_opts *o);
struct ps_sample_sink ps_record_sink(struct ps_record *r);

/* End the stream with totals from st. When the target never opened,
 * nothing at all was written (so that a reader downstream fails as well). */
int ps_record_finish(struct ps_record *r, const struct ps_sampler_stats *st,
		     struct ps_errmsg *e);

#endif
