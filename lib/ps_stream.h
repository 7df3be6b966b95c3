/* The pyspy sample stream: one writer (ps_sw_*) and one reader (ps_sr_*).
 *
 * format/pyspy-stream.md is the specification; this header is one
 * implementation of it. A stream is a zstd stream whose content is an
 * 8-byte signature followed by records (type, length, payload). The writer
 * interns strings, frames, stacks and threads so that a steady workload
 * costs a few bytes per sample before compression and a fraction of a byte
 * after. The reader works incrementally on a pipe with bounded memory, and
 * tells a truncated stream (writer killed) from a corrupt one. Neither
 * writer nor reader is thread-safe: one thread per stream. */
#ifndef PS_STREAM_H
#define PS_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"

#define PS_STREAM_MAJOR 2
#define PS_STREAM_MINOR 0
/* The oldest major version the reader reads (1.x streams have no SAMPLES
 * records; every other record reads the same). */
#define PS_STREAM_MAJOR_MIN 1

/* The first 8 bytes of the decompressed stream. */
#define PS_STREAM_SIGNATURE "\x8Fpyspy\r\n"
#define PS_STREAM_SIGNATURE_LEN 8

/* Bounds (spec section "Limits"): a reader refuses anything beyond them, so
 * no input makes it allocate without bound; the writer never exceeds them. */
#define PS_STREAM_MAX_RECORD (1u << 20)     /* payload bytes */
#define PS_STREAM_MAX_STRING 65535u         /* bytes, without the NUL */
#define PS_STREAM_MAX_ARGS 4096u            /* strings in a command line */
#define PS_STREAM_MAX_DEPTH 8192u           /* frames in a stack */
#define PS_STREAM_MAX_STRINGS (1u << 20)
#define PS_STREAM_MAX_STRING_BYTES (64u << 20)
#define PS_STREAM_MAX_FRAMES (1u << 20)
#define PS_STREAM_MAX_STACKS (1u << 22)
#define PS_STREAM_MAX_THREADS (1u << 20)
#define PS_STREAM_MAX_PROCESSES (1u << 16)
#define PS_STREAM_WINDOW_LOG_MAX 23         /* zstd window of 8 MiB */

/* Positive statuses of ps_sr_next (errors are negative ps_err codes). */
#define PS_STREAM_EOF 1        /* the END record was delivered; all verified */
#define PS_STREAM_TRUNCATED 2  /* the data stopped early; see ps_sr_next */

/* Record types; values are those of the stream. */
enum ps_rec {
	PS_REC_HEADER = 1,
	PS_REC_STRING = 2,
	PS_REC_FRAME = 3,
	PS_REC_STACK = 4,
	PS_REC_THREAD = 5,
	PS_REC_PROCESS = 6,
	PS_REC_SAMPLE = 7,
	PS_REC_EVENT = 8,
	PS_REC_END = 9,
	/* from 2.0: many samples, range-coded; delivered as PS_REC_SAMPLE */
	PS_REC_SAMPLES = 10,
};

enum ps_frame_kind {
	PS_FRAME_PYTHON = 0,
	PS_FRAME_NATIVE = 1,
	PS_FRAME_MARKER = 2,   /* synthetic: "<idle>", "<gc>", "<truncated>" */
};

enum ps_sample_flags {
	PS_SAMPLE_GIL = 1 << 0,    /* the thread held the GIL */
	PS_SAMPLE_IDLE = 1 << 1,   /* the thread was not running on a CPU */
};

/* Event kinds of the stream (named apart from ps_sampler.h's events, whose
 * values a sink converts: lateness ns to us, a waitpid status to
 * exit code or 256 + signal). */
enum ps_stream_event_kind {
	PS_STREAM_EV_ERRORS = 1,     /* count samples failed; value = ps_err code */
	PS_STREAM_EV_LATE = 2,       /* count samples late; value = worst lateness, us */
	PS_STREAM_EV_PROC_START = 3, /* pid appeared; value = parent pid */
	PS_STREAM_EV_PROC_EXIT = 4,  /* pid exited; value = exit code, 256 + signal, -1 unknown */
};

/* The HEADER record. The writer takes one (its major/minor are ignored and
 * written as this library's); the reader gives the stream's. */
