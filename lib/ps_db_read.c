/* The capture reader: opens and checks a capture, and answers a selection
 * by re-writing it as a stream (see ps_db.h). */
#include "ps_db.h"
#include "ps_db_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1000000000ull

struct ps_db {
	sqlite3 *db;
	char *path;
	struct ps_stream_header h;
	char *sampler, *pyver;
	char **argv;
	int complete;
	struct ps_stream_totals tot;    /* from meta when complete */
};

int ps_db_sniff(const void *buf, size_t n)
{
	return n >= PS_DB_MAGIC_LEN && memcmp(buf, PS_DB_MAGIC, PS_DB_MAGIC_LEN) == 0;
}

/* An SQLite failure as a message: corruption is said as such. */
static int db_fail(const struct ps_db *db, struct ps_errmsg *e, int src)
{
	int ec = sqlite3_extended_errcode(db->db) & 0xff;
	if (src == SQLITE_CORRUPT || src == SQLITE_NOTADB || ec == SQLITE_CORRUPT ||
	    ec == SQLITE_NOTADB)
		return ps_error(e, PS_EINVAL, "'%s' is corrupt: %s", db->path, sqlite3_errmsg(db->db));
	return ps_error(e, PS_EIO, "cannot read '%s': %s", db->path, sqlite3_errmsg(db->db));
}

static int prep(struct ps_db *db, const char *sql, sqlite3_stmt **st, struct ps_errmsg *e)
{
	int rc = sqlite3_prepare_v2(db->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return db_fail(db, e, rc);
	}
	return 0;
}

/* One integer from a query without parameters (def when no row or NULL). */
static int one_int(struct ps_db *db, const char *sql, int64_t def, int64_t *v,
		   struct ps_errmsg *e)
{
	sqlite3_stmt *st;
	int rc = prep(db, sql, &st, e);
	if (rc)
		return rc;
	*v = def;
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*v = sqlite3_column_int64(st, 0);
	else if (s != SQLITE_ROW && s != SQLITE_DONE)
		rc = db_fail(db, e, s);
	sqlite3_finalize(st);
	return rc;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

/* The pragmas that say whose database it is and in which schema. */
static int check_ours(struct ps_db *db, struct ps_errmsg *e)
{
	int64_t app, ver;
	int rc = one_int(db, "PRAGMA application_id", 0, &app, e);
	if (rc)
		return rc;
	if (app != PS_DB_APPLICATION_ID)
		return ps_error(e, PS_EINVAL, "'%s' is not a pyspy capture "
				"(an SQLite database of another program)", db->path);
	if ((rc = one_int(db, "PRAGMA user_version", 0, &ver, e)))
		return rc;
	if (ver > PS_DB_SCHEMA)
		return ps_error(e, PS_EUNSUPPORTED, "'%s' is a capture of schema version %lld, "
				"newer than this pyspy reads (%d): use a newer pyspy",
				db->path, (long long)ver, PS_DB_SCHEMA);
	if (ver < 1)
		return ps_error(e, PS_EINVAL, "'%s' is not a pyspy capture (schema version %lld)",
				db->path, (long long)ver);
	return 0;
}

static void meta_value(struct ps_db *db, const char *key, sqlite3_stmt *st, int *seen)
{
	int64_t v = sqlite3_column_int64(st, 1);
	if (!strcmp(key, "format"))
		*seen = !strcmp((const char *)sqlite3_column_text(st, 1), PS_DB_FORMAT);
	else if (!strcmp(key, "sampler"))
		free(db->sampler), db->sampler = col_dup(st, 1);
	else if (!strcmp(key, "python_version"))
		free(db->pyver), db->pyver = col_dup(st, 1);
	else if (!strcmp(key, "pid"))
		db->h.pid = (uint32_t)v;
	else if (!strcmp(key, "rate_hz"))
		db->h.rate_hz = (uint32_t)v;
	else if (!strcmp(key, "wall_start_ns"))
		db->h.wall_start_ns = v;
	else if (!strcmp(key, "mono_origin_ns"))
		db->h.mono_origin_ns = (uint64_t)v;
	else if (!strcmp(key, "state"))
		db->complete = !strcmp((const char *)sqlite3_column_text(st, 1), "complete");
	else if (!strcmp(key, "samples"))
		db->tot.samples = (uint64_t)v;
	else if (!strcmp(key, "errors"))
		db->tot.errors = (uint64_t)v;
	else if (!strcmp(key, "late"))
		db->tot.late = (uint64_t)v;
	else if (!strcmp(key, "duration_ns"))
		db->tot.duration_ns = (uint64_t)v;
	/* other keys: later minor versions; ignored */
}

static int read_meta(struct ps_db *db, struct ps_errmsg *e)
{
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT key, value FROM meta", &st, e), s, ours = 0;
	if (rc)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 0);
		if (k && sqlite3_column_type(st, 1) != SQLITE_NULL)
			meta_value(db, (const char *)k, st, &ours);
	}
	if (s != SQLITE_DONE)
		rc = db_fail(db, e, s);
	sqlite3_finalize(st);
	if (!rc && !ours)
		rc = ps_error(e, PS_EINVAL, "'%s' is not a pyspy capture (no format in its metadata)",
			      db->path);
	return rc;
}

