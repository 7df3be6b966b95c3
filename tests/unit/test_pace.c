/* ps_pace: the sampler's deadlines, run on a simulated clock. A tick costs
 * what the test says; between ticks the simulated sampler sleeps exactly as
 * pyspy-sample does (until ps_pace_wake, when it is not 0). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ps_pace.h"

#define US 1000ull
#define MS 1000000ull

struct sim {
	struct ps_pace pc;
	uint64_t now;
	uint64_t end;          /* when the last tick ended (before any sleep) */
	uint64_t ticks, late, late_ns, sleeps;
	uint64_t prev_stamp;   /* the last tick's stamp */
	uint64_t worst_lag;    /* most a stamp came before its tick's start */
	uint64_t worst_lead;   /* most a stamp came after it */
	uint64_t t0;
	uint32_t rng;
};

static void sim_start(struct sim *s, uint64_t period, uint64_t t0)
{
	*s = (struct sim){ .now = t0, .t0 = t0, .rng = 12345 };
	ps_pace_start(&s->pc, period, t0);
}

/* A cost drawn evenly from lo..hi ns (a fixed-seed LCG: the same every run). */
static uint64_t draw(struct sim *s, uint64_t lo, uint64_t hi)
{
	s->rng = s->rng * 1103515245u + 12345u;
	return lo + (s->rng >> 8) % (hi - lo + 1);
}

/* One tick costing cost ns; returns its stamp (the deadline it serves). */
static uint64_t sim_tick(struct sim *s, uint64_t cost)
{
	uint64_t start = s->now, late_ns, stamp = ps_pace_stamp(&s->pc, start);
	if (s->ticks)
		assert_true(stamp > s->prev_stamp); /* ticks never share a time */
	assert_true(stamp % s->pc.period == s->t0 % s->pc.period); /* on the asked grid */
	if (stamp <= start && start - stamp > s->worst_lag)
		s->worst_lag = start - stamp;
	if (stamp > start && stamp - start > s->worst_lead)
		s->worst_lead = stamp - start;
	s->now += cost;
	s->end = s->now;
	uint64_t missed = ps_pace_done(&s->pc, start, s->now, &late_ns);
	s->late += missed;
	s->late_ns += late_ns;
	if (!missed)
		assert_int_equal(late_ns, 0);
	uint64_t wake = ps_pace_wake(&s->pc, s->now);
	if (wake) {
		assert_true(wake - s->now >= PS_PACE_SLEEP_MIN_NS);
		s->now = wake;
		s->sleeps++;
	}
	s->ticks++;
	s->prev_stamp = stamp;
	return stamp;
}

/* Keeping up, the stamps are the asked deadlines, exactly, and nothing is
 * late. */
static void test_keeping_up_stamps_the_asked_deadlines(void **state)
{
	(void)state;
	struct sim s;
	sim_start(&s, MS, 7 * MS);
	for (uint64_t k = 0; k < 3000; k++)
		assert_int_equal(sim_tick(&s, draw(&s, 20 * US, 90 * US)), 7 * MS + k * MS);
	assert_int_equal(s.pc.grid, MS);
	assert_int_equal(s.late, 0);
	assert_int_equal(s.sleeps, 3000);
}

/* Stamps of 20000 ticks after the first estimate, on a grid that must not
 * move: how many deltas are one step, several, and anything else. */
struct deltas {
	uint64_t one, more, other;
};

static struct deltas run_on_grid(struct sim *s, uint64_t lo, uint64_t hi, uint64_t grid)
{
	struct deltas d = { 0, 0, 0 };
	uint64_t prev = sim_tick(s, draw(s, lo, hi));
	s->worst_lag = s->worst_lead = 0;
	for (int i = 0; i < 20000; i++) {
		uint64_t t = sim_tick(s, draw(s, lo, hi));
		d.one += t - prev == grid;
		d.more += t - prev > grid && (t - prev) % grid == 0;
		d.other += (t - prev) % grid != 0;
		prev = t;
	}
	assert_int_equal(s->pc.grid, grid); /* the median stayed in the band */
	return d;
}

/* A new pace with a 1 us period, through the first estimate of ticks
 * costing lo..hi ns; returns the grid it set. */
static uint64_t warm_up(struct sim *s, uint64_t lo, uint64_t hi)
{
	sim_start(s, US, 0);
	for (int i = 0; i < PS_PACE_TICKS; i++)
		sim_tick(s, draw(s, lo, hi));
	return s->pc.grid;
}

