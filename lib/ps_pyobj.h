/* Python objects in a target: types, str, bytes, int, dicts, attributes and
 * short reprs. Every function treats what it reads as untrusted: lengths are
 * bounded, pointers checked, and failure is an error code, never a crash. */
#ifndef PS_PYOBJ_H
#define PS_PYOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "ps_proc.h"

/* What we keep of a type object; valid for one epoch (snapshot), since heap
 * types can be freed and their address reused. */
struct ps_type_info {
	uint64_t addr;
	uint64_t epoch;
	char name[64];        /* tp_name, cut to fit */
	uint64_t flags;       /* tp_flags */
	int64_t basicsize;
	int64_t dictoffset;
};

int ps_caches_init(struct ps_proc *p, struct ps_errmsg *e);
void ps_caches_free(struct ps_proc *p);

/* The type of obj (reads ob_type, then the type through a per-epoch cache). */
int ps_py_type(struct ps_proc *p, uint64_t obj, const struct ps_type_info **out);

/* tp_name of obj's type, e.g. "dict". */
int ps_py_type_name(struct ps_proc *p, uint64_t obj, char *out, size_t cap);

/* Text of a str object as UTF-8 (*len bytes, which may include NULs, if len
 * is not NULL): Python 3 str, Python 2 str or unicode
 * (checked by type when check_type, else assumed to be the version's code
 * string type: str). At most max_chars characters are decoded; *truncated
 * set when there were more. */
int ps_py_text(struct ps_proc *p, uint64_t obj, int check_type, size_t max_chars,
	       char *out, size_t cap, size_t *len, int *truncated);

/* Bytes of a bytes object (Python 2 str): up to cap bytes into out; *len is
 * the number copied, *total the object's length. */
int ps_py_bytes(struct ps_proc *p, uint64_t obj, uint8_t *out, size_t cap,
		size_t *len, size_t *total);

/* Value of an int (Python 3 int, Python 2 int or long) that fits 64 bits. */
int ps_py_int64(struct ps_proc *p, uint64_t obj, int64_t *out);

struct ps_kv {
	uint64_t key, value;
};

/* Up to max live (key, value) pairs of a dict, in iteration order; *total
 * is ma_used. */
int ps_py_dict_items(struct ps_proc *p, uint64_t dict, struct ps_kv *out,
		     size_t max, size_t *n, size_t *total);

/* dict[name] for a str key. PS_EINVAL when absent. */
int ps_py_dict_get_str(struct ps_proc *p, uint64_t dict, const char *name,
		       uint64_t *value);

/* obj.name for an attribute held in the instance's __dict__ (or its
 * managed dict / inline values on 3.11+). PS_EINVAL when absent. */
int ps_py_attr(struct ps_proc *p, uint64_t obj, const char *name, uint64_t *value);

/* A short repr of obj (see pyspy-dump(1) for the rules). Never fails: an
 * unreadable object gives "<unreadable>". */
void ps_py_repr(struct ps_proc *p, uint64_t obj, char *out, size_t cap);

#endif
