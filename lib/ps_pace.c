/* The sampler's deadlines and stamps: see ps_pace.h. */
#include "ps_pace.h"

void ps_pace_start(struct ps_pace *pc, uint64_t period_ns, uint64_t t0_ns)
{
	*pc = (struct ps_pace){ .period = period_ns, .asked = t0_ns, .grid = period_ns };
}

uint64_t ps_pace_stamp(struct ps_pace *pc, uint64_t now)
{
	uint64_t s = pc->asked, g = pc->grid, slack = PS_PACE_SLACK(g);
	if (g != pc->period && pc->stamped) {
		s = pc->stamp + g;
		if (now >= s + slack)
			s += (now - s) / g * g; /* catch up: within a step of now */
		else if (s > now + slack)
			s = pc->stamp + pc->period; /* do not run further ahead */
	}
	if (pc->stamped && s <= pc->stamp) /* back from a coarser grid */
		s = pc->stamp + pc->period;
	pc->stamp = s;
	pc->stamped = 1;
	return s;
}

/* The k-th smallest of v[0..n) (Hoare's selection, as Wirth writes it; v
 * is reordered): a sort would cost the sampler 1 % at its top rate. */
static uint32_t select_kth(uint32_t *v, int n, int k)
{
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		uint32_t pivot = v[lo + (hi - lo) / 2];
		int i = lo, j = hi;
		do { /* v[lo..j] <= pivot <= v[i..hi] when done */
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				uint32_t t = v[i];
				v[i++] = v[j];
				v[j--] = t;
			}
		} while (i <= j);
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break; /* between the two: equal to the pivot */
	}
	return v[k];
}

/* Set the grid again every PS_PACE_TICKS ticks: PS_PACE_AIM of the median
 * cost in whole periods (at least one). Back to the asked period as soon
 * as ticks fit in it; otherwise moved only when well off. */
static void regrid(struct ps_pace *pc, uint64_t busy)
{
	pc->cost[pc->ticks] = busy > UINT32_MAX ? UINT32_MAX : (uint32_t)busy;
	if (++pc->ticks < PS_PACE_TICKS)
		return;
	pc->ticks = 0;
	double cost = select_kth(pc->cost, PS_PACE_TICKS, PS_PACE_TICKS / 2);
	uint64_t k = (uint64_t)(PS_PACE_AIM * cost / (double)pc->period);
	uint64_t want = (k ? k : 1) * pc->period;
	if (want == pc->period || (double)pc->grid < PS_PACE_LOW * cost ||
	    (double)pc->grid > PS_PACE_HIGH * cost)
		pc->grid = want;
}

uint64_t ps_pace_done(struct ps_pace *pc, uint64_t start, uint64_t now, uint64_t *late_ns)
{
	regrid(pc, now > start ? now - start : 0);
	uint64_t first = pc->asked + pc->period;
	pc->asked = first;
	*late_ns = 0;
	if (now < first + pc->period)
		return 0;
	uint64_t missed = (now - first) / pc->period;
	*late_ns = now - first;
	pc->asked += missed * pc->period;
	return missed;
}

uint64_t ps_pace_wake(const struct ps_pace *pc, uint64_t now)
{
	return pc->asked > now && pc->asked - now >= PS_PACE_SLEEP_MIN_NS ? pc->asked : 0;
}
