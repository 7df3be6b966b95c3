/* Walking the thread list (ps_stack): which thread states become threads,
 * and, thread by thread (ps_snapshot_take_each), that every thread stopped
 * is let go again. The "target" is this process: a fake interpreter whose
 * thread states live in our own memory, read through ps_mem like any
 * other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ps_stack.h"

/* A thread state as the fake layout below describes it (3.11+ shape:
 * native_thread_id, frames in data-stack chunks; no frames here). */
struct fake_ts {
	uint64_t next, interp, native_tid, thread_id, current_frame, chunk, top;
	uint64_t prev; /* only where a test sets lay.tstate_prev */
};

struct fake {
	struct ps_proc p;
	uint64_t head;            /* the interpreter: its tstate_head */
	struct fake_ts ts[4];
	struct ps_tasks tasks;    /* none known: idle from the stack */
};

static struct fake *fake_new(const pid_t *tids, size_t n)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct ps_proc *p = &f->p;
	p->pid = getpid();
	ps_mem_init(&p->mem, p->pid);
	memset(&p->lay, 0xff, sizeof(p->lay)); /* every offset -1: absent */
	p->lay.interp_tstate_head = 0;
	p->lay.interp_gil = -1;
	p->lay.tstate_next = offsetof(struct fake_ts, next);
	p->lay.tstate_interp = offsetof(struct fake_ts, interp);
	p->lay.tstate_native_thread_id = offsetof(struct fake_ts, native_tid);
	p->lay.tstate_thread_id = offsetof(struct fake_ts, thread_id);
	p->lay.tstate_current_frame = offsetof(struct fake_ts, current_frame);
	p->lay.tstate_datastack_chunk = offsetof(struct fake_ts, chunk);
	p->lay.tstate_datastack_top = offsetof(struct fake_ts, top);
	p->lay.iframe_size = 80;
	p->major = 3;
	p->minor = 12;
	p->interp = (uint64_t)(uintptr_t)&f->head;
	p->pthread_tid_offset = -1;
	p->codes = ps_code_cache_new();
	assert_non_null(p->codes);
	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++) {
		f->ts[i] = (struct fake_ts){ .interp = p->interp, .native_tid = (uint64_t)tids[i],
					     .thread_id = 0x1000 + i };
		if (i)
			f->ts[i - 1].next = (uint64_t)(uintptr_t)&f->ts[i];
	}
	f->head = n ? (uint64_t)(uintptr_t)&f->ts[0] : 0;
	return f;
}

static void fake_free(struct fake *f)
{
	ps_code_cache_free(f->p.codes);
	ps_mem_release(&f->p.mem);
	free(f);
}

/* 3.11+: a thread state whose native_thread_id is 0 is not bound to a
 * thread yet (or, nonblocking, was read torn): it is no thread, and the
 * threads after it are still walked. */
static void test_unbound_thread_state_is_skipped_and_the_walk_goes_on(void **state)
{
	(void)state;
	pid_t tids[] = { 0, 4242, 0, 4243 };
	struct fake *f = fake_new(tids, 4);
	struct ps_snapshot s;
	struct ps_errmsg e = { 0 };
	assert_int_equal(ps_snapshot_take(&f->p, &s, 0, &f->tasks, &e), PS_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.threads[0].tid, 4242);
	assert_int_equal(s.threads[1].tid, 4243);
	assert_int_equal(s.threads[0].thread_id, 0x1001);
	assert_int_equal(s.errors, 0);
	ps_snapshot_release(&s);
	fake_free(f);
}

/* Not pausing, a snapshot with a stack that could not be read whole is
 * read again (PS_SNAP_RETRY), a bounded number of times; one read whole
 * is not, and without the flag nothing is. */
