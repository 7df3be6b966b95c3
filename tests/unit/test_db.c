/* Indexed captures (lib/ps_db_*): a round trip through the library, the
 * capture of a stream against the capture written directly (table by
 * table), window/thread/process filters against a brute-force filter of
 * random captures, a killed writer, a reader beside a writer, files that
 * are not ours, newer or corrupt, and wall-clock --from/--to. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ps_db.h"
#include "ps_filter.h"
#include "ps_input.h"
#include "ps_stream.h"

#include "mem_sink.h"

#define MS 1000000ull
#define ORIGIN (7 * 1000 * MS)
#define WALL0 1795000000000000000ll

static char dir[64];

static const char *tmp_path(const char *name)
{
	static char buf[8][128];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 128, "%s/%s", dir, name);
	return p;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_db_XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *const hdr_argv[] = { "python3", "app.py", "--fast" };

static struct ps_stream_header header(void)
{
	return (struct ps_stream_header){ .sampler = "test_db", .pid = 100, .argc = 3,
					  .argv = hdr_argv, .python_version = "3.11.7",
					  .rate_hz = 100, .wall_start_ns = WALL0,
					  .mono_origin_ns = ORIGIN };
}

/* A random recording into w: 2 processes, 6 threads (one renamed), stacks
 * of a 40-frame pool, jittered times with rounds at equal times, every
 * flag, events; n samples. Returns the last sample time. */
static uint64_t gen(struct ps_sw *w, uint64_t seed, int n)
{
	static const uint32_t pids[6] = { 100, 100, 100, 200, 200, 100 };
	static const uint32_t tids[6] = { 100, 101, 102, 200, 201, 101 };
	static const char *const names[6] = { "MainThread", "worker", NULL, "child", "c-io",
					      "renamed" };
	static const char *const child_argv[] = { "python3", "child.py" };
	uint32_t frames[40], threads[6];
	uint64_t t = ORIGIN;
	char fn[32], file[32];
	assert_int_equal(ps_sw_process(w, 100, 1, 3, hdr_argv, NULL), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(fn, sizeof(fn), "f%d", i);
		snprintf(file, sizeof(file), "/app/m%d.py", i % 7);
		struct ps_stream_frame f = { .function = fn, .qualname = i % 3 ? fn : NULL,
					     .file = i % 11 ? file : NULL, .line = (uint32_t)i * 3,
					     .kind = (uint32_t)(i % 13 == 0) };
		assert_int_equal(ps_sw_frame(w, &f, &frames[i], NULL), 0);
	}
	for (int i = 0; i < 5; i++)
		assert_int_equal(ps_sw_thread(w, pids[i], tids[i], names[i], &threads[i], NULL), 0);
	for (int i = 0; i < n; i++) {
		uint64_t r = rnd(&seed);
		if (i == n / 3) {
			assert_int_equal(ps_sw_process(w, 200, 100, 2, child_argv, NULL), 0);
			assert_int_equal(ps_sw_thread(w, pids[5], tids[5], names[5], &threads[5], NULL), 0);
		}
		if (r % 3)
			t += (r >> 8) % 20000 * 1000 + (r >> 4) % 1000;
		uint32_t path[12], depth = 1 + (uint32_t)((r >> 16) % 12), stack;
		for (uint32_t d = 0; d < depth; d++)
			path[d] = frames[(rnd(&seed) % 8) * 5 % 40 + d % 5];
		assert_int_equal(ps_sw_stack_path(w, path, (r >> 24) % 17 ? depth : 0, &stack, NULL), 0);
		int k = (int)((r >> 32) % (i >= n / 3 ? 6 : 5));
		assert_int_equal(ps_sw_sample(w, t, threads[k], stack, (unsigned)(r >> 40) % 4, NULL), 0);
		if ((r >> 44) % 50 == 0) {
			struct ps_stream_event ev = { .kind = PS_STREAM_EV_ERRORS, .time_ns = t,
						      .pid = pids[k], .count = 2, .value = PS_EREAD,
						      .text = (r >> 50) % 2 ? "bad read" : NULL };
			assert_int_equal(ps_sw_event(w, &ev, NULL), 0);
		}
	}
	return t;
}

