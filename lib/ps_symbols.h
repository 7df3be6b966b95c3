/* Native symbols of a process: instruction address -> function name and the
 * shared object it is in, from the ELF symbols (.symtab, .dynsym) of every
 * file the process maps. */
#ifndef PS_SYMBOLS_H
#define PS_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"

struct ps_symbols; /* opaque */

struct ps_symbol {
	const char *name;    /* function (C++ demangled); NULL: no symbol covers
				the address (a stripped object, JIT code) */
	const char *object;  /* base name of the mapped file ("libc.so.6"), a
				pseudo-path ("[vdso]"), or NULL (anonymous) */
	const char *path;    /* the mapped file's path, or NULL */
	uint64_t offset;     /* address - symbol start (0 without a symbol) */
};

/* Symbolizer for pid's address space; its mappings are read on first use. */
int ps_symbols_new(pid_t pid, struct ps_symbols **out);

/* Free; NULL is a no-op. */
void ps_symbols_free(struct ps_symbols *s);

/* A new snapshot begins: the target may have mapped objects since the last
 * one, so one lookup that misses every known mapping may read the mappings
 * again (at most once per snapshot, so garbage addresses cost one read). */
void ps_symbols_begin(struct ps_symbols *s);

/* Look addr up. Strings live until the next ps_symbols_begin (in
 * practice as long as s, unless their object was unmapped and evicted).
 * Each object's symbol table is loaded on first use and kept, keyed by
 * (path, inode, mtime). PS_EINVAL when addr is in no mapping at all
 * (out->* are then NULL). */
int ps_symbols_lookup(struct ps_symbols *s, uint64_t addr, struct ps_symbol *out);

/* Bumped each time the mappings are read: what was learnt per address
 * (such as libunwind's cache) may be stale when it changes. */
unsigned ps_symbols_maps_generation(const struct ps_symbols *s);

/* How many object files were loaded (for tests: the cache works). */
size_t ps_symbols_objects_loaded(const struct ps_symbols *s);

/* Bounds: at most `objects` object files known (up to 4,096, the
 * default) and `bytes` of symbol tables held (default 256 MiB; an object
 * loaded beyond it gets its name but no symbols). Once either is half
 * used, ps_symbols_begin forgets the objects no longer mapped. */
void ps_symbols_limit(struct ps_symbols *s, size_t objects, size_t bytes);
/* Objects known now, and how many were forgotten (for tests and stats). */
size_t ps_symbols_objects_held(const struct ps_symbols *s);
uint64_t ps_symbols_evicted(const struct ps_symbols *s);

/* Demangle an Itanium C++ name ("_ZN3foo3barEv" -> "foo::bar()") into out.
 * Returns 1 if demangled, 0 if name is not mangled or the demangler (from
 * libstdc++, loaded at run time) is not available: then out is name. */
int ps_demangle(const char *name, char *out, size_t cap);

#endif
