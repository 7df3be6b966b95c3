/* Private to the capture implementation (ps_db_*.c): the schema and a
 * record payload cursor. format/pyspy-capture.md is the specification. */
#ifndef PS_DB_IMPL_H
#define PS_DB_IMPL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_stream.h"

#define PS_DB_FORMAT "pyspy-capture"
#define PS_DB_SCHEMA_MINOR 0

/* Version 1 of the schema (run in the writer's first transaction). */
static const char ps_db_schema_sql[] =
	"CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;"
	"CREATE TABLE strings (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
	"CREATE TABLE frames (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
	" function INTEGER NOT NULL, qualname INTEGER NOT NULL, file INTEGER NOT NULL,"
	" line INTEGER NOT NULL);"
	"CREATE TABLE stacks (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL,"
	" frame INTEGER NOT NULL);"
	"CREATE TABLE threads (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL,"
	" tid INTEGER NOT NULL, name INTEGER NOT NULL);"
	"CREATE TABLE processes (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL,"
	" ppid INTEGER NOT NULL, time INTEGER NOT NULL, sample INTEGER NOT NULL);"
	"CREATE TABLE process_args (process INTEGER NOT NULL, n INTEGER NOT NULL,"
	" arg TEXT NOT NULL, PRIMARY KEY (process, n)) WITHOUT ROWID;"
	"CREATE TABLE samples (time INTEGER NOT NULL, thread INTEGER NOT NULL,"
	" stack INTEGER NOT NULL, flags INTEGER NOT NULL);"
	"CREATE INDEX samples_time ON samples (time);"
	"CREATE INDEX samples_thread ON samples (thread, time);"
	"CREATE TABLE events (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
	" time INTEGER NOT NULL, pid INTEGER NOT NULL, count INTEGER NOT NULL,"
	" value INTEGER NOT NULL, text INTEGER NOT NULL);"
	"CREATE INDEX events_time ON events (time);";

struct ps_db;
sqlite3 *ps_db_handle(struct ps_db *db);
/* An SQLite failure (src: the result code) as a message: corruption is
 * said as such. */
int ps_db_fail(const struct ps_db *db, struct ps_errmsg *e, int src);
/* The writer's totals (zeros until the capture is complete). */
const struct ps_stream_totals *ps_db_totals(const struct ps_db *db);

/* Reading the fields of a record payload. */
struct pcur {
	const uint8_t *p;
	size_t n;
};

static inline int pc_uv(struct pcur *c, uint64_t *v)
{
	int k = ps_varint_get(c->p, c->n, v);
	if (k <= 0)
		return -1;
	c->p += k;
	c->n -= (size_t)k;
	return 0;
}

static inline int pc_str(struct pcur *c, const char **s, size_t *n)
{
	uint64_t len;
	if (pc_uv(c, &len) || len > c->n)
		return -1;
	*s = (const char *)c->p;
	*n = (size_t)len;
	c->p += len;
	c->n -= (size_t)len;
	return 0;
}

#endif