struct ps_stream_header {
	uint32_t major, minor;
	const char *sampler;            /* "pyspy-sample 0.1.0" */
	uint32_t pid;                   /* the target (0 if none yet) */
	uint32_t argc;
	const char *const *argv;        /* the target's command line */
	const char *python_version;     /* "3.11.7", "" if unknown */
	uint32_t rate_hz;               /* requested samples per second */
	int64_t wall_start_ns;          /* CLOCK_REALTIME at start, ns since the epoch */
	uint64_t mono_origin_ns;        /* CLOCK_MONOTONIC instant of stream time 0 */
};

/* A frame: interned by the writer, resolved by the reader. Strings are
 * NUL-terminated and NUL-free. */
struct ps_stream_frame {
	const char *function;           /* never NULL */
	const char *qualname;           /* "Class.method", NULL when unknown */
	const char *file;               /* NULL for frames without one */
	uint32_t line;                  /* 0 when unknown */
	uint32_t kind;                  /* enum ps_frame_kind; others kept as read */
};

struct ps_stream_event {
	uint32_t kind;                  /* enum ps_stream_event_kind; others kept as read */
	uint64_t time_ns;               /* monotonic, like sample times */
	uint32_t pid;                   /* 0 when not about one process */
	uint64_t count;
	int64_t value;
	const char *text;               /* a message, NULL when none */
};

struct ps_stream_totals {
	uint64_t samples;               /* SAMPLE records (the writer counts them) */
	uint64_t errors;                /* failed samples */
	uint64_t late;                  /* samples taken late */
	uint64_t duration_ns;           /* of the recording, microsecond precision */
};

/* ---- varints (exposed for tests and for tools that dump raw records) ---- */

#define PS_VARINT_MAX 10

/* Write v as LEB128 into p (PS_VARINT_MAX bytes of room); returns bytes. */
size_t ps_varint_put(uint8_t *p, uint64_t v);

/* Read a LEB128 value from the n bytes at p: bytes used (> 0), 0 when the
 * n bytes end inside it, PS_EINVAL when it is over-long, overflows 64 bits
 * or is not minimal (a last byte of 0 after the first). */
int ps_varint_get(const uint8_t *p, size_t n, uint64_t *v);

static inline uint64_t ps_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t ps_unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* ---- writer ---- */

struct ps_sw;

/* The default zstd level. Levels 3 to 5 (zstd's "dfast" and "greedy"
 * match finders) compress the short, periodic sample records of a steady
 * workload 5 to 7 times worse than level 1 or 6 and up do; 6 is as cheap
 * as 3 at these data rates. */
#define PS_STREAM_LEVEL 6

struct ps_sw_opts {
	int level;                      /* zstd level; 0 means PS_STREAM_LEVEL */
	uint32_t flush_ms;              /* auto-flush period; 0 means 1000 */
	/* ps_sw_segment starts a new segment once the string, frame, stack
	 * and thread tables hold this many entries together, or their keys
	 * this many bytes; 0: never (one segment) */
	uint32_t segment_entries;
	uint32_t segment_bytes;
};

/* Where compressed bytes go: return 0, or a negative ps_err code. */
typedef int (*ps_sw_write_fn)(void *ctx, const void *buf, size_t len,
			      struct ps_errmsg *e);

/* Start a stream on fd (not closed by the writer) or a callback: writes and
 * flushes the signature and header so that a reader can open at once.
 * opts may be NULL. On error *out is NULL. */
int ps_sw_open_fd(int fd, const struct ps_stream_header *h,
		  const struct ps_sw_opts *opts, struct ps_sw **out,
		  struct ps_errmsg *e);
int ps_sw_open_cb(ps_sw_write_fn fn, void *ctx, const struct ps_stream_header *h,
		  const struct ps_sw_opts *opts, struct ps_sw **out,
		  struct ps_errmsg *e);

/* Records without the zstd layer: a writer that hands each record to a
 * sink instead (the database writer of ps_db.h is one), so that every
 * output interns, numbers and validates exactly as a stream does. The sink
 * gets the HEADER first and END last, each with its payload as the stream
 * would hold it, and PS_SW_SINK_FLUSH (no payload) wherever a stream would
 * be flushed. free(ctx) runs once, from ps_sw_close or ps_sw_free (also
 * when ps_sw_open_sink fails). */
#define PS_SW_SINK_FLUSH 0
struct ps_sw_sink {
	int (*record)(void *ctx, uint64_t type, const uint8_t *payload, size_t len,
		      struct ps_errmsg *e);
	void (*free)(void *ctx);
};
int ps_sw_open_sink(const struct ps_sw_sink *sink, void *ctx, const struct ps_stream_header *h,
		    const struct ps_sw_opts *opts, struct ps_sw **out, struct ps_errmsg *e);

