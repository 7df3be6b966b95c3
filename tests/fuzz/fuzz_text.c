/* libFuzzer target: the string decoders and writers of ps_text on untrusted
 * code units (strings read from a target): UCS1/2/4 to UTF-8, UTF-8
 * sanitising, Python reprs and JSON escaping, into buffers of every size. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ps_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	char out[512];
	size_t cap = 1 + data[0] % sizeof(out);   /* small outputs cut text */
	int width = 1 << (data[1] % 3);            /* 1, 2 or 4 */
	data += 2;
	size -= 2;
	int cut;
	ps_ucs_to_utf8(width, data, size / (size_t)width, out, cap, &cut);
	ps_utf8_sanitize(data, size, out, cap, &cut);
	ps_repr_str((const char *)data, size, out, cap);
	ps_repr_bytes(data, size, out, cap);
	if (size >= sizeof(double)) {
		double v;
		memcpy(&v, data, sizeof(v));
		ps_repr_float(v, out, cap);
	}
	FILE *f = fopen("/dev/null", "w");
	if (f) {
		ps_json_string(f, (const char *)data, size);
		fclose(f);
	}
	return 0;
}
