/* The summary of a capture or a stream (pyspy-index --info): filled from
 * the capture's indexes or by reading a stream, printed by one function so
 * that both say the same about the same samples. */
#include "ps_db.h"
#include "ps_db_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MINUTE_US 60000000ull

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (!q)
		return -1;
	memset((char *)q + *cap * size, 0, (n - *cap) * size);
	*p = q;
	*cap = n;
	return 0;
}

struct acc {
	size_t tcap, pcap, mcap;
};

/* The histogram is sparse, one entry per minute that has samples, so its
 * size follows the samples and not the times they carry: a damaged file
 * with one sample at minute 2^30 costs one entry. Minutes come in order
 * from a stream and from the capture's ORDER BY; one out of order (never
 * written by pyspy) is inserted where it belongs. */
static int add_minute(struct ps_info *in, struct acc *a, uint64_t m, uint64_t count)
{
	size_t lo = 0, hi = in->nminutes;
	if (hi && in->minutes[hi - 1].minute <= m)
		lo = in->minutes[hi - 1].minute == m ? hi - 1 : hi;
	else
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (in->minutes[mid].minute < m)
				lo = mid + 1;
			else
				hi = mid;
		}
	if (lo == in->nminutes || in->minutes[lo].minute != m) {
		if (grow((void **)&in->minutes, &a->mcap, in->nminutes + 1, sizeof(*in->minutes)))
			return PS_ENOMEM;
		memmove(&in->minutes[lo + 1], &in->minutes[lo],
			(in->nminutes - lo) * sizeof(*in->minutes));
		in->minutes[lo].minute = m;
		in->minutes[lo].samples = 0;
		in->nminutes++;
	}
	in->minutes[lo].samples += count;
	return 0;
}

static int add_thread(struct ps_info *in, struct acc *a, uint32_t pid, uint32_t tid,
		      const char *name)
{
	if (grow((void **)&in->threads, &a->tcap, in->nthreads + 1, sizeof(*in->threads)))
		return PS_ENOMEM;
	struct ps_info_thread *t = &in->threads[in->nthreads++];
	t->pid = pid;
	t->tid = tid;
	t->name = name ? strdup(name) : NULL;
	return 0;
}

static int add_process(struct ps_info *in, struct acc *a, uint32_t pid, uint32_t ppid,
		       uint32_t argc, const char *const *argv)
{
	size_t len = 1;
	if (grow((void **)&in->procs, &a->pcap, in->nprocs + 1, sizeof(*in->procs)))
		return PS_ENOMEM;
	for (uint32_t i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *cmd = malloc(len), *p = cmd;
	if (!cmd)
		return PS_ENOMEM;
	*p = 0;
	for (uint32_t i = 0; i < argc; i++)
		p += sprintf(p, "%s%s", i ? " " : "", argv[i]);
	in->procs[in->nprocs++] = (struct ps_info_process){ pid, ppid, cmd };
	return 0;
}

static void copy_header(struct ps_info *in, const struct ps_stream_header *h)
{
	in->h = *h;
	in->h.sampler = strdup(h->sampler ? h->sampler : "");
	in->h.python_version = strdup(h->python_version ? h->python_version : "");
	char **argv = calloc(h->argc + 1, sizeof(*argv));
	for (uint32_t i = 0; argv && i < h->argc; i++)
		argv[i] = strdup(h->argv[i]);
	in->h.argv = (const char *const *)argv;
	in->h.argc = argv ? h->argc : 0;
}

int ps_info_stream(struct ps_sr *r, struct ps_info *in, struct ps_errmsg *e)
{
	struct ps_sr_record rec;
	struct acc a = { 0 };
	int rc;
	memset(in, 0, sizeof(*in));
	copy_header(in, ps_sr_header(r));
	ps_sr_resolve_frames(r, 0);
	uint64_t origin = in->h.mono_origin_ns;
	while ((rc = ps_sr_next(r, &rec, e)) == PS_OK) {
		int err = 0;
		if (rec.type == PS_REC_THREAD)
			err = add_thread(in, &a, rec.thread->pid, rec.thread->tid, rec.thread->name);
		else if (rec.type == PS_REC_PROCESS)
			err = add_process(in, &a, rec.process->pid, rec.process->ppid,
					  rec.process->argc, rec.process->argv);
		else if (rec.type == PS_REC_EVENT && rec.event.kind == PS_STREAM_EV_ERRORS)
			in->errors += rec.event.count;
		else if (rec.type == PS_REC_EVENT && rec.event.kind == PS_STREAM_EV_LATE)
			in->late += rec.event.count;
		else if (rec.type == PS_REC_SAMPLE) {
			uint64_t us = (rec.sample.time_ns - origin) / 1000;
			if (!in->samples++)
				in->first_us = us;
			in->last_us = us;
			in->threads[rec.sample.thread_id - 1].samples++;
			err = add_minute(in, &a, us / MINUTE_US, 1);
		}
		if (err)
			return ps_error(e, PS_ENOMEM, "out of memory");
	}
	const struct ps_stream_totals *t = ps_sr_totals(r);
	in->complete = rc == PS_STREAM_EOF;
	if (t) {
		in->errors = t->errors;
		in->late = t->late;
		in->duration_ns = t->duration_ns;
	} else {
		in->duration_ns = in->last_us * 1000;
	}
	return rc == PS_STREAM_EOF ? PS_OK : rc;
}

/* Run sql (no parameters), calling fn for each row. */
static int each_row(struct ps_db *db, const char *sql,
		    int (*fn)(struct ps_info *, struct acc *, sqlite3_stmt *),
		    struct ps_info *in, struct acc *a, struct ps_errmsg *e)
{
	sqlite3_stmt *st;
	int r = sqlite3_prepare_v2(ps_db_handle(db), sql, -1, &st, NULL), rc = 0;
	if (r != SQLITE_OK)
		return ps_db_fail(db, e, r);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = fn(in, a, st)))
			break;
	if (rc)
		rc = ps_error(e, PS_ENOMEM, "out of memory");
	else if (r != SQLITE_DONE)
		rc = ps_db_fail(db, e, r);
	sqlite3_finalize(st);
	return rc;
}

