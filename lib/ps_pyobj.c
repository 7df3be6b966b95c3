/* Reading Python objects out of a target. */
#include "ps_pyobj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_code.h"
#include "ps_text.h"

#define TYPE_CACHE_SIZE 256
#define TPFLAGS_HEAPTYPE (1UL << 9)
#define MAX_DICT_ENTRIES ((size_t)1 << 20)

struct ps_type_cache {
	struct ps_type_info v[TYPE_CACHE_SIZE];
};

int ps_caches_init(struct ps_proc *p, struct ps_errmsg *e)
{
	p->types = calloc(1, sizeof(*p->types));
	p->codes = ps_code_cache_new();
	if (!p->types || !p->codes)
		return ps_error(e, PS_ENOMEM, "out of memory");
	return PS_OK;
}

void ps_caches_free(struct ps_proc *p)
{
	free(p->types);
	p->types = NULL;
	ps_code_cache_free(p->codes);
	p->codes = NULL;
}

static uint64_t u64_at(const uint8_t *b, int off)
{
	uint64_t v;
	memcpy(&v, b + off, 8);
	return v;
}

static int read_type(struct ps_proc *p, uint64_t type, struct ps_type_info *t)
{
	const struct ps_layout *l = &p->lay;
	uint8_t buf[512];
	int end = l->type_name;
	if (l->type_basicsize > end) end = l->type_basicsize;
	if (l->type_flags > end) end = l->type_flags;
	if (l->type_dictoffset > end) end = l->type_dictoffset;
	end += 8;
	if (end > (int)sizeof(buf))
		return PS_EINVAL;
	int rc = ps_mem_read(&p->mem, type, buf, (size_t)end);
	if (rc)
		return rc;
	rc = ps_mem_read_cstr(&p->mem, u64_at(buf, l->type_name), t->name, sizeof(t->name));
	if (rc)
		return rc;
	t->flags = u64_at(buf, l->type_flags);
	t->basicsize = (int64_t)u64_at(buf, l->type_basicsize);
	t->dictoffset = (int64_t)u64_at(buf, l->type_dictoffset);
	t->addr = type;
	t->epoch = p->epoch;
	return PS_OK;
}

int ps_py_type(struct ps_proc *p, uint64_t obj, const struct ps_type_info **out)
{
	uint64_t type;
	int rc = ps_mem_read_ptr(&p->mem, obj + (uint64_t)p->lay.object_type, &type);
	if (rc)
		return rc;
	if (!ps_mem_plausible(type))
		return PS_EINVAL;
	struct ps_type_info *t = &p->types->v[(type >> 4) % TYPE_CACHE_SIZE];
	if (t->addr != type || t->epoch != p->epoch) {
		t->addr = 0;
		rc = read_type(p, type, t);
		if (rc)
			return rc;
	}
	*out = t;
	return PS_OK;
}

int ps_py_type_name(struct ps_proc *p, uint64_t obj, char *out, size_t cap)
{
	const struct ps_type_info *t;
	int rc = ps_py_type(p, obj, &t);
	if (rc)
		return rc;
	snprintf(out, cap, "%s", t->name);
	return PS_OK;
}

/* A builtin type is static (not a heap type): a user class called "dict"
 * is not a dict. */
static int is_builtin(const struct ps_type_info *t, const char *name)
{
	return !(t->flags & TPFLAGS_HEAPTYPE) && strcmp(t->name, name) == 0;
}

/* ---- strings ---- */

static int decode_units(struct ps_proc *p, uint64_t data, int width, size_t len,
			size_t max_chars, char *out, size_t cap, size_t *outlen, int *truncated)
{
	uint8_t buf[4096];
	size_t n = len < max_chars ? len : max_chars;
	if (n * (size_t)width > sizeof(buf))
		n = sizeof(buf) / (size_t)width;
	int rc = ps_mem_read(&p->mem, data, buf, n * (size_t)width);
	if (rc)
		return rc;
	int cut = 0;
	size_t w = ps_ucs_to_utf8(width, buf, n, out, cap, &cut);
	if (outlen)
		*outlen = w;
	if (truncated)
		*truncated = cut || n < len;
	return PS_OK;
}

