/* The sampler's deadlines, and the times its samples are stamped with.
 *
 * Samples are stamped with the deadline they serve, not the instant they
 * were read (format/pyspy-stream.md, Time): a steady rate gives equal time
 * deltas, which the stream codes in a fraction of a bit.
 *
 * A sampler asked for more than it can do (the top rate asks for 1 MHz)
 * serves, at each tick, the asked deadline just passed: the instant to the
 * microsecond, whose jitter would cost more than the stacks (5 of 6 bits a
 * sample on a flat program). So once a tick costs more than the asked
 * period, the stamps move to a coarser grid: a whole number of asked
 * periods, a little below what a tick typically costs. Each stamp is then
 * one step after the last, or more where the stamps catch up with the
 * clock, and lies within PS_PACE_SLACK of the instant its tick began. When
 * the sampler waits, and what is late, still follow the asked period: the
 * rate is what it would have been.
 *
 * Pure arithmetic on times the caller gives, so that it can be tested on a
 * simulated clock. */
#ifndef PS_PACE_H
#define PS_PACE_H

#include <stdint.h>

/* The grid is set again every PS_PACE_TICKS ticks, to PS_PACE_AIM of their
 * median cost, when it has left PS_PACE_LOW..PS_PACE_HIGH of it (a grid
 * that moved at every estimate would cost a new delta each time). The
 * median, not the mean: a tick now and then that the scheduler stretched
 * must not pull the grid above what most ticks cost. Below 1, the stamps
 * lag the instants and catch up by a step now and then; at 1 or above,
 * they would run ahead. */
#define PS_PACE_TICKS 256
#define PS_PACE_AIM 0.90
#define PS_PACE_LOW 0.80
#define PS_PACE_HIGH 0.97

/* Below this, a wait is not worth a sleep: a sleep costs two context
 * switches and a timer, and on a busy machine the wake-up comes tens of
 * microseconds late. */
#define PS_PACE_SLEEP_MIN_NS 50000u

/* How far a stamp may lie from the instant its tick began, before or
 * after: a step of the grid, or PS_PACE_SLEEP_MIN_NS if that is more, the
 * most a sample is early at any rate. Letting the stamps lag more than a
 * step makes catching up rare where ticks are short: at the top rate
 * without pausing (a tick every 4-5 us, a step of 4), a catch-up at every
 * fourth tick cost about a bit a sample, half the stream. */
#define PS_PACE_SLACK(grid) ((grid) > PS_PACE_SLEEP_MIN_NS ? (grid) : PS_PACE_SLEEP_MIN_NS)

struct ps_pace {
	uint64_t period; /* asked, ns */
	uint64_t asked;  /* the asked deadline the coming tick serves */
	uint64_t grid;   /* stamps are this far apart: a whole number of periods */
	uint64_t stamp;  /* the last tick's stamp */
	int stamped;     /* ... when there was one */
	unsigned ticks;  /* ticks since the grid was last set */
	uint32_t cost[PS_PACE_TICKS]; /* ... and what each cost, ns */
};

/* The first deadline is t0. */
void ps_pace_start(struct ps_pace *pc, uint64_t period_ns, uint64_t t0_ns);

/* The time to stamp the samples of the tick that begins at now: the asked
 * deadline it serves, or, on a coarser grid, the step after the last stamp
 * (further on when that is PS_PACE_SLACK behind now, and a period on when
 * it is as far ahead). Always after the
 * last stamp: ticks never share a time. */
uint64_t ps_pace_stamp(struct ps_pace *pc, uint64_t now);

/* The tick that began at start ended at now: move to the asked deadline
 * the next tick serves (past deadlines skipped: it may still be a little
 * before now). Returns how many asked deadlines were missed (0 when the
 * sampler kept up), and then in *late_ns how far now is past the first of
 * them. */
uint64_t ps_pace_done(struct ps_pace *pc, uint64_t start, uint64_t now, uint64_t *late_ns);

/* At now, with the last tick done: the instant to sleep until (the next
 * asked deadline), or 0 to start the coming tick at once. A deadline
 * already passed, or so close that sleeping would cost more than it waits,
 * is served at once: a sample a few microseconds early keeps the asked rate
 * on average (the deadline after it is only further off), and at the top
 * rate the sampler never sleeps at all. */
uint64_t ps_pace_wake(const struct ps_pace *pc, uint64_t now);

#endif
