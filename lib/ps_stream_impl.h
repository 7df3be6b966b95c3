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

/* The name of a record type for messages ("string", ...; "unknown"). */
const char *ps_stream_rec_name(uint64_t type);

#endif
