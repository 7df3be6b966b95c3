/* libFuzzer target: the capture reader (ps_db_open, ps_info_db, ps_db_select)
 * on a file holding the fuzzer's bytes. SQLite checks its own pages; what
 * this exercises is our side: a database that is SQLite but whose tables,
 * rows, ids and blobs are anything at all (a foreign schema, NULLs, wrong
 * types, dangling ids, huge counts). Every selection is written to a stream
 * that is then read back, as the tools do. SQLite wants a real path (it
 * opens the -wal and -shm beside it), so the bytes go to a file in a
 * private directory, emptied before each input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "ps_db.h"
#include "ps_stream.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static int to_buf(void *ctx, const void *data, size_t len, struct ps_errmsg *e)
{
	struct buf *b = ctx;
	if (b->n + len > b->cap) {
		size_t cap = (b->n + len) * 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return ps_error(e, PS_ENOMEM, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	return 0;
}

/* Every record of the selection, read back as a consumer would. */
static void read_back(const struct buf *b)
{
	struct ps_sr *r;
	struct ps_errmsg e;
	if (ps_sr_open_mem(b->p, b->n, &r, &e) != PS_OK)
		return;
	struct ps_sr_record rec;
	const struct ps_stream_frame *frames[64];
	uint32_t depth;
	for (int n = 0; n < 100000 && ps_sr_next(r, &rec, &e) == PS_OK; n++)
		if (rec.type == PS_REC_SAMPLE)
			ps_sr_stack(r, rec.sample.stack_id, frames, 64, &depth);
	ps_sr_free(r);
}

static void select_into_stream(struct ps_db *db, const struct ps_db_query *q)
{
	struct buf b = {0};
	struct ps_sw *w;
	struct ps_errmsg e;
	struct ps_stream_totals t;
	if (ps_sw_open_cb(to_buf, &b, ps_db_header(db), NULL, &w, &e) == PS_OK) {
		int rc = ps_db_select(db, q, w, &t, &e);
		if (ps_sw_close(w, rc ? NULL : &t, &e) == PS_OK && !rc)
			read_back(&b);
	}
	free(b.p);
}

static void query_all(const char *path)
{
	struct ps_db *db;
	struct ps_errmsg e;
	if (ps_db_open(path, &db, &e) != PS_OK)
		return;
	(void)ps_db_complete(db);
	struct ps_info info;
	if (ps_info_db(db, &info, &e) == PS_OK) {
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			ps_info_write(&info, "fuzz", f);
			fclose(f);
		}
		ps_info_release(&info);
	}
	struct ps_db_query all = {.idle = 1};
	select_into_stream(db, &all);
	/* the indexed paths: a window, a thread, a process */
	struct ps_db_query some = {.from_set = 1, .from_us = 1000, .to_set = 1, .to_us = 50000,
				   .tid_set = 1, .tid = 2, .pid_set = 1, .pid = 1, .gil_only = 1};
	select_into_stream(db, &some);
	ps_db_close(db);
}

static char dir[] = "/tmp/fuzz-db-XXXXXX";
static char path[sizeof(dir) + 16], wal[sizeof(path) + 8], shm[sizeof(path) + 8];

static void remove_dir(void)
{
	unlink(wal);
	unlink(shm);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
		snprintf(path, sizeof(path), "%s/in.db", dir);
		snprintf(wal, sizeof(wal), "%s-wal", path);
		snprintf(shm, sizeof(shm), "%s-shm", path);
	}
	unlink(wal);
	unlink(shm);
	fuzz_write_file(path, data, size);
	query_all(path);
	return 0;
}
