/* The capture writer: a ps_sw sink that turns records into rows. */
#include "ps_db.h"
#include "ps_db_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ST_STRING, ST_FRAME, ST_STACK, ST_THREAD, ST_PROCESS, ST_ARG, ST_SAMPLE, ST_EVENT,
       ST_META, ST_N };

static const char *const stmt_sql[ST_N] = {
	"INSERT INTO strings(id, text) VALUES (?, ?)",
	"INSERT INTO frames(id, kind, function, qualname, file, line) VALUES (?, ?, ?, ?, ?, ?)",
	"INSERT INTO stacks(id, parent, frame) VALUES (?, ?, ?)",
	"INSERT INTO threads(id, pid, tid, name) VALUES (?, ?, ?, ?)",
	"INSERT INTO processes(id, pid, ppid, time, sample) VALUES (?, ?, ?, ?, ?)",
	"INSERT INTO process_args(process, n, arg) VALUES (?, ?, ?)",
	"INSERT INTO samples(time, thread, stack, flags) VALUES (?, ?, ?, ?)",
	"INSERT INTO events(kind, time, pid, count, value, text) VALUES (?, ?, ?, ?, ?, ?)",
	"INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
};

struct dbw {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_N];
	uint32_t n[ST_N];       /* rows written, for the tables numbered by id */
	/* rows of earlier stream segments (format 1.1): a segment's ids are
	 * offset by these, so that ids stay unique in the capture */
	uint32_t base[ST_N];
	int headers;
	uint64_t last_us;       /* time of the last sample */
	uint64_t samples;       /* written: the rowid of the last one */
	int in_txn;
};

static int dbw_err(struct dbw *w, struct ps_errmsg *e, const char *what)
{
	return ps_error(e, PS_EIO, "cannot write capture '%s': %s: %s", w->path, what,
			sqlite3_errmsg(w->db));
}