static int read_argv(struct ps_db *db, struct ps_errmsg *e)
{
	sqlite3_stmt *st;
	size_t n = 0, cap = 0;
	int rc = prep(db, "SELECT arg FROM process_args WHERE process = 0 ORDER BY n", &st, e), s;
	while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW && n < PS_STREAM_MAX_ARGS) {
		if (n + 2 > cap) {
			cap = cap ? 2 * cap : 8;
			char **p = realloc(db->argv, cap * sizeof(*p));
			if (!p) {
				rc = ps_error(e, PS_ENOMEM, "out of memory");
				break;
			}
			db->argv = p;
		}
		db->argv[n++] = col_dup(st, 0);
		db->argv[n] = NULL;
	}
	if (!rc && s != SQLITE_DONE && s != SQLITE_ROW)
		rc = db_fail(db, e, s);
	sqlite3_finalize(st);
	db->h.argc = (uint32_t)n;
	db->h.argv = (const char *const *)db->argv;
	return rc;
}

static int sniff_file(const char *path, struct ps_errmsg *e)
{
	unsigned char buf[PS_DB_MAGIC_LEN];
	FILE *f = fopen(path, "rb");
	if (!f)
		return ps_error(e, PS_EIO, "cannot open '%s': %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (!ps_db_sniff(buf, n))
		return ps_error(e, PS_EINVAL, "'%s' is not a pyspy capture (not an SQLite database)",
				path);
	return 0;
}

int ps_db_open(const char *path, struct ps_db **out, struct ps_errmsg *e)
{
	*out = NULL;
	int rc = sniff_file(path, e);
	if (rc)
		return rc;
	struct ps_db *db = calloc(1, sizeof(*db));
	if (!db || !(db->path = strdup(path))) {
		free(db);
		return ps_error(e, PS_ENOMEM, "out of memory");
	}
	/* read-write when allowed: a reader of a capture whose writer died
	 * may have to recover its write-ahead log; we never write */
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db->db);
		db->db = NULL;
		if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
			rc = ps_error(e, PS_EIO, "cannot open '%s': %s", path,
				      db->db ? sqlite3_errmsg(db->db) : "out of memory");
	}
	if (!rc) {
		sqlite3_busy_timeout(db->db, 5000);
		rc = check_ours(db, e);
	}
	if (!rc)
		rc = read_meta(db, e);
	if (!rc)
		rc = read_argv(db, e);
	if (rc) {
		ps_db_close(db);
		return rc;
	}
	db->h.major = PS_STREAM_MAJOR;
	db->h.minor = PS_STREAM_MINOR;
	db->h.sampler = db->sampler ? db->sampler : "";
	db->h.python_version = db->pyver ? db->pyver : "";
	*out = db;
	return 0;
}

void ps_db_close(struct ps_db *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->db);
	for (size_t i = 0; db->argv && db->argv[i]; i++)
		free(db->argv[i]);
	free(db->argv);
	free(db->sampler);
	free(db->pyver);
	free(db->path);
	free(db);
}

const struct ps_stream_header *ps_db_header(const struct ps_db *db)
{
	return &db->h;
}

int ps_db_complete(const struct ps_db *db)
{
	return db->complete;
}

/* ---- selection ---------------------------------------------------------- */

enum { Q_STRING, Q_FRAME, Q_STACK, Q_THREAD, Q_N };

/* What a selection has written to w so far: db id -> w id (0: not yet). */
struct sel {
	struct ps_db *db;
	struct ps_sw *w;
	sqlite3_stmt *q[Q_N];
	uint32_t *map[Q_N];
	uint32_t max[Q_N];
	uint32_t *sparent, *sframe;     /* the stacks table, loaded on first use */
	uint32_t *chain;        /* stacks on the way to a mapped ancestor */
	size_t chain_cap;
};

