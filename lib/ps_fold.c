#include "ps_fold.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES (1u << 20)

/* (root, stack, idle) -> entry; a slot with count 0 is empty. */
struct ps_fold {
	struct ps_filter f;
	int split_idle;
	uint32_t first_pid;     /* of the samples counted; */
	int several_pids;       /* and whether another came: roots by process */
	struct ps_fold_entry *v;
	size_t cap, n;
	/* memo[stack id]: the entry its last sample went to, and samples
	 * counted here since (added to the entry by settle): a sample costs
	 * a compare and an increment in this small array, not a hash lookup
	 * and a cache miss in v */
	struct memo *memo;
	size_t memo_cap;
};

struct memo {
	uint32_t slot;          /* 1 + index in v; 0: none */
	uint32_t root, idle;
	uint32_t pending;
};

/* Stack ids beyond this go the slow way (the memo's memory stays below
 * 16 MB whatever the stream). */
#define MEMO_MAX ((size_t)1 << 20)

struct ps_fold *ps_fold_new_split(const struct ps_filter *f, int split_idle)
{
	struct ps_fold *fo = calloc(1, sizeof(*fo));
	if (!fo)
		return NULL;
	fo->f = *f;
	fo->split_idle = split_idle ? 1 : 0;
	fo->cap = 1024;
	fo->v = calloc(fo->cap, sizeof(*fo->v));
	if (!fo->v) {
		free(fo);
		return NULL;
	}
	return fo;
}

struct ps_fold *ps_fold_new(const struct ps_filter *f)
{
	return ps_fold_new_split(f, 0);
}

void ps_fold_free(struct ps_fold *fo)
{
	if (!fo)
		return;
	free(fo->v);
	free(fo->memo);
	free(fo);
}

static size_t slot_of(const struct ps_fold *fo, uint64_t root, uint32_t stack, uint32_t idle)
{
	uint64_t h = (root * 0x9e3779b97f4a7c15ull) ^ (stack * 0xc2b2ae3d27d4eb4full) ^
		     ((uint64_t)idle << 40);
	size_t i = (size_t)(h >> 17) & (fo->cap - 1);
	while (fo->v[i].count &&
	       (fo->v[i].root != root || fo->v[i].stack != stack || fo->v[i].idle != idle))
		i = (i + 1) & (fo->cap - 1);
	return i;
}

/* Add the samples counted in memo m to its entry. */
static void settle_one(struct ps_fold *fo, struct memo *m)
{
	if (m->pending) {
		fo->v[m->slot - 1].count += m->pending;
		m->pending = 0;
	}
}

/* ... and those of every memo. */
static void settle(struct ps_fold *fo)
{
	for (size_t i = 0; i < fo->memo_cap; i++)
		settle_one(fo, &fo->memo[i]);
}

static int grow(struct ps_fold *fo)
{
	struct ps_fold_entry *old = fo->v;
	size_t oldcap = fo->cap;
	/* entries move: the memo's slots are void */
	settle(fo);
	if (fo->memo)
		memset(fo->memo, 0, fo->memo_cap * sizeof(*fo->memo));
	fo->v = calloc(oldcap * 2, sizeof(*fo->v));
	if (!fo->v) {
		fo->v = old;
		return PS_ENOMEM;
	}
	fo->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].count)
			fo->v[slot_of(fo, old[i].root, old[i].stack, old[i].idle)] = old[i];
	free(old);
	return PS_OK;
}

/* Room in memo for stack id; 0 when it has none (the memo is then not
 * used for it). */
static int memo_fit(struct ps_fold *fo, uint32_t stack)
{
	if (stack < fo->memo_cap)
		return 1;
	if (stack >= MEMO_MAX)
		return 0;
	size_t cap = fo->memo_cap ? fo->memo_cap : 4096;
	while (cap <= stack)
		cap *= 2;
	struct memo *m = realloc(fo->memo, cap * sizeof(*m));
	if (!m)
		return 0;
	memset(m + fo->memo_cap, 0, (cap - fo->memo_cap) * sizeof(*m));
	fo->memo = m;
	fo->memo_cap = cap;
	return 1;
}

