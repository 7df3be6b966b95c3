/* Indexed captures: a recording in an SQLite database (format/pyspy-capture.md).
 *
 * The writer is a stream writer (ps_sw, ps_stream.h) whose records go to
 * the database instead of zstd: producers call the same ps_sw_* functions,
 * and a capture written directly holds the same ids and rows as one
 * converted from the stream of the same calls. The reader answers a time
 * window and a thread or process through the indexes and hands the
 * selection back as an ordinary stream, so every consumer reads captures
 * with the code it reads streams with. */
#ifndef PS_DB_H
#define PS_DB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ps_error.h"
#include "ps_stream.h"

#define PS_DB_SCHEMA 1                  /* PRAGMA user_version */
#define PS_DB_APPLICATION_ID 0x70797370 /* PRAGMA application_id: "pysp" */
#define PS_DB_MAGIC "SQLite format 3"   /* and its NUL: the first 16 bytes */
#define PS_DB_MAGIC_LEN 16

/* Whether the n bytes at buf begin an SQLite database. */
int ps_db_sniff(const void *buf, size_t n);

/* ---- writer ---- */

/* Create the capture path (replacing a file of that name, and its -wal and
 * -shm) and return a writer for it. The database is in WAL mode with
 * synchronous=NORMAL; everything written is committed at each flush
 * (ps_sw_flush, and the writer's own 1-second cadence by sample time), so a
 * reader sees it then and a killed writer loses at most the last period.
 * ps_sw_close marks the capture complete. opts->level is unused. */
int ps_db_create(const char *path, const struct ps_stream_header *h,
		 const struct ps_sw_opts *opts, struct ps_sw **out, struct ps_errmsg *e);

/* Copy every record of the stream r into w (a capture writer), then
 * close w: the capture of a stream holds what a capture written with the
 * same calls holds. Returns 0; PS_STREAM_TRUNCATED when the stream stopped
 * early (what came before the cut is committed, the capture stays
 * incomplete; re says where); PS_DB_COPY_READ when the stream is corrupt
 * (re says how; likewise); or a writer error (e). w is freed in any case. */
#define PS_DB_COPY_READ 3
int ps_db_copy(struct ps_sr *r, struct ps_sw *w, struct ps_errmsg *re, struct ps_errmsg *e);

/* ---- reader ---- */

struct ps_db;

/* Open a capture for reading (also one still being written). PS_EINVAL for
 * a file that is not an SQLite database of ours or is corrupt,
 * PS_EUNSUPPORTED for a newer schema; the message says which. */
int ps_db_open(const char *path, struct ps_db **out, struct ps_errmsg *e);
void ps_db_close(struct ps_db *db);

const struct ps_stream_header *ps_db_header(const struct ps_db *db);
/* 1 when the writer closed the capture, 0 while it is being written or
 * when its writer died. */
int ps_db_complete(const struct ps_db *db);

/* What to select. Times are microseconds from the capture's origin
 * (stream time); a window is [from_us, to_us). */
struct ps_db_query {
	int from_set, to_set;
	uint64_t from_us, to_us;
	int tid_set, pid_set;
	uint32_t tid, pid;
	int idle;               /* keep idle samples (else they are left out) */
	int gil_only;
};

/* Write the selected samples to w in stream order, each preceded by the
 * definitions (strings, frames, stacks, threads) it uses that w has not
 * seen, the processes declared before it and the events of the window.
 * t gets the capture's totals (samples: those selected). The whole
 * selection is read in one snapshot of the database. */
int ps_db_select(struct ps_db *db, const struct ps_db_query *q, struct ps_sw *w,
		 struct ps_stream_totals *t, struct ps_errmsg *e);

/* ---- summary (pyspy-index --info) ---- */

struct ps_info_thread {
	uint32_t pid, tid;
	char *name;             /* NULL when none */
	uint64_t samples;
};

struct ps_info_process {
	uint32_t pid, ppid;
	char *command;          /* arguments joined by spaces */
};

struct ps_info_minute {
	uint64_t minute;                /* from stream time 0 */
	uint64_t samples;
};

struct ps_info {
	struct ps_stream_header h;      /* strings owned by the info */
	int complete;                   /* END seen / capture closed */
	uint64_t samples, idle, errors, late;
	uint64_t first_us, last_us;     /* of the samples */
	uint64_t duration_ns;           /* the writer's, else last_us */
	struct ps_info_thread *threads; /* by (pid, tid, name), first seen first */
	size_t nthreads;
	struct ps_info_process *procs;
	size_t nprocs;
	struct ps_info_minute *minutes; /* the minutes of stream time that have
					 * samples, in order */
	size_t nminutes;
};

/* Fill info from a capture (through its indexes) or by reading a stream
 * to its end (PS_STREAM_TRUNCATED when it stops early: info has what came
 * before the cut). On any other error ps_info_db leaves info empty (nothing
 * to release) while ps_info_stream keeps what it read (release it). */
int ps_info_db(struct ps_db *db, struct ps_info *info, struct ps_errmsg *e);
int ps_info_stream(struct ps_sr *r, struct ps_info *info, struct ps_errmsg *e);
/* The summary as text. */
int ps_info_write(const struct ps_info *info, const char *name, FILE *f);
void ps_info_release(struct ps_info *info);

#endif