static const char *const sel_sql[Q_N] = {
	"SELECT text FROM strings WHERE id = ?",
	"SELECT kind, function, qualname, file, line FROM frames WHERE id = ?",
	"SELECT parent, frame FROM stacks WHERE id = ?",
	"SELECT pid, tid, name FROM threads WHERE id = ?",
};
static const char *const sel_table[Q_N] = { "strings", "frames", "stacks", "threads" };

static int corrupt(struct sel *s, struct ps_errmsg *e, const char *what, uint64_t id)
{
	return ps_error(e, PS_EINVAL, "'%s' is corrupt: %s %llu is missing or invalid",
			s->db->path, what, (unsigned long long)id);
}

/* Step the by-id query q for id: 0 with a row, else an error. */
static int row(struct sel *s, int q, uint64_t id, struct ps_errmsg *e)
{
	sqlite3_stmt *st = s->q[q];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (int64_t)id);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		return 0;
	if (r == SQLITE_DONE)
		return corrupt(s, e, sel_table[q], id);
	return db_fail(s->db, e, r);
}

static int map_string(struct sel *s, uint64_t id, uint32_t *out, struct ps_errmsg *e)
{
	int rc;
	*out = 0;
	if (!id)
		return 0;
	if (id > s->max[Q_STRING])
		return corrupt(s, e, "string", id);
	if (s->map[Q_STRING][id]) {
		*out = s->map[Q_STRING][id];
		return 0;
	}
	if ((rc = row(s, Q_STRING, id, e)))
		return rc;
	const char *t = (const char *)sqlite3_column_text(s->q[Q_STRING], 0);
	if ((rc = ps_sw_string(s->w, t ? t : "", out, e)))
		return rc;
	s->map[Q_STRING][id] = *out;
	return 0;
}

static int map_frame(struct sel *s, uint64_t id, uint32_t *out, struct ps_errmsg *e)
{
	uint32_t str[3];
	int64_t v[5];
	int rc;
	if (!id || id > s->max[Q_FRAME])
		return corrupt(s, e, "frame", id);
	if ((*out = s->map[Q_FRAME][id]))
		return 0;
	if ((rc = row(s, Q_FRAME, id, e)))
		return rc;
	for (int i = 0; i < 5; i++)
		v[i] = sqlite3_column_int64(s->q[Q_FRAME], i);
	for (int i = 0; i < 3; i++)
		if ((rc = map_string(s, (uint64_t)v[1 + i], &str[i], e)))
			return rc;
	if (!str[0] || v[0] < 0 || v[0] > UINT32_MAX || v[4] < 0 || v[4] > UINT32_MAX)
		return corrupt(s, e, "frame", id);
	if ((rc = ps_sw_frame_ids(s->w, (uint32_t)v[0], str[0], str[1], str[2], (uint32_t)v[4],
				  out, e)))
		return rc;
	s->map[Q_FRAME][id] = *out;
	return 0;
}

/* Every stack's (parent, frame), in one scan: a window's stacks share
 * most of their prefixes, and one sequential read of the table costs a
 * tenth of a query per stack. */
static int load_stacks(struct sel *s, struct ps_errmsg *e)
{
	sqlite3_stmt *st;
	size_t n = (size_t)s->max[Q_STACK] + 1;
	int rc = prep(s->db, "SELECT id, parent, frame FROM stacks", &st, e), r;
	if (rc)
		return rc;
	s->sparent = calloc(n, sizeof(*s->sparent));
	s->sframe = calloc(n, sizeof(*s->sframe));
	if (!s->sparent || !s->sframe)
		rc = ps_error(e, PS_ENOMEM, "out of memory");
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), parent = sqlite3_column_int64(st, 1);
		int64_t frame = sqlite3_column_int64(st, 2);
		/* parents are defined first: no cycles */
		if (id <= 0 || (uint64_t)id >= n || parent < 0 || parent >= id || frame <= 0 ||
		    frame > UINT32_MAX)
			rc = corrupt(s, e, "stack", (uint64_t)id);
		else {
			s->sparent[id] = (uint32_t)parent;
			s->sframe[id] = (uint32_t)frame;
		}
	}
	if (!rc && r != SQLITE_DONE)
		rc = db_fail(s->db, e, r);
	sqlite3_finalize(st);
	return rc;
}

