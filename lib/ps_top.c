#include "ps_top.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_error.h"
#include "ps_text.h"

/* One row's counts: for a (thread or all threads, function or line) key.
 * Index 0 of own/total is active samples, 1 idle ones. */
struct entry {
	char *function, *file;
	uint32_t line;
	int thread;               /* -1: all threads */
	int by_line;
	uint64_t hash;
	uint64_t stamp;           /* last sample that counted it in total */
	uint64_t own[2], total[2];
};

struct thread {
	uint32_t pid, tid;
	char *name;
	uint64_t samples[2], gil[2];
};

struct ps_top {
	struct entry *e;
	size_t n, cap;
	size_t *slots;            /* open addressing: entry index + 1, 0 empty */
	size_t nslots;
	struct thread *th;
	size_t nth, capth;
	size_t nproc;             /* distinct pids of the threads */
	uint64_t stamp;
	uint64_t errors;
};

struct ps_top *ps_top_new(void)
{
	return calloc(1, sizeof(struct ps_top));
}

static void clear(struct ps_top *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].function);
		free(t->e[i].file);
	}
	for (size_t i = 0; i < t->nth; i++)
		free(t->th[i].name);
	free(t->e);
	free(t->slots);
	free(t->th);
	t->e = NULL;
	t->slots = NULL;
	t->th = NULL;
	t->n = t->cap = t->nslots = t->nth = t->capth = t->nproc = 0;
	t->errors = 0;
}

void ps_top_free(struct ps_top *t)
{
	if (!t)
		return;
	clear(t);
	free(t);
}

void ps_top_reset(struct ps_top *t)
{
	clear(t);
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t key_hash(const char *fn, const char *file, uint32_t line, int thread, int by_line)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = mix(h, fn, strlen(fn) + 1);
	if (file)
		h = mix(h, file, strlen(file) + 1);
	h = mix(h, &line, sizeof(line));
	h = mix(h, &thread, sizeof(thread));
	return mix(h, &by_line, sizeof(by_line));
}

static int same(const struct entry *e, uint64_t h, const char *fn, const char *file,
		uint32_t line, int thread, int by_line)
{
	if (e->hash != h || e->line != line || e->thread != thread || e->by_line != by_line)
		return 0;
	if (strcmp(e->function, fn) != 0)
		return 0;
	if (!e->file || !file)
		return e->file == file;
	return strcmp(e->file, file) == 0;
}

static int rehash(struct ps_top *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 256;
	size_t *s = calloc(ns, sizeof(*s));
	if (!s)
		return PS_ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = (size_t)t->e[i].hash & (ns - 1);
		while (s[j])
			j = (j + 1) & (ns - 1);
		s[j] = i + 1;
	}
	free(t->slots);
	t->slots = s;
	t->nslots = ns;
	return PS_OK;
}

static struct entry *lookup(struct ps_top *t, const char *fn, const char *file, uint32_t line,
			    int thread, int by_line)
{
	if (!by_line)
		line = 0;
	if ((t->n + 1) * 2 > t->nslots && rehash(t))
		return NULL;
	uint64_t h = key_hash(fn, file, line, thread, by_line);
	size_t j = (size_t)h & (t->nslots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
		struct entry *e = &t->e[t->slots[j] - 1];
		if (same(e, h, fn, file, line, thread, by_line))
			return e;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 128;
		struct entry *ne = realloc(t->e, nc * sizeof(*ne));
		if (!ne)
			return NULL;
		t->e = ne;
		t->cap = nc;
	}
	struct entry *e = &t->e[t->n];
	memset(e, 0, sizeof(*e));
	e->function = strdup(fn);
	e->file = file ? strdup(file) : NULL;
	if (!e->function || (file && !e->file)) {
		free(e->function);
		free(e->file);
		return NULL;
	}
	e->line = line;
	e->thread = thread;
	e->by_line = by_line;
	e->hash = h;
	t->slots[j] = ++t->n;
	return e;
}