int ps_fold_add(struct ps_fold *fo, const struct ps_sr *r, const struct ps_sr_sample *s)
{
	(void)r;
	if (!s->stack_id)
		return PS_OK; /* no Python frames: nothing to draw */
	uint64_t root = 0;
	uint32_t idle = fo->split_idle && (s->flags & PS_SAMPLE_IDLE);
	/* kept apart by process even when not asked, so that roots by
	 * process can be drawn when the samples turn out to hold several */
	if (fo->f.threads)
		root = s->thread_id;
	else if (s->thread)
		root = s->thread->pid;
	if (s->thread && !fo->first_pid)
		fo->first_pid = s->thread->pid;
	else if (s->thread && s->thread->pid != fo->first_pid)
		fo->several_pids = 1;
	struct memo *m = memo_fit(fo, s->stack_id) ? &fo->memo[s->stack_id] : NULL;
	if (m && m->slot && m->root == root && m->idle == idle && m->pending < UINT32_MAX) {
		m->pending++;
		return PS_OK;
	}
	if (m)
		settle_one(fo, m);
	size_t i = slot_of(fo, root, s->stack_id, idle);
	if (!fo->v[i].count) {
		if ((fo->n + 1) * 10 > fo->cap * 7) {
			if (grow(fo))
				return PS_ENOMEM;
			i = slot_of(fo, root, s->stack_id, idle);
		}
		fo->v[i] = (struct ps_fold_entry){ root, s->stack_id, idle, 0, s->thread,
						   s->process };
		fo->n++;
	}
	fo->v[i].count++;
	/* roots are thread ids or pids: 32 bits */
	if (m && root <= UINT32_MAX) {
		m = &fo->memo[s->stack_id]; /* grow() may have run: still in place */
		*m = (struct memo){ (uint32_t)i + 1, (uint32_t)root, idle, 0 };
	}
	return PS_OK;
}

int ps_fold_each(struct ps_fold *fo, ps_fold_each_fn fn, void *ctx)
{
	settle(fo);
	for (size_t i = 0; i < fo->cap; i++) {
		int rc = fo->v[i].count ? fn(ctx, &fo->v[i]) : PS_OK;
		if (rc)
			return rc;
	}
	return PS_OK;
}

static void append(char *buf, size_t cap, size_t *len, const char *s, int sanitize)
{
	for (; *s && *len + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (sanitize && c == ';')
			c = ',';
		else if (sanitize && (c < 0x20 || c == 0x7f))
			c = '?';
		buf[(*len)++] = (char)c;
	}
	buf[*len] = '\0';
}

void ps_fold_frame_text(const struct ps_stream_frame *f, int no_lines, char *buf,
			size_t cap, size_t *len)
{
	char num[24];
	append(buf, cap, len, f->qualname ? f->qualname : f->function, 1);
	if (!f->file)
		return;
	append(buf, cap, len, " (", 0);
	append(buf, cap, len, f->file, 1);
	if (f->line && !no_lines) {
		snprintf(num, sizeof(num), ":%" PRIu32, f->line);
		append(buf, cap, len, num, 0);
	}
	append(buf, cap, len, ")", 0);
}

int ps_fold_root_text(const struct ps_fold_entry *e, enum ps_fold_root which, char *buf,
		      size_t cap, size_t *len)
{
	char head[64];
	if (!e->thread)
		return 0;
	if (which == PS_FOLD_ROOT_PROCESS) {
		snprintf(head, sizeof(head), "process %" PRIu32 ":", e->thread->pid);
		append(buf, cap, len, head, 0);
		for (uint32_t i = 0; e->process && i < e->process->argc; i++) {
			append(buf, cap, len, " ", 0);
			append(buf, cap, len, e->process->argv[i], 1);
		}
	} else {
		snprintf(head, sizeof(head), "thread %" PRIu32, e->thread->tid);
		append(buf, cap, len, head, 0);
		if (e->thread->name) {
			append(buf, cap, len, ": ", 0);
			append(buf, cap, len, e->thread->name, 1);
		}
	}
	return 1;
}

