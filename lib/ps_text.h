/* Text: decoding strings read from a target into UTF-8, and writing them out
 * safely as Python-style reprs and JSON. */
#ifndef PS_TEXT_H
#define PS_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decode n code units of a given width (1 = latin-1/UCS1, 2 = UCS2,
 * 4 = UCS4) to UTF-8 in out (capacity outcap, >= 1). Lone surrogates and
 * code points above U+10FFFF become U+FFFD (width 2 joins a high+low
 * surrogate pair into one character, as Python 2 narrow builds store them).
 * Output is always NUL-terminated and never ends in a partial sequence; it
 * stops at the first character that does not fit. Returns the bytes written
 * (without the NUL). *truncated (if non-NULL) is set to 1 when output was
 * cut short, else 0. Another width gives "". */
size_t ps_ucs_to_utf8(int width, const void *data, size_t n, char *out,
		      size_t outcap, int *truncated);

/* Copy n bytes that should be UTF-8 (Python 2 str, file names) into out,
 * replacing each invalid byte sequence with U+FFFD, one per maximal subpart
 * as Python's bytes.decode('utf-8', 'replace') does (overlongs, surrogates
 * and code points above U+10FFFF are invalid); same contract as above. */
size_t ps_utf8_sanitize(const void *data, size_t n, char *out, size_t outcap,
			int *truncated);

/* Make s (NUL-terminated UTF-8) safe to print on a terminal, in place: each
 * C0 control, DEL and C1 control (U+0080-U+009F, which some terminals take
 * as escape sequences) becomes '?'. Returns the new length. */
size_t ps_text_scrub(char *s);

/* Python repr() of a str given as UTF-8 (Python 3 rules: single quotes unless
 * the text has a single quote and no double quote; \\n \\r \\t \\\\ and
 * \\xNN for other control characters; printable non-ASCII kept). Written to
 * out, NUL-terminated, cut with "..." when it does not fit in outcap.
 * Details: invalid UTF-8 reads as U+FFFD (kept). Non-ASCII that Python
 * does not print is escaped \\xNN (<= U+00FF), \\uNNNN or \\UNNNNNNNN,
 * lowercase hex; "not printable" is every assigned code point Python 3.13
 * escapes (controls, format characters, separators other than the space,
 * surrogates, private use) plus noncharacters; unassigned code points are
 * kept, where Python escapes them. When the repr does not fit, output is
 * the opening quote, as many whole characters/escapes as fit, the closing
 * quote and "...": 'abc'... ; an outcap below 6 (7 for bytes) cannot hold
 * even ''... and gets as much of "..." as fits. Returns strlen(out). */
size_t ps_repr_str(const char *utf8, size_t n, char *out, size_t outcap);

/* Python repr() of bytes: b'...' with \\xNN escapes (same quoting, escapes
 * \\t \\n \\r \\\\ and the quote, \\xNN for < 0x20 and >= 0x7f, lowercase;
 * same truncation as ps_repr_str: b'abc'...). */
size_t ps_repr_bytes(const uint8_t *data, size_t n, char *out, size_t outcap);

/* Room that always holds ps_repr_float's output and its NUL. */
#define PS_FLOAT_REPR_MAX 32

/* Python repr() of a float: the shortest string that round-trips, in the
 * notation Python picks (fixed for 1e-4 <= |x| < 1e16, exponent otherwise,
 * '.0' appended to integral values, 'inf', '-inf', 'nan'). A cut number
 * would be a wrong number, so when outcap is too small out gets "" and 0 is
 * returned; PS_FLOAT_REPR_MAX is always enough. */
size_t ps_repr_float(double v, char *out, size_t outcap);

/* Write s (n bytes of UTF-8, possibly invalid) as a JSON string literal with
 * quotes; control characters escaped, invalid UTF-8 as U+FFFD. Escapes:
 * \\" \\\\ \\b \\f \\n \\r \\t, \\u00XX for other C0 controls, DEL
 * and C1 controls, and \\u003c \\u003e \\u0026 \\u2028 \\u2029 for
 * < > & and the JavaScript line separators, so the output is safe inside
 * HTML <script>. */
void ps_json_string(FILE *f, const char *s, size_t n);

#endif
