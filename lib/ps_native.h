/* Native (C) stacks of a paused target's threads, unwound with libunwind's
 * remote unwinder, symbolized with ps_symbols, and spliced with the Python
 * stack where the interpreter's eval loop runs. */
#ifndef PS_NATIVE_H
#define PS_NATIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"

struct ps_proc;
struct ps_frame;

/* Deepest native stack we unwind (a corrupt stack could loop). Up to 3.10
 * each Python call costs about five C frames: room for ~800 Python ones. */
#define PS_MAX_NATIVE_FRAMES 4096

enum ps_native_kind {
	PS_NATIVE_KEEP = 0,   /* an extension module or library: shown */
	PS_NATIVE_EVAL,       /* the eval loop: where Python frames go */
	PS_NATIVE_DROP,       /* interpreter internals, process/thread start */
};

struct ps_nframe {
	uint64_t ip;
	const char *symbol;   /* NULL when unknown */
	const char *object;   /* shared object base name, or NULL */
	int kind;             /* enum ps_native_kind */
};

struct ps_native; /* opaque: per target process */

/* Unwinding state for p: a libunwind address space whose memory reads go
 * through p's ps_mem, with libunwind's per-IP cache on. */
int ps_native_new(struct ps_proc *p, struct ps_native **out, struct ps_errmsg *e);
void ps_native_free(struct ps_native *n);

/* A snapshot begins: the target ran since the last one (cached stack pages
 * are stale, new objects may be mapped). */
void ps_native_begin(struct ps_native *n);

/* Unwind thread tid, which must be ptrace-stopped by us, innermost frame
 * first, symbolized and classified. At most cap frames (*truncated set when
 * there were more). An error only when not even the registers could be
 * read; a walk that breaks off keeps the frames found so far. */
int ps_native_unwind(struct ps_native *n, pid_t tid, struct ps_nframe *out, size_t cap,
		     size_t *nout, int *truncated);

/* Classify frames (innermost first) for an interpreter of version major
 * whose code lives in the objects python_objects (base names of the
 * executable and libpython; NULL-terminated): its eval frames are EVAL, its
 * other frames DROP; process and thread start frames DROP (by name, and
 * unnamed libc frames at the root); the rest KEEP. Exposed for tests. */
void ps_native_classify(struct ps_nframe *f, size_t n, const char *const *python_objects,
			int major);

/* Splice a native stack and a Python stack, both innermost first. Each EVAL
 * native frame runs one eval call's Python frames: a Python frame's
 * `entries` says how many eval calls end at it (0 or 1; more when calls
 * without a visible frame follow), hidden_entries how many eval calls run
 * above the innermost Python frame without one of their own yet. Writes up
 * to nn + np frames to out (innermost first; native ones with code NULL).
 * One EVAL frame more than eval calls is the innermost eval call between
 * entering and linking its frame (or unlinking and returning): it runs no
 * Python frame. PS_EINVAL, and nothing written, for any other difference
 * between EVAL frames and eval calls: the stacks can not be interleaved
 * safely. */
int ps_native_merge(const struct ps_nframe *nat, size_t nn, const struct ps_frame *py, size_t np,
		    unsigned hidden_entries, struct ps_frame *out, size_t *nout);

/* Cost counters (for bench and tests). */
struct ps_native_stats {
	uint64_t unwinds;      /* threads unwound */
	uint64_t frames;       /* frames found */
	uint64_t mem_reads;    /* page reads through ps_mem */
	uint64_t cache_hits;   /* word reads served from cached pages */
	uint64_t errors;       /* register reads or unwind steps that failed */
	uint64_t lookups;      /* unwind-table lookups (libunwind cache misses) */
};
void ps_native_stats(const struct ps_native *n, struct ps_native_stats *out);

#endif