static int py3_text(struct ps_proc *p, uint64_t obj, size_t max_chars, char *out,
		    size_t cap, size_t *outlen, int *truncated)
{
	const struct ps_layout *l = &p->lay;
	uint8_t hdr[128];
	if (l->unicode_compact_size + 8 > (int)sizeof(hdr))
		return PS_EINVAL;
	int rc = ps_mem_read(&p->mem, obj, hdr, (size_t)l->unicode_compact_size + 8);
	if (rc)
		return rc;
	uint64_t len = u64_at(hdr, l->unicode_length);
	uint32_t state;
	memcpy(&state, hdr + l->unicode_state, 4);
	int kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	if (kind != 1 && kind != 2 && kind != 4)
		return PS_EINVAL;
	if (len > ((uint64_t)1 << 40))
		return PS_EINVAL;
	uint64_t data;
	if (compact)
		data = obj + (uint64_t)(ascii ? l->unicode_ascii_size : l->unicode_compact_size);
	else
		data = u64_at(hdr, l->unicode_data); /* legacy, not compact */
	return decode_units(p, data, kind, (size_t)len, max_chars, out, cap, outlen, truncated);
}

static int py2_unicode_text(struct ps_proc *p, uint64_t obj, size_t max_chars,
			    char *out, size_t cap, size_t *outlen, int *truncated)
{
	const struct ps_layout *l = &p->lay;
	uint8_t hdr[64];
	int rc = ps_mem_read(&p->mem, obj, hdr, (size_t)l->unicode_data + 8);
	if (rc)
		return rc;
	uint64_t len = u64_at(hdr, l->unicode_length);
	if (len > ((uint64_t)1 << 40))
		return PS_EINVAL;
	return decode_units(p, u64_at(hdr, l->unicode_data), l->unicode_char_size,
			    (size_t)len, max_chars, out, cap, outlen, truncated);
}

int ps_py_bytes(struct ps_proc *p, uint64_t obj, uint8_t *out, size_t cap,
		size_t *len, size_t *total)
{
	uint64_t size;
	int rc = ps_mem_read_ptr(&p->mem, obj + (uint64_t)p->lay.varobject_size, &size);
	if (rc)
		return rc;
	if (size > ((uint64_t)1 << 40))
		return PS_EINVAL;
	*total = (size_t)size;
	*len = size < cap ? (size_t)size : cap;
	return ps_mem_read(&p->mem, obj + (uint64_t)p->lay.bytes_sval, out, *len);
}

static int py2_str_text(struct ps_proc *p, uint64_t obj, size_t max_chars,
			char *out, size_t cap, size_t *outlen, int *truncated)
{
	uint8_t buf[4096];
	size_t len, total, want = max_chars < sizeof(buf) ? max_chars : sizeof(buf);
	int rc = ps_py_bytes(p, obj, buf, want, &len, &total);
	if (rc)
		return rc;
	int cut = 0;
	size_t w = ps_utf8_sanitize(buf, len, out, cap, &cut);
	if (outlen)
		*outlen = w;
	if (truncated)
		*truncated = cut || len < total;
	return PS_OK;
}

int ps_py_text(struct ps_proc *p, uint64_t obj, int check_type, size_t max_chars,
	       char *out, size_t cap, size_t *outlen, int *truncated)
{
	out[0] = '\0';
	if (outlen)
		*outlen = 0;
	if (!ps_mem_plausible(obj))
		return PS_EREAD;
	if (p->major >= 3 && !check_type)
		return py3_text(p, obj, max_chars, out, cap, outlen, truncated);
	if (!check_type)
		return py2_str_text(p, obj, max_chars, out, cap, outlen, truncated);
	const struct ps_type_info *t;
	int rc = ps_py_type(p, obj, &t);
	if (rc)
		return rc;
	if (is_builtin(t, "str"))
		return p->major >= 3 ? py3_text(p, obj, max_chars, out, cap, outlen, truncated)
				     : py2_str_text(p, obj, max_chars, out, cap, outlen, truncated);
	if (p->major == 2 && is_builtin(t, "unicode"))
		return py2_unicode_text(p, obj, max_chars, out, cap, outlen, truncated);
	return PS_EINVAL;
}

/* ---- ints ---- */

