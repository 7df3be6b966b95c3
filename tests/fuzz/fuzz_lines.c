/* libFuzzer target: the three line-table decoders on untrusted tables (they
 * come from the target's memory). The first bytes choose the offset and
 * first line; the decoder must answer without reading past the table. */
#include <stdint.h>
#include <string.h>

#include "ps_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	int32_t at, first;
	memcpy(&at, data, 4);
	memcpy(&first, data + 4, 4);
	data += 8;
	size -= 8;
	(void)ps_lnotab_line(data, size, first, at, 0);
	(void)ps_lnotab_line(data, size, first, at, 1);
	(void)ps_linetable310_line(data, size, first, at);
	(void)ps_loctable_line(data, size, first, at);
	return 0;
}