static void write_db(const char *path, uint64_t seed, int n)
{
	struct ps_stream_header h = header();
	struct ps_sw *w;
	struct ps_errmsg e = { 0 };
	assert_int_equal(ps_db_create(path, &h, NULL, &w, &e), 0);
	uint64_t t = gen(w, seed, n);
	struct ps_stream_totals tot = { .errors = 3, .late = 1, .duration_ns = t - ORIGIN + MS };
	assert_int_equal(ps_sw_close(w, &tot, &e), 0);
}

static void write_stream(struct sink *s, uint64_t seed, int n)
{
	struct ps_stream_header h = header();
	struct ps_sw *w;
	assert_int_equal(ps_sw_open_cb(sink_write, s, &h, NULL, &w, NULL), 0);
	uint64_t t = gen(w, seed, n);
	struct ps_stream_totals tot = { .errors = 3, .late = 1, .duration_ns = t - ORIGIN + MS };
	assert_int_equal(ps_sw_close(w, &tot, NULL), 0);
}

/* ---- samples as text ---------------------------------------------------- */

struct text {
	char *p;
	size_t len, cap;
	uint64_t n;
};

static void text_add(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
	memcpy(t->p + t->len, s, n + 1);
	t->len += n;
}

static void sample_line(const struct ps_sr *r, const struct ps_sr_sample *s, struct text *t)
{
	const struct ps_stream_frame *f[64];
	uint32_t depth;
	char buf[256];
	snprintf(buf, sizeof(buf), "%llu %u/%u %s %u:",
		 (unsigned long long)(s->time_ns - ORIGIN), s->thread->pid, s->thread->tid,
		 s->thread->name ? s->thread->name : "-", s->flags);
	text_add(t, buf);
	assert_int_equal(ps_sr_stack(r, s->stack_id, f, 64, &depth), 0);
	for (uint32_t i = 0; i < depth; i++) {
		snprintf(buf, sizeof(buf), " %s/%s/%s/%u/%u", f[i]->function,
			 f[i]->qualname ? f[i]->qualname : "-", f[i]->file ? f[i]->file : "-",
			 f[i]->line, f[i]->kind);
		text_add(t, buf);
	}
	snprintf(buf, sizeof(buf), " [%s]\n", s->process ? s->process->argv[0] : "-");
	text_add(t, buf);
	t->n++;
}

static int collect(void *ctx, const struct ps_sr *r, const struct ps_sr_sample *s)
{
	sample_line(r, s, ctx);
	return 0;
}

/* The samples of a capture through ps_input (the consumers' way). */
static int db_samples(const char *path, struct ps_filter *f, struct text *t)
{
	struct ps_input_opts io = { .path = path, .filter = f };
	struct ps_input in;
	struct ps_errmsg e = { 0 };
	int rc = ps_input_open(&io, &in, &e);
	if (rc == 0)
		rc = ps_input_each(&in, f, collect, t, &e);
	ps_input_close(&in);
	return rc;
}

/* The filter, written here again: what the capture's answer must equal. */
static int brute_accept(const struct ps_filter *f, const struct ps_sr_sample *s)
{
	double secs = (double)(s->time_ns - ORIGIN) / 1e9;
	return (f->idle || !(s->flags & PS_SAMPLE_IDLE)) &&
	       (!f->gil_only || (s->flags & PS_SAMPLE_GIL)) &&
	       (!f->tid_set || s->thread->tid == f->tid) &&
	       (!f->pid_set || s->thread->pid == f->pid) &&
	       (!f->from_set || secs >= f->from_s) && (!f->to_set || secs < f->to_s);
}

static void stream_samples(const struct sink *s, const struct ps_filter *f, struct text *t)
{
	struct ps_sr *r;
	struct ps_sr_record rec;
	int rc;
	assert_int_equal(ps_sr_open_mem(s->p, s->len, &r, NULL), 0);
	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK)
		if (rec.type == PS_REC_SAMPLE && brute_accept(f, &rec.sample))
			sample_line(r, &rec.sample, t);
	assert_int_equal(rc, PS_STREAM_EOF);
	ps_sr_free(r);
}

/* ---- tests -------------------------------------------------------------- */