static int row_thread(struct ps_info *in, struct acc *a, sqlite3_stmt *st)
{
	const char *name = (const char *)sqlite3_column_text(st, 2);
	int rc = add_thread(in, a, (uint32_t)sqlite3_column_int64(st, 0),
			    (uint32_t)sqlite3_column_int64(st, 1), name);
	if (!rc)
		in->threads[in->nthreads - 1].samples = (uint64_t)sqlite3_column_int64(st, 3);
	in->samples += (uint64_t)sqlite3_column_int64(st, 3);
	return rc;
}

static int row_minute(struct ps_info *in, struct acc *a, sqlite3_stmt *st)
{
	int64_t m = sqlite3_column_int64(st, 0);
	/* a negative time is the file's damage; counted at minute 0 */
	return add_minute(in, a, m < 0 ? 0 : (uint64_t)m, (uint64_t)sqlite3_column_int64(st, 1));
}

static int row_process(struct ps_info *in, struct acc *a, sqlite3_stmt *st)
{
	const char *argv[PS_STREAM_MAX_ARGS];
	uint32_t argc = 0;
	char *all = (char *)sqlite3_column_text(st, 2);
	/* the arguments come joined with a unit separator */
	for (char *p = all, *q; p && argc < PS_STREAM_MAX_ARGS; p = q ? q + 1 : NULL) {
		q = strchr(p, '\x1f');
		if (q)
			*q = 0;
		if (*p || q)
			argv[argc++] = p;
	}
	return add_process(in, a, (uint32_t)sqlite3_column_int64(st, 0),
			   (uint32_t)sqlite3_column_int64(st, 1), argc, argv);
}

static int row_span(struct ps_info *in, struct acc *a, sqlite3_stmt *st)
{
	(void)a;
	in->first_us = (uint64_t)sqlite3_column_int64(st, 0);
	in->last_us = (uint64_t)sqlite3_column_int64(st, 1);
	return 0;
}

static int row_event(struct ps_info *in, struct acc *a, sqlite3_stmt *st)
{
	(void)a;
	in->errors = (uint64_t)sqlite3_column_int64(st, 0);
	in->late = (uint64_t)sqlite3_column_int64(st, 1);
	return 0;
}

int ps_info_db(struct ps_db *db, struct ps_info *in, struct ps_errmsg *e)
{
	struct acc a = { 0 };
	int rc;
	memset(in, 0, sizeof(*in));
	copy_header(in, ps_db_header(db));
	in->complete = ps_db_complete(db);
	sqlite3_exec(ps_db_handle(db), "BEGIN", NULL, NULL, NULL);
	/* counts through the covering indexes, never the table */
	if ((rc = each_row(db, "SELECT t.pid, t.tid, s.text, (SELECT count(*) FROM samples "
			       "WHERE thread = t.id) FROM threads t LEFT JOIN strings s ON "
			       "s.id = t.name ORDER BY t.id", row_thread, in, &a, e)) ||
	    (rc = each_row(db, "SELECT time / 60000000, count(*) FROM samples GROUP BY 1 ORDER BY 1",
			   row_minute, in, &a, e)) ||
	    (rc = each_row(db, "SELECT min(time), max(time) FROM samples", row_span, in, &a, e)) ||
	    (rc = each_row(db, "SELECT p.pid, p.ppid, (SELECT group_concat(arg, char(31)) FROM "
			       "(SELECT arg FROM process_args WHERE process = p.id ORDER BY n)) "
			       "FROM processes p ORDER BY p.id", row_process, in, &a, e)) ||
	    (rc = each_row(db, "SELECT coalesce(sum(count * (kind = 1)), 0), "
			       "coalesce(sum(count * (kind = 2)), 0) FROM events",
			   row_event, in, &a, e)))
		goto out;
	const struct ps_stream_totals *t = ps_db_totals(db);
	if (in->complete) {
		in->errors = t->errors;
		in->late = t->late;
		in->duration_ns = t->duration_ns;
	} else {
		in->duration_ns = in->last_us * 1000;
	}
out:
	sqlite3_exec(ps_db_handle(db), "COMMIT", NULL, NULL, NULL);
	if (rc) /* a broken capture gives no summary at all: nothing to release */
		ps_info_release(in);
	return rc;
}

