#include "ps_code.h"

#include <stdlib.h>
#include <string.h>

#include "ps_lines.h"
#include "ps_pyobj.h"
#include "ps_time.h"

/* The cache's bounds. A program that compiles code forever (exec in a
 * loop, templates) shows a new code object every few samples; beyond
 * either bound, entries not used for KEEP_EPOCHS snapshots are dropped
 * (and everything, if that is not enough). */
#define MAX_ENTRIES 16384
#define MAX_BYTES ((size_t)16 << 20)
#define KEEP_EPOCHS 64
#define MAX_TABLE ((size_t)1 << 20)
#define MAX_NAME_CHARS 1024
#define MAX_VARNAMES 4096

/* Open addressing on the remote address; entries are heap-allocated so
 * pointers to them survive growth. */
struct ps_code_cache {
	struct ps_code **slot;
	size_t cap, n, bytes;
	size_t max_entries, max_bytes; /* see ps_code_cache_limit */
	uint64_t evicted;
	/* deferred validation (ps_code_defer): entries used this epoch and not
	 * read yet, and room for their headers */
	int defer;
	uint64_t now_ns;       /* the monotonic clock at ps_code_cache_begin */
	int fast;              /* this epoch began < PS_CODE_FAST_NS after the last */
	struct ps_code **pending;
	size_t npending, pcap;
	uint8_t *headers;
};

struct ps_code_cache *ps_code_cache_new(void)
{
	struct ps_code_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cap = 1024;
	c->max_entries = MAX_ENTRIES;
	c->max_bytes = MAX_BYTES;
	c->slot = calloc(c->cap, sizeof(*c->slot));
	if (!c->slot) {
		free(c);
		return NULL;
	}
	return c;
}

static void code_free(struct ps_code *k)
{
	if (!k)
		return;
	free(k->name);
	free(k->qualname);
	free(k->file);
	free(k->table);
	for (int i = 0; i < k->nvarnames; i++)
		free(k->varnames[i]);
	free(k->varnames);
	free(k->kinds);
	free(k);
}

static void cache_clear(struct ps_code_cache *c)
{
	for (size_t i = 0; i < c->cap; i++) {
		code_free(c->slot[i]);
		c->slot[i] = NULL;
	}
	c->n = c->bytes = 0;
}

void ps_code_cache_free(struct ps_code_cache *c)
{
	if (!c)
		return;
	cache_clear(c);
	free(c->slot);
	free(c->pending);
	free(c->headers);
	free(c);
}

void ps_code_cache_stats(const struct ps_code_cache *c, size_t *entries, size_t *bytes)
{
	*entries = c->n;
	*bytes = c->bytes;
}

uint64_t ps_code_cache_evicted(const struct ps_code_cache *c)
{
	return c->evicted;
}

void ps_code_cache_limit(struct ps_code_cache *c, size_t entries, size_t bytes)
{
	c->max_entries = entries;
	c->max_bytes = bytes;
}

static size_t code_bytes(const struct ps_code *k);
static struct ps_code **find_slot(struct ps_code_cache *c, uint64_t addr);

static int over(const struct ps_code_cache *c)
{
	return c->n > c->max_entries || c->bytes > c->max_bytes;
}

/* Drop the entries not used since epoch - KEEP_EPOCHS (and those found
 * stale), keeping the others in place: the table is refilled from the
 * survivors. Everything goes when that is not enough, or out of memory. */
static void cache_evict(struct ps_code_cache *c, uint64_t epoch)
{
	struct ps_code **keep = malloc((c->n ? c->n : 1) * sizeof(*keep));
	size_t nk = 0, before = c->n;
	if (!keep) {
		cache_clear(c);
		c->evicted += before;
		return;
	}
	for (size_t i = 0; i < c->cap; i++) {
		struct ps_code *k = c->slot[i];
		c->slot[i] = NULL;
		if (!k)
			continue;
		if (k->epoch && k->epoch + KEEP_EPOCHS >= epoch) {
			keep[nk++] = k;
		} else {
			c->bytes -= code_bytes(k);
			code_free(k);
		}
	}
	c->n = nk;
	for (size_t i = 0; i < nk; i++)
		*find_slot(c, keep[i]->addr) = keep[i];
	free(keep);
	if (over(c))
		cache_clear(c);
	c->evicted += before - c->n;
}