static int thread_index(struct ps_top *t, uint32_t pid, uint32_t tid, const char *name)
{
	int new_pid = 1;
	for (size_t i = t->nth; i-- > 0;) {
		new_pid &= t->th[i].pid != pid;
		if (t->th[i].tid != tid || t->th[i].pid != pid)
			continue;
		if (name && *name && strcmp(t->th[i].name, name) != 0) {
			char *nn = strdup(name);
			if (nn) {
				free(t->th[i].name);
				t->th[i].name = nn;
			}
		}
		return (int)i;
	}
	if (t->nth == t->capth) {
		size_t nc = t->capth ? t->capth * 2 : 16;
		struct thread *nt = realloc(t->th, nc * sizeof(*nt));
		if (!nt)
			return -1;
		t->th = nt;
		t->capth = nc;
	}
	struct thread *th = &t->th[t->nth];
	memset(th, 0, sizeof(*th));
	th->pid = pid;
	th->tid = tid;
	th->name = strdup(name ? name : "");
	if (!th->name)
		return -1;
	t->nproc += new_pid;
	return (int)t->nth++;
}

static const char *frame_name(const struct ps_stream_frame *f)
{
	return f->qualname ? f->qualname : f->function ? f->function : "?";
}

int ps_top_add(struct ps_top *t, uint32_t tid, const char *name, unsigned flags,
	       const struct ps_stream_frame *const *frames, size_t n)
{
	return ps_top_add_pid(t, 0, tid, name, flags, frames, n);
}

int ps_top_add_pid(struct ps_top *t, uint32_t pid, uint32_t tid, const char *name,
		   unsigned flags, const struct ps_stream_frame *const *frames, size_t n)
{
	int ti = thread_index(t, pid, tid, name);
	if (ti < 0)
		return PS_ENOMEM;
	int idle = (flags & PS_SAMPLE_IDLE) ? 1 : 0;
	t->th[ti].samples[idle]++;
	if (flags & PS_SAMPLE_GIL)
		t->th[ti].gil[idle]++;
	uint64_t stamp = ++t->stamp;
	for (size_t i = 0; i < n; i++) {
		const struct ps_stream_frame *f = frames[i];
		int inner = i == n - 1;
		for (int k = 0; k < 4; k++) {
			struct entry *e = lookup(t, frame_name(f), f->file, f->line,
						 k & 1 ? ti : -1, k >> 1);
			if (!e)
				return PS_ENOMEM;
			if (inner)
				e->own[idle]++;
			if (e->stamp != stamp) {
				e->stamp = stamp;
				e->total[idle]++;
			}
		}
	}
	return PS_OK;
}

void ps_top_add_errors(struct ps_top *t, uint64_t n)
{
	t->errors += n;
}

size_t ps_top_nthreads(const struct ps_top *t)
{
	return t->nth;
}

struct ps_top_thread ps_top_thread(const struct ps_top *t, size_t i)
{
	struct ps_top_thread r = { 0, "", 0 };
	if (i < t->nth) {
		r.pid = t->th[i].pid;
		r.tid = t->th[i].tid;
		r.name = t->th[i].name;
	}
	return r;
}

void ps_top_stats(const struct ps_top *t, const struct ps_top_view *v, struct ps_top_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->errors = t->errors;
	st->threads = t->nth;
	st->processes = t->nproc;
	for (size_t i = 0; i < t->nth; i++) {
		const struct thread *th = &t->th[i];
		st->all_samples += th->samples[0] + th->samples[1];
		if (v->thread >= 0 && (size_t)v->thread != i)
			continue;
		st->samples += th->samples[0] + (v->idle ? th->samples[1] : 0);
		st->gil += th->gil[0] + (v->idle ? th->gil[1] : 0);
		st->active += th->samples[0];
		st->seen += th->samples[0] + th->samples[1];
	}
}

