/* Where the analysis tools get samples: a stream file, standard input, or a
 * live process sampled for a while (recorded into memory and read back, so
 * live and recorded runs are analysed by the very same code). */
#ifndef PS_INPUT_H
#define PS_INPUT_H

#include <sys/types.h>

#include "ps_filter.h"
#include "ps_stream.h"

struct ps_input_opts {
	const char *path;       /* a stream file, "-" for stdin; NULL: stdin or live */
	pid_t pid;              /* live: sample this process (when path is NULL) */
	double duration_s;      /* live: how long (0: until Ctrl-C or exit) */
	double rate_hz;         /* live: rate (0: 100) */
	int nonblocking;        /* live: never pause the target */
	int quiet;              /* live: no status line */
	/* The tool's filter: its wall-clock times are resolved at open, and on
	 * a capture (.db) its window, thread and process are answered by the
	 * capture's indexes (ps_input_operands sets it). */
	struct ps_filter *filter;
	int subprocesses;       /* live: its python descendants too */
};

struct ps_input {
	struct ps_sr *r;
	int fd;                 /* owned, -1 when none */
	char name[256];         /* for messages: the file, "stdin", "process N" */
	/* a capture: the selection re-written as a stream in memory */
	unsigned char *mem;
	size_t mem_len, mem_cap;
	int incomplete;         /* a capture its writer has not closed */
};

/* Open the input: a stream, or a capture (an SQLite file, ps_db.h) whose
 * selection by o->filter is read back as a stream. Fails with a message
 * naming the file or process. */
int ps_input_open(const struct ps_input_opts *o, struct ps_input *in, struct ps_errmsg *e);
void ps_input_close(struct ps_input *in);

/* Read every record, calling fn for each sample the filter accepts. At the
 * end: PS_OK for a complete stream; PS_STREAM_TRUNCATED when it stopped
 * early (everything before the cut was delivered; e says where); < 0 for a
 * corrupt stream or a callback error. */
typedef int (*ps_input_sample_fn)(void *ctx, const struct ps_sr *r,
				  const struct ps_sr_sample *s);
int ps_input_each(struct ps_input *in, const struct ps_filter *f, ps_input_sample_fn fn,
		  void *ctx, struct ps_errmsg *e);

/* For a capture its writer has not closed (still being written, or its
 * sampler died): a note on stderr saying so; ps_input_each calls it. The
 * samples committed so far are complete, so this is no error. */
void ps_input_note(const struct ps_input *in);

/* The analysis tools' options for input (--pid, --duration, --rate,
 * --nonblocking, --subprocesses); tools add them to their tables. */
extern const struct option ps_input_longopts[];
extern const char ps_input_help[];
enum {
	PS_OPT_LIVE_PID = 0x1100,
	PS_OPT_DURATION,
	PS_OPT_RATE,
	PS_OPT_NONBLOCKING,
	PS_OPT_SUBPROCESSES,
};
/* 1 if opt was an input option (in which case it fills o), else 0. */
int ps_input_option(struct ps_input_opts *o, int opt, const char *arg);

/* After parsing: a --pid given with an input file filters by process
 * instead of sampling it live. */
void ps_input_resolve(struct ps_input_opts *o, struct ps_filter *f);

/* getopt_long for an analysis tool. own (ending with the all-zero entry)
 * and shortopts are the tool's options; the filters' and the input's are
 * added to them and handled here. Returns the next option that is the
 * tool's (or '?'/':' for a bad one), -1 at the operands. */
int ps_input_getopt(int argc, char **argv, const char *shortopts, const struct option *own,
		    struct ps_input_opts *in, struct ps_filter *f);

/* After getopt_long: the one optional input FILE among the operands (a
 * usage error when there are more), then ps_input_resolve. */
void ps_input_operands(int argc, char **argv, struct ps_input_opts *o, struct ps_filter *f);

#endif