static void wall_text(int64_t ns, char *buf, size_t cap)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;
	if (!localtime_r(&s, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(buf, cap, "?");
}

/* Up to this many empty minutes are shown as rows of 0; a longer gap
 * (a capture resumed hours later, or a damaged time) as one line. */
#define GAP_ROWS 10

static void print_minute(FILE *f, const struct ps_info *in, uint64_t m, uint64_t samples)
{
	char hm[16] = "?";
	/* beyond ~a million years the wall clock is meaningless (and would
	 * overflow): the minute is still printed */
	if (m < (1ull << 40) / 60) {
		time_t s = (time_t)(in->h.wall_start_ns / 1000000000 + (int64_t)m * 60);
		struct tm tm;
		if (localtime_r(&s, &tm))
			strftime(hm, sizeof(hm), "%H:%M", &tm);
	}
	fprintf(f, "  +%4llum  %s  %10llu\n", (unsigned long long)m, hm,
		(unsigned long long)samples);
}

int ps_info_write(const struct ps_info *in, const char *name, FILE *f)
{
	char when[64];
	wall_text(in->h.wall_start_ns, when, sizeof(when));
	fprintf(f, "capture:   %s (%s)\n", name,
		in->complete ? "complete" : "incomplete: being written, or its writer stopped");
	fprintf(f, "sampler:   %s, %u Hz; Python %s\n", in->h.sampler, in->h.rate_hz,
		in->h.python_version[0] ? in->h.python_version : "unknown");
	fprintf(f, "target:    pid %u:", in->h.pid);
	for (uint32_t i = 0; i < in->h.argc; i++)
		fprintf(f, " %s", in->h.argv[i]);
	fprintf(f, "\nstarted:   %s\n", when);
	fprintf(f, "duration:  %.3f s\n", (double)in->duration_ns / 1e9);
	fprintf(f, "samples:   %llu (first at %.3f s, last at %.3f s)\n",
		(unsigned long long)in->samples, (double)in->first_us / 1e6,
		(double)in->last_us / 1e6);
	fprintf(f, "errors:    %llu failed samples, %llu late\n",
		(unsigned long long)in->errors, (unsigned long long)in->late);
	fprintf(f, "processes: %zu\n", in->nprocs);
	for (size_t i = 0; i < in->nprocs; i++)
		fprintf(f, "  pid %u (parent %u): %s\n", in->procs[i].pid, in->procs[i].ppid,
			in->procs[i].command);
	fprintf(f, "threads:   %zu\n", in->nthreads);
	fprintf(f, "  %8s %8s %10s  %s\n", "PID", "TID", "SAMPLES", "NAME");
	for (size_t i = 0; i < in->nthreads; i++)
		fprintf(f, "  %8u %8u %10llu  %s\n", in->threads[i].pid, in->threads[i].tid,
			(unsigned long long)in->threads[i].samples,
			in->threads[i].name ? in->threads[i].name : "-");
	fprintf(f, "samples per minute:\n");
	for (size_t i = 0; i < in->nminutes; i++) {
		uint64_t m = in->minutes[i].minute;
		uint64_t from = i ? in->minutes[i - 1].minute + 1 : 0;
		if (m - from > GAP_ROWS)
			fprintf(f, "  (%llu minutes without samples)\n", (unsigned long long)(m - from));
		else
			for (uint64_t z = from; z < m; z++)
				print_minute(f, in, z, 0);
		print_minute(f, in, m, in->minutes[i].samples);
	}
	return ferror(f) ? PS_EIO : PS_OK;
}

void ps_info_release(struct ps_info *in)
{
	for (size_t i = 0; i < in->nthreads; i++)
		free(in->threads[i].name);
	for (size_t i = 0; i < in->nprocs; i++)
		free(in->procs[i].command);
	for (uint32_t i = 0; i < in->h.argc; i++)
		free((char *)in->h.argv[i]);
	free((void *)in->h.argv);
	free((char *)in->h.sampler);
	free((char *)in->h.python_version);
	free(in->threads);
	free(in->procs);
	free(in->minutes);
	memset(in, 0, sizeof(*in));
}
