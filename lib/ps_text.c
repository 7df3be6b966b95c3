/* Text: strings read from a target, turned into UTF-8 and then into Python
 * reprs or JSON. All input is untrusted: any bytes, any length. */
#include "ps_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REPLACEMENT 0xFFFDu

static const char hexdig[] = "0123456789abcdef";

/* ---- bounded output --------------------------------------------------- */

/* A writer into out[cap] that keeps room for the NUL. Once something does
 * not fit it stays full, so output is always a prefix of the full text
 * rather than text with holes in it. */
struct wbuf {
	char *out;
	size_t cap;
	size_t len;
	int full;
};

static void wb_init(struct wbuf *w, char *out, size_t cap)
{
	w->out = out;
	w->cap = cap;
	w->len = 0;
	w->full = cap == 0;
	if (cap)
		out[0] = '\0';
}

/* Append k bytes whole or not at all; returns 1 when written. */
static int wb_put(struct wbuf *w, const char *s, size_t k)
{
	if (w->full || k >= w->cap - w->len) {
		w->full = 1;
		return 0;
	}
	memcpy(w->out + w->len, s, k);
	w->len += k;
	w->out[w->len] = '\0';
	return 1;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Encode cp (<= U+10FFFF, not a surrogate) as UTF-8; returns the length. */
static size_t utf8_encode(uint32_t cp, char *b)
{
	if (cp < 0x80) {
		b[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (char)(0xF0 | cp >> 18);
	b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	b[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode one character from s[0..n) (n >= 1) into *cp; returns the bytes
 * consumed (>= 1). Invalid input gives U+FFFD for each maximal subpart (the
 * Unicode "best practice" that Python's 'replace' error handler follows):
 * the lead byte and as many continuation bytes as could still start a
 * valid sequence are consumed together. The second-byte ranges exclude
 * overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points
 * above U+10FFFF (F4 90..BF). */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, i;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1, v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2, v = c & 0x0F;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3, v = c & 0x07;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
	} else {
		*cp = REPLACEMENT;	/* 80..C1 and F5..FF never start one */
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*cp = REPLACEMENT;
			return i;
		}
		v = v << 6 | (s[i] & 0x3F);
		lo = 0x80, hi = 0xBF;
	}
	*cp = v;
	return need + 1;
}

/* ---- decoding to UTF-8 ------------------------------------------------ */

/* Code unit i of a width-byte array; memcpy because target data carries no
 * alignment promise once copied into our buffers. */
static uint32_t unit_at(const uint8_t *p, int width, size_t i)
{
	uint16_t u16;
	uint32_t u32;

	if (width == 1)
		return p[i];
	if (width == 2) {
		memcpy(&u16, p + 2 * i, 2);
		return u16;
	}
	memcpy(&u32, p + 4 * i, 4);
	return u32;
}

/* The code point at unit *i, advancing *i. Width 2 joins a high surrogate
 * with a following low one (UTF-16, as Python 2 narrow builds store
 * non-BMP characters); any other surrogate, and anything above U+10FFFF,
 * is U+FFFD. */
static uint32_t next_ucs(const uint8_t *p, int width, size_t n, size_t *i)
{
	uint32_t cp = unit_at(p, width, (*i)++);

	if (width == 2 && cp >= 0xD800 && cp <= 0xDBFF && *i < n) {
		uint32_t lo = unit_at(p, width, *i);

		if (lo >= 0xDC00 && lo <= 0xDFFF) {
			(*i)++;
			return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
	}
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return REPLACEMENT;
	return cp;
}

size_t ps_ucs_to_utf8(int width, const void *data, size_t n, char *out,
		      size_t outcap, int *truncated)
{
	struct wbuf w;
	size_t i = 0;
	char b[4];

	wb_init(&w, out, outcap);
	if (width != 1 && width != 2 && width != 4)
		n = 0;
	while (i < n) {
		size_t at = i;
		uint32_t cp = next_ucs(data, width, n, &i);

		if (!wb_put(&w, b, utf8_encode(cp, b))) {
			i = at;
			break;
		}
	}
	if (truncated)
		*truncated = i < n;
	return w.len;
}

size_t ps_utf8_sanitize(const void *data, size_t n, char *out, size_t outcap,
			int *truncated)
{
	const uint8_t *s = data;
	struct wbuf w;
	size_t i = 0;
	char b[4];

	wb_init(&w, out, outcap);
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);

		if (!wb_put(&w, b, utf8_encode(cp, b)))
			break;
		i += k;
	}
	if (truncated)
		*truncated = i < n;
	return w.len;
}

/* ---- repr ------------------------------------------------------------- */

/* Code points Python 3 does not consider printable, so repr() escapes them:
 * every assigned one per Unicode 15.1 (Python 3.13's str.isprintable(), the
 * categories Cc Cf Cs Co Zl Zp and Zs other than the space), plus the
 * noncharacters. Unassigned code points, which Python also escapes, are
 * kept: that needs the whole Unicode database. */
static const uint32_t nonprint[][2] = {
	{ 0x80, 0xA0 }, { 0xAD, 0xAD }, { 0x600, 0x605 }, { 0x61C, 0x61C },
	{ 0x6DD, 0x6DD }, { 0x70F, 0x70F }, { 0x890, 0x891 },
	{ 0x8E2, 0x8E2 }, { 0x1680, 0x1680 }, { 0x180E, 0x180E },
	{ 0x2000, 0x200F }, { 0x2028, 0x202F }, { 0x205F, 0x2064 },
	{ 0x2066, 0x206F }, { 0x3000, 0x3000 }, { 0xD800, 0xF8FF },
	{ 0xFDD0, 0xFDEF }, { 0xFEFF, 0xFEFF }, { 0xFFF9, 0xFFFB },
	{ 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x1343F },
	{ 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A }, { 0xE0001, 0xE0001 },
	{ 0xE0020, 0xE007F }, { 0xF0000, 0x10FFFF },
};

static int printable(uint32_t cp)
{
	size_t i;

	if (cp < 0x80)
		return cp >= 0x20 && cp != 0x7F;
	if ((cp & 0xFFFE) == 0xFFFE)	/* U+xFFFE, U+xFFFF in every plane */
		return 0;
	for (i = 0; i < sizeof(nonprint) / sizeof(nonprint[0]); i++)
		if (cp >= nonprint[i][0] && cp <= nonprint[i][1])
			return 0;
	return 1;
}

/* "\x", "\u" or "\U" and 2, 4 or 8 lowercase hex digits, as Python. */
static size_t hex_escape(uint32_t v, char kind, int digits, char *b)
{
	int i;

	b[0] = '\\';
	b[1] = kind;
	for (i = 0; i < digits; i++)
		b[2 + i] = hexdig[v >> (4 * (digits - 1 - i)) & 15];
	return 2 + (size_t)digits;
}

/* The escape Python uses for an ASCII character inside quote, or 0 when the
 * character stands for itself. */
static size_t ascii_escape(uint32_t c, char quote, char *b)
{
	b[0] = '\\';
	switch (c) {
	case '\t': b[1] = 't'; return 2;
	case '\n': b[1] = 'n'; return 2;
	case '\r': b[1] = 'r'; return 2;
	case '\\': b[1] = '\\'; return 2;
	}
	if (c == (uint32_t)quote) {
		b[1] = quote;
		return 2;
	}
	if (c < 0x20 || c == 0x7F)
		return hex_escape(c, 'x', 2, b);
	return 0;
}

/* One repr "atom": the text for the character at s[0..n), at most 10 bytes
 * in b; returns the input bytes consumed. */
typedef size_t (*atom_fn)(const uint8_t *s, size_t n, char quote, char *b,
			  size_t *blen);

static size_t str_atom(const uint8_t *s, size_t n, char quote, char *b,
		       size_t *blen)
{
	uint32_t cp;
	size_t k = utf8_decode(s, n, &cp);

	if (cp < 0x80) {
		*blen = ascii_escape(cp, quote, b);
		if (!*blen)
			b[0] = (char)cp, *blen = 1;
	} else if (printable(cp)) {
		*blen = utf8_encode(cp, b);
	} else if (cp <= 0xFF) {
		*blen = hex_escape(cp, 'x', 2, b);
	} else if (cp <= 0xFFFF) {
		*blen = hex_escape(cp, 'u', 4, b);
	} else {
		*blen = hex_escape(cp, 'U', 8, b);
	}
	return k;
}

static size_t bytes_atom(const uint8_t *s, size_t n, char quote, char *b,
			 size_t *blen)
{
	(void)n;
	if (s[0] >= 0x80)
		*blen = hex_escape(s[0], 'x', 2, b);
	else if (!(*blen = ascii_escape(s[0], quote, b)))
		b[0] = (char)s[0], *blen = 1;
	return 1;
}

/* Python's choice: single quotes unless the text has a single quote and no
 * double quote. (In UTF-8 the quote bytes only ever stand for themselves.) */
static char pick_quote(const uint8_t *s, size_t n)
{
	if (n && memchr(s, '\'', n) && !memchr(s, '"', n))
		return '"';
	return '\'';
}

static size_t repr_len(const uint8_t *s, size_t n, char quote, atom_fn atom)
{
	size_t i = 0, total = 0, blen;
	char b[10];

	while (i < n) {
		i += atom(s + i, n - i, quote, b, &blen);
		total += blen;
	}
	return total;
}

/* prefix, quote, the atoms, quote. When that does not fit in outcap, as
 * many whole atoms as leave room for the closing quote, "..." and the NUL,
 * e.g. 'abc'... ; when not even prefix, quotes and "..." fit, the part of
 * "..." that does. */
static size_t repr_emit(const char *prefix, const uint8_t *s, size_t n,
			atom_fn atom, char *out, size_t outcap)
{
	char quote = pick_quote(s, n), b[10];
	size_t plen = strlen(prefix), i = 0, blen;
	int cut = plen + 2 + repr_len(s, n, quote, atom) >= outcap;
	struct wbuf w;

	/* when cutting, hold back 4 bytes for the closing quote and "..." */
	wb_init(&w, out, cut ? (outcap > 4 ? outcap - 4 : 0) : outcap);
	if (!wb_put(&w, prefix, plen) || !wb_put(&w, &quote, 1)) {
		wb_init(&w, out, outcap);
		wb_put(&w, "...", outcap > 3 ? 3 : (outcap ? outcap - 1 : 0));
		return w.len;
	}
	while (i < n) {
		i += atom(s + i, n - i, quote, b, &blen);
		if (!wb_put(&w, b, blen))
			break;
	}
	w.cap = outcap;
	w.full = 0;
	wb_put(&w, &quote, 1);
	if (cut)
		wb_put(&w, "...", 3);
	return w.len;
}

size_t ps_repr_str(const char *utf8, size_t n, char *out, size_t outcap)
{
	return repr_emit("", (const uint8_t *)utf8, n, str_atom, out, outcap);
}

size_t ps_repr_bytes(const uint8_t *data, size_t n, char *out, size_t outcap)
{
	return repr_emit("b", data, n, bytes_atom, out, outcap);
}

/* ---- float repr ------------------------------------------------------- */

/* Does digits[0..nd) * 10^(exp - nd + 1) read back as v? Written without
 * a decimal point, so the locale's radix character cannot matter. */
static int digits_roundtrip(const char *d, int nd, int exp, double v)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%.*se%d", nd, d, exp - nd + 1);
	return strtod(buf, NULL) == v;
}

/* Step nd decimal digits by one unit in the last place (delta +1 or -1).
 * Returns 0 when that changes the number of digits (999+1, 100-1). */
static int digits_step(char *d, int nd, int delta)
{
	int i;

	for (i = nd - 1; i >= 0; i--) {
		int c = d[i] - '0' + delta;

		if (c >= 0 && c <= 9) {
			d[i] = (char)('0' + c);
			break;
		}
		d[i] = delta > 0 ? '0' : '9';
	}
	return i >= 0 && d[0] != '0';
}

/* A prec+1 digit string for v that round-trips, or 0. The correctly
 * rounded one (%e) is the closest, so it is tried first. Only for a power
 * of two, whose rounding interval is narrower below than above, can it
 * fail while its upper or lower neighbour succeeds (7.120236347223045e-307
 * is one): Python's dtoa finds that neighbour, so we try both. */
static int digits_at(double v, int prec, int pow2, char digits[20], int *exp)
{
	char buf[40], *p, *e, nb[20];
	int nd = 0, delta;

	snprintf(buf, sizeof(buf), "%.*e", prec, v);
	e = strchr(buf, 'e');
	for (p = buf; p < e; p++)	/* digits only: skip the radix char */
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	*exp = atoi(e + 1);
	if (digits_roundtrip(digits, nd, *exp, v))
		return nd;
	for (delta = 1; pow2 && delta >= -1; delta -= 2) {
		memcpy(nb, digits, (size_t)nd);
		if (digits_step(nb, nd, delta) &&
		    digits_roundtrip(nb, nd, *exp, v)) {
			memcpy(digits, nb, (size_t)nd);
			return nd;
		}
	}
	return 0;
}

/* Shortest decimal digits of v (finite, > 0) that read back as v, which is
 * what Python's repr prints (dtoa mode 0); 17 digits always round-trip.
 * Fills digits (no trailing zeros, NUL-terminated) and returns the decimal
 * exponent of the first digit: v = d.ddd * 10^exp. */
static int float_digits(double v, char digits[20])
{
	int prec, nd = 0, exp = 0, pow2;
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	pow2 = (bits & 0xFFFFFFFFFFFFFull) == 0;	/* mantissa 1.000... */

	for (prec = 0; prec <= 16 && !nd; prec++)
		nd = digits_at(v, prec, pow2, digits, &exp);
	if (!nd)	/* unreachable with a correct strtod; keep %.16e's */
		nd = 17;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	return exp;
}

/* Python's float_repr layout of digits * 10^exp (Objects/floatobject.c via
 * PyOS_double_to_string 'r'): fixed notation for -4 <= exp < 16, ".0"
 * added when integral; otherwise d[.ddd]e+XX with 2+ exponent digits. */
static size_t float_layout(int neg, const char *digits, int exp, char *b)
{
	int nd = (int)strlen(digits), decpt = exp + 1, k = 0, i;

	if (neg)
		b[k++] = '-';
	if (exp < -4 || exp >= 16) {
		b[k++] = digits[0];
		if (nd > 1)
			k += sprintf(b + k, ".%s", digits + 1);
		return (size_t)(k + sprintf(b + k, "e%+.02d", exp));
	}
	if (decpt <= 0) {
		k += sprintf(b + k, "0.");
		for (i = 0; i < -decpt; i++)
			b[k++] = '0';
		return (size_t)(k + sprintf(b + k, "%s", digits));
	}
	for (i = 0; i < decpt || i < nd; i++) {
		if (i == decpt)
			b[k++] = '.';
		b[k++] = i < nd ? digits[i] : '0';
	}
	if (decpt >= nd)
		k += sprintf(b + k, ".0");
	b[k] = '\0';
	return (size_t)k;
}

size_t ps_repr_float(double v, char *out, size_t outcap)
{
	char b[PS_FLOAT_REPR_MAX], digits[20];
	size_t len;
	int exp;

	if (isnan(v))
		len = (size_t)sprintf(b, "nan");
	else if (isinf(v))
		len = (size_t)sprintf(b, v < 0 ? "-inf" : "inf");
	else if (v == 0)
		len = (size_t)sprintf(b, signbit(v) ? "-0.0" : "0.0");
	else {
		exp = float_digits(v < 0 ? -v : v, digits);
		len = float_layout(signbit(v) != 0, digits, exp, b);
	}
	if (!outcap)
		return 0;
	/* a cut number would be a different number: all or nothing */
	if (len >= outcap)
		len = 0;
	memcpy(out, b, len);
	out[len] = '\0';
	return len;
}

/* ---- JSON ------------------------------------------------------------- */

/* One code point inside a JSON string. Beyond what RFC 8259 requires
 * (quote, backslash, C0 controls) this also escapes DEL and the C1
 * controls, which terminals act on, and < > & U+2028 U+2029, so the JSON
 * can sit inside HTML <script> or be eval'd as JavaScript unchanged. */
static void json_char(FILE *f, uint32_t cp)
{
	char b[4];

	switch (cp) {
	case '"': fputs("\\\"", f); return;
	case '\\': fputs("\\\\", f); return;
	case '\b': fputs("\\b", f); return;
	case '\f': fputs("\\f", f); return;
	case '\n': fputs("\\n", f); return;
	case '\r': fputs("\\r", f); return;
	case '\t': fputs("\\t", f); return;
	}
	if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == '<' || cp == '>' ||
	    cp == '&' || cp == 0x2028 || cp == 0x2029) {
		fprintf(f, "\\u%04x", (unsigned)cp);
		return;
	}
	fwrite(b, 1, utf8_encode(cp, b), f);
}

void ps_json_string(FILE *f, const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;

	putc('"', f);
	while (i < n) {
		uint32_t cp;

		i += utf8_decode(u + i, n - i, &cp);
		json_char(f, cp);
	}
	putc('"', f);
}

size_t ps_text_scrub(char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xc2 && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f) {
			s[o++] = '?';
			i++;
		} else {
			s[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	s[o] = '\0';
	return o;
}