#define MAX_LONG_DIGITS 48 /* > 200 decimal digits even with 15-bit digits */

struct long_value {
	uint32_t d[MAX_LONG_DIGITS];
	size_t n;
	int neg;
	int too_big;
};

static int read_long(struct ps_proc *p, uint64_t obj, const struct ps_type_info *t,
		     struct long_value *v)
{
	const struct ps_layout *l = &p->lay;
	int64_t size;
	memset(v, 0, sizeof(*v));
	if (p->major == 2 && is_builtin(t, "int")) {
		int64_t iv;
		int rc = ps_mem_read(&p->mem, obj + (uint64_t)l->int_ival, &iv, 8);
		v->neg = iv < 0;
		uint64_t mag = iv < 0 ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv;
		for (; mag; mag >>= l->long_shift)
			v->d[v->n++] = (uint32_t)(mag & ((1u << l->long_shift) - 1));
		return rc;
	}
	if (l->long_tag >= 0) {
		uint64_t tag;
		int rc = ps_mem_read_ptr(&p->mem, obj + (uint64_t)l->long_tag, &tag);
		if (rc)
			return rc;
		size = (int64_t)(tag >> 3);
		v->neg = (tag & 3) == 2;
	} else {
		int rc = ps_mem_read(&p->mem, obj + (uint64_t)l->varobject_size, &size, 8);
		if (rc)
			return rc;
		v->neg = size < 0;
		size = size < 0 ? -size : size;
	}
	if (size < 0 || size > ((int64_t)1 << 40))
		return PS_EINVAL;
	if ((size_t)size > MAX_LONG_DIGITS) {
		v->too_big = 1;
		return PS_OK;
	}
	v->n = (size_t)size;
	uint8_t raw[MAX_LONG_DIGITS * 4];
	size_t ds = (size_t)l->long_digit_size;
	int rc = ps_mem_read(&p->mem, obj + (uint64_t)l->long_digit, raw, v->n * ds);
	for (size_t i = 0; i < v->n && rc == PS_OK; i++) {
		uint32_t d = 0;
		memcpy(&d, raw + i * ds, ds);
		v->d[i] = d;
	}
	return rc;
}

/* Decimal text of a long value; "<int>" beyond 200 digits. */
static void long_to_decimal(const struct long_value *v, int shift, char *out, size_t cap)
{
	uint32_t limb[32] = { 0 }; /* base 1e9, little-endian: 288 digits */
	size_t nl = 1;
	if (v->too_big) {
		snprintf(out, cap, "<int>");
		return;
	}
	for (size_t i = v->n; i-- > 0;) {
		uint64_t carry = v->d[i];
		for (size_t j = 0; j < nl; j++) {
			uint64_t x = ((uint64_t)limb[j] << shift) + carry;
			limb[j] = (uint32_t)(x % 1000000000u);
			carry = x / 1000000000u;
		}
		while (carry && nl < 32) {
			limb[nl++] = (uint32_t)(carry % 1000000000u);
			carry /= 1000000000u;
		}
	}
	char buf[300];
	int len = snprintf(buf, sizeof(buf), "%s%u", v->neg ? "-" : "", limb[nl - 1]);
	for (size_t j = nl - 1; j-- > 0 && len < (int)sizeof(buf) - 10;)
		len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%09u", limb[j]);
	if (len - v->neg > 200)
		snprintf(out, cap, "<int>");
	else
		snprintf(out, cap, "%s", buf);
}

int ps_py_int64(struct ps_proc *p, uint64_t obj, int64_t *out)
{
	const struct ps_type_info *t;
	struct long_value v;
	int rc = ps_py_type(p, obj, &t);
	if (rc == PS_OK)
		rc = read_long(p, obj, t, &v);
	if (rc)
		return rc;
	uint64_t mag = 0;
	for (size_t i = v.n; i-- > 0;) {
		if (v.too_big || mag >> (64 - p->lay.long_shift))
			return PS_EINVAL;
		mag = mag << p->lay.long_shift | v.d[i];
	}
	*out = v.neg ? -(int64_t)mag : (int64_t)mag;
	return PS_OK;
}

/* ---- dicts ---- */

