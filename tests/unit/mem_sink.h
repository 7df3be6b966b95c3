/* An in-memory destination for the stream writer (ps_sw_open_cb), shared
 * by the unit tests that build streams: test_stream, test_svg and
 * test_speedscope. Include after <cmocka.h>. */
#ifndef PS_TEST_MEM_SINK_H
#define PS_TEST_MEM_SINK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_error.h"

struct sink {
	uint8_t *p;
	size_t len, cap;
	int fail;            /* make writes fail, as a full disk would */
};

static inline int sink_write(void *ctx, const void *buf, size_t n, struct ps_errmsg *e)
{
	struct sink *s = ctx;
	if (s->fail)
		return ps_error(e, PS_EIO, "cannot write stream: sink full");
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->p = realloc(s->p, s->cap);
		assert_non_null(s->p);
	}
	memcpy(s->p + s->len, buf, n);
	s->len += n;
	return 0;
}

#endif
