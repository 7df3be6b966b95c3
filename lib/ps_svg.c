/* Flame graphs as SVG.
 *
 * The document (what the browser tests and users rely on; keep stable):
 *
 *   <svg id="pyspy" data-total="N" data-reverse="0|1" ...>
 *     #bg        the background rect; a click on it resets the zoom
 *     #title     the title (--title)
 *     #subtitle  command, Python version, duration, samples, rate
 *     #reset     "Reset Zoom": hidden (class "hide") until zoomed
 *     #search    "Search": prompts for a regular expression (as does
 *                Ctrl-F); reads "Reset Search" while a search is shown,
 *                and then clears it (as does Escape)
 *     #matched   "Matched: 12.3%" after a search (samples of matching
 *                frames, nested matches counted once)
 *     #details   the frame under the mouse: "NAME (FILE:LINE) — N samples, P%"
 *     #frames    a group holding one group per frame, depth-first, root
 *                ("all") first:
 *       <g class="f" data-samples="N">
 *         <title>TEXT\nN samples, P%</title><rect .../><text>LABEL</text></g>
 *       TEXT, the frame's name, is the title's first line (names never
 *       hold a newline); it is not repeated in an attribute, which would
 *       make big graphs a third larger. The label is left out of boxes too
 *       narrow for one; a zoom gives hidden boxes class "f z" and the
 *       ancestors "f p".
 *     #empty     "No samples", instead of frames, when there are none
 *
 *   script hooks: window.pyspySearch(regex) returns the matched percentage
 *   (null when regex is empty, which clears; throws on a bad regex),
 *   window.pyspyClearSearch(), window.pyspyZoom(element or box index),
 *   window.pyspyResetZoom(), window.pyspyZoomed() (the zoomed g or null),
 *   window.pyspyFrames() ([{name, samples, depth, element}], in order).
 *
 * Everything that comes from the target (frame texts, thread names, the
 * command line) is cleaned to valid UTF-8 without control characters when
 * it enters the tree, and written as escaped XML text or attribute values.
 * No data goes into the script: it reads the document. */
#include "ps_svg.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ps_cli.h"
#include "ps_fold.h"
#include "ps_svg_js.h"
#include "ps_text.h"

#define XPAD 10         /* left and right margin */
#define FRAME_H 16      /* a row */
#define RECT_H 15       /* a box: one pixel between rows */
#define TOP 60          /* title, subtitle and controls */
#define BOTTOM 34       /* details and matched */
#define CHAR_W 7.2      /* 12px monospace */
#define TEXT_PAD 3
#define TEXT_DY 10.5    /* baseline below the top of a box */
#define MIN_WIDTH_PX 100

#define FRAME_TEXT_MAX (2 * PS_STREAM_MAX_STRING + 64)

/* Rounding without libm (the tools do not link it): values are >= 0. */
static long rnd(double v)
{
	return (long)(v + 0.5);
}

static double absd(double v)
{
	return v < 0 ? -v : v;
}

/* How many characters a label of a box w px wide holds. */
static size_t label_chars(double w)
{
	double fit = (w - 2 * TEXT_PAD) / CHAR_W;
	return fit > 0 ? (size_t)fit : 0;
}

/* ---- strings: cleaned and interned ------------------------------------- */

/* s (n bytes, anything) as valid UTF-8 with every control character, C1
 * control and U+FFFE/U+FFFF made '?', into out (3n + 1 bytes). */
static size_t clean(const char *s, size_t n, char *out)
{
	size_t len = ps_utf8_sanitize(s, n, out, 3 * n + 1, NULL), o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)out[i];
		size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		int bad = c < 0x20 || c == 0x7f ||
			  (c == 0xC2 && (unsigned char)out[i + 1] < 0xA0) ||
			  (c == 0xEF && (unsigned char)out[i + 1] == 0xBF &&
			   (unsigned char)out[i + 2] >= 0xBE);
		if (bad) {
			out[o++] = '?';
		} else {
			memmove(out + o, out + i, k);
			o += k;
		}
		i += k;
	}
	out[o] = '\0';
	return o;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

struct strtab {
	char **s;               /* id -> string; id 0 is unused */
	uint32_t n, cap;
	uint32_t *slot;         /* open addressing: ids, 0 empty */
	size_t nslot;
	char *tmp;              /* cleaning buffer */
	size_t tmpcap;
};