/* A stack: up to its nearest ancestor already written, then down again. */
static int map_stack(struct sel *s, uint64_t id, uint32_t *out, struct ps_errmsg *e)
{
	size_t n = 0;
	uint64_t at = id;
	int rc;
	if (!s->sframe && (rc = load_stacks(s, e)))
		return rc;
	/* the sample's id is the file's: checked before it indexes anything
	 * (each parent is below its child, so the walk stays in bounds) */
	if (id > s->max[Q_STACK])
		return corrupt(s, e, "stack", id);
	while (at && !s->map[Q_STACK][at]) {
		if (!s->sframe[at] || n > 2 * PS_STREAM_MAX_DEPTH)
			return corrupt(s, e, "stack", at);
		if (n + 2 > s->chain_cap) {
			size_t cap = s->chain_cap ? 2 * s->chain_cap : 64;
			uint32_t *c = realloc(s->chain, cap * sizeof(*c));
			if (!c)
				return ps_error(e, PS_ENOMEM, "out of memory");
			s->chain = c;
			s->chain_cap = cap;
		}
		s->chain[n++] = (uint32_t)at;
		s->chain[n++] = s->sframe[at];
		at = s->sparent[at];
	}
	uint32_t parent = at ? s->map[Q_STACK][at] : 0;
	while (n) {
		uint32_t fid, frame = s->chain[--n], sid = s->chain[--n];
		if ((rc = map_frame(s, frame, &fid, e)) ||
		    (rc = ps_sw_stack(s->w, parent, fid, &parent, e)))
			return rc;
		s->map[Q_STACK][sid] = parent;
	}
	*out = parent;
	return 0;
}

static int map_thread(struct sel *s, uint64_t id, uint32_t *out, struct ps_errmsg *e)
{
	int rc;
	if (!id || id > s->max[Q_THREAD])
		return corrupt(s, e, "thread", id);
	if ((*out = s->map[Q_THREAD][id]))
		return 0;
	if ((rc = row(s, Q_THREAD, id, e)))
		return rc;
	sqlite3_stmt *st = s->q[Q_THREAD];
	int64_t pid = sqlite3_column_int64(st, 0), tid = sqlite3_column_int64(st, 1);
	int64_t name = sqlite3_column_int64(st, 2);
	char *text = NULL;
	if (name) {
		if (name < 0 || (rc = row(s, Q_STRING, (uint64_t)name, e)))
			return rc ? rc : corrupt(s, e, "string", (uint64_t)name);
		text = col_dup(s->q[Q_STRING], 0);
		if (!text)
			return ps_error(e, PS_ENOMEM, "out of memory");
	}
	rc = ps_sw_thread(s->w, (uint32_t)pid, (uint32_t)tid, text, out, e);
	free(text);
	if (!rc)
		s->map[Q_THREAD][id] = *out;
	return rc;
}

static int sel_init(struct sel *s, struct ps_errmsg *e)
{
	static const char *const max_sql[Q_N] = {
		"SELECT max(id) FROM strings", "SELECT max(id) FROM frames",
		"SELECT max(id) FROM stacks", "SELECT max(id) FROM threads",
	};
	for (int i = 0; i < Q_N; i++) {
		int64_t m;
		int rc = one_int(s->db, max_sql[i], 0, &m, e);
		if (!rc)
			rc = prep(s->db, sel_sql[i], &s->q[i], e);
		if (rc)
			return rc;
		if (m < 0 || m > (int64_t)PS_STREAM_MAX_STACKS)
			return corrupt(s, e, sel_table[i], (uint64_t)m);
		s->max[i] = (uint32_t)m;
		if (!(s->map[i] = calloc((size_t)m + 1, sizeof(uint32_t))))
			return ps_error(e, PS_ENOMEM, "out of memory");
	}
	return 0;
}

static void sel_release(struct sel *s)
{
	for (int i = 0; i < Q_N; i++) {
		sqlite3_finalize(s->q[i]);
		free(s->map[i]);
	}
	free(s->sparent);
	free(s->sframe);
	free(s->chain);
}

/* The samples query: through samples_time for a window, samples_thread
 * for a thread or process (SQLite picks), in the order they were written. */
