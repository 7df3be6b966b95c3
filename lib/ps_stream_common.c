/* The sample stream: what its writer (ps_stream_write.c) and reader
 * (ps_stream_read.c) share. */
#include "ps_stream_impl.h"

const char *ps_stream_rec_name(uint64_t type)
{
	static const char *const names[] = {
		"", "header", "string", "frame", "stack", "thread",
		"process", "sample", "event", "end", "samples",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

/* ---- varints ------------------------------------------------------------ */

size_t ps_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

int ps_varint_get(const uint8_t *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++) {
		if (i == PS_VARINT_MAX - 1 && p[i] > 1)
			return PS_EINVAL;    /* bits beyond 64, or an 11th byte */
		x |= (uint64_t)(p[i] & 0x7F) << (7 * i);
		if (!(p[i] & 0x80)) {
			/* one encoding per value: a reader can compare bytes */
			if (i > 0 && p[i] == 0)
				return PS_EINVAL;
			*v = x;
			return (int)(i + 1);
		}
	}
	return 0;
}