static int dict_items_py2(struct ps_proc *p, uint64_t dict, const uint8_t *hdr,
			  struct ps_kv *out, size_t max, size_t *n)
{
	const struct ps_layout *l = &p->lay;
	uint64_t mask = u64_at(hdr, l->dict_mask), table = u64_at(hdr, l->dict_keys);
	uint8_t buf[64 * 24];
	size_t es = (size_t)l->dict_entry_size;
	(void)dict;
	if (mask >= MAX_DICT_ENTRIES || es > 24)
		return PS_EINVAL;
	for (uint64_t i = 0; i <= mask && *n < max; i += 64) {
		size_t cnt = mask + 1 - i < 64 ? (size_t)(mask + 1 - i) : 64;
		int rc = ps_mem_read(&p->mem, table + i * es, buf, cnt * es);
		if (rc)
			return rc;
		for (size_t j = 0; j < cnt && *n < max; j++) {
			uint64_t k = u64_at(buf + j * es, 8), v = u64_at(buf + j * es, 16);
			if (k && v)
				out[(*n)++] = (struct ps_kv){ k, v };
		}
	}
	return PS_OK;
}

/* Where a 3.x keys object keeps its entries, how many and how big. */
static int keys_entries(struct ps_proc *p, uint64_t keys, uint64_t *entries,
			uint64_t *nentries, size_t *es, int *unicode)
{
	const struct ps_layout *l = &p->lay;
	uint8_t kh[64];
	int rc = ps_mem_read(&p->mem, keys, kh, (size_t)l->keys_indices);
	if (rc)
		return rc;
	*nentries = u64_at(kh, l->keys_nentries);
	if (l->keys_log2_size >= 0) {
		uint8_t log2_index_bytes = kh[l->keys_log2_index_bytes];
		if (log2_index_bytes > 40)
			return PS_EINVAL;
		*unicode = kh[l->keys_kind] != 0;
		*es = (size_t)(*unicode ? l->dict_unicode_entry_size : l->dict_entry_size);
		*entries = keys + (uint64_t)l->keys_indices + ((uint64_t)1 << log2_index_bytes);
	} else {
		uint64_t size = u64_at(kh, l->keys_size);
		uint64_t w = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffu ? 4 : 8;
		if (size > MAX_DICT_ENTRIES * 2)
			return PS_EINVAL;
		*unicode = 0;
		*es = (size_t)l->dict_entry_size;
		*entries = keys + (uint64_t)l->keys_indices + size * w;
	}
	if (*nentries > MAX_DICT_ENTRIES || *es > 24 || *es < 16)
		return PS_EINVAL;
	return PS_OK;
}

/* Entries of a keys object; values from a split table when values != 0. */
static int keys_items(struct ps_proc *p, uint64_t keys, uint64_t values,
		      struct ps_kv *out, size_t max, size_t *n)
{
	uint64_t entries, nentries;
	size_t es;
	int unicode;
	int rc = keys_entries(p, keys, &entries, &nentries, &es, &unicode);
	uint8_t buf[64 * 24];
	uint64_t vals[64];
	for (uint64_t i = 0; rc == PS_OK && i < nentries && *n < max; i += 64) {
		size_t cnt = nentries - i < 64 ? (size_t)(nentries - i) : 64;
		rc = ps_mem_read(&p->mem, entries + i * es, buf, cnt * es);
		if (rc == PS_OK && values)
			rc = ps_mem_read(&p->mem, values + i * 8, vals, cnt * 8);
		for (size_t j = 0; rc == PS_OK && j < cnt && *n < max; j++) {
			const uint8_t *ent = buf + j * es;
			uint64_t k = u64_at(ent, unicode ? 0 : 8);
			uint64_t v = values ? vals[j] : u64_at(ent, unicode ? 8 : 16);
			if (k && v)
				out[(*n)++] = (struct ps_kv){ k, v };
		}
	}
	return rc;
}