static int samples_stmt(struct sel *s, const struct ps_db_query *q, sqlite3_stmt **st,
			struct ps_errmsg *e)
{
	char sql[512];
	int rc;
	snprintf(sql, sizeof(sql),
		 "SELECT time, thread, stack, flags, rowid FROM samples WHERE time >= ?1 AND "
		 "time < ?2%s%s%s ORDER BY time, rowid",
		 q->tid_set || q->pid_set ? " AND thread IN (SELECT id FROM threads WHERE "
		 "(?3 < 0 OR tid = ?3) AND (?4 < 0 OR pid = ?4))" : "",
		 q->idle ? "" : " AND (flags & 2) = 0", q->gil_only ? " AND (flags & 1) = 1" : "");
	if ((rc = prep(s->db, sql, st, e)))
		return rc;
	sqlite3_bind_int64(*st, 1, q->from_set ? (int64_t)q->from_us : 0);
	sqlite3_bind_int64(*st, 2, q->to_set ? (int64_t)q->to_us : INT64_MAX);
	if (q->tid_set || q->pid_set) {
		sqlite3_bind_int64(*st, 3, q->tid_set ? (int64_t)q->tid : -1);
		sqlite3_bind_int64(*st, 4, q->pid_set ? (int64_t)q->pid : -1);
	}
	return 0;
}

/* Events and process declarations, written as their time comes. */
struct extras {
	sqlite3_stmt *ev, *proc, *args;
	int ev_row, proc_row;   /* the statement holds a row not yet written */
};

static int extras_open(struct sel *s, const struct ps_db_query *q, struct extras *x,
		       struct ps_errmsg *e)
{
	int rc;
	if ((rc = prep(s->db, "SELECT kind, time, pid, count, value, text FROM events "
			      "WHERE time >= ?1 AND time < ?2 ORDER BY id", &x->ev, e)) ||
	    (rc = prep(s->db, "SELECT id, pid, ppid, sample FROM processes ORDER BY id", &x->proc, e)) ||
	    (rc = prep(s->db, "SELECT arg FROM process_args WHERE process = ? ORDER BY n",
		       &x->args, e)))
		return rc;
	sqlite3_bind_int64(x->ev, 1, q->from_set ? (int64_t)q->from_us : 0);
	sqlite3_bind_int64(x->ev, 2, q->to_set ? (int64_t)q->to_us : INT64_MAX);
	return 0;
}

static int step_into(struct sel *s, sqlite3_stmt *st, int *has, struct ps_errmsg *e)
{
	int r = sqlite3_step(st);
	*has = r == SQLITE_ROW;
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : db_fail(s->db, e, r);
}

static int write_process(struct sel *s, struct extras *x, struct ps_errmsg *e)
{
	const char *argv[PS_STREAM_MAX_ARGS + 1];
	char *own[PS_STREAM_MAX_ARGS];
	uint32_t argc = 0;
	int r, rc = 0;
	sqlite3_reset(x->args);
	sqlite3_bind_int64(x->args, 1, sqlite3_column_int64(x->proc, 0));
	while ((r = sqlite3_step(x->args)) == SQLITE_ROW && argc < PS_STREAM_MAX_ARGS) {
		if (!(own[argc] = col_dup(x->args, 0)))
			break;
		argv[argc] = own[argc];
		argc++;
	}
	argv[argc] = NULL;
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_fail(s->db, e, r);
	if (!rc)
		rc = ps_sw_process(s->w, (uint32_t)sqlite3_column_int64(x->proc, 1),
				   (uint32_t)sqlite3_column_int64(x->proc, 2), argc, argv, e);
	for (uint32_t i = 0; i < argc; i++)
		free(own[i]);
	return rc;
}

/* Write the processes declared before sample rowid and the events due by
 * stream time us (all: UINT64_MAX for both). */
