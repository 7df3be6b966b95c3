/* Text: decoding strings read from a target into UTF-8, and writing them out
 * safely as Python-style reprs and JSON. */
#ifndef PS_TEXT_H
#define PS_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decode n code units of a given width (1 = latin-1/UCS1, 2 = UCS2,
 * 4 = UCS4) to UTF-8 in out (capacity outcap, >= 1). Lone surrogates and
 * code points above U+10FFFF become U+FFFD. Output is always NUL-terminated
 * and never ends in a partial sequence; returns the bytes written (without
 * the NUL). When output is cut short, *truncated (if non-NULL) is set. */
size_t ps_ucs_to_utf8(int width, const void *data, size_t n, char *out,
		      size_t outcap, int *truncated);

/* Copy n bytes that should be UTF-8 (Python 2 str, file names) into out,
 * replacing each invalid byte sequence with U+FFFD; same contract as above. */
size_t ps_utf8_sanitize(const void *data, size_t n, char *out, size_t outcap,
			int *truncated);

/* Python repr() of a str given as UTF-8 (Python 3 rules: single quotes unless
 * the text has a single quote and no double quote; \\n \\r \\t \\\\ and
 * \\xNN for other control characters; printable non-ASCII kept). Written to
 * out, NUL-terminated, cut with "..." when it does not fit in outcap. */
size_t ps_repr_str(const char *utf8, size_t n, char *out, size_t outcap);

/* Python repr() of bytes: b'...' with \\xNN escapes. */
size_t ps_repr_bytes(const uint8_t *data, size_t n, char *out, size_t outcap);

/* Python repr() of a float: the shortest string that round-trips, in the
 * notation Python picks (fixed for 1e-4 <= |x| < 1e16, exponent otherwise,
 * '.0' appended to integral values, 'inf', '-inf', 'nan'). */
size_t ps_repr_float(double v, char *out, size_t outcap);

/* Write s (n bytes of UTF-8, possibly invalid) as a JSON string literal with
 * quotes; control characters escaped, invalid UTF-8 as U+FFFD. */
void ps_json_string(FILE *f, const char *s, size_t n);

#endif