static void test_torn_snapshot_is_read_again_a_bounded_number_of_times(void **state)
{
	(void)state;
	pid_t tids[] = { 4241, 4242 };
	struct fake *f = fake_new(tids, 2);
	struct ps_snapshot s;
	struct ps_errmsg e = { 0 };

	assert_int_equal(ps_snapshot_take(&f->p, &s, PS_SNAP_RETRY, &f->tasks, &e), PS_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.retries, 0);
	ps_snapshot_release(&s);

	f->ts[1].current_frame = 4096; /* plausible, never mapped: unreadable */
	uint64_t reads = f->p.mem.reads;
	assert_int_equal(ps_snapshot_take(&f->p, &s, 0, &f->tasks, &e), PS_OK);
	uint64_t once = f->p.mem.reads - reads;
	assert_int_equal(s.retries, 0);
	assert_int_equal(s.errors, 1);
	assert_true(s.threads[1].flags & PS_THREAD_TRUNCATED);
	ps_snapshot_release(&s);

	reads = f->p.mem.reads;
	assert_int_equal(ps_snapshot_take(&f->p, &s, PS_SNAP_RETRY, &f->tasks, &e), PS_OK);
	assert_int_equal(s.retries, PS_SNAP_RETRIES);
	assert_true(f->p.mem.reads - reads > once); /* walked again, for real */
	assert_int_equal(s.n, 2);  /* the last walk's result, counted once */
	assert_int_equal(s.errors, 1);
	assert_true(s.threads[1].flags & PS_THREAD_TRUNCATED);
	assert_false(s.threads[0].flags & PS_THREAD_TRUNCATED);
	ps_snapshot_release(&s);
	fake_free(f);
}

/* Before 3.8 (no native_thread_id) a snapshot learns where glibc keeps
 * each thread's tid (2 KB read a thread). A calibration that fails is not
 * tried again at the next snapshot (pausing, that read is inside the
 * pause) but a second later. */
static void test_failed_tid_calibration_waits_a_second(void **state)
{
	(void)state;
	pid_t tids[] = { 4241, 4242 };
	struct fake *f = fake_new(tids, 2);
	static uint8_t pthreads[2][4096]; /* no tid of this process in them */
	f->p.lay.tstate_native_thread_id = -1;
	for (int i = 0; i < 2; i++)
		f->ts[i].thread_id = (uint64_t)(uintptr_t)pthreads[i];
	f->tasks.n = 0;
	struct ps_snapshot s;
	struct ps_errmsg e = { 0 };

	assert_int_equal(ps_snapshot_take(&f->p, &s, 0, &f->tasks, &e), PS_OK);
	ps_snapshot_release(&s);
	assert_int_equal(f->p.pthread_tid_offset, -1);
	uint64_t at = f->p.tid_calibrate_at; /* tried, failed: again from then */
	assert_true(at > 0);

	/* (a try that failed again would set a later time) */
	assert_int_equal(ps_snapshot_take(&f->p, &s, 0, &f->tasks, &e), PS_OK);
	ps_snapshot_release(&s);
	assert_int_equal(f->p.tid_calibrate_at, at);

	f->p.tid_calibrate_at = 1; /* the second has passed */
	assert_int_equal(ps_snapshot_take(&f->p, &s, 0, &f->tasks, &e), PS_OK);
	ps_snapshot_release(&s);
	assert_true(f->p.tid_calibrate_at > at);
	fake_free(f);
}

/* The number of threads a snapshot finds. */
static size_t threads_found(struct fake *f)
{
	struct ps_snapshot s;
	struct ps_errmsg e = { 0 };
	assert_int_equal(ps_snapshot_take(&f->p, &s, 0, &f->tasks, &e), PS_OK);
	size_t n = s.n;
	ps_snapshot_release(&s);
	return n;
}

/* The thread list's head is read again only when it may have changed: a
 * thread state put in front of it (its prev set) or freed (malloc's
 * pointer where prev was) is seen at the next snapshot; otherwise the head
 * of an earlier snapshot is used, and read afresh every PS_HEAD_RECHECK
 * snapshots in any case. */
static void test_thread_list_head_is_read_again_when_it_may_have_changed(void **state)
{
	(void)state;
	pid_t tids[] = { 4241, 4242, 4243 };
	struct fake *f = fake_new(tids, 2);
	f->p.lay.tstate_prev = offsetof(struct fake_ts, prev);
	assert_int_equal(threads_found(f), 2);

	/* a new thread: CPython puts it in front and sets the old head's prev */
	f->ts[2] = (struct fake_ts){ .interp = f->p.interp, .native_tid = 4243,
				     .next = (uint64_t)(uintptr_t)&f->ts[0] };
	f->ts[0].prev = (uint64_t)(uintptr_t)&f->ts[2];
	f->head = (uint64_t)(uintptr_t)&f->ts[2];
	assert_int_equal(threads_found(f), 3);

	/* an interpreter that changes its head behind our back (no prev
	 * set): the cached head is used until the recheck */
	f->head = (uint64_t)(uintptr_t)&f->ts[1];
	size_t i = 1;
	while (threads_found(f) == 3)
		assert_true(++i <= PS_HEAD_RECHECK);
	assert_true(i > 1); /* the cached head was used */
	assert_int_equal(threads_found(f), 1);

	/* ts[0] put in front again, then it exits: ts[1] is the head again,
	 * and the freed ts[0] holds malloc's pointer where prev was */
	f->ts[0].prev = 0;
	f->ts[1].prev = (uint64_t)(uintptr_t)&f->ts[0];
	f->head = (uint64_t)(uintptr_t)&f->ts[0];
	assert_int_equal(threads_found(f), 2);
	f->ts[0].prev = 0x55aa55aa55aaull;
	f->ts[1].prev = 0;
	f->head = (uint64_t)(uintptr_t)&f->ts[1];
	assert_int_equal(threads_found(f), 1);
	fake_free(f);
}