int ps_py_dict_items(struct ps_proc *p, uint64_t dict, struct ps_kv *out,
		     size_t max, size_t *n, size_t *total)
{
	const struct ps_layout *l = &p->lay;
	uint8_t hdr[64];
	int end = l->dict_keys > l->dict_used ? l->dict_keys : l->dict_used;
	if (l->dict_values > end) end = l->dict_values;
	if (l->dict_mask > end) end = l->dict_mask;
	*n = 0;
	int rc = ps_mem_read(&p->mem, dict, hdr, (size_t)end + 8);
	if (rc)
		return rc;
	*total = (size_t)u64_at(hdr, l->dict_used);
	if (p->major == 2)
		return dict_items_py2(p, dict, hdr, out, max, n);
	uint64_t values = u64_at(hdr, l->dict_values);
	return keys_items(p, u64_at(hdr, l->dict_keys),
			  values ? values + (uint64_t)(l->values_values > 0 ? l->values_values : 0) : 0,
			  out, max, n);
}

/* Whether a str object's text is exactly name. */
static int key_is(struct ps_proc *p, uint64_t key, const char *name)
{
	char buf[128];
	int cut = 0;
	size_t len = strlen(name), got;
	if (len >= sizeof(buf) - 1)
		return 0;
	if (ps_py_text(p, key, 1, len + 1, buf, sizeof(buf), &got, &cut) != PS_OK)
		return 0;
	return !cut && got == len && memcmp(buf, name, len) == 0;
}

static int kv_find(struct ps_proc *p, const struct ps_kv *kv, size_t n,
		   const char *name, uint64_t *value)
{
	for (size_t i = 0; i < n; i++)
		if (key_is(p, kv[i].key, name)) {
			*value = kv[i].value;
			return PS_OK;
		}
	return PS_EINVAL;
}

int ps_py_dict_get_str(struct ps_proc *p, uint64_t dict, const char *name,
		       uint64_t *value)
{
	size_t n, total, cap = 4096;
	struct ps_kv *kv = malloc(cap * sizeof(*kv));
	if (!kv)
		return PS_ENOMEM;
	int rc = ps_py_dict_items(p, dict, kv, cap, &n, &total);
	if (rc == PS_OK)
		rc = kv_find(p, kv, n, name, value);
	free(kv);
	return rc;
}

/* ---- attributes ---- */

/* An attribute stored in split values: the type's shared keys name the
 * slots, values holds them. */
static int split_attr(struct ps_proc *p, const struct ps_type_info *t,
		      uint64_t values, const char *name, uint64_t *value)
{
	uint64_t keys;
	struct ps_kv kv[64];
	size_t n = 0;
	if (p->lay.heaptype_cached_keys < 0 || !(t->flags & TPFLAGS_HEAPTYPE))
		return PS_EINVAL;
	int rc = ps_mem_read_ptr(&p->mem, t->addr + (uint64_t)p->lay.heaptype_cached_keys, &keys);
	if (rc == PS_OK && !ps_mem_plausible(keys))
		rc = PS_EINVAL;
	if (rc == PS_OK)
		rc = keys_items(p, keys, values, kv, 64, &n);
	return rc ? rc : kv_find(p, kv, n, name, value);
}

/* Python 3.11+: the dict pointer before the object, or its values. */
static int managed_attr(struct ps_proc *p, uint64_t obj, const struct ps_type_info *t,
			const char *name, uint64_t *value)
{
	uint64_t slot, vals;
	int rc = ps_mem_read_ptr(&p->mem, obj - 24, &slot); /* MANAGED_DICT_OFFSET */
	if (rc)
		return rc;
	if (p->minor == 12 && (slot & 1)) /* PyDictOrValues tagged with 1 */
		return split_attr(p, t, slot + 1, name, value);
	if (slot)
		return ps_py_dict_get_str(p, slot, name, value);
	if (p->minor == 11) {
		rc = ps_mem_read_ptr(&p->mem, obj - 32, &vals);
		return rc ? rc : vals ? split_attr(p, t, vals, name, value) : PS_EINVAL;
	}
	if (p->lay.tpflags_inline_values && (t->flags & (uint64_t)p->lay.tpflags_inline_values)) {
		uint8_t hdr[8]; /* capacity, size, embedded, valid */
		uint64_t inl = obj + (uint64_t)t->basicsize;
		rc = ps_mem_read(&p->mem, inl, hdr, sizeof(hdr));
		if (rc || !hdr[3])
			return rc ? rc : PS_EINVAL;
		return split_attr(p, t, inl + (uint64_t)p->lay.values_values, name, value);
	}
	return PS_EINVAL;
}