int ps_fold_by_process(const struct ps_fold *fo)
{
	return fo->f.pids || fo->several_pids;
}

/* The root frames for --pids / --threads, each followed by ';'. */
static void root_text(const struct ps_fold *fo, const struct ps_fold_entry *e, char *buf,
		      size_t cap, size_t *len)
{
	if (ps_fold_by_process(fo) && ps_fold_root_text(e, PS_FOLD_ROOT_PROCESS, buf, cap, len))
		append(buf, cap, len, ";", 0);
	if (fo->f.threads && ps_fold_root_text(e, PS_FOLD_ROOT_THREAD, buf, cap, len))
		append(buf, cap, len, ";", 0);
}

static int line_cmp(const void *a, const void *b)
{
	const struct ps_fold_line *x = a, *y = b;
	return strcmp(x->text, y->text);
}

static char *entry_text(const struct ps_fold *fo, const struct ps_sr *r,
			const struct ps_fold_entry *en, const struct ps_stream_frame **frames,
			char *buf)
{
	size_t len = 0;
	uint32_t depth;
	buf[0] = '\0';
	root_text(fo, en, buf, LINE_MAX_BYTES, &len);
	if (ps_sr_stack(r, en->stack, frames, PS_STREAM_MAX_DEPTH, &depth) != PS_OK)
		return NULL;
	for (uint32_t j = 0; j < depth && j < PS_STREAM_MAX_DEPTH; j++) {
		if (j)
			append(buf, LINE_MAX_BYTES, &len, ";", 0);
		ps_fold_frame_text(frames[j], fo->f.no_lines, buf, LINE_MAX_BYTES, &len);
	}
	return strdup(buf);
}

/* Merge lines with equal text (sorted), summing counts. */
static size_t merge_equal(struct ps_fold_line *v, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		if (out && strcmp(v[out - 1].text, v[i].text) == 0) {
			v[out - 1].count += v[i].count;
			free(v[i].text);
		} else {
			v[out++] = v[i];
		}
	}
	return out;
}

int ps_fold_lines(struct ps_fold *fo, const struct ps_sr *r, struct ps_fold_line **lines,
		  size_t *n)
{
	settle(fo);
	struct ps_fold_line *v = calloc(fo->n ? fo->n : 1, sizeof(*v));
	const struct ps_stream_frame **frames = malloc(PS_STREAM_MAX_DEPTH * sizeof(*frames));
	char *buf = malloc(LINE_MAX_BYTES);
	size_t k = 0;
	int rc = v && frames && buf ? PS_OK : PS_ENOMEM;
	for (size_t i = 0; rc == PS_OK && i < fo->cap; i++) {
		if (!fo->v[i].count)
			continue;
		v[k].text = entry_text(fo, r, &fo->v[i], frames, buf);
		v[k].count = fo->v[i].count;
		if (!v[k++].text)
			rc = PS_EINVAL;
	}
	free(frames);
	free(buf);
	if (rc) {
		ps_fold_lines_free(v, k);
		return rc;
	}
	qsort(v, k, sizeof(*v), line_cmp);
	*n = merge_equal(v, k);
	*lines = v;
	return PS_OK;
}

void ps_fold_lines_free(struct ps_fold_line *lines, size_t n)
{
	for (size_t i = 0; lines && i < n; i++)
		free(lines[i].text);
	free(lines);
}

int ps_fold_write(struct ps_fold *fo, const struct ps_sr *r, FILE *out)
{
	struct ps_fold_line *v;
	size_t n;
	int rc = ps_fold_lines(fo, r, &v, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s %" PRIu64 "\n", v[i].text, v[i].count);
	ps_fold_lines_free(v, n);
	return ferror(out) ? PS_EIO : PS_OK;
}