static int dbw_exec(struct dbw *w, const char *sql, struct ps_errmsg *e)
{
	if (sqlite3_exec(w->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return dbw_err(w, e, sql);
	return 0;
}

/* Run the prepared statement st with n int64 parameters (the text ones are
 * bound by the caller first, at the positions ints skips: INT64_MIN). */
static int dbw_run(struct dbw *w, int st, const int64_t *v, int n, struct ps_errmsg *e)
{
	sqlite3_stmt *s = w->st[st];
	for (int i = 0; i < n; i++)
		if (v[i] != INT64_MIN)
			sqlite3_bind_int64(s, i + 1, v[i]);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return dbw_err(w, e, "insert");
	return 0;
}

static int meta_int(struct dbw *w, const char *key, int64_t v, struct ps_errmsg *e)
{
	sqlite3_bind_text(w->st[ST_META], 1, key, -1, SQLITE_STATIC);
	int64_t args[2] = { INT64_MIN, v };
	return dbw_run(w, ST_META, args, 2, e);
}

static int meta_text(struct dbw *w, const char *key, const char *v, size_t n,
		     struct ps_errmsg *e)
{
	sqlite3_bind_text(w->st[ST_META], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(w->st[ST_META], 2, v, (int)n, SQLITE_TRANSIENT);
	int64_t args[2] = { INT64_MIN, INT64_MIN };
	return dbw_run(w, ST_META, args, 2, e);
}

static int commit(struct dbw *w, struct ps_errmsg *e)
{
	if (!w->in_txn)
		return 0;
	w->in_txn = 0;
	return dbw_exec(w, "COMMIT", e);
}

static int begin(struct dbw *w, struct ps_errmsg *e)
{
	if (w->in_txn)
		return 0;
	int rc = dbw_exec(w, "BEGIN", e);
	w->in_txn = rc == 0;
	return rc;
}

/* A command line as rows of process_args for process id. */
static int put_argv(struct dbw *w, uint32_t id, struct pcur *c, struct ps_errmsg *e)
{
	uint64_t argc;
	if (pc_uv(c, &argc))
		return ps_error(e, PS_EUSAGE, "bad command line in a record");
	for (uint64_t i = 0; i < argc; i++) {
		const char *s;
		size_t n;
		if (pc_str(c, &s, &n))
			return ps_error(e, PS_EUSAGE, "bad command line in a record");
		sqlite3_bind_text(w->st[ST_ARG], 3, s, (int)n, SQLITE_STATIC);
		int64_t v[3] = { id, (int64_t)i, INT64_MIN };
		int rc = dbw_run(w, ST_ARG, v, 3, e);
		if (rc)
			return rc;
	}
	return 0;
}

static int on_header(struct dbw *w, struct pcur *c, struct ps_errmsg *e)
{
	uint64_t major, minor, pid, rate, wall, origin;
	const char *sampler, *pyver;
	size_t ls, lp;
	char ver[48];
	int rc;
	if (w->headers++) {
		/* a new segment: its tables start empty, ids at 1 */
		for (int t = ST_STRING; t <= ST_THREAD; t++)
			w->base[t] = w->n[t];
		return 0;
	}
	if (pc_uv(c, &major) || pc_uv(c, &minor) || pc_str(c, &sampler, &ls) || pc_uv(c, &pid))
		return ps_error(e, PS_EUSAGE, "bad header record");
	if ((rc = put_argv(w, 0, c, e)))
		return rc;
	if (pc_str(c, &pyver, &lp) || pc_uv(c, &rate) || pc_uv(c, &wall) || pc_uv(c, &origin))
		return ps_error(e, PS_EUSAGE, "bad header record");
	snprintf(ver, sizeof(ver), "%llu.%llu", (unsigned long long)major,
		 (unsigned long long)minor);
	if ((rc = meta_text(w, "format", PS_DB_FORMAT, strlen(PS_DB_FORMAT), e)) ||
	    (rc = meta_int(w, "schema_minor", PS_DB_SCHEMA_MINOR, e)) ||
	    (rc = meta_text(w, "stream_version", ver, strlen(ver), e)) ||
	    (rc = meta_text(w, "sampler", sampler, ls, e)) ||
	    (rc = meta_int(w, "pid", (int64_t)pid, e)) ||
	    (rc = meta_text(w, "python_version", pyver, lp, e)) ||
	    (rc = meta_int(w, "rate_hz", (int64_t)rate, e)) ||
	    (rc = meta_int(w, "wall_start_ns", ps_unzigzag(wall), e)) ||
	    (rc = meta_int(w, "mono_origin_ns", (int64_t)origin, e)) ||
	    (rc = meta_text(w, "state", "writing", 7, e)))
		return rc;
	/* a reader can open the capture as soon as it exists */
	if ((rc = commit(w, e)))
		return rc;
	return begin(w, e);
}

static int on_string(struct dbw *w, struct pcur *c, struct ps_errmsg *e)
{
	const char *s;
	size_t n;
	if (pc_str(c, &s, &n))
		return ps_error(e, PS_EUSAGE, "bad string record");
	sqlite3_bind_text(w->st[ST_STRING], 2, s, (int)n, SQLITE_STATIC);
	int64_t v[2] = { ++w->n[ST_STRING], INT64_MIN };
	return dbw_run(w, ST_STRING, v, 2, e);
}

/* The capture's id of a segment's id in table t (0 stays none). */
static int64_t seg_id(const struct dbw *w, int t, uint64_t id)
{
	return id ? (int64_t)(id + w->base[t]) : 0;
}

/* A record of k plain varints into rows of st (id first when numbered);
 * ref[i] >= 0 names the table field i refers to. */
static int on_ints(struct dbw *w, int st, int numbered, struct pcur *c, int k,
		   const int *ref, struct ps_errmsg *e)
{
	int64_t v[8];
	int n = 0;
	if (numbered)
		v[n++] = ++w->n[st];
	for (int i = 0; i < k; i++) {
		uint64_t x;
		if (pc_uv(c, &x))
			return ps_error(e, PS_EUSAGE, "bad record");
		v[n++] = ref[i] >= 0 ? seg_id(w, ref[i], x) : (int64_t)x;
	}
	return dbw_run(w, st, v, n, e);
}

static const int frame_refs[5] = { -1, ST_STRING, ST_STRING, ST_STRING, -1 };
static const int stack_refs[2] = { ST_STACK, ST_FRAME };
static const int thread_refs[3] = { -1, -1, ST_STRING };

static int on_process(struct dbw *w, struct pcur *c, struct ps_errmsg *e)
{
	uint64_t pid, ppid;
	uint32_t id = ++w->n[ST_PROCESS];
	if (pc_uv(c, &pid) || pc_uv(c, &ppid))
		return ps_error(e, PS_EUSAGE, "bad process record");
	int64_t v[5] = { id, (int64_t)pid, (int64_t)ppid, (int64_t)w->last_us,
			 (int64_t)w->samples };
	int rc = dbw_run(w, ST_PROCESS, v, 5, e);
	return rc ? rc : put_argv(w, id, c, e);
}

static int on_sample(struct dbw *w, struct pcur *c, struct ps_errmsg *e)
{
	uint64_t dt, thread, stack, flags;
	if (pc_uv(c, &dt) || pc_uv(c, &thread) || pc_uv(c, &stack) || pc_uv(c, &flags))
		return ps_error(e, PS_EUSAGE, "bad sample record");
	w->last_us += dt;
	w->samples++;
	int64_t v[4] = { (int64_t)w->last_us, seg_id(w, ST_THREAD, thread),
			 seg_id(w, ST_STACK, stack), (int64_t)flags };
	return dbw_run(w, ST_SAMPLE, v, 4, e);
}

static int on_event(struct dbw *w, struct pcur *c, struct ps_errmsg *e)
{
	uint64_t x[6];
	for (int i = 0; i < 6; i++)
		if (pc_uv(c, &x[i]))
			return ps_error(e, PS_EUSAGE, "bad event record");
	int64_t v[6] = { (int64_t)x[0], (int64_t)x[1], (int64_t)x[2], (int64_t)x[3],
			 ps_unzigzag(x[4]), seg_id(w, ST_STRING, x[5]) };
	return dbw_run(w, ST_EVENT, v, 6, e);
}

static int on_end(struct dbw *w, struct pcur *c, struct ps_errmsg *e)
{
	uint64_t samples, errors, late, dur_us;
	int rc;
	if (pc_uv(c, &samples) || pc_uv(c, &errors) || pc_uv(c, &late) || pc_uv(c, &dur_us))
		return ps_error(e, PS_EUSAGE, "bad end record");
	if ((rc = meta_int(w, "samples", (int64_t)samples, e)) ||
	    (rc = meta_int(w, "errors", (int64_t)errors, e)) ||
	    (rc = meta_int(w, "late", (int64_t)late, e)) ||
	    (rc = meta_int(w, "duration_ns", (int64_t)(dur_us * 1000), e)) ||
	    (rc = meta_text(w, "state", "complete", 8, e)))
		return rc;
	return commit(w, e);
}

static int dbw_record(void *ctx, uint64_t type, const uint8_t *payload, size_t len,
		      struct ps_errmsg *e)
{
	struct dbw *w = ctx;
	struct pcur c = { payload, len };
	switch (type) {
	case PS_SW_SINK_FLUSH: {
		int rc = commit(w, e);
		return rc ? rc : begin(w, e);
	}
	case PS_REC_HEADER: return on_header(w, &c, e);
	case PS_REC_STRING: return on_string(w, &c, e);
	case PS_REC_FRAME: return on_ints(w, ST_FRAME, 1, &c, 5, frame_refs, e);
	case PS_REC_STACK: return on_ints(w, ST_STACK, 1, &c, 2, stack_refs, e);
	case PS_REC_THREAD: return on_ints(w, ST_THREAD, 1, &c, 3, thread_refs, e);
	case PS_REC_PROCESS: return on_process(w, &c, e);
	case PS_REC_SAMPLE: return on_sample(w, &c, e);
	case PS_REC_EVENT: return on_event(w, &c, e);
	case PS_REC_END: return on_end(w, &c, e);
	}
	return 0; /* records the schema has no table for (experiments) are dropped */
}

/* Also what a killed writer leaves: what was not committed is lost. */
static void dbw_free(void *ctx)
{
	struct dbw *w = ctx;
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(w->st[i]);
	sqlite3_close_v2(w->db); /* rolls an open transaction back */
	free(w->path);
	free(w);
}

static const struct ps_sw_sink dbw_sink = { dbw_record, dbw_free };

static int dbw_setup(struct dbw *w, struct ps_errmsg *e)
{
	char pragmas[160];
	int rc;
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
		 "PRAGMA application_id=%d; PRAGMA user_version=%d;",
		 PS_DB_APPLICATION_ID, PS_DB_SCHEMA);
	if ((rc = dbw_exec(w, pragmas, e)) || (rc = begin(w, e)) ||
	    (rc = dbw_exec(w, ps_db_schema_sql, e)))
		return rc;
	for (int i = 0; i < ST_N; i++)
		if (sqlite3_prepare_v3(w->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &w->st[i], NULL) != SQLITE_OK)
			return dbw_err(w, e, "prepare");
	return 0;
}

/* Only regular files: a capture written to /dev/null or a FIFO must not
 * remove the device (the sampler runs as root). */
static void unlink_file(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
		unlink(path);
}

static void unlink_db(const char *path)
{
	char side[4096];
	unlink_file(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink_file(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink_file(side);
}

int ps_db_create(const char *path, const struct ps_stream_header *h,
		 const struct ps_sw_opts *opts, struct ps_sw **out, struct ps_errmsg *e)
{
	struct dbw *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return ps_error(e, PS_ENOMEM, "out of memory for the capture writer");
	}
	unlink_db(path);
	if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		int rc = ps_error(e, PS_EIO, "cannot create '%s': %s", path,
				  w->db ? sqlite3_errmsg(w->db) : strerror(ENOMEM));
		dbw_free(w);
		return rc;
	}
	int rc = dbw_setup(w, e);
	if (rc) {
		dbw_free(w);
		return rc;
	}
	return ps_sw_open_sink(&dbw_sink, w, h, opts, out, e);
}