int ps_py_attr(struct ps_proc *p, uint64_t obj, const char *name, uint64_t *value)
{
	const struct ps_type_info *t;
	uint64_t dict;
	int rc = ps_py_type(p, obj, &t);
	if (rc)
		return rc;
	if (p->lay.tpflags_managed_dict && (t->flags & (uint64_t)p->lay.tpflags_managed_dict))
		return managed_attr(p, obj, t, name, value);
	if (t->dictoffset <= 0 || t->dictoffset > (1 << 20))
		return PS_EINVAL;
	rc = ps_mem_read_ptr(&p->mem, obj + (uint64_t)t->dictoffset, &dict);
	if (rc)
		return rc;
	return dict ? ps_py_dict_get_str(p, dict, name, value) : PS_EINVAL;
}

/* ---- repr ---- */

#define REPR_ITEMS 4
#define REPR_STR_CHARS 64

struct sbuf {
	char *s;
	size_t cap, len;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->len + 1 >= b->cap)
		return;
	if (n > b->cap - 1 - b->len)
		n = b->cap - 1 - b->len;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void repr_obj(struct ps_proc *p, uint64_t obj, int depth, struct sbuf *b);

static void repr_text(struct ps_proc *p, uint64_t obj, struct sbuf *b)
{
	char text[REPR_STR_CHARS * 4 + 8], out[REPR_STR_CHARS * 12 + 16];
	int cut = 0;
	size_t len;
	if (ps_py_text(p, obj, 1, REPR_STR_CHARS, text, sizeof(text), &len, &cut)) {
		sb_add(b, "<unreadable>");
		return;
	}
	ps_repr_str(text, len, out, sizeof(out));
	sb_add(b, out);
	if (cut)
		sb_add(b, "...");
}

static void repr_bytes(struct ps_proc *p, uint64_t obj, struct sbuf *b)
{
	uint8_t data[REPR_STR_CHARS];
	char out[REPR_STR_CHARS * 4 + 8];
	size_t len, total;
	if (ps_py_bytes(p, obj, data, sizeof(data), &len, &total)) {
		sb_add(b, "<unreadable>");
		return;
	}
	ps_repr_bytes(data, len, out, sizeof(out));
	sb_add(b, out);
	if (len < total)
		sb_add(b, "...");
}

/* Item pointers of a list or tuple, up to max; *total is its length. */
static int seq_items(struct ps_proc *p, uint64_t obj, int is_list, uint64_t *items,
		     size_t max, size_t *n, size_t *total)
{
	uint64_t size, base = obj + (uint64_t)p->lay.tuple_item;
	int rc = ps_mem_read_ptr(&p->mem, obj + (uint64_t)p->lay.varobject_size, &size);
	if (rc == PS_OK && is_list)
		rc = ps_mem_read_ptr(&p->mem, obj + (uint64_t)p->lay.list_item, &base);
	if (rc)
		return rc;
	if (size > ((uint64_t)1 << 40))
		return PS_EINVAL;
	*total = (size_t)size;
	*n = size < max ? (size_t)size : max;
	return *n ? ps_mem_read(&p->mem, base, items, *n * 8) : PS_OK;
}

static int set_items(struct ps_proc *p, uint64_t obj, uint64_t *items, size_t max,
		     size_t *n, size_t *total)
{
	const struct ps_layout *l = &p->lay;
	uint64_t used, mask, table;
	uint8_t ent[32];
	*n = 0;
	if (ps_mem_read_ptr(&p->mem, obj + (uint64_t)l->set_used, &used) ||
	    ps_mem_read_ptr(&p->mem, obj + (uint64_t)l->set_mask, &mask) ||
	    ps_mem_read_ptr(&p->mem, obj + (uint64_t)l->set_table, &table) ||
	    mask >= MAX_DICT_ENTRIES || l->set_entry_size > (int)sizeof(ent))
		return PS_EREAD;
	*total = (size_t)used;
	for (uint64_t i = 0; i <= mask && *n < max && *n < used; i++) {
		int rc = ps_mem_read(&p->mem, table + i * (uint64_t)l->set_entry_size, ent,
				     (size_t)l->set_entry_size);
		if (rc)
			return rc;
		/* setentry is {hash, key} on 2.7 and {key, hash} on 3.x; a freed
		 * slot keeps the dummy key with hash -1 on 3.x */
		uint64_t key = u64_at(ent, p->major == 2 ? 8 : 0);
		int64_t hash = (int64_t)u64_at(ent, p->major == 2 ? 0 : 8);
		if (key && !(p->major >= 3 && hash == -1))
			items[(*n)++] = key;
	}
	return PS_OK;
}