static void test_round_trip_equals_stream(void **state)
{
	(void)state;
	struct sink s = { 0 };
	struct text a = { 0 }, b = { 0 };
	struct ps_filter f = { .idle = 1 };
	const char *path = tmp_path("round.db");
	write_db(path, 11, 3000);
	write_stream(&s, 11, 3000);
	assert_int_equal(db_samples(path, &f, &a), 0);
	stream_samples(&s, &f, &b);
	assert_int_equal(a.n, 3000);
	assert_string_equal(a.p, b.p);
	free(a.p);
	free(b.p);
	free(s.p);
}

/* Every row of every table, as text. */
static char *dump_tables(const char *path)
{
	static const char *const q[] = {
		"SELECT key, value FROM meta ORDER BY key",
		"SELECT id, text FROM strings ORDER BY id",
		"SELECT id, kind, function, qualname, file, line FROM frames ORDER BY id",
		"SELECT id, parent, frame FROM stacks ORDER BY id",
		"SELECT id, pid, tid, name FROM threads ORDER BY id",
		"SELECT id, pid, ppid, time, sample FROM processes ORDER BY id",
		"SELECT process, n, arg FROM process_args ORDER BY process, n",
		"SELECT rowid, time, thread, stack, flags FROM samples ORDER BY rowid",
		"SELECT id, kind, time, pid, count, value, text FROM events ORDER BY id",
		"PRAGMA user_version", "PRAGMA application_id",
	};
	sqlite3 *db;
	struct text t = { 0 };
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db, q[i], -1, &st, NULL), SQLITE_OK);
		text_add(&t, q[i]);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(st); c++) {
				const unsigned char *v = sqlite3_column_text(st, c);
				text_add(&t, c ? "|" : "\n");
				text_add(&t, v ? (const char *)v : "NULL");
			}
		}
		text_add(&t, "\n");
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return t.p;
}

/* Two segments (format 1.1): the second HEADER empties the writer's
 * tables and the capture offsets the segment's ids, so that a capture and
 * a stream written alike give the same samples. */
static void write_segments(struct ps_sw *w)
{
	int started;
	gen(w, 21, 700);
	assert_int_equal(ps_sw_segment(w, &started, NULL), 0);
	assert_int_equal(started, 1);
	gen(w, 22, 700);
}

static void test_segments_equal_in_stream_and_capture(void **state)
{
	(void)state;
	struct ps_stream_header h = header();
	struct ps_sw_opts o = { .segment_entries = 50 };
	struct ps_sw *w;
	struct ps_errmsg e = { 0 };
	struct sink s = { 0 };
	struct text a = { 0 }, b = { 0 };
	struct ps_filter f = { .idle = 1 };
	const char *path = tmp_path("segments.db");
	assert_int_equal(ps_db_create(path, &h, &o, &w, &e), 0);
	write_segments(w);
	assert_int_equal(ps_sw_close(w, NULL, &e), 0);
	assert_int_equal(ps_sw_open_cb(sink_write, &s, &h, &o, &w, NULL), 0);
	write_segments(w);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_int_equal(db_samples(path, &f, &a), 0);
	stream_samples(&s, &f, &b);
	assert_int_equal(a.n, 1400);
	assert_string_equal(a.p, b.p);
	free(a.p);
	free(b.p);
	free(s.p);
}

static void test_index_of_stream_equals_direct_capture(void **state)
{
	(void)state;
	struct sink s = { 0 };
	struct ps_sr *r;
	struct ps_sw *w;
	struct ps_errmsg re = { 0 }, e = { 0 };
	struct ps_stream_header h = header();
	const char *direct = tmp_path("direct.db"), *indexed = tmp_path("indexed.db");
	write_db(direct, 5, 2000);
	write_stream(&s, 5, 2000);
	assert_int_equal(ps_sr_open_mem(s.p, s.len, &r, NULL), 0);
	assert_int_equal(ps_db_create(indexed, &h, NULL, &w, &e), 0);
	assert_int_equal(ps_db_copy(r, w, &re, &e), 0);
	ps_sr_free(r);
	char *a = dump_tables(direct), *b = dump_tables(indexed);
	assert_true(strstr(a, "|complete"));
	assert_true(strlen(a) > 50000);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(s.p);
}

