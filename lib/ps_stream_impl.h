/* Private to the sample stream implementation (ps_stream_common.c,
 * ps_stream_write.c, ps_stream_read.c): what its writer and reader share.
 * The public API is ps_stream.h. */
#ifndef PS_STREAM_IMPL_H
#define PS_STREAM_IMPL_H

#include <stdint.h>

#include "ps_stream.h"

/* What a string counts against PS_STREAM_MAX_STRING_BYTES: its bytes and
 * room for its NUL, alignment and a pointer, so that the reader's memory
 * for strings and command lines is bounded by the budget. */
#define STR_COST(n) ((uint64_t)(n) + 16)

/* ps_varint_get with the one- and two-byte cases inline: most fields of a sample
 * (thread, flags, often the stack and the record header) are one byte,
 * and a reader folding 20 M samples a second cannot afford a call each. */
static inline int ps_varint_get1(const uint8_t *p, size_t n, uint64_t *v)
{
	if (n && p[0] < 0x80) {
		*v = p[0];
		return 1;
	}
	/* two bytes (a sample's dt at 100 Hz to 16 kHz); minimal: not 00 */
	if (n >= 2 && p[1] - 1u < 0x7F) {
		*v = (uint64_t)(p[0] & 0x7F) | (uint64_t)p[1] << 7;
		return 2;
	}
	*v = 0; /* set on every path, as the compiler cannot see */
	return ps_varint_get(p, n, v);
}

/* The name of a record type for messages ("string", ...; "unknown"). */
const char *ps_stream_rec_name(uint64_t type);

#endif