static int st_grow_slots(struct strtab *st)
{
	size_t ns = st->nslot ? st->nslot * 2 : 1024;
	uint32_t *v = calloc(ns, sizeof(*v));
	if (!v)
		return PS_ENOMEM;
	for (uint32_t id = 1; id < st->n; id++) {
		size_t i = hash_bytes(st->s[id], strlen(st->s[id])) & (ns - 1);
		while (v[i])
			i = (i + 1) & (ns - 1);
		v[i] = id;
	}
	free(st->slot);
	st->slot = v;
	st->nslot = ns;
	return PS_OK;
}

/* The id of s (n bytes) once cleaned: an equal string's, or a new one. */
static int st_intern(struct strtab *st, const char *s, size_t n, uint32_t *id)
{
	if (3 * n + 1 > st->tmpcap) {
		char *b = realloc(st->tmp, 3 * n + 1);
		if (!b)
			return PS_ENOMEM;
		st->tmp = b;
		st->tmpcap = 3 * n + 1;
	}
	size_t len = clean(s, n, st->tmp);
	if (!st->n)
		st->n = 1;
	if ((size_t)(st->n + 1) * 2 > st->nslot && st_grow_slots(st))
		return PS_ENOMEM;
	size_t i = hash_bytes(st->tmp, len) & (st->nslot - 1);
	for (; st->slot[i]; i = (i + 1) & (st->nslot - 1)) {
		const char *o = st->s[st->slot[i]];
		if (strncmp(o, st->tmp, len) == 0 && o[len] == '\0') {
			*id = st->slot[i];
			return PS_OK;
		}
	}
	if (st->n >= st->cap) {
		uint32_t nc = st->cap ? st->cap * 2 : 256;
		char **v = realloc(st->s, nc * sizeof(*v));
		if (!v)
			return PS_ENOMEM;
		st->s = v;
		st->cap = nc;
	}
	if (!(st->s[st->n] = malloc(len + 1)))
		return PS_ENOMEM;
	memcpy(st->s[st->n], st->tmp, len + 1);
	*id = st->slot[i] = st->n++;
	return PS_OK;
}

static void st_release(struct strtab *st)
{
	for (uint32_t id = 1; id < st->n; id++)
		free(st->s[id]);
	free(st->s);
	free(st->slot);
	free(st->tmp);
}

/* ---- the tree ----------------------------------------------------------- */

struct node {
	uint32_t name, module;  /* string ids (module 0: none) */
	uint32_t parent;
	uint32_t kind;
	uint64_t total, idle;
};

/* A stream frame's ids, cached by its address (stable in the reader). */
struct fcache {
	const struct ps_stream_frame *f;
	uint32_t name, module, kind;
};

struct ps_svg_tree {
	struct ps_filter f;
	struct strtab st;
	struct node *node;      /* node 0 is the root, "all" */
	uint32_t n, cap;
	uint32_t *child;        /* open addressing (parent, name) -> node, 0 empty */
	size_t nchild;
	struct ps_fold *fold;   /* samples by (root, stack, idle), until resolved */
	struct fcache *fc;
	size_t nfc, fccap;
	uint64_t t_min, t_max;
	char *text;             /* FRAME_TEXT_MAX */
};

struct ps_svg_tree *ps_svg_tree_new(const struct ps_filter *f)
{
	struct ps_svg_tree *t = calloc(1, sizeof(*t));
	uint32_t all;
	if (!t)
		return NULL;
	if (f)
		t->f = *f;
	t->cap = 1024;
	t->node = calloc(t->cap, sizeof(*t->node));
	if (!t->node || st_intern(&t->st, "all", 3, &all)) {
		ps_svg_tree_free(t);
		return NULL;
	}
	t->node[0] = (struct node){ .name = all, .kind = PS_SVG_GROUP };
	t->n = 1;
	t->t_min = UINT64_MAX;
	return t;
}

void ps_svg_tree_free(struct ps_svg_tree *t)
{
	if (!t)
		return;
	st_release(&t->st);
	free(t->node);
	free(t->child);
	ps_fold_free(t->fold);
	free(t->fc);
	free(t->text);
	free(t);
}

static size_t child_slot(const struct ps_svg_tree *t, uint32_t parent, uint32_t name)
{
	uint64_t h = (parent * 0x9e3779b97f4a7c15ull) ^ (name * 0xc2b2ae3d27d4eb4full);
	size_t i = (size_t)(h >> 20) & (t->nchild - 1);
	for (; t->child[i]; i = (i + 1) & (t->nchild - 1)) {
		const struct node *c = &t->node[t->child[i]];
		if (c->parent == parent && c->name == name)
			break;
	}
	return i;
}