static void test_filters_match_brute_force(void **state)
{
	(void)state;
	uint64_t seed = 99;
	for (int round = 0; round < 6; round++) {
		struct sink s = { 0 };
		const char *path = tmp_path("filter.db");
		int n = 500 + (int)(rnd(&seed) % 3000);
		write_db(path, (uint64_t)round + 1000, n);
		write_stream(&s, (uint64_t)round + 1000, n);
		for (int q = 0; q < 25; q++) {
			uint64_t r = rnd(&seed);
			struct ps_filter f = { .idle = (int)(r & 1), .gil_only = (r & 6) == 6 };
			static const uint32_t tids[] = { 100, 101, 102, 200, 201, 999 };
			if ((r >> 3) % 3 == 0) {
				f.tid_set = 1;
				f.tid = tids[(r >> 5) % 6];
			}
			if ((r >> 8) % 4 == 0) {
				f.pid_set = 1;
				f.pid = (r >> 10) % 2 ? 100 : 200;
			}
			/* the capture spans about n * 6.7 ms: windows inside, across
			 * its ends, empty and exactly on sample times */
			double span = n * 0.0067;
			if ((r >> 12) % 3) {
				f.from_set = 1;
				f.from_s = (double)((r >> 16) % 1000) / 1000 * span * 1.1 - span * 0.05;
				if (f.from_s < 0)
					f.from_s = 0;
			}
			if ((r >> 14) % 3) {
				f.to_set = 1;
				f.to_s = (f.from_set ? f.from_s : 0) + (double)((r >> 26) % 1000) / 1000 * span / 3;
			}
			struct text a = { 0 }, b = { 0 };
			struct ps_filter fd = f;
			assert_int_equal(db_samples(path, &fd, &a), 0);
			stream_samples(&s, &f, &b);
			assert_int_equal(a.n, b.n);
			if (a.n)
				assert_string_equal(a.p, b.p);
			free(a.p);
			free(b.p);
		}
		free(s.p);
	}
}

static void test_window_on_exact_sample_times(void **state)
{
	(void)state;
	const char *path = tmp_path("exact.db");
	struct ps_stream_header h = header();
	struct ps_sw *w;
	uint32_t th, fr, st;
	assert_int_equal(ps_db_create(path, &h, NULL, &w, NULL), 0);
	struct ps_stream_frame f = { .function = "main" };
	assert_int_equal(ps_sw_thread(w, 1, 1, NULL, &th, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &f, &fr, NULL), 0);
	assert_int_equal(ps_sw_stack(w, 0, fr, &st, NULL), 0);
	for (int i = 0; i < 100; i++) /* every 10 ms, from 0 */
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * 10 * MS, th, st, 0, NULL), 0);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	/* [0.1, 0.3): the samples at 100, 110 ... 290 ms */
	struct ps_filter fl = { .from_set = 1, .from_s = 0.1, .to_set = 1, .to_s = 0.3 };
	struct text t = { 0 };
	assert_int_equal(db_samples(path, &fl, &t), 0);
	assert_int_equal(t.n, 20);
	assert_true(!strncmp(t.p, "100000000 ", 10));
	free(t.p);
}

/* Samples at 0, 10, ... ms; the writer commits at each second of them. */
static struct ps_sw *writer_at(const char *path, uint32_t *th, uint32_t *st)
{
	struct ps_stream_header h = header();
	struct ps_sw *w;
	uint32_t fr;
	struct ps_stream_frame f = { .function = "tick", .file = "/app/t.py", .line = 3 };
	assert_int_equal(ps_db_create(path, &h, NULL, &w, NULL), 0);
	assert_int_equal(ps_sw_thread(w, 1, 1, "MainThread", th, NULL), 0);
	assert_int_equal(ps_sw_frame(w, &f, &fr, NULL), 0);
	assert_int_equal(ps_sw_stack(w, 0, fr, st, NULL), 0);
	return w;
}

static uint64_t count_db(const char *path, int *incomplete)
{
	struct ps_filter f = { .idle = 1 };
	struct ps_input_opts io = { .path = path, .filter = &f };
	struct ps_input in;
	struct ps_errmsg e = { 0 };
	struct text t = { 0 };
	assert_int_equal(ps_input_open(&io, &in, &e), 0);
	*incomplete = in.incomplete;
	in.incomplete = 0; /* no note on the test's stderr */
	assert_int_equal(ps_input_each(&in, &f, collect, &t, &e), 0);
	ps_input_close(&in);
	free(t.p);
	return t.n;
}