static int extras_until(struct sel *s, struct extras *x, uint64_t rowid, uint64_t us,
			struct ps_errmsg *e)
{
	int rc = 0;
	while (!rc && x->proc_row && (uint64_t)sqlite3_column_int64(x->proc, 3) < rowid) {
		rc = write_process(s, x, e);
		if (!rc)
			rc = step_into(s, x->proc, &x->proc_row, e);
	}
	while (!rc && x->ev_row && (uint64_t)sqlite3_column_int64(x->ev, 1) <= us) {
		sqlite3_stmt *st = x->ev;
		uint64_t tid = (uint64_t)sqlite3_column_int64(st, 5);
		uint32_t text;
		struct ps_stream_event ev = {
			.kind = (uint32_t)sqlite3_column_int64(st, 0),
			.time_ns = s->db->h.mono_origin_ns + (uint64_t)sqlite3_column_int64(st, 1) * 1000,
			.pid = (uint32_t)sqlite3_column_int64(st, 2),
			.count = (uint64_t)sqlite3_column_int64(st, 3),
			.value = sqlite3_column_int64(st, 4),
		};
		rc = map_string(s, tid, &text, e);
		/* the text itself: the string query's row for it */
		if (!rc && tid && !(rc = row(s, Q_STRING, tid, e)))
			ev.text = (const char *)sqlite3_column_text(s->q[Q_STRING], 0);
		if (!rc)
			rc = ps_sw_event(s->w, &ev, e);
		if (!rc)
			rc = step_into(s, x->ev, &x->ev_row, e);
	}
	return rc;
}

static void extras_close(struct extras *x)
{
	sqlite3_finalize(x->ev);
	sqlite3_finalize(x->proc);
	sqlite3_finalize(x->args);
}

static int select_rows(struct sel *s, const struct ps_db_query *q, uint64_t *last_us,
		       struct ps_errmsg *e)
{
	struct extras x = { 0 };
	sqlite3_stmt *st = NULL;
	int r = SQLITE_DONE, rc = samples_stmt(s, q, &st, e);
	if (!rc)
		rc = extras_open(s, q, &x, e);
	if (!rc)
		rc = step_into(s, x.proc, &x.proc_row, e);
	if (!rc)
		rc = step_into(s, x.ev, &x.ev_row, e);
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(st, 0);
		uint32_t thread = 0, stack = 0;
		if (t < 0)
			rc = ps_error(e, PS_EINVAL, "'%s' is corrupt: a sample at a negative time",
				      s->db->path);
		if (!rc)
			rc = extras_until(s, &x, (uint64_t)sqlite3_column_int64(st, 4), (uint64_t)t, e);
		if (!rc)
			rc = map_thread(s, (uint64_t)sqlite3_column_int64(st, 1), &thread, e);
		if (!rc)
			rc = map_stack(s, (uint64_t)sqlite3_column_int64(st, 2), &stack, e);
		if (!rc)
			rc = ps_sw_sample(s->w, s->db->h.mono_origin_ns + (uint64_t)t * 1000, thread,
					  stack, (unsigned)sqlite3_column_int64(st, 3), e);
		*last_us = (uint64_t)t;
	}
	if (!rc && r != SQLITE_DONE)
		rc = db_fail(s->db, e, r);
	if (!rc)
		rc = extras_until(s, &x, UINT64_MAX, UINT64_MAX, e);
	extras_close(&x);
	sqlite3_finalize(st);
	return rc;
}

/* Totals of a capture whose writer did not close it: from what it holds. */
static int open_totals(struct ps_db *db, struct ps_stream_totals *t, struct ps_errmsg *e)
{
	int64_t v;
	int rc = one_int(db, "SELECT max(time) FROM samples", 0, &v, e);
	t->duration_ns = (uint64_t)v * 1000;
	if (!rc)
		rc = one_int(db, "SELECT sum(count) FROM events WHERE kind = 1", 0, &v, e);
	t->errors = (uint64_t)v;
	if (!rc)
		rc = one_int(db, "SELECT sum(count) FROM events WHERE kind = 2", 0, &v, e);
	t->late = (uint64_t)v;
	return rc;
}

int ps_db_select(struct ps_db *db, const struct ps_db_query *q, struct ps_sw *w,
		 struct ps_stream_totals *t, struct ps_errmsg *e)
{
	struct sel s = { .db = db, .w = w };
	uint64_t last = 0;
	/* one read transaction: one snapshot, even while a writer commits */
	int rc = sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(db, e, 0);
	if (!rc)
		rc = sel_init(&s, e);
	if (!rc)
		rc = select_rows(&s, q, &last, e);
	*t = db->tot;
	if (!rc && !db->complete)
		rc = open_totals(db, t, e);
	sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
	sel_release(&s);
	return rc;
}

/* ---- for ps_db_info.c ---------------------------------------------------- */

sqlite3 *ps_db_handle(struct ps_db *db)
{
	return db->db;
}

int ps_db_fail(const struct ps_db *db, struct ps_errmsg *e, int src)
{
	return db_fail(db, e, src);
}

const struct ps_stream_totals *ps_db_totals(const struct ps_db *db)
{
	return &db->tot;
}