static int grow_children(struct ps_svg_tree *t)
{
	uint32_t *old = t->child;
	size_t oldn = t->nchild;
	t->nchild = oldn ? oldn * 2 : 4096;
	t->child = calloc(t->nchild, sizeof(*t->child));
	if (!t->child) {
		t->child = old;
		t->nchild = oldn;
		return PS_ENOMEM;
	}
	for (size_t i = 0; i < oldn; i++)
		if (old[i])
			t->child[child_slot(t, t->node[old[i]].parent, t->node[old[i]].name)] =
				old[i];
	free(old);
	return PS_OK;
}

/* The child of parent named name, made (with module and kind) if new. */
static int child_of(struct ps_svg_tree *t, uint32_t parent, uint32_t name, uint32_t module,
		    uint32_t kind, uint32_t *out)
{
	if ((size_t)t->n * 10 >= t->nchild * 7 && grow_children(t))
		return PS_ENOMEM;
	size_t i = child_slot(t, parent, name);
	if (!t->child[i]) {
		if (t->n == UINT32_MAX)
			return PS_ENOMEM;
		if (t->n == t->cap) {
			struct node *v = realloc(t->node, 2 * (size_t)t->cap * sizeof(*v));
			if (!v)
				return PS_ENOMEM;
			t->node = v;
			t->cap *= 2;
		}
		t->node[t->n] = (struct node){ name, module, parent, kind, 0, 0 };
		t->child[i] = t->n++;
	}
	*out = t->child[i];
	return PS_OK;
}

static int add_path(struct ps_svg_tree *t, const uint32_t *name, const uint32_t *module,
		    const uint32_t *kind, size_t n, uint64_t count, int idle)
{
	uint32_t u = 0;
	t->node[0].total += count;
	t->node[0].idle += idle ? count : 0;
	for (size_t i = 0; i < n; i++) {
		int rc = child_of(t, u, name[i], module[i], kind[i], &u);
		if (rc)
			return rc;
		t->node[u].total += count;
		t->node[u].idle += idle ? count : 0;
	}
	return PS_OK;
}

const char *ps_svg_module_key(const char *file, char *buf, size_t cap)
{
	static const char *const dirs[] = { "site-packages/", "dist-packages/" };
	const char *key = file;
	size_t n = strlen(file);
	for (size_t d = 0; d < 2; d++) {
		const char *p = strstr(file, dirs[d]);
		if (p && p[strlen(dirs[d])]) {
			key = p + strlen(dirs[d]);
			const char *end = strchr(key, '/');
			n = end ? (size_t)(end - key) : strlen(key);
			if (!end && n > 3 && strcmp(key + n - 3, ".py") == 0)
				n -= 3; /* a single-module distribution: six.py */
			break;
		}
	}
	if (cap) {
		n = n < cap - 1 ? n : cap - 1;
		memcpy(buf, key, n);
		buf[n] = '\0';
	}
	return buf;
}

static int intern_module(struct ps_svg_tree *t, const char *file, uint32_t *id)
{
	char key[1024];
	*id = 0;
	if (!file)
		return PS_OK;
	ps_svg_module_key(file, key, sizeof(key));
	return st_intern(&t->st, key, strlen(key), id);
}

int ps_svg_tree_add(struct ps_svg_tree *t, const struct ps_svg_frame *frames, size_t n,
		    uint64_t count, unsigned flags)
{
	uint32_t *ids = calloc(3 * n + 1, sizeof(*ids));
	int rc = ids ? PS_OK : PS_ENOMEM;
	for (size_t i = 0; rc == PS_OK && i < n; i++) {
		if (!frames[i].text)
			rc = PS_EUSAGE;
		else
			rc = st_intern(&t->st, frames[i].text, strlen(frames[i].text), &ids[i]);
		if (rc == PS_OK)
			rc = intern_module(t, frames[i].file, &ids[n + i]);
		ids[2 * n + i] = frames[i].kind;
	}
	if (rc == PS_OK)
		rc = add_path(t, ids, ids + n, ids + 2 * n, n, count, flags & PS_SVG_IDLE);
	free(ids);
	return rc;
}

uint64_t ps_svg_tree_total(const struct ps_svg_tree *t)
{
	return t->node[0].total;
}

uint64_t ps_svg_tree_span_ns(const struct ps_svg_tree *t)
{
	return t->t_min <= t->t_max ? t->t_max - t->t_min : 0;
}

/* ---- from a stream ------------------------------------------------------ */

int ps_svg_tree_sample(struct ps_svg_tree *t, const struct ps_sr *r,
		       const struct ps_sr_sample *s)
{
	t->t_min = s->time_ns < t->t_min ? s->time_ns : t->t_min;
	t->t_max = s->time_ns > t->t_max ? s->time_ns : t->t_max;
	if (!t->fold && !(t->fold = ps_fold_new_split(&t->f, 1)))
		return PS_ENOMEM;
	return ps_fold_add(t->fold, r, s);
}

