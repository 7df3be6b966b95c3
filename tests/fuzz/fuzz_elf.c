/* libFuzzer target: the ELF reader (ps_elf over libelf) on an arbitrary file:
 * open, symbol lookups, sections, segments, soname, and every indexed
 * symbol one by one as the native symbolizer (ps_symbols) reads them to
 * build its index by address. A memfd holds the bytes
 * so the reader opens a real path (/proc/self/fd/N). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps_elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("fuzz-elf", 0)) < 0)
		return 0;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct ps_elf *elf;
	struct ps_errmsg e;
	if (ps_elf_open(path, &elf, &e) != PS_OK)
		return 0;
	uint64_t a, b;
	const uint8_t *sd;
	size_t sn;
	(void)ps_elf_symbol(elf, "_PyRuntime", &a, &b);
	(void)ps_elf_symbol(elf, "Py_Version", &a, &b);
	(void)ps_elf_has_symtab(elf);
	(void)ps_elf_first_load(elf, &a, &b);
	(void)ps_elf_section(elf, ".bss", &a, &b);
	if (ps_elf_section_data(elf, ".rodata", &sd, &sn) == PS_OK && sn)
		(void)sd[sn - 1];   /* the whole section must be readable */
	(void)ps_elf_soname(elf);
	size_t n = ps_elf_nsyms(elf);
	for (size_t i = 0; i <= n; i++) {   /* one past the end: PS_EINVAL */
		const char *name;
		int func;
		if (ps_elf_sym_at(elf, i, &name, &a, &b, &func) == PS_OK)
			(void)strlen(name);
	}
	ps_elf_free(elf);
	return 0;
}