static enum ps_top_sort sort_key;

static int row_cmp(const void *a, const void *b)
{
	const struct ps_top_row *x = a, *y = b;
	uint64_t x1 = x->own, y1 = y->own, x2 = x->total, y2 = y->total;
	if (sort_key == PS_TOP_SORT_TOTAL || sort_key == PS_TOP_SORT_TOTAL_TIME) {
		x1 = x->total, y1 = y->total, x2 = x->own, y2 = y->own;
	}
	if (x1 != y1)
		return x1 < y1 ? 1 : -1;
	if (x2 != y2)
		return x2 < y2 ? 1 : -1;
	int c = strcmp(x->function, y->function);
	if (c)
		return c;
	c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

int ps_top_rows(const struct ps_top *t, const struct ps_top_view *v,
		struct ps_top_row **rows, size_t *n)
{
	struct ps_top_row *r = malloc((t->n ? t->n : 1) * sizeof(*r));
	size_t k = 0;
	if (!r)
		return PS_ENOMEM;
	int want_thread = v->thread >= 0 && (size_t)v->thread < t->nth ? v->thread : -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct entry *e = &t->e[i];
		if (e->thread != want_thread || e->by_line != (v->by_line ? 1 : 0))
			continue;
		uint64_t own = e->own[0] + (v->idle ? e->own[1] : 0);
		uint64_t total = e->total[0] + (v->idle ? e->total[1] : 0);
		if (!own && !total)
			continue;
		r[k++] = (struct ps_top_row){ e->function, e->file, e->line, own, total };
	}
	/* qsort has no context argument in C11; the tools are single-threaded */
	sort_key = v->sort;
	qsort(r, k, sizeof(*r), row_cmp);
	*rows = r;
	*n = k;
	return PS_OK;
}

void ps_top_heading(char *buf, size_t cap)
{
	snprintf(buf, cap, "%6s %7s %9s %10s  %s", "%Own", "%Total", "OwnTime", "TotalTime",
		 "Function (file:line)");
}

void ps_top_format_row(const struct ps_top_row *r, uint64_t total, double rate_hz,
		       char *buf, size_t cap)
{
	double pown = total ? 100.0 * (double)r->own / (double)total : 0;
	double ptot = total ? 100.0 * (double)r->total / (double)total : 0;
	double rate = rate_hz > 0 ? rate_hz : 100;
	char where[32] = "";
	if (r->line)
		snprintf(where, sizeof(where), ":%" PRIu32, r->line);
	if (r->file)
		snprintf(buf, cap, "%5.1f%% %6.1f%% %8.2fs %9.2fs  %s (%s%s)", pown, ptot,
			 (double)r->own / rate, (double)r->total / rate, r->function, r->file,
			 where);
	else
		snprintf(buf, cap, "%5.1f%% %6.1f%% %8.2fs %9.2fs  %s", pown, ptot,
			 (double)r->own / rate, (double)r->total / rate, r->function);
	ps_text_scrub(buf); /* names are the target's: no terminal escapes */
}

int ps_top_render(const struct ps_top *t, const struct ps_top_view *v, double rate_hz,
		  size_t max_rows, char **out)
{
	struct ps_top_row *rows;
	struct ps_top_stats st;
	size_t n, len = 0;
	char line[4096];
	*out = NULL;
	if (ps_top_rows(t, v, &rows, &n))
		return PS_ENOMEM;
	ps_top_stats(t, v, &st);
	if (max_rows && n > max_rows)
		n = max_rows;
	FILE *f = open_memstream(out, &len);
	if (!f) {
		free(rows);
		return PS_ENOMEM;
	}
	ps_top_heading(line, sizeof(line));
	fprintf(f, "%s\n", line);
	for (size_t i = 0; i < n; i++) {
		ps_top_format_row(&rows[i], st.samples, rate_hz, line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	free(rows);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return PS_ENOMEM;
	}
	return PS_OK;
}
