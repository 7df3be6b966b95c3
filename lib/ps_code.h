/* Code objects of a target, decoded once and cached by remote address.
 *
 * Code objects are immutable, but they die and their memory is reused: an
 * entry is revalidated (one read of the object's header, compared with what
 * we decoded) the first time it is used in each epoch (snapshot), unless
 * it was found the same less than PS_CODE_RECHECK_NS ago. Entries stay put
 * during an epoch, so pointers to them are valid until the next
 * ps_code_cache_begin. */
#ifndef PS_CODE_H
#define PS_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "ps_proc.h"

/* When snapshots come less than PS_CODE_FAST_NS apart (above 2 kHz), an
 * entry checked (read, or revalidated) less than PS_CODE_RECHECK_NS ago is
 * taken as it is: each code object is checked once a millisecond instead
 * of at every snapshot. Checking is one range of the snapshot's vectored
 * read per code object, and at the highest rates those ranges were most of
 * a flat stack's read. At 2 kHz or less every snapshot checks every code
 * object it meets, as before (a window near the period would have some
 * snapshots check and some not, and the ranges of the ones that do would
 * miss the prefetch). The cost: a code object freed and another made at
 * the same address is seen under the old name for at most a millisecond. */
#define PS_CODE_RECHECK_NS 1000000
#define PS_CODE_FAST_NS 500000

struct ps_code {
	uint64_t addr;
	uint64_t serial;       /* unique to this entry among all ever made: an
				  entry freed and another allocated at the same
				  place never compare equal (ps_record's memo) */
	uint64_t epoch;        /* epoch it was last validated in */
	uint64_t checked_ns;   /* when its header was last read (monotonic) */
	/* what identifies this object: compared on revalidation */
	uint64_t type, name_ptr, file_ptr, table_ptr;
	int firstlineno;

	char *name;            /* co_name */
	char *qualname;        /* co_qualname (3.11+), else NULL */
	char *file;            /* co_filename */
	uint8_t *table;        /* line table bytes */
	size_t table_len;
	int argcount, posonlyargcount, kwonlyargcount, nlocals, flags;
	uint64_t varnames_ptr, kinds_ptr;

	/* the string ids of name, qualname and file in the stream writer
	 * ids_for (ps_record): interned once per code object, not hashed
	 * again for every frame of every sample */
	const void *ids_for;
	uint32_t ids[3];
	uint32_t ids_epoch;    /* ps_sw_epoch of ids_for when they were taken */

	/* lines found by ps_code_line, by position (a table is decoded from
	 * its start: a deep stack of one function would decode it again for
	 * every frame); key is pos + 2, 0 when empty */
	uint32_t line_key[8];
	int line_val[8];

	/* local variable names, loaded on demand (ps_code_varnames) */
	int nvarnames;         /* -1 until loaded */
	char **varnames;
	uint8_t *kinds;        /* 3.11+ localspluskinds, else NULL */
};

struct ps_code_cache *ps_code_cache_new(void);
void ps_code_cache_free(struct ps_code_cache *c);

/* Start a new epoch: bump p->epoch, and drop everything if the cache has
 * grown beyond its bounds (entries or bytes). */
void ps_code_cache_begin(struct ps_proc *p);

/* The decoded code object at addr. */
int ps_code_get(struct ps_proc *p, uint64_t addr, struct ps_code **out);

/* Deferred validation: while on, an entry met again in a new epoch is
 * returned as it is and its header read later, by ps_code_validate, with
 * the other entries of the epoch in as few reads as possible (one per
 * PS_MEM_MAX_RANGES entries) instead of one read each. */
void ps_code_defer(struct ps_proc *p, int on);
/* Validate the entries returned unread this epoch; the number found stale
 * (gone, or the address now holds another object): those are read afresh
 * when next used, and whatever was built from them this epoch must be
 * built again. */
size_t ps_code_validate(struct ps_proc *p);

/* Line of the instruction at position pos: f_lasti for <= 3.10 (bytes up
 * to 3.9, code units on 3.10), the code-unit index for 3.11+. Remembered
 * in c for the positions met last. */
int ps_code_line(const struct ps_proc *p, struct ps_code *c, int64_t pos);

/* Load c->varnames / c->kinds (one read of the tuple, one per name). */
int ps_code_varnames(struct ps_proc *p, struct ps_code *c);

/* Entries and bytes held (for tests and --stats). */
void ps_code_cache_stats(const struct ps_code_cache *c, size_t *entries, size_t *bytes);
/* Entries dropped so far to stay within the bounds. */
uint64_t ps_code_cache_evicted(const struct ps_code_cache *c);

/* The bounds: at the start of an epoch (ps_code_cache_begin, which calls
 * ps_code_cache_trim), a cache holding more than `entries` entries or
 * `bytes` bytes drops the entries not used in the last 64 epochs, and
 * everything if it is still over. 16,384 entries and 16 MiB unless set
 * (tests set less). */
void ps_code_cache_limit(struct ps_code_cache *c, size_t entries, size_t bytes);
void ps_code_cache_trim(struct ps_code_cache *c, uint64_t epoch);
/* Insert a decoded entry (k->addr set; owned by the cache from now on,
 * replacing an entry at the same address): what ps_code_get does after
 * decoding, exposed for tests of the bounds. */
int ps_code_cache_add(struct ps_code_cache *c, struct ps_code *k);

#endif
