/* Building stream bytes by hand, record by record, as a reader written from
 * the specification would expect them: shared by test_stream and
 * test_stream_samples. Include after <cmocka.h>. */
#ifndef PS_TEST_STREAM_RB_H
#define PS_TEST_STREAM_RB_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_stream.h"

struct rb {
	uint8_t *p;
	size_t n, cap;
};

static inline void rb_bytes(struct rb *b, const void *src, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n)
		memcpy(b->p + b->n, src, n);
	b->n += n;
}

static inline void rb_uv(struct rb *b, uint64_t v)
{
	uint8_t t[PS_VARINT_MAX];
	rb_bytes(b, t, ps_varint_put(t, v));
}

static inline void rb_str(struct rb *b, const char *s)
{
	rb_uv(b, strlen(s));
	rb_bytes(b, s, strlen(s));
}

/* Append a record of type with pay's payload (a length may be forced). */
static inline void rb_rec_len(struct rb *b, uint64_t type, const struct rb *pay, uint64_t len)
{
	rb_uv(b, type);
	rb_uv(b, len);
	rb_bytes(b, pay->p, pay->n);
}

/* Append a record of type with pay's payload, and empty pay for the next. */
static inline void rb_rec(struct rb *b, uint64_t type, struct rb *pay)
{
	rb_rec_len(b, type, pay, pay->n);
	pay->n = 0;
}

#endif