/* Stamps stayed within PS_PACE_SLACK of their ticks (a period more ahead,
 * where they go on a period at a time), and the sampler never waited. */
static void assert_within_slack(const struct sim *s, uint64_t grid)
{
	assert_true(s->worst_lag < PS_PACE_SLACK(grid));
	assert_true(s->worst_lead <= PS_PACE_SLACK(grid) + US);
	assert_int_equal(s->sleeps, 0);
}

/* The top rate on a flat program, pausing it: ticks of 23-44 us against a
 * 1 us period. After the first estimate the stamps are on a grid of whole
 * periods a little below the median cost; a stamp lies within PS_PACE_SLACK
 * of its tick's start; the sampler never sleeps; and nearly every delta is
 * a step or a few (the deltas of the asked deadlines, one per microsecond,
 * took some twenty values). */
static void test_too_fast_a_rate_stamps_on_a_coarser_grid(void **state)
{
	(void)state;
	struct sim s;
	uint64_t grid = warm_up(&s, 23 * US, 44 * US);
	double median = 33.5 * US;
	assert_true(grid % US == 0);
	assert_true(grid >= PS_PACE_LOW * median && grid <= PS_PACE_HIGH * median);
	struct deltas d = run_on_grid(&s, 23 * US, 44 * US, grid);
	assert_true(d.one > 6 * d.more);
	assert_true(d.more > 0);
	assert_true(d.other < 100); /* a step of 1 us where a run of quick ticks caught up */
	assert_within_slack(&s, grid);
}

/* The top rate without pausing: ticks of 4-6 us. A grid of 4 us would
 * have to catch up every fourth tick if the stamps had to stay within a
 * step; within PS_PACE_SLACK, 19 deltas in 20 are one step. */
static void test_short_ticks_catch_up_rarely(void **state)
{
	(void)state;
	struct sim s;
	assert_int_equal(warm_up(&s, 4 * US, 6 * US), 4 * US);
	struct deltas d = run_on_grid(&s, 4 * US, 6 * US, 4 * US);
	assert_true(d.one > 19 * (d.more + d.other));
	assert_true(d.more > 0);
	assert_within_slack(&s, 4 * US);
}

/* Most ticks cheap, one in twenty stretched tenfold (the sampler
 * descheduled): the grid follows the cheap ones, not the mean, so stamps
 * stay one step apart between the stretched ticks, and the sampler, never
 * waiting, keeps its rate. */
static void test_the_grid_follows_the_typical_tick(void **state)
{
	(void)state;
	struct sim s;
	sim_start(&s, US, 0);
	uint64_t one = 0, ticks = 0, prev = 0;
	for (int i = 0; i < 20 * PS_PACE_TICKS; i++) {
		uint64_t t = sim_tick(&s, i % 20 == 7 ? 300 * US : draw(&s, 29 * US, 31 * US));
		if (i > PS_PACE_TICKS) {
			assert_int_equal(s.pc.grid, 27 * US);
			one += t - prev == 27 * US;
			ticks++;
		}
		prev = t;
	}
	assert_true(one > ticks * 8 / 10);
	assert_int_equal(s.sleeps, 0);
}

/* A sampler that gets much quicker between two estimates does not stamp
 * ahead of time: a stamp never lies more than PS_PACE_SLACK after its
 * tick's start (where steps of the grid would, the stamps go on one period
 * at a time), and the next estimate moves the grid down. */
static void test_quicker_ticks_do_not_run_the_stamps_ahead(void **state)
{
	(void)state;
	struct sim s;
	assert_int_equal(warm_up(&s, 40 * US, 40 * US), 36 * US);
	s.worst_lead = 0;
	for (int i = 0; i < PS_PACE_TICKS; i++)
		sim_tick(&s, 4 * US);
	assert_true(s.worst_lead <= PS_PACE_SLACK(36 * US) + US);
	assert_int_equal(s.pc.grid, 4 * US * 9 / 10 / US * US);
}

/* The grid comes from the median cost of a window of ticks, in whatever
 * order they came: windows of shuffled costs, some repeated, each in a new
 * pace, give 90 % of the median in whole periods. */
