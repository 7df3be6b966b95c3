/* ps_record: what the sampler's stream sink writes, measured in records
 * and bytes (no timing, no target: a made-up process and snapshots). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps_record.h"
#include "ps_stream.h"

#define MS 1000000ull
#define T0 (9 * 1000 * MS)

static char *fake_argv[] = { "python3", "app.py", NULL };

static struct ps_proc fake_proc(void)
{
	struct ps_proc p;
	memset(&p, 0, sizeof(p));
	p.pid = getpid();
	p.argv = fake_argv;
	p.argc = 2;
	strcpy(p.version, "3.12.1");
	return p;
}

struct counts {
	uint64_t events, late, late_count, samples;
	int64_t worst;
};

static void read_back(int fd, struct counts *c)
{
	struct ps_sr *r;
	struct ps_sr_record rec;
	int rc;
	memset(c, 0, sizeof(*c));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(ps_sr_open_fd(fd, &r, NULL), 0);
	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK) {
		if (rec.type == PS_REC_EVENT) {
			c->events++;
			if (rec.event.kind == PS_STREAM_EV_LATE) {
				c->late++;
				c->late_count += rec.event.count;
				if (rec.event.value > c->worst)
					c->worst = rec.event.value;
			}
		}
		c->samples += rec.type == PS_REC_SAMPLE;
	}
	assert_int_equal(rc, PS_STREAM_EOF);
	ps_sr_free(r);
}

/* A sampler that cannot keep up is late at every tick: its LATE counts
 * are summed into at most one event a second (an event per tick cost ten
 * times the samples themselves), and none is lost, at the end either. */
static void test_late_events_summed_once_a_second(void **state)
{
	(void)state;
	int fd = memfd_create("test_record", 0);
	struct ps_record r;
	struct ps_record_opts o = { .rate_hz = 1000, .sampler = "test_record" };
	struct ps_proc p = fake_proc();
	struct ps_snapshot snap = { 0 };
	struct ps_sampler_stats st = { 0 };
	struct ps_errmsg e = { 0 };
	struct counts c;
	assert_true(fd >= 0);
	ps_record_init(&r, fd, &o);
	struct ps_sample_sink sink = ps_record_sink(&r);
	assert_int_equal(sink.start(sink.ctx, &p, T0), 0);
	/* 10.5 s of ticks at 1 kHz, each late by 1-3 deadlines */
	for (uint64_t i = 0; i < 10500; i++) {
		uint64_t t = T0 + i * MS;
		assert_int_equal(sink.event(sink.ctx, &p, t, PS_EVENT_LATE, 1 + i % 3,
					    (int64_t)(1000 + i)), 0);
		assert_int_equal(sink.sample(sink.ctx, &p, t, &snap), 0);
	}
	assert_int_equal(ps_record_finish(&r, &st, &e), 0);
	read_back(fd, &c);
	assert_in_range(c.late, 10, 12);
	assert_int_equal(c.late_count, 10500 / 3 * 6);
	assert_int_equal(c.worst, (1000 + 10499) / 1000);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_late_events_summed_once_a_second),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