/* The root frames of e (--pids or several processes, --threads) as string
 * ids into name. Their texts are pyspy-fold's "process PID: CMD" and
 * "thread TID: NAME". */
static int group_frames(struct ps_svg_tree *t, const struct ps_fold_entry *e, uint32_t *name,
			size_t *n)
{
	static const enum ps_fold_root which[] = { PS_FOLD_ROOT_PROCESS, PS_FOLD_ROOT_THREAD };
	const int on[] = { ps_fold_by_process(t->fold), t->f.threads };
	for (int k = 0; k < 2; k++) {
		size_t len = 0;
		if (!on[k] || !ps_fold_root_text(e, which[k], t->text, FRAME_TEXT_MAX, &len))
			continue;
		int rc = st_intern(&t->st, t->text, len, &name[(*n)++]);
		if (rc)
			return rc;
	}
	return PS_OK;
}

static int frame_ids(struct ps_svg_tree *t, const struct ps_stream_frame *f,
		     const struct fcache **out)
{
	if ((t->nfc + 1) * 2 > t->fccap) {
		struct fcache *old = t->fc;
		size_t oldcap = t->fccap;
		t->fccap = oldcap ? oldcap * 2 : 4096;
		if (!(t->fc = calloc(t->fccap, sizeof(*t->fc)))) {
			t->fc = old;
			t->fccap = oldcap;
			return PS_ENOMEM;
		}
		for (size_t i = 0; i < oldcap; i++) {
			if (!old[i].f)
				continue;
			size_t j = ((uintptr_t)old[i].f * 0x9e3779b97f4a7c15ull >> 20) &
				   (t->fccap - 1);
			while (t->fc[j].f)
				j = (j + 1) & (t->fccap - 1);
			t->fc[j] = old[i];
		}
		free(old);
	}
	size_t j = ((uintptr_t)f * 0x9e3779b97f4a7c15ull >> 20) & (t->fccap - 1);
	while (t->fc[j].f && t->fc[j].f != f)
		j = (j + 1) & (t->fccap - 1);
	if (!t->fc[j].f) {
		struct fcache c = { f, 0, 0, f->kind };
		size_t len = 0;
		t->text[0] = '\0';
		ps_fold_frame_text(f, t->f.no_lines, t->text, FRAME_TEXT_MAX, &len);
		int rc = st_intern(&t->st, t->text, len, &c.name);
		if (rc == PS_OK)
			rc = intern_module(t, f->file, &c.module);
		if (rc)
			return rc;
		t->fc[j] = c;
		t->nfc++;
	}
	*out = &t->fc[j];
	return PS_OK;
}

struct resolve {
	struct ps_svg_tree *t;
	const struct ps_sr *r;
	const struct ps_stream_frame **frames;  /* PS_STREAM_MAX_DEPTH */
	uint32_t *name, *module, *kind;         /* PS_STREAM_MAX_DEPTH + 2 each */
};

/* Add one aggregated (root, stack, idle) to the tree. */
static int resolve_entry(void *ctx, const struct ps_fold_entry *e)
{
	struct resolve *rs = ctx;
	uint32_t depth;
	size_t n = 0;
	int rc = group_frames(rs->t, e, rs->name, &n);
	for (size_t k = 0; k < n; k++)
		rs->module[k] = 0, rs->kind[k] = PS_SVG_GROUP;
	if (rc == PS_OK)
		rc = ps_sr_stack(rs->r, e->stack, rs->frames, PS_STREAM_MAX_DEPTH, &depth);
	for (uint32_t k = 0; rc == PS_OK && k < depth && k < PS_STREAM_MAX_DEPTH; k++) {
		const struct fcache *c;
		rc = frame_ids(rs->t, rs->frames[k], &c);
		if (rc == PS_OK) {
			rs->name[n] = c->name;
			rs->module[n] = c->module;
			rs->kind[n++] = c->kind;
		}
	}
	if (rc == PS_OK)
		rc = add_path(rs->t, rs->name, rs->module, rs->kind, n, e->count, e->idle);
	return rc;
}

