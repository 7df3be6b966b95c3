/* The synthetic recording the benchmarks build through the library
 * (bench/capture.c into a capture, bench/stream.c into a stream): 4
 * threads at 1 kHz, 3,000 stacks 12-40 frames deep over 1,500 frames, a
 * few stacks hot. Header-only: each bench is one program. */
#ifndef BENCH_SYNTH_H
#define BENCH_SYNTH_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ps_stream.h"

#define SYNTH_THREADS 4
#define SYNTH_STACKS 3000
#define SYNTH_FRAMES 1500

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The header both benches write (only the sampler's name differs). */
static struct ps_stream_header synth_header(const char *sampler)
{
	static const char *const argv[] = { "python3", "-m", "bench.app" };
	return (struct ps_stream_header){ .sampler = sampler, .pid = 4242, .argc = 3,
					  .argv = argv, .python_version = "3.11.7",
					  .rate_hz = 1000,
					  .wall_start_ns = 1795000000000000000,
					  .mono_origin_ns = 1000000000 };
}

/* Stacks: a tree where each new stack extends a random earlier one. */
static int synth_stacks(struct ps_sw *w, uint32_t *stack, struct ps_errmsg *e)
{
	uint32_t frames[SYNTH_FRAMES], depth[SYNTH_STACKS];
	uint64_t seed = 42;
	char fn[32], file[48];
	for (uint32_t i = 0; i < SYNTH_FRAMES; i++) {
		snprintf(fn, sizeof(fn), "func_%u", i);
		snprintf(file, sizeof(file), "/srv/app/module_%u.py", i % 97);
		struct ps_stream_frame f = { .function = fn, .qualname = fn, .file = file,
					     .line = 10 + i % 300, .kind = PS_FRAME_PYTHON };
		if (ps_sw_frame(w, &f, &frames[i], e))
			return -1;
	}
	for (uint32_t i = 0; i < SYNTH_STACKS; i++) {
		uint32_t s = 0, d = 0;
		if (i >= 20) {
			uint32_t base = (uint32_t)(rnd(&seed) % i);
			s = stack[base];
			d = depth[base];
		}
		uint32_t want = 12 + (uint32_t)(rnd(&seed) % 29);
		do {
			if (ps_sw_stack(w, s, frames[rnd(&seed) % SYNTH_FRAMES], &s, e))
				return -1;
		} while (++d < want);
		stack[i] = s;
		depth[i] = d;
	}
	return 0;
}

/* The threads, then n samples from stream time t on; *t ends at the last
 * sample's time. */
static int synth_samples(struct ps_sw *w, const uint32_t *stack, uint64_t n, uint64_t *t,
			 struct ps_errmsg *e)
{
	static const char *const names[SYNTH_THREADS] = { "MainThread", "worker-1", "worker-2",
							  "io" };
	uint32_t thread[SYNTH_THREADS];
	uint64_t seed = 7;
	for (uint32_t i = 0; i < SYNTH_THREADS; i++)
		if (ps_sw_thread(w, 4242, 4242 + i, names[i], &thread[i], e))
			return -1;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t k = (uint32_t)(i % SYNTH_THREADS);
		if (k == 0)
			*t += 1000000; /* 1 kHz */
		/* skewed: a few stacks are hot */
		uint64_t r = rnd(&seed);
		uint32_t s = (uint32_t)((r % 4 == 0 ? r >> 8 : (r >> 8) % 50) % SYNTH_STACKS);
		unsigned flags = k == 3 && (r & 0x100) ? PS_SAMPLE_IDLE : PS_SAMPLE_GIL * (k == 1);
		if (ps_sw_sample(w, *t, thread[k], stack[s], flags, e))
			return -1;
	}
	return 0;
}

/* The whole recording into w: the stacks, then n samples from stream time
 * *t on (*t ends at the last sample's time). */
static int synth_build(struct ps_sw *w, uint64_t n, uint64_t *t, struct ps_errmsg *e)
{
	uint32_t stack[SYNTH_STACKS];
	if (synth_stacks(w, stack, e))
		return -1;
	return synth_samples(w, stack, n, t, e);
}

#endif
