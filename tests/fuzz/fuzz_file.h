/* The fuzzer's bytes as a file, for targets whose code under test opens a
 * path (sqlite, the symbolizer's mmap): written whole or the run aborts, as
 * a fuzz target may not go on from a half-written input. */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	int ok = fwrite(data, 1, size, f) == size;
	if (fclose(f) != 0 || !ok)
		abort();
}

#endif
