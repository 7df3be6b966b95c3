/* The clocks, in nanoseconds: one place for every module that times
 * something (the sampler's ticks, the code cache's recheck window, the
 * tid calibration's backoff, pause deadlines). */
#ifndef PS_TIME_H
#define PS_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC: for intervals and deadlines. */
uint64_t ps_now_ns(void);
/* CLOCK_REALTIME: for the wall-clock start written in a stream. */
uint64_t ps_wall_ns(void);

#endif