int ps_svg_tree_resolve(struct ps_svg_tree *t, const struct ps_sr *r)
{
	const size_t max = PS_STREAM_MAX_DEPTH + 2;
	if (!t->fold)
		return PS_OK; /* nothing counted, or resolved already */
	struct resolve rs = { t, r, malloc(PS_STREAM_MAX_DEPTH * sizeof(*rs.frames)),
			      malloc(3 * max * sizeof(*rs.name)), NULL, NULL };
	if (!t->text)
		t->text = malloc(FRAME_TEXT_MAX);
	int rc = rs.frames && rs.name && t->text ? PS_OK : PS_ENOMEM;
	if (rc == PS_OK) {
		rs.module = rs.name + max;
		rs.kind = rs.name + 2 * max;
		rc = ps_fold_each(t->fold, resolve_entry, &rs);
	}
	free(rs.frames);
	free(rs.name);
	if (rc == PS_OK) { /* resolved once: a second call adds nothing */
		ps_fold_free(t->fold);
		t->fold = NULL;
	}
	return rc;
}

/* ---- colours ------------------------------------------------------------ */

static uint32_t hash32(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	return h ^ (h >> 12);
}

static void hex(unsigned r, unsigned g, unsigned b, char out[8])
{
	snprintf(out, 8, "#%02x%02x%02x", r & 255, g & 255, b & 255);
}

/* h in degrees, s and l in [0, 1]. */
static void hsl(double h, double s, double l, char out[8])
{
	double c = (1 - absd(2 * l - 1)) * s, hp = h / 60; /* h < 360 */
	double x = c * (1 - absd(hp - 2 * (int)(hp / 2) - 1)), m = l - c / 2, r = 0, g = 0, b = 0;
	if (hp < 1)
		r = c, g = x;
	else if (hp < 2)
		r = x, g = c;
	else if (hp < 3)
		g = c, b = x;
	else if (hp < 4)
		g = x, b = c;
	else if (hp < 5)
		r = x, b = c;
	else
		r = c, b = x;
	hex((unsigned)rnd((r + m) * 255), (unsigned)rnd((g + m) * 255),
	    (unsigned)rnd((b + m) * 255), out);
}

void ps_svg_color(enum ps_svg_colors mode, const char *name, const char *module,
		  unsigned kind, int idle, char out[8])
{
	uint32_t h = hash32(name ? name : "");
	double v1 = (h & 255) / 255.0, v2 = (h >> 8 & 255) / 255.0, v3 = (h >> 16 & 255) / 255.0;
	if (idle)
		hsl(0, 0, 0.70 + 0.10 * v1, out);
	else if (kind == PS_SVG_MARKER)
		hsl(60, 0.12, 0.66 + 0.10 * v1, out);
	else if (kind == PS_SVG_GROUP)
		hsl(35, 0.30, 0.74 + 0.08 * v1, out);
	else if (kind == PS_SVG_NATIVE)
		hsl(200 + 25 * v2, 0.55 + 0.25 * v3, 0.62 + 0.12 * v1, out);
	else if (mode == PS_SVG_COLORS_HOT) /* flamegraph.pl's "hot" */
		hex(205 + (unsigned)(50 * v3), (unsigned)(230 * v1), (unsigned)(55 * v2), out);
	else if (mode == PS_SVG_COLORS_MONO)
		hsl(28, 0.85, 0.56 + 0.16 * v1, out);
	else {
		/* a hue from red to yellow per module, a shade per function so
		 * that neighbours of one module stay apart */
		uint32_t m = hash32(module ? module : name ? name : "");
		hsl(4 + (m % 1024) / 1023.0 * 44 + 8 * (v2 - 0.5),
		    0.78 + 0.2 * ((m >> 10 & 255) / 255.0), 0.50 + 0.22 * v1, out);
	}
}

int ps_svg_parse_colors(const char *s, enum ps_svg_colors *out)
{
	static const char *const names[] = { "module", "hot", "mono" };
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum ps_svg_colors)i;
			return PS_OK;
		}
	}
	return PS_EINVAL;
}

void ps_svg_opts_init(struct ps_svg_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->width = PS_SVG_DEFAULT_WIDTH;
	o->min_width = PS_SVG_DEFAULT_MIN_WIDTH;
	o->colors = PS_SVG_COLORS_MODULE;
}

/* ---- layout ------------------------------------------------------------- */

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int rank_cmp(const void *a, const void *b, void *strings)
{
	const char *const *s = strings;
	return strcmp(s[*(const uint32_t *)a], s[*(const uint32_t *)b]);
}

