/* Line-number tables: re-implementations of PyCode_Addr2Line for the three
 * table formats, written to give the interpreter's answer on every table the
 * interpreter itself produces and a bounded, crash-free answer on any other
 * bytes.
 *
 * Robustness rules shared by all three decoders (the interpreter trusts its
 * tables and asserts; we cannot):
 *  - no byte at or beyond len is ever read; a truncated trailing entry is
 *    treated as the end of the table;
 *  - offsets and lines are accumulated in 64 bits so that no table, however
 *    long, overflows; a line that does not fit in an int is reported as -1;
 *  - every loop consumes at least one byte per iteration, so it ends. */
#include "ps_lines.h"

#include <limits.h>

/* Clamp an accumulated line number to the int result; garbage tables can
 * drive it anywhere, and "no line" (-1) is the honest answer then. */
static int line_result(int64_t line)
{
	if (line < INT_MIN || line > INT_MAX)
		return -1;
	return (int)line;
}

/* 2.7-3.9: PyCode_Addr2Line walks (addr_incr, line_incr) pairs, stopping at
 * the first pair whose address passes lasti. A trailing odd byte is ignored,
 * as the interpreter does (it iterates len/2 pairs). Negative lasti stops on
 * the first pair and gives firstlineno, as the interpreter would. */
int ps_lnotab_line(const uint8_t *tab, size_t len, int firstlineno,
		   int lasti, int signed_lines)
{
	int64_t line = firstlineno;
	int64_t addr = 0;
	size_t i;

	if (!tab)
		len = 0;
	for (i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > lasti)
			break;
		if (signed_lines)
			line += (int8_t)tab[i + 1];
		else
			line += tab[i + 1];
	}
	return line_result(line);
}

/* 3.10: the table is a list of address ranges (length in bytes, line delta,
 * -128 meaning "no line"). Ranges of length zero only carry a line delta and
 * are merged into the following one, exactly as PyLineTable_NextAddressRange
 * skips them. lasti past the last range has no line (-1). */
int ps_linetable310_line(const uint8_t *tab, size_t len, int firstlineno,
			 int lasti_bytes)
{
	int64_t computed = firstlineno;
	int64_t start, end = 0;
	int64_t line = -1;
	size_t i;

	if (lasti_bytes < 0)
		return firstlineno;
	if (!tab)
		len = 0;
	for (i = 0; i + 1 < len; i += 2) {
		int8_t ldelta = (int8_t)tab[i + 1];

		start = end;
		end += tab[i];
		if (ldelta == -128) {
			line = -1;
		} else {
			computed += ldelta;
			line = computed;
		}
		/* A zero-length range never contains lasti: keep going so its
		 * delta accumulates, like the interpreter's advance loop. */
		if (start <= lasti_bytes && lasti_bytes < end)
			return line_result(line);
	}
	return -1;
}

/* Is b the first byte of a 3.11+ location entry? */
static int loc_entry_start(uint8_t b)
{
	return (b & 0x80) != 0;
}

/* Read an unsigned varint (6 bits a byte, 0x40 = more) from tab[*pos]
 * up to end (the start of the next entry). Bits beyond the 32 of the
 * interpreter's unsigned int are dropped: it would shift them out, and
 * shifting further is undefined behaviour in C. Returns 0 when the varint
 * still wants more bytes at end: the interpreter never writes that, and
 * reading on (as it would) means reading the next entry or past the table. */
static int loc_varint(const uint8_t *tab, size_t *pos, size_t end,
		      uint32_t *val)
{
	unsigned shift = 0;

	*val = 0;
	while (*pos < end) {
		uint8_t b = tab[(*pos)++];

		if (shift < 32) {
			*val |= (uint32_t)(b & 63) << shift;
			shift += 6;
		}
		if (!(b & 64))
			return 1;
	}
	return 0;
}

/* Line delta of the entry whose first byte is tab[at]; its other bytes run
 * up to body_end (the next entry). Returns 0 for a malformed entry. */
static int loc_line_delta(const uint8_t *tab, size_t at, size_t body_end,
			  int64_t *delta)
{
	int code = (tab[at] >> 3) & 15;
	size_t pos = at + 1;
	uint32_t u;

	switch (code) {
	case 10: case 11: case 12:	/* one-line forms: delta in the code */
		*delta = code - 10;
		return 1;
	case 13: case 14:		/* no-column and long forms: svarint */
		if (!loc_varint(tab, &pos, body_end, &u))
			return 0;
		/* low bit is the sign, the rest the magnitude */
		*delta = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
		return 1;
	default:			/* short forms and "no location" */
		*delta = 0;
		return 1;
	}
}

/* 3.11+: entries of (length in code units, location). Each entry starts at
 * tab[i] (normally a byte with the high bit set) and runs to the next byte
 * with the high bit set, which is how the interpreter's advance() finds the
 * next entry. Code 15 means "no location": line -1, and its (zero) delta
 * leaves the running line unchanged. unit past the end has no line. */
int ps_loctable_line(const uint8_t *tab, size_t len, int firstlineno,
		     int unit)
{
	int64_t computed = firstlineno;
	int64_t start, end = 0;
	size_t i = 0;

	if (unit < 0)
		return firstlineno;
	if (!tab)
		len = 0;
	while (i < len) {
		size_t next = i + 1;
		uint8_t head = tab[i];
		int64_t delta;

		while (next < len && !loc_entry_start(tab[next]))
			next++;
		/* A malformed entry ends the table: what follows cannot be
		 * located reliably. */
		if (!loc_line_delta(tab, i, next, &delta))
			return -1;
		computed += delta;
		start = end;
		end += (head & 7) + 1;
		if (start <= unit && unit < end) {
			if ((head >> 3) == 0x1f)	/* high bit + code 15 */
				return -1;
			return line_result(computed);
		}
		i = next;
	}
	return -1;
}