/* Interning: each returns the id of an equal entry written before, or
 * writes a definition and returns the new id (ids start at 1; 0 means
 * none). A string longer than PS_STREAM_MAX_STRING is cut at a UTF-8
 * boundary. PS_ENOMEM when a table is full (PS_STREAM_MAX_*), PS_EUSAGE
 * for an id that was never returned. */
int ps_sw_string(struct ps_sw *w, const char *s, uint32_t *id, struct ps_errmsg *e);
int ps_sw_frame(struct ps_sw *w, const struct ps_stream_frame *f, uint32_t *id,
		struct ps_errmsg *e);
/* The same with string ids (0 for no qualname / file): a sampler that
 * caches ids per code object pays no string hashing per sample. */
int ps_sw_frame_ids(struct ps_sw *w, uint32_t kind, uint32_t function,
		    uint32_t qualname, uint32_t file, uint32_t line, uint32_t *id,
		    struct ps_errmsg *e);
/* Segments (format 1.1): when opts.segment_entries was set and the
 * tables are past it, write the HEADER again, which empties every table
 * (strings, frames, stacks, threads): ids start again at 1, times go on.
 * Every id returned before is then invalid, so call this only where the
 * caller holds none (between two ticks); *started is set to 1 when it did
 * start one. This is what bounds a long recording's writer memory: names
 * that churn (generated code, numbered threads) are all new entries. */
int ps_sw_segment(struct ps_sw *w, int *started, struct ps_errmsg *e);
/* Segments started so far (0 for the first): a caller that caches ids
 * compares it to know they are still valid. */
uint32_t ps_sw_epoch(const struct ps_sw *w);

/* The stack parent + frame (parent 0: frame is a root). */
int ps_sw_stack(struct ps_sw *w, uint32_t parent, uint32_t frame, uint32_t *id,
		struct ps_errmsg *e);
/* The stack of n frame ids, root first (n 0 gives id 0, the empty stack). */
int ps_sw_stack_path(struct ps_sw *w, const uint32_t *frames, size_t n,
		     uint32_t *id, struct ps_errmsg *e);
/* A thread: a new (pid, tid, name) triple (a thread renamed, a tid reused)
 * gets a new id. name may be NULL. */
int ps_sw_thread(struct ps_sw *w, uint32_t pid, uint32_t tid, const char *name,
		 uint32_t *id, struct ps_errmsg *e);
/* Declare a process (not interned: one record per call). */
int ps_sw_process(struct ps_sw *w, uint32_t pid, uint32_t ppid, uint32_t argc,
		  const char *const *argv, struct ps_errmsg *e);

/* One sample. time_ns is CLOCK_MONOTONIC (the header's clock); a time
 * before the previous sample's is written as equal to it. When flush_ms
 * have passed since the last flush (by time_ns), the stream is flushed.
 * A sampler on absolute deadlines should pass the deadline, not the
 * instant of its read: equal deltas compress to almost nothing, jittered
 * ones cost about 2 bytes a sample. */
int ps_sw_sample(struct ps_sw *w, uint64_t time_ns, uint32_t thread,
		 uint32_t stack, unsigned flags, struct ps_errmsg *e);
/* One event (ev->text may be NULL); also auto-flushes by ev->time_ns. */
int ps_sw_event(struct ps_sw *w, const struct ps_stream_event *ev,
		struct ps_errmsg *e);

/* Make everything written so far decodable by a reader (ZSTD_e_flush).
 * now_ns restarts the auto-flush period. The sampler calls this on its own
 * timer too when it may go a second without writing a sample. */
int ps_sw_flush(struct ps_sw *w, uint64_t now_ns, struct ps_errmsg *e);
/* End the current zstd frame (its checksum is written); the next record
 * starts a new one. Readers see no difference; for very long recordings. */
int ps_sw_end_frame(struct ps_sw *w, struct ps_errmsg *e);
/* A record of a type this library does not define (>= 11), for
 * experiments and for testing readers: they must skip it. */
int ps_sw_raw_record(struct ps_sw *w, uint64_t type, const void *payload,
		     size_t len, struct ps_errmsg *e);

/* Write the END record (t->samples is ignored: the writer counts) and end
 * the zstd frame, then free w, also on error. t may be NULL (zeros). */