static void test_killed_writer_keeps_committed_samples(void **state)
{
	(void)state;
	const char *path = tmp_path("killed.db");
	uint32_t th, st;
	int inc;
	struct ps_sw *w = writer_at(path, &th, &st);
	for (int i = 0; i <= 350; i++) /* 0 to 3.5 s */
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * 10 * MS, th, st, 0, NULL), 0);
	ps_sw_free(w); /* as SIGKILL: nothing more is written */
	/* committed with the sample at 3.0 s: 301 samples; 3.01-3.5 s lost */
	assert_int_equal(count_db(path, &inc), 301);
	assert_int_equal(inc, 1);
}

static void test_reader_beside_writer_sees_commits(void **state)
{
	(void)state;
	const char *path = tmp_path("live.db");
	uint32_t th, st;
	int inc;
	struct ps_sw *w = writer_at(path, &th, &st);
	assert_int_equal(count_db(path, &inc), 0);
	assert_int_equal(inc, 1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, st, 0, NULL), 0);
	assert_int_equal(count_db(path, &inc), 0); /* not committed yet */
	assert_int_equal(ps_sw_flush(w, ORIGIN + 100 * MS, NULL), 0);
	assert_int_equal(count_db(path, &inc), 100);
	for (int i = 100; i < 150; i++)
		assert_int_equal(ps_sw_sample(w, ORIGIN + (uint64_t)i * MS, th, st, 0, NULL), 0);
	assert_int_equal(ps_sw_flush(w, ORIGIN + 150 * MS, NULL), 0);
	assert_int_equal(count_db(path, &inc), 150);
	assert_int_equal(inc, 1);
	assert_int_equal(ps_sw_close(w, NULL, NULL), 0);
	assert_int_equal(count_db(path, &inc), 150);
	assert_int_equal(inc, 0);
}

static int open_err(const char *path, struct ps_errmsg *e)
{
	struct ps_db *db = NULL;
	int rc = ps_db_open(path, &db, e);
	assert_null(db);
	return rc;
}