/* Children of each node ordered by text: first[u]..first[u + 1] in kids. */
static int order_children(const struct ps_svg_tree *t, uint32_t **firstp, uint32_t **kidsp)
{
	uint32_t *rank = malloc((size_t)t->st.n * sizeof(*rank));
	uint32_t *ids = malloc((size_t)t->st.n * sizeof(*ids));
	uint32_t *first = calloc((size_t)t->n + 2, sizeof(*first));
	uint32_t *kids = malloc((size_t)t->n * sizeof(*kids));
	uint64_t *key = malloc((size_t)t->n * sizeof(*key));
	if (!rank || !ids || !first || !kids || !key) {
		free(rank), free(ids), free(first), free(kids), free(key);
		return PS_ENOMEM;
	}
	for (uint32_t i = 1; i < t->st.n; i++)
		ids[i - 1] = i;
	qsort_r(ids, t->st.n - 1, sizeof(*ids), rank_cmp, t->st.s);
	for (uint32_t i = 0; i + 1 < t->st.n; i++)
		rank[ids[i]] = i;
	for (uint32_t u = 1; u < t->n; u++)
		first[t->node[u].parent + 2]++;
	for (uint32_t u = 2; u < t->n + 2; u++)
		first[u] += first[u - 1];
	for (uint32_t u = 1; u < t->n; u++) /* first[p + 1] is p's next free slot */
		key[first[t->node[u].parent + 1]++] = (uint64_t)rank[t->node[u].name] << 32 | u;
	for (uint32_t p = 0; p < t->n; p++) {
		if (first[p + 1] - first[p] > 1)
			qsort(key + first[p], first[p + 1] - first[p], sizeof(*key), u64_cmp);
		for (uint32_t k = first[p]; k < first[p + 1]; k++)
			kids[k] = (uint32_t)key[k];
	}
	free(rank), free(ids), free(key);
	*firstp = first;
	*kidsp = kids;
	return PS_OK;
}

struct todo {
	uint32_t node, depth, parent;
	uint64_t start;         /* samples left of it */
};

static int push_box(struct ps_svg_layout *l, size_t *cap, const struct ps_svg_box *b)
{
	if (l->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 1024;
		struct ps_svg_box *v = realloc(l->box, nc * sizeof(*v));
		if (!v)
			return PS_ENOMEM;
		l->box = v;
		*cap = nc;
	}
	l->box[l->n++] = *b;
	return PS_OK;
}

/* Depth-first from the root; a frame narrower than min_width is left out
 * with everything above it, its samples still in its parent's width. */
static int place_boxes(const struct ps_svg_tree *t, const struct ps_svg_opts *o,
		       const uint32_t *first, const uint32_t *kids, struct ps_svg_layout *l)
{
	uint64_t total = t->node[0].total;
	size_t boxcap = 0, ntodo = 1, todocap = 1024;
	struct todo *todo = malloc(todocap * sizeof(*todo));
	int rc = todo ? PS_OK : PS_ENOMEM;
	if (todo)
		todo[0] = (struct todo){ 0, 0, 0, 0 };
	while (rc == PS_OK && ntodo) {
		struct todo d = todo[--ntodo];
		const struct node *u = &t->node[d.node];
		double scale = l->frames_w / (double)total;
		long x1 = rnd((XPAD + (double)d.start * scale) * 10);
		long x2 = rnd((XPAD + (double)(d.start + u->total) * scale) * 10);
		if (d.node && ((double)u->total * scale < o->min_width || x2 <= x1))
			continue;
		struct ps_svg_box b = {
			.name = t->st.s[u->name], .module = u->module ? t->st.s[u->module] : NULL,
			.samples = u->total, .depth = d.depth, .parent = d.parent,
			.kind = u->kind, .idle = u->idle == u->total,
			.x = x1 / 10.0, .w = (x2 - x1) / 10.0,
		};
		ps_svg_color(o->colors, b.name, b.module, b.kind, b.idle, b.fill);
		uint32_t self = (uint32_t)l->n;
		if ((rc = push_box(l, &boxcap, &b)))
			break;
		l->depth = d.depth > l->depth ? d.depth : l->depth;
		uint32_t nk = first[d.node + 1] - first[d.node];
		if (ntodo + nk > todocap) {
			todocap = (ntodo + nk) * 2;
			struct todo *v = realloc(todo, todocap * sizeof(*v));
			if (!v) {
				rc = PS_ENOMEM;
				break;
			}
			todo = v;
		}
		uint64_t end = d.start;
		for (uint32_t k = 0; k < nk; k++)
			end += t->node[kids[first[d.node] + k]].total;
		for (uint32_t k = nk; k-- > 0;) { /* last child first: popped last */
			uint32_t c = kids[first[d.node] + k];
			end -= t->node[c].total;
			todo[ntodo++] = (struct todo){ c, d.depth + 1, self, end };
		}
	}
	free(todo);
	return rc;
}