static void repr_container(struct ps_proc *p, uint64_t obj, const char *type,
			   int depth, struct sbuf *b)
{
	uint64_t items[REPR_ITEMS];
	struct ps_kv kv[REPR_ITEMS];
	size_t n = 0, total = 0;
	int is_dict = strcmp(type, "dict") == 0, is_tuple = strcmp(type, "tuple") == 0;
	int rc = is_dict ? ps_py_dict_items(p, obj, kv, REPR_ITEMS, &n, &total)
		: (is_tuple || strcmp(type, "list") == 0)
			? seq_items(p, obj, !is_tuple, items, REPR_ITEMS, &n, &total)
			: set_items(p, obj, items, REPR_ITEMS, &n, &total);
	char head[64];
	snprintf(head, sizeof(head), "%s(%zu)", type, total);
	sb_add(b, head);
	if (rc || depth > 0) {
		if (rc)
			sb_add(b, " <unreadable>");
		return;
	}
	sb_add(b, is_dict || !strcmp(type, "set") || !strcmp(type, "frozenset") ? " {"
		  : is_tuple ? " (" : " [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_add(b, ", ");
		repr_obj(p, is_dict ? kv[i].key : items[i], depth + 1, b);
		if (is_dict) {
			sb_add(b, ": ");
			repr_obj(p, kv[i].value, depth + 1, b);
		}
	}
	if (total > n)
		sb_add(b, ", ...");
	else if (is_tuple && total == 1)
		sb_add(b, ",");
	sb_add(b, is_dict || !strcmp(type, "set") || !strcmp(type, "frozenset") ? "}"
		  : is_tuple ? ")" : "]");
}

static void repr_number(struct ps_proc *p, uint64_t obj, const struct ps_type_info *t,
			struct sbuf *b)
{
	char out[320];
	if (strcmp(t->name, "float") == 0) {
		double d;
		if (ps_mem_read(&p->mem, obj + (uint64_t)p->lay.float_fval, &d, 8))
			snprintf(out, sizeof(out), "<unreadable>");
		else
			ps_repr_float(d, out, sizeof(out));
	} else {
		struct long_value v;
		if (read_long(p, obj, t, &v))
			snprintf(out, sizeof(out), "<unreadable>");
		else if (strcmp(t->name, "bool") == 0)
			snprintf(out, sizeof(out), "%s", v.n ? "True" : "False");
		else
			long_to_decimal(&v, p->lay.long_shift, out, sizeof(out));
	}
	sb_add(b, out);
}

static void repr_obj(struct ps_proc *p, uint64_t obj, int depth, struct sbuf *b)
{
	static const char *const containers[] = { "list", "tuple", "dict", "set", "frozenset" };
	static const char *const numbers[] = { "int", "long", "bool", "float" };
	const struct ps_type_info *t;
	char other[128];

	if (ps_py_type(p, obj, &t)) {
		sb_add(b, "<unreadable>");
		return;
	}
	if (is_builtin(t, "NoneType"))
		return sb_add(b, "None");
	if (is_builtin(t, "str") || is_builtin(t, "unicode"))
		return repr_text(p, obj, b);
	if (is_builtin(t, "bytes"))
		return repr_bytes(p, obj, b);
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (is_builtin(t, numbers[i]))
			return repr_number(p, obj, t, b);
	for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++)
		if (is_builtin(t, containers[i]))
			return repr_container(p, obj, containers[i], depth, b);
	snprintf(other, sizeof(other), "<%s at 0x%llx>", t->name, (unsigned long long)obj);
	sb_add(b, other);
}

void ps_py_repr(struct ps_proc *p, uint64_t obj, char *out, size_t cap)
{
	struct sbuf b = { out, cap, 0 };
	if (cap == 0)
		return;
	out[0] = '\0';
	repr_obj(p, obj, 0, &b);
}