static void test_foreign_and_newer_files_are_refused(void **state)
{
	(void)state;
	struct ps_errmsg e = { 0 };
	const char *foreign = tmp_path("foreign.db"), *text = tmp_path("text.db");
	const char *newer = tmp_path("newer.db");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(foreign, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(open_err(foreign, &e), PS_EINVAL);
	assert_non_null(strstr(e.msg, "not a pyspy capture"));

	FILE *f = fopen(text, "w");
	fputs("just some text\n", f);
	fclose(f);
	assert_int_equal(open_err(text, &e), PS_EINVAL);
	assert_non_null(strstr(e.msg, "not an SQLite database"));

	write_db(newer, 3, 50);
	assert_int_equal(sqlite3_open(newer, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(open_err(newer, &e), PS_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "newer"));

	assert_int_equal(open_err(tmp_path("missing.db"), &e), PS_EIO);
}

/* Read everything; an error (never a crash) for a damaged capture. */
static int read_all(const char *path, struct ps_errmsg *e)
{
	struct ps_filter f = { .idle = 1 };
	struct ps_input_opts io = { .path = path, .filter = &f };
	struct ps_input in;
	struct text t = { 0 };
	int rc = ps_input_open(&io, &in, e);
	if (rc == 0)
		rc = ps_input_each(&in, &f, collect, &t, e);
	ps_input_close(&in);
	free(t.p);
	return rc;
}

static void test_corrupt_capture_gives_an_error(void **state)
{
	(void)state;
	struct ps_errmsg e = { 0 };
	const char *path = tmp_path("corrupt.db");
	char cmd[512];
	write_db(path, 8, 20000);
	/* pages overwritten in the middle of the file */
	int fd = open(path, O_WRONLY);
	off_t size = lseek(fd, 0, SEEK_END);
	char junk[4096];
	memset(junk, 0xA5, sizeof(junk));
	for (off_t at = size / 3; at < size / 3 + 16 * 4096; at += 4096)
		assert_int_equal(pwrite(fd, junk, sizeof(junk), at), sizeof(junk));
	close(fd);
	int rc = read_all(path, &e);
	assert_true(rc < 0);
	assert_non_null(strstr(e.msg, "corrupt"));

	/* cut in half */
	write_db(path, 8, 20000);
	snprintf(cmd, sizeof(cmd), "truncate -s %lld '%s'", (long long)size / 2, path);
	assert_int_equal(system(cmd), 0);
	rc = read_all(path, &e);
	assert_true(rc < 0);
	assert_non_null(strstr(e.msg, "corrupt"));
}

/* Found by fuzz_db: a sample whose stack id is past the last stack (or
 * negative) indexed the reader's id map out of bounds before it was checked. */
static void test_sample_with_stack_id_out_of_range_is_corrupt(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"UPDATE samples SET stack = (SELECT max(id) FROM stacks) + 100000 "
		"WHERE rowid = (SELECT min(rowid) FROM samples)",
		"UPDATE samples SET stack = -1 WHERE rowid = (SELECT max(rowid) FROM samples)",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct ps_errmsg e = { 0 };
		sqlite3 *raw;
		const char *path = tmp_path("bad-stack-id.db");
		write_db(path, 5, 200);
		assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
		assert_int_equal(sqlite3_exec(raw, bad[i], NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_changes(raw), 1);
		sqlite3_close(raw);
		assert_true(read_all(path, &e) < 0);
		assert_non_null(strstr(e.msg, "corrupt"));
		assert_non_null(strstr(e.msg, "stack"));
	}
}

static void test_info_of_stream_equals_info_of_capture(void **state)
{
	(void)state;
	struct sink s = { 0 };
	struct ps_sr *r;
	struct ps_db *db;
	struct ps_info a, b;
	char *ta = NULL, *tb = NULL;
	size_t la, lb;
	const char *path = tmp_path("info.db");
	write_db(path, 21, 5000);
	write_stream(&s, 21, 5000);
	assert_int_equal(ps_sr_open_mem(s.p, s.len, &r, NULL), 0);
	assert_int_equal(ps_info_stream(r, &a, NULL), 0);
	ps_sr_free(r);
	assert_int_equal(ps_db_open(path, &db, NULL), 0);
	assert_int_equal(ps_info_db(db, &b, NULL), 0);
	ps_db_close(db);
	FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
	ps_info_write(&a, "x", fa);
	ps_info_write(&b, "x", fb);
	fclose(fa);
	fclose(fb);
	assert_int_equal(a.samples, 5000);
	assert_int_equal(a.nthreads, 6);
	assert_int_equal(a.nprocs, 2);
	assert_string_equal(ta, tb);
	ps_info_release(&a);
	ps_info_release(&b);
	free(ta);
	free(tb);
	free(s.p);
}

/* Found by fuzz_db: a capture whose tables are broken after the header was
 * read made ps_info_db return an error with the header copies still held
 * (a leak, the caller having nothing to release). */
static void test_info_of_broken_capture_holds_nothing(void **state)
{
	(void)state;
	struct ps_db *db;
	struct ps_info info;
	struct ps_errmsg e = { 0 };
	sqlite3 *raw;
	const char *path = tmp_path("broken-info.db");
	write_db(path, 3, 100);
	assert_int_equal(ps_db_open(path, &db, NULL), 0);
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "DROP TABLE process_args", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_true(ps_info_db(db, &info, &e) < 0);
	assert_true(e.msg[0] != 0);
	assert_null(info.h.argv);
	assert_null(info.h.sampler);
	assert_null(info.threads);
	assert_null(info.minutes);
	ps_info_release(&info); /* allowed, and a no-op */
	ps_db_close(db);
}

/* Found by fuzz_db (tests/fuzz/corpus/fuzz_db/oom-e1e1a37c): a damaged
 * sample time near 2^62 us made --info size its per-minute histogram by the
 * time and allocate 16 GB. The histogram now holds only minutes that have
 * samples, and a long gap prints as one line. */
static void test_info_histogram_is_sized_by_samples_not_times(void **state)
{
	(void)state;
	struct ps_db *db;
	struct ps_info info;
	sqlite3 *raw;
	char *text = NULL;
	size_t len;
	const char *path = tmp_path("far-time.db");
	write_db(path, 7, 300);
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "UPDATE samples SET time = 4611686018427387904 "
				      "WHERE rowid = (SELECT max(rowid) FROM samples); "
				      "UPDATE samples SET time = 120000000 + time % 1000 "
				      "WHERE rowid = (SELECT min(rowid) + 1 FROM samples)",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(ps_db_open(path, &db, NULL), 0);
	assert_int_equal(ps_info_db(db, &info, NULL), 0);
	ps_db_close(db);
	/* minute 0 (the rest), minute 2 (one damaged), minute 2^62/6e7 (one) */
	assert_true(info.nminutes <= 4);
	assert_int_equal(info.minutes[info.nminutes - 1].minute, 4611686018427387904ull / 60000000);
	assert_int_equal(info.minutes[info.nminutes - 1].samples, 1);
	uint64_t total = 0;
	for (size_t i = 0; i < info.nminutes; i++) {
		total += info.minutes[i].samples;
		if (i)
			assert_true(info.minutes[i].minute > info.minutes[i - 1].minute);
	}
	assert_int_equal(total, 300);
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(ps_info_write(&info, "x", f), 0);
	fclose(f);
	assert_non_null(strstr(text, "minutes without samples)"));
	assert_true(len < 4096);
	free(text);
	ps_info_release(&info);
}

static double clock_s(const char *arg, int64_t start_ns)
{
	struct ps_filter f = { .from_set = 1, .from_clock = arg };
	ps_filter_resolve_clock(&f, start_ns);
	assert_null(f.from_clock);
	return f.from_s;
}

static void test_wall_clock_times(void **state)
{
	(void)state;
	struct tm tm;
	double sec;
	int has_date;
	setenv("TZ", "UTC", 1);
	tzset();
	/* 2026-11-22 23:30:00 UTC */
	int64_t start = 1795390200ll * 1000000000;
	assert_float_equal(clock_s("23:40", start), 600, 1e-6);
	assert_float_equal(clock_s("23:40:30.25", start), 630.25, 1e-6);
	assert_float_equal(clock_s("00:10", start), 2400, 1e-6);       /* past midnight */
	assert_float_equal(clock_s("23:00", start), 0, 1e-6);          /* before: the start */
	assert_float_equal(clock_s("22:00", start), 81000, 1e-6);      /* > 1 h before: next day */
	assert_float_equal(clock_s("2026-11-23 00:10:30", start), 2430, 1e-6);
	assert_float_equal(clock_s("2026-11-22T23:31:00.5", start), 60.5, 1e-6);
	assert_float_equal(clock_s("2026-11-21 23:31", start), 0, 1e-6);
	assert_int_equal(ps_filter_parse_clock("25:00", &tm, &sec, &has_date), -1);
	assert_int_equal(ps_filter_parse_clock("14:2", &tm, &sec, &has_date), -1);
	assert_int_equal(ps_filter_parse_clock("14:02:", &tm, &sec, &has_date), -1);
	assert_int_equal(ps_filter_parse_clock("2026-13-01 10:00", &tm, &sec, &has_date), -1);
	assert_int_equal(ps_filter_parse_clock("2026-11-22 10:00x", &tm, &sec, &has_date), -1);
	assert_int_equal(ps_filter_parse_clock("9:05", &tm, &sec, &has_date), 0);
	assert_int_equal(tm.tm_hour, 9);
	assert_int_equal(has_date, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_equals_stream),
		cmocka_unit_test(test_segments_equal_in_stream_and_capture),
		cmocka_unit_test(test_index_of_stream_equals_direct_capture),
		cmocka_unit_test(test_filters_match_brute_force),
		cmocka_unit_test(test_window_on_exact_sample_times),
		cmocka_unit_test(test_killed_writer_keeps_committed_samples),
		cmocka_unit_test(test_reader_beside_writer_sees_commits),
		cmocka_unit_test(test_foreign_and_newer_files_are_refused),
		cmocka_unit_test(test_corrupt_capture_gives_an_error),
		cmocka_unit_test(test_sample_with_stack_id_out_of_range_is_corrupt),
		cmocka_unit_test(test_info_of_stream_equals_info_of_capture),
		cmocka_unit_test(test_info_histogram_is_sized_by_samples_not_times),
		cmocka_unit_test(test_info_of_broken_capture_holds_nothing),
		cmocka_unit_test(test_wall_clock_times),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