int ps_sw_close(struct ps_sw *w, const struct ps_stream_totals *t,
		struct ps_errmsg *e);
/* Free without writing anything more: what a killed writer leaves (data
 * since the last flush is lost). NULL is a no-op. */
void ps_sw_free(struct ps_sw *w);

/* Bytes given to zstd (records) and bytes it wrote out, so far. */
void ps_sw_bytes(const struct ps_sw *w, uint64_t *raw, uint64_t *compressed);

/* ---- reader ---- */

struct ps_sr;

struct ps_sr_process {
	uint32_t id;
	uint32_t pid, ppid;
	uint32_t argc;
	const char *const *argv;
};

struct ps_sr_thread {
	uint32_t id;
	uint32_t pid, tid;
	const char *name;               /* NULL when none */
};

struct ps_sr_sample {
	uint64_t time_ns;               /* header.mono_origin_ns + offset */
	uint32_t thread_id, stack_id;
	const struct ps_sr_thread *thread;
	const struct ps_sr_process *process;   /* last declared for thread->pid, or NULL */
	unsigned flags;                 /* enum ps_sample_flags; unknown bits kept */
	uint32_t depth;
	const struct ps_stream_frame *const *frames;   /* root first */
};

/* One record. Pointers to strings, frames, threads and processes stay
 * valid until ps_sr_free; sample.frames until the next ps_sr_next. */
struct ps_sr_record {
	enum ps_rec type;
	uint32_t id;                    /* the id a definition record defines */
	union {
		const char *string;
		const struct ps_stream_frame *frame;
		struct { uint32_t parent, frame; } stack;
		const struct ps_sr_thread *thread;
		const struct ps_sr_process *process;
		struct ps_sr_sample sample;
		struct ps_stream_event event;
		struct ps_stream_totals end;
	};
};

/* Open a stream: reads (blocking on a pipe) the signature and header.
 * ps_sr_open_mem does not copy buf, which must outlive the reader. On
 * error (not a pyspy stream, a newer major version: PS_EUNSUPPORTED,
 * truncated before the header, corrupt) *out is NULL. */
int ps_sr_open_fd(int fd, struct ps_sr **out, struct ps_errmsg *e);
int ps_sr_open_mem(const void *buf, size_t len, struct ps_sr **out,
		   struct ps_errmsg *e);
void ps_sr_free(struct ps_sr *r);

const struct ps_stream_header *ps_sr_header(const struct ps_sr *r);

/* The next record, in stream order (the header is not repeated; unknown
 * record types are skipped). Returns
 *   PS_OK               *rec holds a record;
 *   PS_STREAM_EOF       after the END record, which is delivered only once
 *                       the rest of the stream was checked (zstd checksums,
 *                       nothing after it);
 *   PS_STREAM_TRUNCATED the data stopped before the END record: every
 *                       complete record before the cut was delivered, never
 *                       a partial one; e says where;
 *   < 0                 corrupt (PS_EINVAL) or I/O error; records delivered
 *                       before it were valid.
 * These repeat on further calls, except that a reader on a file descriptor
 * reads on after PS_STREAM_TRUNCATED: a file still being written may have
 * grown ("follow" mode: call again after a pause). */
int ps_sr_next(struct ps_sr *r, struct ps_sr_record *rec, struct ps_errmsg *e);

/* The frames of stack id, root first, into out[cap]; *depth is the full
 * depth (frames beyond cap are left out). PS_EUSAGE for an undefined id. */
int ps_sr_stack(const struct ps_sr *r, uint32_t id,
		const struct ps_stream_frame **out, uint32_t cap, uint32_t *depth);

/* Whether samples come with frames resolved (the default). A tool that
 * aggregates by stack_id turns it off and calls ps_sr_stack once per
 * distinct stack: walking each sample's stack is most of a fold's time. */
void ps_sr_resolve_frames(struct ps_sr *r, int on);

/* The END record's totals, or NULL before it was delivered. */
const struct ps_stream_totals *ps_sr_totals(const struct ps_sr *r);

struct ps_sr_stats {
	uint64_t records;               /* delivered */
	uint64_t samples;
	uint64_t skipped;               /* records of unknown types */
	uint64_t segments;              /* HEADERs after the first (1.1) */
	uint64_t raw_bytes;             /* decompressed bytes consumed */
	uint64_t compressed_bytes;      /* read from the source */
};
void ps_sr_stats(const struct ps_sr *r, struct ps_sr_stats *st);

#endif
