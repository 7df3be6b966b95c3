/* Line-number tables of code objects: the three encodings CPython has used.
 *
 * Each decoder answers the question frame.f_lineno answers for a frame that
 * is not being traced: the source line of the instruction at a given offset.
 * Tables come from the target, so decoders treat them as untrusted bytes:
 * any length, any content, never read past len. */
#ifndef PS_LINES_H
#define PS_LINES_H

#include <stddef.h>
#include <stdint.h>

/* co_lnotab, 2.7-3.9: pairs (byte offset delta, line delta). Line deltas are
 * unsigned on 2.7 and signed (int8) from 3.6 on: pass signed_lines. lasti is
 * the byte offset of the instruction (f_lasti). Equals PyCode_Addr2Line. */
int ps_lnotab_line(const uint8_t *tab, size_t len, int firstlineno,
		   int lasti, int signed_lines);

/* co_linetable, 3.10: pairs (byte length, signed line delta) where a delta of
 * -128 means "no line". lasti_bytes = f_lasti * 2. Returns -1 for "no line".
 * A negative lasti_bytes gives firstlineno, as PyCode_Addr2Line does. */
int ps_linetable310_line(const uint8_t *tab, size_t len, int firstlineno,
			 int lasti_bytes);

/* co_linetable, 3.11+: the location table (PEP 626/657 varint entries).
 * unit is the index of the instruction in code units (_Py_CODEUNIT), i.e.
 * _PyInterpreterFrame_LASTI(frame). Returns -1 for "no line"; a negative
 * unit gives firstlineno. */
int ps_loctable_line(const uint8_t *tab, size_t len, int firstlineno,
		     int unit);

#endif
