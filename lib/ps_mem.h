/* Reading another process's memory (process_vm_readv), bounded and counted.
 *
 * The target keeps running while we read it (unless paused), so every
 * pointer we follow may be stale: a read either returns all the bytes asked
 * for or an error, and callers count errors rather than trust partial data. */
#ifndef PS_MEM_H
#define PS_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* No single read is larger than this: a garbage length never allocates or
 * copies more. */
#define PS_MEM_MAX_READ ((size_t)64 << 20)

struct ps_mem_prefetch;

struct ps_mem {
	pid_t pid;
	uint64_t reads;   /* process_vm_readv calls */
	uint64_t bytes;   /* bytes read */
	uint64_t errors;  /* failed reads */
	uint64_t served;  /* reads served from a prefetch (no call) */
	struct ps_mem_prefetch *pf; /* see ps_mem_prefetch_begin */
};

void ps_mem_init(struct ps_mem *m, pid_t pid);
/* Free what prefetching holds (ps_mem_init's state needs nothing else). */
void ps_mem_release(struct ps_mem *m);

/* Prefetching, for reads that repeat from one snapshot to the next. Between
 * begin and end, every successful read is remembered (its range, rounded up
 * a little within its page); the next begin reads with one call the ranges
 * remembered in the last PS_MEM_PREFETCH_KEEP snapshots, and reads that
 * fall inside them are then served from that copy. The data is as fresh as a read made at begin: use it only
 * while what is read can be taken to be one instant (a snapshot). A
 * prefetch that fails part-way only serves less; errors are not counted. */
void ps_mem_prefetch_begin(struct ps_mem *m);
/* A range is prefetched in this many snapshots after the last that read
 * it, not only the next (see PF_KEEP in ps_mem.c). */
#define PS_MEM_PREFETCH_KEEP 16
void ps_mem_prefetch_end(struct ps_mem *m);

/* Whether addr could be a user-space pointer at all (not NULL page, not
 * beyond the canonical user range). Cheap check before a syscall. */
static inline int ps_mem_plausible(uint64_t addr)
{
	return addr >= 4096 && addr < ((uint64_t)1 << 47);
}

/* Read exactly len bytes at addr. PS_OK, or PS_EREAD (unmapped or partial),
 * PS_EGONE (process exited), PS_EPERM, PS_ENOMEM (len beyond bound). */
int ps_mem_read(struct ps_mem *m, uint64_t addr, void *buf, size_t len);

/* Read a pointer-sized (64-bit) value. */
int ps_mem_read_ptr(struct ps_mem *m, uint64_t addr, uint64_t *out);

/* Read several (addr, len) ranges (at most PS_MEM_MAX_RANGES) with one
 * syscall; all or nothing. */
#define PS_MEM_MAX_RANGES 64
struct ps_mem_range {
	uint64_t addr;
	void *buf;
	size_t len;
};
int ps_mem_readv(struct ps_mem *m, const struct ps_mem_range *r, size_t n);

/* Read a NUL-terminated C string of at most cap-1 bytes; always terminated.
 * Reads in page-bounded pieces so a string near the end of a mapping works. */
int ps_mem_read_cstr(struct ps_mem *m, uint64_t addr, char *out, size_t cap);

#endif