static void test_the_grid_is_set_from_the_median(void **state)
{
	(void)state;
	struct sim s;
	uint64_t cost[PS_PACE_TICKS];
	for (int trial = 0; trial < 200; trial++) {
		sim_start(&s, US, 0);
		s.rng = (uint32_t)trial * 7919u + 1;
		int distinct = 1 + trial % 64; /* repeats: 4 of each .. all distinct */
		for (int i = 0; i < PS_PACE_TICKS; i++)
			cost[i] = (uint64_t)(10 + (i * distinct / PS_PACE_TICKS) * 3) * US;
		for (int i = PS_PACE_TICKS - 1; i > 0; i--) {
			int j = (int)draw(&s, 0, (uint64_t)i);
			uint64_t t = cost[i];
			cost[i] = cost[j];
			cost[j] = t;
		}
		for (int i = 0; i < PS_PACE_TICKS; i++)
			sim_tick(&s, cost[i]);
		/* sorted, the costs are cost(i) at i: the median is at 128 */
		uint64_t median = (uint64_t)(10 + (PS_PACE_TICKS / 2 * distinct / PS_PACE_TICKS) * 3);
		assert_int_equal(s.pc.grid, median * 9 / 10 * US);
	}
}

/* Lateness is counted against the asked period, whatever the grid: every
 * asked deadline up to the end of the last tick was either served by a tick
 * or counted late. */
static void test_lateness_counts_the_asked_deadlines(void **state)
{
	(void)state;
	struct sim s;
	uint64_t period = 3 * US;
	sim_start(&s, period, 5 * MS);
	for (int i = 0; i < 5000; i++)
		sim_tick(&s, draw(&s, 10 * US, 60 * US));
	assert_true(s.pc.grid > period);
	assert_int_equal(s.ticks + s.late, (s.end - 5 * MS) / period);
}

/* A sampler that gets cheaper (a program that stopped recursing, threads
 * that ended) goes back to the asked deadlines within two estimates; one
 * that gets dearer moves its grid up, and a small drift moves nothing. */
static void test_grid_follows_the_cost_of_a_tick(void **state)
{
	(void)state;
	struct sim s;
	sim_start(&s, 10 * US, 0);
	for (int i = 0; i < 3 * PS_PACE_TICKS; i++)
		sim_tick(&s, 300 * US);
	assert_int_equal(s.pc.grid, 270 * US);
	for (int i = 0; i < 3 * PS_PACE_TICKS; i++)
		sim_tick(&s, 320 * US); /* 270 is 84 % of it: in the band */
	assert_int_equal(s.pc.grid, 270 * US);
	for (int i = 0; i < 3 * PS_PACE_TICKS; i++)
		sim_tick(&s, 600 * US);
	assert_int_equal(s.pc.grid, 540 * US);
	for (int i = 0; i < 2 * PS_PACE_TICKS; i++)
		sim_tick(&s, 4 * US);
	assert_int_equal(s.pc.grid, 10 * US);
	uint64_t t = sim_tick(&s, 4 * US);
	for (int i = 1; i <= 100; i++)
		assert_int_equal(sim_tick(&s, 4 * US), t + (uint64_t)i * 10 * US);
}

/* A tick that starts late after a long stall (the target paused by a
 * debugger, the sampler descheduled) skips the deadlines it missed instead
 * of stamping a burst of them. */
static void test_a_stall_skips_the_deadlines_missed(void **state)
{
	(void)state;
	struct sim s;
	sim_start(&s, MS, 0);
	sim_tick(&s, 10 * US);
	sim_tick(&s, 2500 * US); /* the tick of deadline 1 ms ends at 3.5 ms */
	assert_int_equal(s.late, 1); /* 2 ms; 3 ms is served, late */
	assert_int_equal(s.late_ns, 3500 * US - 2 * MS);
	assert_int_equal(sim_tick(&s, 10 * US), 3 * MS);
	assert_int_equal(sim_tick(&s, 10 * US), 4 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keeping_up_stamps_the_asked_deadlines),
		cmocka_unit_test(test_too_fast_a_rate_stamps_on_a_coarser_grid),
		cmocka_unit_test(test_short_ticks_catch_up_rarely),
		cmocka_unit_test(test_the_grid_follows_the_typical_tick),
		cmocka_unit_test(test_quicker_ticks_do_not_run_the_stamps_ahead),
		cmocka_unit_test(test_the_grid_is_set_from_the_median),
		cmocka_unit_test(test_lateness_counts_the_asked_deadlines),
		cmocka_unit_test(test_grid_follows_the_cost_of_a_tick),
		cmocka_unit_test(test_a_stall_skips_the_deadlines_missed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