void ps_code_cache_trim(struct ps_code_cache *c, uint64_t epoch)
{
	c->npending = 0;
	if (over(c))
		cache_evict(c, epoch);
}

void ps_code_cache_begin(struct ps_proc *p)
{
	uint64_t now = ps_now_ns();
	p->codes->fast = now - p->codes->now_ns < PS_CODE_FAST_NS;
	p->codes->now_ns = now;
	p->epoch++;
	ps_code_cache_trim(p->codes, p->epoch);
}

void ps_code_defer(struct ps_proc *p, int on)
{
	p->codes->defer = on;
}

/* Remember k for ps_code_validate; 0 if there is no room (then it is
 * validated at once). */
static int defer_entry(struct ps_code_cache *c, struct ps_code *k)
{
	if (c->npending == c->pcap) {
		size_t nc = c->pcap ? c->pcap * 2 : 64;
		struct ps_code **np = realloc(c->pending, nc * sizeof(*np));
		if (!np)
			return 0;
		c->pending = np;
		c->pcap = nc;
	}
	c->pending[c->npending++] = k;
	return 1;
}

static void identify(const struct ps_proc *p, const uint8_t *h, struct ps_code *k);

static int same_object(const struct ps_code *now, const struct ps_code *k)
{
	return now->type == k->type && now->name_ptr == k->name_ptr &&
	       now->file_ptr == k->file_ptr && now->table_ptr == k->table_ptr &&
	       now->firstlineno == k->firstlineno;
}

/* Validate pending entries first..first+n (n <= PS_MEM_MAX_RANGES) with one
 * read; a failed read fails them all. The number that failed. */
static size_t validate_some(struct ps_proc *p, size_t first, size_t n)
{
	struct ps_code_cache *c = p->codes;
	struct ps_mem_range r[PS_MEM_MAX_RANGES];
	size_t hlen = (size_t)p->lay.code_size, bad = 0;
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ps_mem_range){ c->pending[first + i]->addr, c->headers + i * hlen, hlen };
	int rc = ps_mem_readv(&p->mem, r, n);
	for (size_t i = 0; i < n; i++) {
		struct ps_code *k = c->pending[first + i], now;
		if (rc == PS_OK)
			identify(p, c->headers + i * hlen, &now);
		if (rc != PS_OK || !same_object(&now, k)) {
			k->epoch = 0; /* read afresh when next used */
			bad++;
		} else {
			k->checked_ns = c->now_ns;
		}
	}
	return bad;
}

size_t ps_code_validate(struct ps_proc *p)
{
	struct ps_code_cache *c = p->codes;
	size_t hlen = (size_t)p->lay.code_size, bad = 0;
	if (!c->npending)
		return 0;
	if (!c->headers)
		c->headers = malloc(PS_MEM_MAX_RANGES * (hlen ? hlen : 1));
	for (size_t i = 0; i < c->npending; i += PS_MEM_MAX_RANGES) {
		size_t n = c->npending - i < PS_MEM_MAX_RANGES ? c->npending - i : PS_MEM_MAX_RANGES;
		if (c->headers)
			bad += validate_some(p, i, n);
		else
			for (size_t j = 0; j < n; j++, bad++)
				c->pending[i + j]->epoch = 0;
	}
	c->npending = 0;
	return bad;
}

