#include "ps_speedscope.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ps_cli.h"   /* PS_VERSION only */
#include "ps_text.h"

#define NS UINT64_C(1000000000)
#define DEFAULT_RATE 100

/* ---- a u64 -> u64 open-addressing map ---------------------------------- */

struct map_ent {
	uint64_t key, val;
	int used;
};

struct map {
	struct map_ent *v;
	size_t cap, n;          /* cap: a power of two, or 0 */
};

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static size_t map_home(const struct map *m, uint64_t key)
{
	return (size_t)mix(key) & (m->cap - 1);
}

/* Make room for one more entry. */
static int map_reserve(struct map *m)
{
	if ((m->n + 1) * 10 <= m->cap * 7)
		return PS_OK;
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct map_ent *v = calloc(cap, sizeof(*v));
	if (!v)
		return PS_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->v[i].used)
			continue;
		size_t j = (size_t)mix(m->v[i].key) & (cap - 1);
		while (v[j].used)
			j = (j + 1) & (cap - 1);
		v[j] = m->v[i];
	}
	free(m->v);
	m->v = v;
	m->cap = cap;
	return PS_OK;
}

/* The entry of key, added with val 0 when absent; NULL when out of memory. */
static struct map_ent *map_get(struct map *m, uint64_t key)
{
	if (map_reserve(m))
		return NULL;
	size_t i = map_home(m, key);
	while (m->v[i].used && m->v[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->v[i].used) {
		m->v[i] = (struct map_ent){ key, 0, 1 };
		m->n++;
	}
	return &m->v[i];
}

/* The entry of key, or NULL. */
static struct map_ent *map_find(const struct map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	size_t i = map_home(m, key);
	while (m->v[i].used && m->v[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return m->v[i].used ? &m->v[i] : NULL;
}

static void map_free(struct map *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- state ------------------------------------------------------------- */

/* An entry of the shared frame table; strings are the reader's. */
struct frame {
	const char *name, *file;   /* file may be NULL */
	uint32_t line;             /* 0: none (or --no-lines) */
};

/* A stack id of the stream, rendered once as its JSON array "[0,4,7]". */
struct stack {
	uint64_t off;
	uint32_t len;
	uint32_t done;
};

/* One thread (pid, tid): its kept samples and the timing of all of them. */
struct thread {
	uint32_t pid, tid;
	const char *name;          /* the latest name seen, or NULL */
	int seen;
	int open;                  /* the latest sample was kept; its weight waits */
	uint64_t prev_ns;          /* the latest sample, kept or not */
	uint64_t first_ns, last_ns;   /* the first and last kept samples */
	uint32_t *stack;           /* kept samples: stack id and weight (ns) */
	uint64_t *w;
	size_t n, cap;
	uint64_t ngaps;            /* nonzero intervals */
	uint64_t run_gap, run_n;   /* equal intervals in a row, not yet in gaps */
	uint64_t median_ns;
};

/* Interval histogram key: thread index and interval in microseconds (the
 * stream's resolution), packed. */
#define GAP_BITS 44
#define GAP_US_MAX ((1ull << GAP_BITS) - 1)

struct ps_speedscope {
	struct ps_filter f;
	int finished;
	struct thread *th;
	size_t nth, capth;
	struct map th_of_key;      /* pid << 32 | tid -> thread index + 1 */
	uint32_t *th_of_rec;       /* thread record id -> thread index + 1 */
	size_t cap_rec;
	struct stack *stk;         /* by stack id */
	size_t capstk;
	char *text;                /* rendered stacks */
	size_t tlen, tcap;
	const struct ps_stream_frame **fbuf;   /* PS_STREAM_MAX_DEPTH */
	struct frame *fr;
	size_t nfr, capfr;
	struct map fr_of_ptr;      /* reader frame pointer -> frame index */
	struct map fr_of_text;     /* hash of name, file, line -> frame index (probed) */
	struct map gaps;           /* (thread, interval us) -> count */
};

struct ps_speedscope *ps_speedscope_new(const struct ps_filter *f)
{
	struct ps_speedscope *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->f = *f;
	ss->fbuf = malloc(PS_STREAM_MAX_DEPTH * sizeof(*ss->fbuf));
	if (!ss->fbuf) {
		free(ss);
		return NULL;
	}
	return ss;
}

void ps_speedscope_free(struct ps_speedscope *ss)
{
	if (!ss)
		return;
	for (size_t i = 0; i < ss->nth; i++) {
		free(ss->th[i].stack);
		free(ss->th[i].w);
	}
	free(ss->th);
	map_free(&ss->th_of_key);
	free(ss->th_of_rec);
	free(ss->stk);
	free(ss->text);
	free(ss->fbuf);
	free(ss->fr);
	map_free(&ss->fr_of_ptr);
	map_free(&ss->fr_of_text);
	map_free(&ss->gaps);
	free(ss);
}

/* Grow *v (elements of size, *cap of them) to hold at least need. */
static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return PS_OK;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *p = realloc(*v, c * size);
	if (!p)
		return PS_ENOMEM;
	memset((char *)p + *cap * size, 0, (c - *cap) * size);
	*v = p;
	*cap = c;
	return PS_OK;
}

/* ---- frames and stacks ------------------------------------------------- */

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull; /* end mark: ("ab","c") != ("a","bc") */
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The table index of f's text (name, file, line), added when new. */
static int frame_index(struct ps_speedscope *ss, const struct ps_stream_frame *f,
		       uint32_t *idx)
{
	struct frame k = { f->qualname ? f->qualname : f->function, f->file,
			   ss->f.no_lines ? 0 : f->line };
	uint64_t h = hash_str(hash_str(0xcbf29ce484222325ull, k.name), k.file) ^ mix(k.line);
	struct map *m = &ss->fr_of_text;
	if (map_reserve(m))
		return PS_ENOMEM;
	size_t i = map_home(m, h);
	for (; m->v[i].used; i = (i + 1) & (m->cap - 1)) {
		const struct frame *e = &ss->fr[m->v[i].val];
		if (m->v[i].key == h && e->line == k.line && same_str(e->name, k.name) &&
		    same_str(e->file, k.file)) {
			*idx = (uint32_t)m->v[i].val;
			return PS_OK;
		}
	}
	if (grow((void **)&ss->fr, &ss->capfr, ss->nfr + 1, sizeof(*ss->fr)))
		return PS_ENOMEM;
	ss->fr[ss->nfr] = k;
	m->v[i] = (struct map_ent){ h, ss->nfr, 1 };
	m->n++;
	*idx = (uint32_t)ss->nfr++;
	return PS_OK;
}

static int text_add(struct ps_speedscope *ss, const char *s, size_t n)
{
	if (grow((void **)&ss->text, &ss->tcap, ss->tlen + n, 1))
		return PS_ENOMEM;
	memcpy(ss->text + ss->tlen, s, n);
	ss->tlen += n;
	return PS_OK;
}

/* Render stack id once: frame indices, root first. */
static int stack_resolve(struct ps_speedscope *ss, const struct ps_sr *r, uint32_t id)
{
	if (id < ss->capstk && ss->stk[id].done)
		return PS_OK;
	if (grow((void **)&ss->stk, &ss->capstk, (size_t)id + 1, sizeof(*ss->stk)))
		return PS_ENOMEM;
	uint32_t depth;
	if (ps_sr_stack(r, id, ss->fbuf, PS_STREAM_MAX_DEPTH, &depth) != PS_OK)
		return PS_EINVAL;
	if (depth > PS_STREAM_MAX_DEPTH)
		depth = PS_STREAM_MAX_DEPTH;
	uint64_t off = ss->tlen;
	int rc = text_add(ss, "[", 1);
	for (uint32_t i = 0; rc == PS_OK && i < depth; i++) {
		struct map_ent *e = map_get(&ss->fr_of_ptr, (uint64_t)(uintptr_t)ss->fbuf[i]);
		if (!e)
			return PS_ENOMEM;
		if (!e->val) { /* val is index + 1 */
			uint32_t idx;
			if ((rc = frame_index(ss, ss->fbuf[i], &idx)))
				return rc;
			e->val = (uint64_t)idx + 1;
		}
		char num[16];
		int n = snprintf(num, sizeof(num), "%s%" PRIu64, i ? "," : "", e->val - 1);
		rc = text_add(ss, num, (size_t)n);
	}
	if (rc == PS_OK)
		rc = text_add(ss, "]", 1);
	if (rc)
		return rc;
	ss->stk[id] = (struct stack){ off, (uint32_t)(ss->tlen - off), 1 };
	return PS_OK;
}

/* ---- threads and weights ----------------------------------------------- */

static int thread_of(struct ps_speedscope *ss, const struct ps_sr_sample *s, size_t *out)
{
	uint32_t rec = s->thread_id;
	if (rec < ss->cap_rec && ss->th_of_rec[rec]) {
		*out = ss->th_of_rec[rec] - 1;
		return PS_OK;
	}
	uint32_t pid = s->thread ? s->thread->pid : 0, tid = s->thread ? s->thread->tid : rec;
	struct map_ent *e = map_get(&ss->th_of_key, (uint64_t)pid << 32 | tid);
	if (!e)
		return PS_ENOMEM;
	if (!e->val) {
		if (grow((void **)&ss->th, &ss->capth, ss->nth + 1, sizeof(*ss->th)))
			return PS_ENOMEM;
		ss->th[ss->nth] = (struct thread){ .pid = pid, .tid = tid };
		e->val = ++ss->nth;
	}
	if (grow((void **)&ss->th_of_rec, &ss->cap_rec, (size_t)rec + 1, sizeof(*ss->th_of_rec)))
		return PS_ENOMEM;
	ss->th_of_rec[rec] = (uint32_t)e->val;
	*out = e->val - 1;
	return PS_OK;
}

/* Count a run of equal intervals of thread ti in the histogram. */
static int flush_run(struct ps_speedscope *ss, size_t ti)
{
	struct thread *t = &ss->th[ti];
	if (!t->run_n)
		return PS_OK;
	uint64_t us = t->run_gap / 1000;
	struct map_ent *e = map_get(&ss->gaps, (uint64_t)ti << GAP_BITS |
				    (us > GAP_US_MAX ? GAP_US_MAX : us));
	if (!e)
		return PS_ENOMEM;
	e->val += t->run_n;
	t->run_n = 0;
	return PS_OK;
}

/* An interval of thread ti (most are equal: counted in runs). */
static int count_gap(struct ps_speedscope *ss, size_t ti, uint64_t gap)
{
	struct thread *t = &ss->th[ti];
	t->ngaps++;
	if (t->run_n && t->run_gap == gap) {
		t->run_n++;
		return PS_OK;
	}
	int rc = flush_run(ss, ti);
	t = &ss->th[ti];
	t->run_gap = gap;
	t->run_n = 1;
	return rc;
}

int ps_speedscope_add(struct ps_speedscope *ss, const struct ps_sr *r,
		      const struct ps_sr_sample *s)
{
	size_t ti;
	int rc;
	if (ss->finished)
		return PS_EUSAGE;
	if ((rc = thread_of(ss, s, &ti)))
		return rc;
	struct thread *t = &ss->th[ti];
	if (t->seen) {
		uint64_t gap = s->time_ns > t->prev_ns ? s->time_ns - t->prev_ns : 0;
		if (t->open)
			t->w[t->n - 1] = gap;
		t->open = 0;
		if (gap && (rc = count_gap(ss, ti, gap)))
			return rc;
	}
	t->seen = 1;
	t->prev_ns = s->time_ns;
	if (s->thread && s->thread->name)
		t->name = s->thread->name;
	if (!s->stack_id || !ps_filter_accept(&ss->f, s, ps_sr_header(r)->mono_origin_ns))
		return PS_OK; /* no Python frames, or filtered out */
	if ((rc = stack_resolve(ss, r, s->stack_id)))
		return rc;
	if (t->n == t->cap) {
		size_t cap = t->cap;
		if (grow((void **)&t->stack, &cap, t->n + 1, sizeof(*t->stack)) ||
		    grow((void **)&t->w, &t->cap, t->n + 1, sizeof(*t->w)))
			return PS_ENOMEM;
	}
	if (!t->n)
		t->first_ns = s->time_ns;
	t->last_ns = s->time_ns;
	t->stack[t->n] = s->stack_id;
	t->w[t->n++] = 0;
	t->open = 1;
	return PS_OK;
}

static int add_cb(void *ctx, const struct ps_sr *r, const struct ps_sr_sample *s)
{
	return ps_speedscope_add(ctx, r, s);
}

int ps_speedscope_read(struct ps_speedscope *ss, struct ps_input *in, struct ps_errmsg *e)
{
	/* Whole threads may go early; single samples only in ps_speedscope_add,
	 * which needs them all for the times. */
	struct ps_filter all = { .idle = 1, .tid_set = ss->f.tid_set, .tid = ss->f.tid,
				 .pid_set = ss->f.pid_set, .pid = ss->f.pid };
	return ps_input_each(in, &all, add_cb, ss, e);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Each thread's median interval: the lower median of the histogram, whose
 * keys sort by thread, then interval. */
static int medians(struct ps_speedscope *ss, uint64_t fallback_ns)
{
	for (size_t i = 0; i < ss->nth; i++) {
		if (flush_run(ss, i))
			return PS_ENOMEM;
		ss->th[i].median_ns = fallback_ns;
	}
	uint64_t *keys = malloc((ss->gaps.n ? ss->gaps.n : 1) * sizeof(*keys));
	if (!keys)
		return PS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < ss->gaps.cap; i++)
		if (ss->gaps.v[i].used)
			keys[n++] = ss->gaps.v[i].key;
	qsort(keys, n, sizeof(*keys), u64_cmp);
	uint64_t seen = 0;
	for (size_t i = 0; i < n; i++) {
		size_t ti = (size_t)(keys[i] >> GAP_BITS);
		if (i && ti != (size_t)(keys[i - 1] >> GAP_BITS))
			seen = 0;
		struct thread *t = &ss->th[ti];
		uint64_t before = seen;
		seen += map_find(&ss->gaps, keys[i])->val;
		uint64_t k = (t->ngaps + 1) / 2;   /* the k-th smallest, from 1 */
		if (before < k && seen >= k && (keys[i] & GAP_US_MAX))
			t->median_ns = (keys[i] & GAP_US_MAX) * 1000;
	}
	free(keys);
	return PS_OK;
}

/* Close the weights: the open last sample, and gaps the thread was not
 * recorded in, weigh the median interval. */
static int finish(struct ps_speedscope *ss, const struct ps_sr *r)
{
	if (ss->finished)
		return PS_OK;
	ss->finished = 1;
	uint32_t rate = ps_sr_header(r)->rate_hz;
	int rc = medians(ss, NS / (rate ? rate : DEFAULT_RATE));
	if (rc)
		return rc;
	for (size_t i = 0; i < ss->nth; i++) {
		struct thread *t = &ss->th[i];
		uint64_t med = t->median_ns;
		if (t->open)
			t->w[t->n - 1] = med;
		for (size_t j = 0; j < t->n; j++)
			if (t->w[j] / PS_SPEEDSCOPE_GAP_MAX > med)
				t->w[j] = med;
	}
	return PS_OK;
}

/* ---- output ------------------------------------------------------------ */

static uint64_t key_of(const struct thread *t)
{
	return (uint64_t)t->pid << 32 | t->tid;
}

void ps_speedscope_stats(const struct ps_speedscope *ss, struct ps_speedscope_stats *st)
{
	const struct thread *best = NULL;
	memset(st, 0, sizeof(*st));
	st->frames = ss->nfr;
	for (size_t i = 0; i < ss->nth; i++) {
		const struct thread *t = &ss->th[i];
		if (!t->n)
			continue;
		if (!best || t->n > best->n || (t->n == best->n && key_of(t) < key_of(best)))
			best = t;
		st->samples += t->n;
		st->profiles++;
	}
	for (size_t i = 0; best && i < ss->nth; i++) /* profiles go by pid, tid */
		if (ss->th[i].n && key_of(&ss->th[i]) < key_of(best))
			st->active++;
}

static int thread_cmp(const void *a, const void *b)
{
	uint64_t x = key_of(*(const struct thread *const *)a);
	uint64_t y = key_of(*(const struct thread *const *)b);
	return x < y ? -1 : x > y;
}

/* ns as seconds: "0.01", "3", "1.000000001". */
static size_t fmt_seconds(char *buf, size_t cap, uint64_t ns)
{
	int n;
	if (ns % NS == 0)
		return (size_t)snprintf(buf, cap, "%" PRIu64, ns / NS);
	n = snprintf(buf, cap, "%" PRIu64 ".%09" PRIu64, ns / NS, ns % NS);
	while (n > 0 && buf[n - 1] == '0')
		n--;
	buf[n] = '\0';
	return (size_t)n;
}

static void put_seconds(FILE *out, uint64_t ns)
{
	char b[48];
	fwrite(b, 1, fmt_seconds(b, sizeof(b), ns), out);
}

/* Before item i of a list: a newline, and a comma after the first. */
static void put_sep(FILE *out, size_t i)
{
	if (i)
		putc_unlocked(',', out);
	putc_unlocked('\n', out);
}

static void put_str(FILE *out, const char *s)
{
	ps_json_string(out, s, strlen(s));
}

static void write_frames(const struct ps_speedscope *ss, FILE *out)
{
	fputs("\"shared\":{\"frames\":[", out);
	for (size_t i = 0; i < ss->nfr; i++) {
		const struct frame *f = &ss->fr[i];
		fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
		put_str(out, f->name);
		if (f->file) {
			fputs(",\"file\":", out);
			put_str(out, f->file);
		}
		if (f->line)
			fprintf(out, ",\"line\":%" PRIu32, f->line);
		putc('}', out);
	}
	fputs("\n]},\n", out);
}

static void write_profile(const struct ps_speedscope *ss, const struct thread *t,
			  int with_pid, uint64_t origin, int first, FILE *out)
{
	char id[48];
	size_t n = (size_t)(with_pid ? snprintf(id, sizeof(id), "pid %" PRIu32 ", tid %" PRIu32,
						  t->pid, t->tid)
				     : snprintf(id, sizeof(id), "tid %" PRIu32, t->tid));
	fputs(first ? "\n" : ",\n", out);
	fputs("{\"type\":\"sampled\",\"name\":", out);
	/* "NAME (tid N)"; the name is the reader's, any bytes */
	size_t len = t->name ? strlen(t->name) : 0;
	char *s = t->name ? malloc(len + n + 4) : NULL;
	if (s) {
		memcpy(s, t->name, len);
		memcpy(s + len, " (", 2);
		memcpy(s + len + 2, id, n);
		memcpy(s + len + 2 + n, ")", 2);
		put_str(out, s);
		free(s);
	} else {
		put_str(out, id); /* no name (or no memory for it) */
	}
	fputs(",\"unit\":\"seconds\",\"startValue\":", out);
	put_seconds(out, t->first_ns - origin);
	/* speedscope's total is max(end - start, sum of weights), and lays
	 * samples end to end: ending at start + sum keeps its percentages equal
	 * to ours when samples were left out (as speedscope's own exporter does) */
	uint64_t sum = 0;
	for (size_t i = 0; i < t->n; i++)
		sum += t->w[i];
	fputs(",\"endValue\":", out);
	put_seconds(out, t->first_ns - origin + sum);
	fputs(",\n\"samples\":[", out);
	for (size_t i = 0; i < t->n; i++) { /* the hot loops: no stdio locking */
		const struct stack *k = &ss->stk[t->stack[i]];
		put_sep(out, i);
		fwrite_unlocked(ss->text + k->off, 1, k->len, out);
	}
	fputs("\n],\n\"weights\":[", out);
	char wb[48];
	size_t wl = 0;
	uint64_t prev = UINT64_MAX;
	for (size_t i = 0; i < t->n; i++) {
		if (t->w[i] != prev) { /* most weights repeat */
			prev = t->w[i];
			wl = fmt_seconds(wb, sizeof(wb), prev);
		}
		put_sep(out, i);
		fwrite_unlocked(wb, 1, wl, out);
	}
	fputs("\n]}", out);
}

/* "python app.py 20 (pid 1234)". */
static void write_name(const struct ps_stream_header *h, FILE *out)
{
	size_t len = 0;
	for (uint32_t i = 0; i < h->argc; i++)
		len += strlen(h->argv[i]) + 1;
	char *s = malloc(len + 32);
	if (!s) {
		put_str(out, "pyspy");
		return;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < h->argc; i++) {
		size_t l = strlen(h->argv[i]);
		if (i)
			s[k++] = ' ';
		memcpy(s + k, h->argv[i], l);
		k += l;
	}
	if (h->pid)
		snprintf(s + k, 32, "%s(pid %" PRIu32 ")", k ? " " : "", h->pid);
	else
		snprintf(s + k, 32, "%s", k ? "" : "pyspy");
	put_str(out, s);
	free(s);
}

int ps_speedscope_write(struct ps_speedscope *ss, const struct ps_sr *r, FILE *out)
{
	const struct ps_stream_header *h = ps_sr_header(r);
	struct ps_speedscope_stats st;
	int rc = finish(ss, r);
	if (rc)
		return rc;
	ps_speedscope_stats(ss, &st);
	const struct thread **v = malloc((st.profiles ? st.profiles : 1) * sizeof(*v));
	if (!v)
		return PS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < ss->nth; i++)
		if (ss->th[i].n)
			v[n++] = &ss->th[i];
	qsort(v, n, sizeof(*v), thread_cmp);
	int with_pid = n && v[0]->pid != v[n - 1]->pid;
	fputs("{\"$schema\":\"" PS_SPEEDSCOPE_SCHEMA "\",\n", out);
	write_frames(ss, out);
	fputs("\"profiles\":[", out);
	for (size_t i = 0; i < n; i++)
		write_profile(ss, v[i], with_pid, h->mono_origin_ns, i == 0, out);
	free(v);
	fputs("\n],\n\"name\":", out);
	write_name(h, out);
	fprintf(out, ",\n\"activeProfileIndex\":%zu,\n\"exporter\":\"pyspy " PS_VERSION "\"}\n",
		st.active);
	return ferror(out) ? PS_EIO : PS_OK;
}
