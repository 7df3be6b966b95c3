/* Private to the sample stream implementation (ps_stream_common.c,
 * ps_stream_write.c, ps_stream_read.c): what its writer and reader share.
 * The public API is ps_stream.h. */
#ifndef PS_STREAM_IMPL_H
#define PS_STREAM_IMPL_H

#include <stdint.h>
#include <string.h>

#include "ps_stream.h"

/* What a string counts against PS_STREAM_MAX_STRING_BYTES: its bytes and
 * room for its NUL, alignment and a pointer, so that the reader's memory
 * for strings and command lines is bounded by the budget. */
#define STR_COST(n) ((uint64_t)(n) + 16)

/* ps_varint_get with the one- and two-byte cases inline: most fields of a sample
 * (thread, flags, often the stack and the record header) are one byte,
 * and a reader folding 20 M samples a second cannot afford a call each. */
static inline int ps_varint_get1(const uint8_t *p, size_t n, uint64_t *v)
{
	if (n && p[0] < 0x80) {
		*v = p[0];
		return 1;
	}
	/* two bytes (a sample's dt at 100 Hz to 16 kHz); minimal: not 00 */
	if (n >= 2 && p[1] - 1u < 0x7F) {
		*v = (uint64_t)(p[0] & 0x7F) | (uint64_t)p[1] << 7;
		return 2;
	}
	*v = 0; /* set on every path, as the compiler cannot see */
	return ps_varint_get(p, n, v);
}

/* ---- SAMPLES records (format 2.0): the coding model ---------------------
 * Spec section "SAMPLES". Each sample is a few binary decisions (is the
 * thread the one that followed the previous sample's thread last time; is
 * dt 0 or one of the two last non-zero dts; is the stack the thread's last,
 * or which of its 8 last), range-coded with adaptive probabilities as LZMA
 * does; what the decisions do not give comes as varints in the record's
 * extras. The model goes on from one SAMPLES record to the next and
 * starts again at each HEADER. */

/* LZMA's coder with 15-bit probabilities instead of 11: a decision that
 * is almost always the same costs 0.0014 bits instead of 0.022, which is
 * most of what a steady round of many threads costs. */
#define PS_RC_BITS 15                    /* probabilities are k / 2^15 */
#define PS_RC_ONE (1u << PS_RC_BITS)
#define PS_RC_MOVE 5                     /* adaptation: p += (one - p) >> 5 */
#define PS_RC_TOP (1u << 24)             /* renormalise below this range */
#define PS_SX_MULTIPLES 64               /* dts of 1..64 periods go down a tree */
#define PS_SX_RECENT 8                   /* (stack, flags) pairs kept per thread */

/* Probabilities that a decision is 0 (k / 2^15), by context: th: the thread is the
 * predicted one; dt[c][k]: decision k of the dt (0: dt is 0, 1: it is d0,
 * 2: it is d1) when the thread's last dt was of class c; st[c][k]:
 * decision k of the stack (0: it is the thread's last, 1: it is another
 * of its recent ones) when its last stack was of class c; pos[m]: the
 * nodes of the 3-bit tree that says which recent one; mul: a dt that is
 * none of those is a multiple of the period, 1 to 64 times; mul_tree[m]:
 * the nodes of the 6-bit tree that says how many times; fl[k]: the flags
 * are those the stack had last time (k 0), or for a new stack (k 1) those
 * of the thread's last sample. */
struct ps_sx_probs {
	uint16_t th;
	uint16_t dt[4][3];
	uint16_t st[3][2];
	uint16_t pos[8];
	uint16_t mul;
	uint16_t mul_tree[PS_SX_MULTIPLES];
	uint16_t fl[2];
};

/* What the model keeps per thread (indexed by thread id; 0 stands for
 * "before the first sample" and only its succ is used). */
struct ps_sx_thread {
	uint32_t succ;                   /* thread that followed this one; 0 none */
	uint8_t have;                    /* recent pairs set (0..PS_SX_RECENT) */
	uint8_t dt_class, st_class;      /* of this thread's last sample */
	uint32_t stack[PS_SX_RECENT];    /* recent stacks, latest first, */
	uint32_t flags[PS_SX_RECENT];    /* and the flags each had last */
};

/* The model apart from the per-thread entries. */
struct ps_sx_model {
	struct ps_sx_probs p;
	uint64_t d0, d1;                 /* the last two distinct non-zero dts */
	uint32_t prev;                   /* thread of the last coded sample; 0 none */
	uint32_t period;                 /* us between samples asked for; 0: none */
};

/* rate_hz is the header's. */
static inline void ps_sx_model_init(struct ps_sx_model *m, uint32_t rate_hz)
{
	uint16_t *p = (uint16_t *)&m->p;

	for (size_t i = 0; i < sizeof(m->p) / sizeof(*p); i++)
		p[i] = PS_RC_ONE / 2;
	m->d0 = m->d1 = 0;
	m->prev = 0;
	m->period = rate_hz ? 1000000 / rate_hz : 0;
}

/* dt classes and what a coded dt does to d0, d1: class 2 swaps them, class
 * 3 (explicit) pushes the new value in front. */
static inline void ps_sx_dt_seen(struct ps_sx_model *m, unsigned cls, uint64_t dt)
{
	if (cls == 2) {
		uint64_t t = m->d0;
		m->d0 = m->d1;
		m->d1 = t;
	} else if (cls == 3) {
		m->d1 = m->d0;
		m->d0 = dt;
	}
}

/* The stack at recent position i (PS_SX_RECENT: a new one) moves to the
 * front with the flags it has now; a new stack pushes the oldest out. */
static inline void ps_sx_stack_seen(struct ps_sx_thread *t, unsigned i, uint32_t stack,
				    uint32_t flags)
{
	if (i >= PS_SX_RECENT)
		i = t->have < PS_SX_RECENT ? t->have++ : PS_SX_RECENT - 1;
	memmove(t->stack + 1, t->stack, i * sizeof(t->stack[0]));
	memmove(t->flags + 1, t->flags, i * sizeof(t->flags[0]));
	t->stack[0] = stack;
	t->flags[0] = flags;
}

/* The name of a record type for messages ("string", ...; "unknown"). */
const char *ps_stream_rec_name(uint64_t type);

#endif