static size_t hash_addr(uint64_t a, size_t cap)
{
	return (size_t)((a >> 4) * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
}

static struct ps_code **find_slot(struct ps_code_cache *c, uint64_t addr)
{
	size_t i = hash_addr(addr, c->cap);
	while (c->slot[i] && c->slot[i]->addr != addr)
		i = (i + 1) & (c->cap - 1);
	return &c->slot[i];
}

static int grow(struct ps_code_cache *c)
{
	struct ps_code **old = c->slot;
	size_t oldcap = c->cap;
	struct ps_code **slot = calloc(oldcap * 2, sizeof(*slot));
	if (!slot)
		return PS_ENOMEM;
	c->slot = slot;
	c->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			*find_slot(c, old[i]->addr) = old[i];
	free(old);
	return PS_OK;
}

static uint64_t u64_at(const uint8_t *b, int off)
{
	uint64_t v;
	memcpy(&v, b + off, 8);
	return v;
}

static int i32_at(const uint8_t *b, int off)
{
	int32_t v;
	if (off < 0)
		return 0;
	memcpy(&v, b + off, 4);
	return v;
}

static int read_header(struct ps_proc *p, uint64_t addr, uint8_t *buf, size_t cap)
{
	if ((size_t)p->lay.code_size > cap)
		return PS_EINVAL;
	return ps_mem_read(&p->mem, addr, buf, (size_t)p->lay.code_size);
}

static void identify(const struct ps_proc *p, const uint8_t *h, struct ps_code *k)
{
	const struct ps_layout *l = &p->lay;
	k->type = u64_at(h, l->object_type);
	k->name_ptr = u64_at(h, l->code_name);
	k->file_ptr = u64_at(h, l->code_filename);
	k->table_ptr = u64_at(h, l->code_linetable);
	k->firstlineno = i32_at(h, l->code_firstlineno);
}

static char *read_name(struct ps_proc *p, uint64_t obj, int *rc)
{
	char buf[MAX_NAME_CHARS * 4 + 4];
	if (*rc == PS_OK)
		*rc = ps_py_text(p, obj, 0, MAX_NAME_CHARS, buf, sizeof(buf), NULL, NULL);
	return *rc == PS_OK ? strdup(buf) : NULL;
}

static int read_table(struct ps_proc *p, struct ps_code *k)
{
	size_t len, total;
	uint8_t probe;
	/* learn the length first, then read it all */
	int rc = ps_py_bytes(p, k->table_ptr, &probe, 0, &len, &total);
	if (rc)
		return rc;
	if (total > MAX_TABLE)
		return PS_EINVAL;
	k->table = malloc(total ? total : 1);
	if (!k->table)
		return PS_ENOMEM;
	rc = ps_py_bytes(p, k->table_ptr, k->table, total, &len, &total);
	k->table_len = len;
	return rc;
}

static int decode(struct ps_proc *p, uint64_t addr, const uint8_t *h, struct ps_code *k)
{
	const struct ps_layout *l = &p->lay;
	const struct ps_type_info *t;
	int rc = ps_py_type(p, addr, &t);
	if (rc == PS_OK && strcmp(t->name, "code") != 0)
		rc = PS_EINVAL;
	k->addr = addr;
	k->nvarnames = -1;
	identify(p, h, k);
	k->argcount = i32_at(h, l->code_argcount);
	k->posonlyargcount = i32_at(h, l->code_posonlyargcount);
	k->kwonlyargcount = i32_at(h, l->code_kwonlyargcount);
	k->nlocals = i32_at(h, l->code_nlocals);
	k->flags = i32_at(h, l->code_flags);
	k->varnames_ptr = u64_at(h, l->code_varnames);
	k->kinds_ptr = l->code_localspluskinds >= 0 ? u64_at(h, l->code_localspluskinds) : 0;
	k->name = read_name(p, k->name_ptr, &rc);
	k->file = read_name(p, k->file_ptr, &rc);
	if (l->code_qualname >= 0)
		k->qualname = read_name(p, u64_at(h, l->code_qualname), &rc);
	if (rc == PS_OK)
		rc = read_table(p, k);
	return rc;
}

static size_t code_bytes(const struct ps_code *k)
{
	return sizeof(*k) + k->table_len + (k->name ? strlen(k->name) : 0) +
	       (k->file ? strlen(k->file) : 0) + (k->qualname ? strlen(k->qualname) : 0);
}

int ps_code_get(struct ps_proc *p, uint64_t addr, struct ps_code **out)
{
	struct ps_code_cache *c = p->codes;
	uint8_t h[1024];
	if (!ps_mem_plausible(addr))
		return PS_EREAD;
	struct ps_code **slot = find_slot(c, addr);
	if (*slot && (*slot)->epoch == p->epoch) {
		*out = *slot;
		return PS_OK;
	}
	if (*slot && (*slot)->epoch && c->fast && c->now_ns - (*slot)->checked_ns < PS_CODE_RECHECK_NS) {
		(*slot)->epoch = p->epoch;
		*out = *slot;
		return PS_OK;
	}
	if (*slot && c->defer && (*slot)->epoch && defer_entry(c, *slot)) {
		(*slot)->epoch = p->epoch; /* provisionally: ps_code_validate */
		*out = *slot;
		return PS_OK;
	}
	int rc = read_header(p, addr, h, sizeof(h));
	if (rc)
		return rc;
	if (*slot) {
		struct ps_code now;
		identify(p, h, &now);
		if (same_object(&now, *slot)) {
			(*slot)->epoch = p->epoch;
			(*slot)->checked_ns = c->now_ns;
			*out = *slot;
			return PS_OK;
		}
		/* the address now holds another object: decode afresh, but keep
		 * the old entry alive until the epoch ends (callers may hold it) */
	}
	struct ps_code *k = calloc(1, sizeof(*k));
	if (!k)
		return PS_ENOMEM;
	rc = decode(p, addr, h, k);
	if (rc) {
		code_free(k);
		return rc;
	}
	k->epoch = p->epoch;
	k->checked_ns = c->now_ns;
	rc = ps_code_cache_add(c, k);
	if (rc) {
		code_free(k);
		return rc;
	}
	*out = k;
	return PS_OK;
}

int ps_code_cache_add(struct ps_code_cache *c, struct ps_code *k)
{
	static uint64_t serials;
	k->serial = ++serials;
	struct ps_code **slot = find_slot(c, k->addr);
	if (*slot) {
		/* replace in place: the stale entry was from an older epoch, so
		 * nothing in this snapshot points at it */
		c->bytes -= code_bytes(*slot);
		code_free(*slot);
		c->n--;
	} else if ((c->n + 1) * 10 > c->cap * 7) {
		if (grow(c))
			return PS_ENOMEM;
		slot = find_slot(c, k->addr);
	}
	*slot = k;
	c->n++;
	c->bytes += code_bytes(k);
	return PS_OK;
}

static int decode_line(const struct ps_proc *p, const struct ps_code *c, int ipos)
{
	if (p->major == 2)
		return ps_lnotab_line(c->table, c->table_len, c->firstlineno, ipos, 0);
	if (p->minor <= 9)
		return ps_lnotab_line(c->table, c->table_len, c->firstlineno, ipos, 1);
	if (p->minor == 10)
		return ps_linetable310_line(c->table, c->table_len, c->firstlineno,
					    ipos < 0 ? -1 : ipos * 2);
	return ps_loctable_line(c->table, c->table_len, c->firstlineno, ipos);
}

int ps_code_line(const struct ps_proc *p, struct ps_code *c, int64_t pos)
{
	int ipos = pos > (1 << 30) ? (1 << 30) : pos < -1 ? -1 : (int)pos;
	unsigned slot = ((unsigned)ipos ^ (unsigned)ipos >> 3) & 7;
	uint32_t key = (uint32_t)ipos + 2;
	if (c->line_key[slot] != key) {
		c->line_val[slot] = decode_line(p, c, ipos);
		c->line_key[slot] = key;
	}
	return c->line_val[slot];
}

static int read_kinds(struct ps_proc *p, struct ps_code *c, size_t n)
{
	size_t len, total;
	c->kinds = calloc(n ? n : 1, 1);
	if (!c->kinds)
		return PS_ENOMEM;
	int rc = ps_py_bytes(p, c->kinds_ptr, c->kinds, n, &len, &total);
	return rc ? rc : len == n ? PS_OK : PS_EINVAL;
}

int ps_code_varnames(struct ps_proc *p, struct ps_code *c)
{
	uint64_t size, items[MAX_VARNAMES];
	if (c->nvarnames >= 0)
		return PS_OK;
	int rc = ps_mem_read_ptr(&p->mem, c->varnames_ptr + (uint64_t)p->lay.varobject_size, &size);
	if (rc)
		return rc;
	if (size > MAX_VARNAMES)
		return PS_EINVAL;
	rc = ps_mem_read(&p->mem, c->varnames_ptr + (uint64_t)p->lay.tuple_item, items, size * 8);
	if (rc == PS_OK && c->kinds_ptr)
		rc = read_kinds(p, c, (size_t)size);
	char **names = calloc(size ? size : 1, sizeof(*names));
	if (!names)
		rc = PS_ENOMEM;
	for (uint64_t i = 0; rc == PS_OK && i < size; i++)
		names[i] = read_name(p, items[i], &rc);
	if (rc) {
		for (uint64_t i = 0; names && i < size; i++)
			free(names[i]);
		free(names);
		free(c->kinds);
		c->kinds = NULL;
		return rc;
	}
	c->varnames = names;
	c->nvarnames = (int)size;
	return PS_OK;
}
