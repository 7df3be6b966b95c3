/* ps_code: when a cached code object is read again to check that its
 * address still holds the same object (PS_CODE_RECHECK_NS, PS_CODE_FAST_NS). The cache's
 * entries here stand at an address that cannot be read: any check is a
 * failed read, so whether one was made shows in the result and in the
 * read counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "ps_code.h"
#include "ps_error.h"
#include "ps_time.h"

#define UNREADABLE 0x1000 /* plausible, never mapped */

static void proc_init(struct ps_proc *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = getpid();
	ps_mem_init(&p->mem, p->pid);
	p->lay.code_size = 64;
	p->codes = ps_code_cache_new();
	assert_non_null(p->codes);
}

/* An entry as ps_code_get leaves it, checked at checked_ns. */
static struct ps_code *cached(struct ps_proc *p, uint64_t checked_ns)
{
	struct ps_code *k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->addr = UNREADABLE;
	k->nvarnames = -1;
	k->name = strdup("spin");
	k->file = strdup("loop.py");
	k->table = calloc(1, 1);
	assert_true(k->name && k->file && k->table);
	k->epoch = p->epoch;
	k->checked_ns = checked_ns;
	assert_int_equal(ps_code_cache_add(p->codes, k), PS_OK);
	return k;
}

static void test_code_checked_within_the_window_is_taken_unread(void **state)
{
	(void)state;
	struct ps_proc p;
	proc_init(&p);
	ps_code_cache_begin(&p);
	struct ps_code *k = cached(&p, ps_now_ns()), *got = NULL;
	ps_code_cache_begin(&p); /* a new snapshot, well within the window */
	assert_int_equal(ps_code_get(&p, UNREADABLE, &got), PS_OK);
	assert_ptr_equal(got, k);
	assert_int_equal(k->epoch, p.epoch);
	assert_int_equal(p.mem.reads + p.mem.errors, 0);
	ps_code_cache_free(p.codes);
}

/* Snapshots 0.6 ms apart (below 2 kHz): every one checks again. */
static void test_code_is_checked_at_every_slower_snapshot(void **state)
{
	(void)state;
	struct ps_proc p;
	proc_init(&p);
	ps_code_cache_begin(&p);
	cached(&p, ps_now_ns());
	struct ps_code *got = NULL;
	usleep(PS_CODE_FAST_NS / 1000 + 100);
	ps_code_cache_begin(&p);
	assert_int_equal(ps_code_get(&p, UNREADABLE, &got), PS_EREAD);
	assert_int_equal(p.mem.errors, 1);
	ps_code_cache_free(p.codes);
}

static void test_code_checked_longer_ago_is_read_again(void **state)
{
	(void)state;
	struct ps_proc p;
	proc_init(&p);
	ps_code_cache_begin(&p);
	cached(&p, ps_now_ns() - 2 * (uint64_t)PS_CODE_RECHECK_NS);
	struct ps_code *got = NULL;
	ps_code_cache_begin(&p);
	/* checked again: the read fails, and nothing stale is returned */
	assert_int_equal(ps_code_get(&p, UNREADABLE, &got), PS_EREAD);
	assert_int_equal(p.mem.errors, 1);

	/* deferred checking (a snapshot's walk): handed out now, read at
	 * ps_code_validate, and found stale there */
	ps_code_cache_begin(&p);
	ps_code_defer(&p, 1);
	assert_int_equal(ps_code_get(&p, UNREADABLE, &got), PS_OK);
	assert_int_equal(ps_code_validate(&p), 1);
	ps_code_defer(&p, 0);
	assert_int_equal(got->epoch, 0); /* read afresh when next used */
	ps_code_cache_free(p.codes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_checked_within_the_window_is_taken_unread),
		cmocka_unit_test(test_code_is_checked_at_every_slower_snapshot),
		cmocka_unit_test(test_code_checked_longer_ago_is_read_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
