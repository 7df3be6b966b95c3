/* Memory mappings of a process, from /proc/PID/maps. */
#ifndef PS_MAPS_H
#define PS_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"

enum ps_map_perm {
	PS_MAP_R = 1 << 0,
	PS_MAP_W = 1 << 1,
	PS_MAP_X = 1 << 2,
	PS_MAP_P = 1 << 3, /* private (copy on write) */
};

struct ps_map {
	uint64_t start, end;   /* [start, end) */
	uint64_t offset;       /* file offset of start */
	uint64_t inode;
	unsigned perms;        /* enum ps_map_perm bits */
	char *path;            /* "" for anonymous; "[heap]", "[stack]"... kept */
};

struct ps_maps {
	struct ps_map *v;
	size_t n;
};

/* Read /proc/PID/maps. PS_ENOPROC if the process does not exist, PS_EPERM
 * if we may not read it. */
int ps_maps_read(pid_t pid, struct ps_maps *out, struct ps_errmsg *e);

/* Parse the text of a maps file (for tests and for read). Lines that do not
 * parse are skipped. */
int ps_maps_parse(const char *text, struct ps_maps *out);

void ps_maps_release(struct ps_maps *m);

/* The mapping holding addr, or NULL. */
const struct ps_map *ps_maps_find(const struct ps_maps *m, uint64_t addr);

/* The first mapping whose path ends with "/" + base name matching the
 * predicate, e.g. libpython: ps_maps_find_path(m, "libpython") returns the
 * lowest mapping whose file's base name starts with "libpython". */
const struct ps_map *ps_maps_find_path(const struct ps_maps *m,
				       const char *basename_prefix);

/* Load bias of an ELF object mapped from path: the difference between its
 * run-time addresses and the virtual addresses in its file. first_load_vaddr
 * and first_load_offset are those of its first PT_LOAD segment
 * (ps_elf_first_load). Returns PS_OK and sets *bias, or PS_EINVAL. */
int ps_maps_load_bias(const struct ps_maps *m, const char *path,
		      uint64_t first_load_vaddr, uint64_t first_load_offset,
		      uint64_t *bias);

#endif