int ps_svg_layout(const struct ps_svg_tree *t, const struct ps_svg_opts *o,
		  struct ps_svg_layout *l)
{
	uint32_t *first = NULL, *kids = NULL;
	memset(l, 0, sizeof(*l));
	l->width = o->width > MIN_WIDTH_PX ? o->width : MIN_WIDTH_PX;
	l->frames_x = XPAD;
	l->frames_w = l->width - 2 * XPAD;
	l->height = TOP + FRAME_H + BOTTOM;
	if (!t->node[0].total)
		return PS_OK;
	int rc = order_children(t, &first, &kids);
	if (rc == PS_OK)
		rc = place_boxes(t, o, first, kids, l);
	free(first);
	free(kids);
	if (rc) {
		ps_svg_layout_release(l);
		return rc;
	}
	l->height = TOP + (l->depth + 1) * FRAME_H + BOTTOM;
	for (size_t i = 0; i < l->n; i++)
		l->box[i].y = o->reverse ? TOP + l->box[i].depth * FRAME_H
					 : l->height - BOTTOM - (l->box[i].depth + 1.0) * FRAME_H;
	return PS_OK;
}

void ps_svg_layout_release(struct ps_svg_layout *l)
{
	free(l->box);
	memset(l, 0, sizeof(*l));
}

/* ---- subtitle ----------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t cap, len;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	n = n < b->cap - 1 - b->len ? n : b->cap - 1 - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_sep(struct sbuf *b)
{
	if (b->len)
		sb_put(b, " \xC2\xB7 ", 4);
}

/* The command line, cut to max characters (at least 3) with "..". */
static void put_command(struct sbuf *b, uint32_t argc, const char *const *argv, size_t max)
{
	size_t chars = argc - 1, keep;
	for (uint32_t i = 0; i < argc; i++)
		for (const char *s = argv[i]; *s; s++)
			chars += ((unsigned char)*s & 0xC0) != 0x80;
	int cut = chars > max;
	keep = cut ? max - 2 : chars;
	chars = 0;
	for (uint32_t i = 0; i < argc && chars < keep; i++) {
		if (i) {
			sb_put(b, " ", 1);
			chars++;
		}
		for (const char *s = argv[i]; *s; s++) {
			if (((unsigned char)*s & 0xC0) != 0x80 && chars++ >= keep)
				break;
			sb_put(b, s, 1);
		}
	}
	if (cut)
		sb_put(b, "..", 2);
}

const char *ps_svg_subtitle(char *buf, size_t cap, const struct ps_stream_header *h,
			    uint64_t duration_ns, uint64_t samples, size_t max_cmd)
{
	struct sbuf b = { buf, cap, 0 };
	char tmp[96];
	if (!cap)
		return buf;
	buf[0] = '\0';
	if (h && h->argc)
		put_command(&b, h->argc, h->argv, max_cmd > 3 ? max_cmd : 3);
	if (h && h->python_version && h->python_version[0]) {
		sb_sep(&b);
		snprintf(tmp, sizeof(tmp), "Python %.40s", h->python_version);
		sb_put(&b, tmp, strlen(tmp));
	}
	if (duration_ns) {
		sb_sep(&b);
		snprintf(tmp, sizeof(tmp), "%.1f s", (double)duration_ns / 1e9);
		sb_put(&b, tmp, strlen(tmp));
	}
	sb_sep(&b);
	snprintf(tmp, sizeof(tmp), "%" PRIu64 " sample%s", samples, samples == 1 ? "" : "s");
	sb_put(&b, tmp, strlen(tmp));
	if (h && h->rate_hz) {
		sb_sep(&b);
		snprintf(tmp, sizeof(tmp), "%" PRIu32 " Hz", h->rate_hz);
		sb_put(&b, tmp, strlen(tmp));
	}
	return buf;
}

/* ---- writing ------------------------------------------------------------ */

/* s must be clean (see clean()): only the five markup characters are
 * replaced. */
static void put_escaped(FILE *out, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		const char *ref;
		switch (s[i]) {
		case '&': ref = "&amp;"; break;
		case '<': ref = "&lt;"; break;
		case '>': ref = "&gt;"; break;
		case '"': ref = "&quot;"; break;
		case '\'': ref = "&#39;"; break;
		default: continue;
		}
		fwrite(s + from, 1, i - from, out);
		fputs(ref, out);
		from = i + 1;
	}
	fwrite(s + from, 1, n - from, out);
}

void ps_svg_escape(FILE *out, const char *s, size_t n)
{
	char *b = malloc(3 * n + 1);
	if (!b) {
		fputc('?', out);
		return;
	}
	put_escaped(out, b, clean(s, n, b));
	free(b);
}

