/* ELF files on disk (the python executable, libpython): symbols, sections,
 * load segments, through libelf. Addresses are the file's virtual addresses;
 * add the load bias (ps_maps_load_bias) to get run-time addresses. */
#ifndef PS_ELF_H
#define PS_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"

struct ps_elf; /* opaque */

/* Open an ELF file and index its symbols (.symtab and .dynsym). The file may
 * be stripped (then only .dynsym is there) or not ELF at all (PS_EINVAL). */
int ps_elf_open(const char *path, struct ps_elf **out, struct ps_errmsg *e);

/* Free; NULL is a no-op. */
void ps_elf_free(struct ps_elf *elf);

/* Look up a data or function symbol by exact name (.symtab first, then
 * .dynsym; local symbols such as "interp_head" included). PS_OK with *addr
 * and *size set, or PS_EINVAL when absent. */
int ps_elf_symbol(const struct ps_elf *elf, const char *name, uint64_t *addr,
		  uint64_t *size);

/* The indexed symbols one by one (name order; a name may repeat, once per
 * table), for callers building their own index, such as the native
 * symbolizer's by address. func: a function (STT_FUNC, STT_GNU_IFUNC).
 * Names live as long as elf. PS_EINVAL past the end. */
size_t ps_elf_nsyms(const struct ps_elf *elf);
int ps_elf_sym_at(const struct ps_elf *elf, size_t i, const char **name, uint64_t *addr,
		  uint64_t *size, int *func);

/* Whether the file has a .symtab (was not stripped). */
int ps_elf_has_symtab(const struct ps_elf *elf);

/* Virtual address and file offset of the first PT_LOAD segment. */
int ps_elf_first_load(const struct ps_elf *elf, uint64_t *vaddr,
		      uint64_t *offset);

/* A section by name (".data", ".bss", ".rodata"): virtual address and size.
 * PS_EINVAL when absent. */
int ps_elf_section(const struct ps_elf *elf, const char *name, uint64_t *addr,
		   uint64_t *size);

/* The bytes of a section from the file (not for NOBITS sections such as
 * .bss). *data points into memory owned by elf, valid until ps_elf_free. */
int ps_elf_section_data(const struct ps_elf *elf, const char *name,
			const uint8_t **data, size_t *size);

/* DT_SONAME, or NULL. */
const char *ps_elf_soname(const struct ps_elf *elf);

#endif
