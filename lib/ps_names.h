/* The sampler's cache of thread names, per process: looking names up walks
 * sys.modules and threading._active, so it is done only when a thread not
 * named yet appears and every few seconds; other snapshots take the names
 * from here. Bounded: at most PS_NAMES_MAX threads are remembered (the
 * others are looked up again when due). */
#ifndef PS_NAMES_H
#define PS_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "ps_stack.h"

#define PS_NAMES_MAX 4096

typedef char ps_thread_name[sizeof(((struct ps_thread *)0)->name)];

struct ps_names {
	uint64_t *id;           /* thread_id and tid mixed: see names_key */
	ps_thread_name *name;
	size_t n, cap;          /* cap <= PS_NAMES_MAX */
	uint64_t refreshed;     /* when names were last looked up (ns) */
	int any;                /* the last look-up named some thread */
};

/* Whether names should be looked up for snapshot s now (ns, monotonic). */
int ps_names_due(const struct ps_names *nm, const struct ps_snapshot *s, uint64_t now);
/* Remember the names s has just been given (forgetting threads gone). */
void ps_names_store(struct ps_names *nm, const struct ps_snapshot *s, uint64_t now);
/* Give s's threads the names remembered. */
void ps_names_fill(const struct ps_names *nm, struct ps_snapshot *s);
void ps_names_release(struct ps_names *nm);

#endif