/* The label of a box w px wide: as much of name as fits, cut with "..". */
static void put_label(FILE *out, const char *name, double w)
{
	size_t max = label_chars(w), chars = 0, cut = 0, i;
	for (i = 0; name[i]; i++) {
		if (((unsigned char)name[i] & 0xC0) == 0x80)
			continue;
		if (chars == max - 2)
			cut = i;
		if (++chars > max)
			break;
	}
	if (!name[i]) {
		put_escaped(out, name, i);
	} else {
		put_escaped(out, name, cut);
		fputs("..", out);
	}
}

/* v / 10 (v >= 0) with one decimal, none when it is 0. */
static void put_tenths(FILE *out, long v)
{
	if (v % 10)
		fprintf(out, "%ld.%ld", v / 10, v % 10);
	else
		fprintf(out, "%ld", v / 10);
}

static void put_box(FILE *out, const struct ps_svg_box *b, uint64_t total)
{
	long x = rnd(b->x * 10), w = rnd(b->w * 10), y = rnd(b->y * 10);
	size_t n = strlen(b->name);
	fprintf(out, "<g class=\"f\" data-samples=\"%" PRIu64 "\"><title>", b->samples);
	put_escaped(out, b->name, n);
	fprintf(out, "\n%" PRIu64 " sample%s, %.2f%%</title><rect x=\"", b->samples,
		b->samples == 1 ? "" : "s", 100.0 * (double)b->samples / (double)total);
	put_tenths(out, x);
	fputs("\" y=\"", out);
	put_tenths(out, y);
	fputs("\" width=\"", out);
	put_tenths(out, w);
	fprintf(out, "\" height=\"%d\" fill=\"%s\"/>", RECT_H, b->fill);
	if (label_chars(b->w) >= 3) {
		fputs("<text x=\"", out);
		put_tenths(out, x + rnd(TEXT_PAD * 10));
		fputs("\" y=\"", out);
		put_tenths(out, y + rnd(TEXT_DY * 10));
		fputs("\">", out);
		put_label(out, b->name, b->w);
		fputs("</text>", out);
	}
	fputs("</g>\n", out);
}

static void put_head(FILE *out, const struct ps_svg_opts *o, const struct ps_svg_layout *l,
		     uint64_t total)
{
	const char *title = o->title ? o->title : PS_SVG_DEFAULT_TITLE;
	const char *sub = o->subtitle ? o->subtitle : "";
	double w = l->width, h = l->height;
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" id=\"pyspy\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"data-total=\"%" PRIu64 "\" data-reverse=\"%d\">\n"
		"<!-- pyspy-svg %s: hover a frame for details, click to zoom, "
		"Ctrl-F to search -->\n"
		"<style type=\"text/css\"><![CDATA[\n%s]]></style>\n"
		"<rect id=\"bg\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#f6f6f0\"/>\n"
		"<text id=\"title\" x=\"%.1f\" y=\"24\">",
		w, h, w, h, total, o->reverse ? 1 : 0, PS_VERSION, ps_svg_style, w, h, w / 2);
	ps_svg_escape(out, title, strlen(title));
	fprintf(out, "</text>\n<text id=\"subtitle\" x=\"%.1f\" y=\"44\">", w / 2);
	ps_svg_escape(out, sub, strlen(sub));
	fprintf(out,
		"</text>\n"
		"<text id=\"reset\" class=\"hide\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" x=\"%.1f\" y=\"24\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%.1f\"> </text>\n"
		"<text id=\"matched\" x=\"%.1f\" y=\"%.1f\"> </text>\n",
		XPAD, w - XPAD, XPAD, h - 12, w - XPAD, h - 12);
}

int ps_svg_write(const struct ps_svg_tree *t, const struct ps_svg_opts *o, FILE *out)
{
	struct ps_svg_layout l;
	int rc = ps_svg_layout(t, o, &l);
	uint64_t total = t->node[0].total;
	if (rc)
		return rc;
	put_head(out, o, &l, total);
	fputs("<g id=\"frames\">\n", out);
	for (size_t i = 0; i < l.n; i++)
		put_box(out, &l.box[i], total);
	fputs("</g>\n", out);
	if (!l.n)
		fprintf(out, "<text id=\"empty\" x=\"%.1f\" y=\"%d\">No samples</text>\n",
			l.width / 2, TOP + 12);
	/* numbers only: nothing from the data goes into the script */
	fprintf(out,
		"<script type=\"text/ecmascript\"><![CDATA[\n"
		"window.pyspyConfig = { fh: %d, cw: %.2f, pad: %d, ty: %.1f };\n%s]]></script>\n"
		"</svg>\n",
		FRAME_H, CHAR_W, TEXT_PAD, TEXT_DY, ps_svg_script);
	ps_svg_layout_release(&l);
	return ferror(out) ? PS_EIO : PS_OK;
}
