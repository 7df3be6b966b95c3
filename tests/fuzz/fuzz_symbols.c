/* libFuzzer target: the native symbolizer (ps_symbols) on an ELF file of the
 * fuzzer's bytes, reached as in a profile: the file is mapped into this
 * process, and addresses inside the mapping are looked up through our own
 * /proc/self/maps. That runs what a target's odd library would: the load
 * bias from its first PT_LOAD, the function-symbol copy (ps_elf_nsyms,
 * ps_elf_sym_at), the address index, aliases, unsized symbols, the
 * demangler. The file needs a real path (the symbolizer checks its inode),
 * so it lives in a private directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "ps_symbols.h"

static char dir[] = "/tmp/fuzz-sym-XXXXXX";
static char path[sizeof(dir) + 16];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

static void look_up_mapping(const uint8_t *map, size_t size)
{
	struct ps_symbols *s;
	if (ps_symbols_new(getpid(), &s) != PS_OK)
		return;
	size_t step = size / 256 + 1;
	for (size_t at = 0; at < size; at += step) {
		struct ps_symbol sym;
		ps_symbols_begin(s);
		if (ps_symbols_lookup(s, (uint64_t)(uintptr_t)(map + at), &sym) == PS_OK &&
		    sym.name)
			(void)strlen(sym.name);
	}
	ps_symbols_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/lib.so", dir);
		atexit(remove_dir);
	}
	fuzz_write_file(path, data, size);
	FILE *f = fopen(path, "rb");
	if (!f)
		abort();
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
	fclose(f);
	if (map == MAP_FAILED)
		abort();
	look_up_mapping(map, size);
	munmap(map, size);
	return 0;
}