/* A stopper that records its calls and answers per tid. */
struct calls {
	char log[64];     /* 's' stop, 'g' go, in order */
	size_t n;
	pid_t stopped;    /* the thread stopped now, 0 if none */
	int twice;        /* a stop while another thread was stopped */
	int answer[5];    /* by tid - 4240: what stop returns */
};

static int rec_stop(void *ctx, pid_t tid)
{
	struct calls *c = ctx;
	assert_true(tid >= 4240 && tid < 4245);
	c->twice |= c->stopped != 0;
	c->log[c->n++] = 's';
	int rc = c->answer[tid - 4240];
	if (rc != PS_EGONE)
		c->stopped = tid;
	return rc;
}

static void rec_go(void *ctx, pid_t tid)
{
	struct calls *c = ctx;
	assert_int_equal(tid, c->stopped);
	c->stopped = 0;
	c->log[c->n++] = 'g';
}

/* Thread by thread: never more than one thread stopped; every stop that
 * did stop (or may yet: a timeout) is followed by its go; a thread that
 * exited is left out; one that could not be stopped is left out and
 * counted; a thread state with tid 0 is never stopped. */
static void test_each_thread_is_stopped_alone_and_always_let_go(void **state)
{
	(void)state;
	pid_t tids[] = { 4241, 0, 4242, 4243 };
	struct fake *f = fake_new(tids, 4);
	struct calls c = { .answer = { 0 } };
	c.answer[2] = PS_EGONE;
	c.answer[3] = PS_EIO;
	struct ps_thread_stopper stop = { &c, rec_stop, rec_go };
	struct ps_snapshot s;
	struct ps_errmsg e = { 0 };
	assert_int_equal(ps_snapshot_take_each(&f->p, &s, 0, &f->tasks, &stop, &e), PS_OK);
	c.log[c.n] = '\0';
	assert_string_equal(c.log, "sgssg");
	assert_int_equal(c.twice, 0);
	assert_int_equal(c.stopped, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.threads[0].tid, 4241);
	assert_int_equal(s.errors, 1);
	ps_snapshot_release(&s);
	fake_free(f);
}

/* A thread state that is not one of this interpreter's (freed and reused
 * while we walk without the process paused) ends the walk, counted; what
 * was stopped before it has been let go. */
static void test_each_walk_stops_at_a_foreign_thread_state(void **state)
{
	(void)state;
	pid_t tids[] = { 4241, 4242, 4243 };
	struct fake *f = fake_new(tids, 3);
	f->ts[1].interp ^= 0x40;
	struct calls c = { .answer = { 0 } };
	struct ps_thread_stopper stop = { &c, rec_stop, rec_go };
	struct ps_snapshot s;
	struct ps_errmsg e = { 0 };
	assert_int_equal(ps_snapshot_take_each(&f->p, &s, 0, &f->tasks, &stop, &e), PS_OK);
	c.log[c.n] = '\0';
	assert_string_equal(c.log, "sg");
	assert_int_equal(c.stopped, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.errors, 1);
	ps_snapshot_release(&s);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unbound_thread_state_is_skipped_and_the_walk_goes_on),
		cmocka_unit_test(test_torn_snapshot_is_read_again_a_bounded_number_of_times),
		cmocka_unit_test(test_failed_tid_calibration_waits_a_second),
		cmocka_unit_test(test_thread_list_head_is_read_again_when_it_may_have_changed),
		cmocka_unit_test(test_each_thread_is_stopped_alone_and_always_let_go),
		cmocka_unit_test(test_each_walk_stops_at_a_foreign_thread_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
