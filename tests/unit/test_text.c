/* Text: decoding to UTF-8, Python reprs, JSON strings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_text.h"

/* ---- ps_ucs_to_utf8 ---------------------------------------------------- */

static void check_ucs(int width, const void *data, size_t n, size_t cap,
		      const char *want, int want_trunc)
{
	char out[64];
	int trunc = -1;
	size_t len;

	memset(out, 'Z', sizeof(out));
	len = ps_ucs_to_utf8(width, data, n, out, cap, &trunc);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(trunc, want_trunc);
}

static void test_ucs1(void **state)
{
	static const uint8_t cafe[] = { 'c', 'a', 'f', 0xE9, 0x00, 0xFF };

	(void)state;
	check_ucs(1, cafe, 4, 64, "caf\xC3\xA9", 0);
	check_ucs(1, cafe + 5, 1, 64, "\xC3\xBF", 0);
	check_ucs(1, NULL, 0, 64, "", 0);
	check_ucs(3, cafe, 4, 64, "", 0);	/* no such width */
	/* é needs 2 bytes: with room for 1 it is left out whole */
	check_ucs(1, cafe, 4, 5, "caf", 1);
	check_ucs(1, cafe, 4, 6, "caf\xC3\xA9", 0);
	check_ucs(1, cafe, 4, 1, "", 1);
}

static void test_ucs2(void **state)
{
	/* U+20AC, a surrogate pair for U+1F600, a lone low surrogate, a high
	 * surrogate before a non-surrogate, then a high one at the end */
	static const uint16_t s[] = { 0x20AC, 0xD83D, 0xDE00, 0xDC00,
				      0xD800, 'x', 0xDBFF };
	uint8_t odd[1 + sizeof(s)];

	(void)state;
	check_ucs(2, s, 7, 64,
		  "\xE2\x82\xAC" "\xF0\x9F\x98\x80" "\xEF\xBF\xBD"
		  "\xEF\xBF\xBD" "x" "\xEF\xBF\xBD", 0);
	/* never half a character: 3 + 4 bytes need outcap 8 */
	check_ucs(2, s, 3, 8, "\xE2\x82\xAC\xF0\x9F\x98\x80", 0);
	check_ucs(2, s, 3, 7, "\xE2\x82\xAC", 1);
	check_ucs(2, s, 3, 4, "\xE2\x82\xAC", 1);
	check_ucs(2, s, 3, 3, "", 1);
	/* target data need not be aligned */
	memcpy(odd + 1, s, sizeof(s));
	check_ucs(2, odd + 1, 1, 64, "\xE2\x82\xAC", 0);
}

static void test_ucs4(void **state)
{
	static const uint32_t s[] = { 'A', 0x1F600, 0xD800, 0xDFFF, 0x10FFFF,
				      0x110000, 0xFFFFFFFF };
	uint8_t odd[3 + sizeof(s)];

	(void)state;
	check_ucs(4, s, 7, 64,
		  "A\xF0\x9F\x98\x80\xEF\xBF\xBD\xEF\xBF\xBD\xF4\x8F\xBF\xBF"
		  "\xEF\xBF\xBD\xEF\xBF\xBD", 0);
	check_ucs(4, s, 2, 5, "A", 1);
	memcpy(odd + 3, s, sizeof(s));
	check_ucs(4, odd + 3, 2, 64, "A\xF0\x9F\x98\x80", 0);
}

/* ---- ps_utf8_sanitize -------------------------------------------------- */

#define FFFD "\xEF\xBF\xBD"

static void check_utf8(const char *in, size_t n, size_t cap, const char *want,
		       size_t want_len, int want_trunc)
{
	char out[64];
	int trunc = -1;
	size_t len;

	len = ps_utf8_sanitize(in, n, out, cap, &trunc);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	assert_int_equal(out[len], '\0');
	assert_int_equal(trunc, want_trunc);
}
#define UTF8(in, want) \
	check_utf8(in, sizeof(in) - 1, 64, want, sizeof(want) - 1, 0)

/* Expected values are what bytes.decode('utf-8', 'replace') gives on
 * Python 3.13 (one U+FFFD per maximal subpart). */
static void test_utf8_sanitize(void **state)
{
	(void)state;
	UTF8("", "");
	UTF8("plain", "plain");
	UTF8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
	     "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
	UTF8("a\0b", "a\0b");			/* NUL is valid UTF-8 */
	UTF8("\xC0\x80", FFFD FFFD);		/* overlong NUL */
	UTF8("\xC1\xBF", FFFD FFFD);
	UTF8("\xE0\x80\x80", FFFD FFFD FFFD);	/* overlong, 3 bytes */
	UTF8("\xE0\x9F\xBF", FFFD FFFD FFFD);
	UTF8("\xF0\x8F\xBF\xBF", FFFD FFFD FFFD FFFD);
	UTF8("\xED\xA0\x80", FFFD FFFD FFFD);	/* surrogate U+D800 */
	UTF8("\xED\x9F\xBF", "\xED\x9F\xBF");	/* U+D7FF is fine */
	UTF8("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* > U+10FFFF */
	UTF8("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF");
	UTF8("\xE2\x82", FFFD);			/* truncated: one */
	UTF8("\xE2\x82x", FFFD "x");
	UTF8("\xF0\x9F\x98" "A", FFFD "A");
	UTF8("\x80\xBF", FFFD FFFD);		/* lone continuations */
	UTF8("\xF5\xFE\xFF", FFFD FFFD FFFD);
	UTF8("\xC3" "\xC3\xA9", FFFD "\xC3\xA9");
}

static void test_utf8_truncation(void **state)
{
	static const char in[] = "ab\xC3\xA9\xFF";

	(void)state;
	check_utf8(in, 5, 64, "ab\xC3\xA9" FFFD, 7, 0);
	check_utf8(in, 5, 8, "ab\xC3\xA9" FFFD, 7, 0);
	check_utf8(in, 5, 7, "ab\xC3\xA9", 4, 1);	/* FFFD whole or not */
	check_utf8(in, 5, 4, "ab", 2, 1);
	check_utf8(in, 5, 1, "", 0, 1);
	check_utf8(NULL, 0, 1, "", 0, 0);
}

/* ---- ps_repr_str / ps_repr_bytes ---------------------------------------- */

static void check_repr_str(const char *in, size_t n, size_t cap,
			   const char *want)
{
	char out[128];
	size_t len;

	memset(out, 'Z', sizeof(out));
	len = ps_repr_str(in, n, out, cap);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
}
#define REPR(in, want) check_repr_str(in, sizeof(in) - 1, 128, want)

/* Expected values are Python 3.13's repr() of in.decode('utf-8'). */
static void test_repr_str(void **state)
{
	(void)state;
	REPR("", "''");
	REPR("abc", "'abc'");
	REPR("it's", "\"it's\"");
	REPR("say \"hi\"", "'say \"hi\"'");
	REPR("both ' and \"", "'both \\' and \"'");
	REPR("back\\slash", "'back\\\\slash'");
	REPR("a\tb\nc\rd", "'a\\tb\\nc\\rd'");
	REPR("\0\x01\x1f\x7f", "'\\x00\\x01\\x1f\\x7f'");
	REPR("\xC2\x80\xC2\x9F\xC2\xA0\xC2\xAD", "'\\x80\\x9f\\xa0\\xad'");
	REPR("caf\xC3\xA9 \xE2\x98\x83 \xF0\x9F\x98\x80",
	     "'caf\xC3\xA9 \xE2\x98\x83 \xF0\x9F\x98\x80'");
	REPR("\xE2\x80\xA8\xE2\x80\x8B", "'\\u2028\\u200b'");
	REPR("\xEF\xBB\xBF\xEF\xBF\xBE\xEE\x80\x80", "'\\ufeff\\ufffe\\ue000'");
	REPR("\xF3\xB0\x80\x80\xF3\xA0\x80\x81", "'\\U000f0000\\U000e0001'");
	REPR("\xE3\x80\x80", "'\\u3000'");	/* ideographic space */
	/* invalid UTF-8 reads as U+FFFD, which is printable */
	REPR("a\xFF", "'a" FFFD "'");
}

static void test_repr_str_cut(void **state)
{
	char out[16];

	(void)state;
	check_repr_str("abcdef", 6, 9, "'abcdef'");	/* exact fit */
	check_repr_str("abcdef", 6, 8, "'ab'...");
	check_repr_str("abcdef", 6, 7, "'a'...");
	check_repr_str("abcdef", 6, 6, "''...");
	check_repr_str("abcdef", 6, 5, "...");
	check_repr_str("abcdef", 6, 3, "..");
	check_repr_str("abcdef", 6, 1, "");
	/* an escape is never split */
	check_repr_str("\n\n\n", 3, 8, "'\\n'...");
	check_repr_str("\n\n\n", 3, 7, "''...");
	/* nor a character */
	check_repr_str("\xC3\xA9\xC3\xA9\xC3\xA9", 6, 8, "'\xC3\xA9'...");
	check_repr_str("\xC3\xA9\xC3\xA9\xC3\xA9", 6, 7, "''...");
	/* the quote choice is the full text's */
	check_repr_str("abcd'", 5, 7, "\"a\"...");
	/* outcap 0: nothing written at all */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(ps_repr_str("abc", 3, out, 0), 0);
	assert_int_equal(out[0], 'Z');
}

static void check_repr_bytes(const void *in, size_t n, size_t cap,
			     const char *want)
{
	char out[128];

	assert_int_equal(ps_repr_bytes(in, n, out, cap), strlen(want));
	assert_string_equal(out, want);
}
#define BREPR(in, want) check_repr_bytes(in, sizeof(in) - 1, 128, want)

/* Expected values are Python 3.13's repr() of the bytes. */
static void test_repr_bytes(void **state)
{
	(void)state;
	BREPR("", "b''");
	BREPR("abc", "b'abc'");
	BREPR("it's", "b\"it's\"");
	BREPR("'\"", "b'\\'\"'");
	BREPR("\t\n\r\\", "b'\\t\\n\\r\\\\'");
	BREPR("\0\x1f \x7e\x7f\x80\xff", "b'\\x00\\x1f ~\\x7f\\x80\\xff'");
	BREPR("\xC3\xA9", "b'\\xc3\\xa9'");
	check_repr_bytes("abcdef", 6, 9, "b'ab'...");
	check_repr_bytes("\xff\xff", 2, 9, "b''...");
	check_repr_bytes("\xff\xff", 2, 11, "b'\\xff'...");
	check_repr_bytes("abcdef", 6, 6, "...");
}

/* ---- ps_repr_float ------------------------------------------------------- */

/* Generated with Python 3.13.0:
 *   for v in [0.1, 1e16, ...]: print('{ %s, "%s" },' % (v.hex(), repr(v)))
 * (/root/.pyenv/versions/3.13.0/bin/python; the hex literal is the exact
 * double, the string its repr). */
static const struct {
	double v;
	const char *repr;
} float_reprs[] = {
	{ 0x1.999999999999ap-4, "0.1" },
	{ 0x1.1c37937e08000p+53, "1e+16" },
	{ 0x1.c6bf526340000p+49, "1000000000000000.0" },
	{ 0x1.d6f3454000000p+26, "123456789.0" },
	{ 0x1.4f8b588e368f1p-17, "1e-05" },
	{ 0x1.a36e2eb1c432dp-14, "0.0001" },
	{ 0x0.0000000000001p-1022, "5e-324" },
	{ 0x1.fffffffffffffp+1023, "1.7976931348623157e+308" },
	{ 0x1.4000000000000p+1, "2.5" },
	{ -0x0.0p+0, "-0.0" },
	{ 0x0.0p+0, "0.0" },
	{ 0x1.5555555555555p-2, "0.3333333333333333" },
	{ 0x1.5555555555555p-1, "0.6666666666666666" },
	{ 0x1.3333333333334p-2, "0.30000000000000004" },
	{ 0x1.0000000000000p+0, "1.0" },
	{ -0x1.0000000000000p+0, "-1.0" },
	{ 0x1.9000000000000p+6, "100.0" },
	{ 0x1.0f0cf064dd592p+73, "1e+22" },
	{ 0x1.52d02c7e14af6p+76, "1e+23" },
	{ 0x1.0000000000000p+53, "9007199254740992.0" },
	{ 0x1.0000000000000p+63, "9.223372036854776e+18" },
	{ 0x1.1c37937e07fffp+53, "9999999999999998.0" },
	{ 0x1.a36e2eb1c432cp-14, "9.999999999999999e-05" },
	{ 0x1.0624dd2f1a9fcp-10, "0.001" },
	{ 0x1.49da7e361ce4cp-33, "1.5e-10" },
	{ -0x1.49da7e361ce4cp-33, "-1.5e-10" },
	{ 0x1.edd2f1a9fbe77p+6, "123.456" },
	{ 0x1.0000000000000p-1022, "2.2250738585072014e-308" },
	/* a power of two whose nearest 16-digit decimal does not round-trip
	 * but the next one up does */
	{ 0x1.0000000000000p-1017, "7.120236347223045e-307" },
	{ 0x0.0000000000003p-1022, "1.5e-323" },
	{ 0x1.5555555555555p+1022, "5.992310449541053e+307" },
	{ 0x1.18b54f22aeb03p+50, "1234567890123456.8" },
	{ 0x1.5ee2a2eb5a5c4p+53, "1.2345678901234568e+16" },
	{ 0x1.921fb54442d18p+1, "3.141592653589793" },
	{ -0x1.5bf0a8b145769p+1, "-2.718281828459045" },
	{ 0x1.249ad2594c37dp+332, "1e+100" },
	{ 0x1.bff2ee48e0530p-333, "1e-100" },
	{ 0x1.8e757928e0c9ep-14, "9.5e-05" },
	{ 0x1.7d78400000000p+26, "100000000.0" },
};

static void test_repr_float_table(void **state)
{
	char out[PS_FLOAT_REPR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(float_reprs) / sizeof(float_reprs[0]); i++) {
		size_t len = ps_repr_float(float_reprs[i].v, out, sizeof(out));

		assert_string_equal(out, float_reprs[i].repr);
		assert_int_equal(len, strlen(float_reprs[i].repr));
	}
}

static void test_repr_float_special(void **state)
{
	char out[PS_FLOAT_REPR_MAX];

	(void)state;
	ps_repr_float(INFINITY, out, sizeof(out));
	assert_string_equal(out, "inf");
	ps_repr_float(-INFINITY, out, sizeof(out));
	assert_string_equal(out, "-inf");
	ps_repr_float(NAN, out, sizeof(out));
	assert_string_equal(out, "nan");
	ps_repr_float(-NAN, out, sizeof(out));	/* Python drops the sign */
	assert_string_equal(out, "nan");
	/* all or nothing: a cut number would be another number */
	assert_int_equal(ps_repr_float(0.1, out, 4), 3);
	assert_string_equal(out, "0.1");
	assert_int_equal(ps_repr_float(0.1, out, 3), 0);
	assert_string_equal(out, "");
	memset(out, 'Z', sizeof(out));
	assert_int_equal(ps_repr_float(0.1, out, 0), 0);
	assert_int_equal(out[0], 'Z');
	/* the longest repr fits PS_FLOAT_REPR_MAX */
	assert_int_equal(ps_repr_float(-0x1.0000000000001p-1022, out,
				       sizeof(out)),
			 strlen("-2.225073858507202e-308"));
}

/* Shortest and round-trips, on a spread of values: the defining property,
 * whatever the layout. */
static void test_repr_float_roundtrip(void **state)
{
	char out[PS_FLOAT_REPR_MAX];
	uint64_t x = 0x243F6A8885A308D3ull;
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		double v;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(&v, &x, sizeof(v));
		if (!isfinite(v))
			continue;
		assert_true(ps_repr_float(v, out, sizeof(out)) > 0);
		assert_true(strtod(out, NULL) == v);
	}
}

/* ---- ps_json_string ------------------------------------------------------ */

static void check_json(const char *in, size_t n, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	ps_json_string(f, in, n);
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
}
#define JSON(in, want) check_json(in, sizeof(in) - 1, want)

static void test_json_string(void **state)
{
	(void)state;
	JSON("", "\"\"");
	JSON("plain text", "\"plain text\"");
	JSON("q\"b\\s/", "\"q\\\"b\\\\s/\"");
	JSON("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	JSON("\0\x01\x1f\x7f", "\"\\u0000\\u0001\\u001f\\u007f\"");
	JSON("\xC2\x85", "\"\\u0085\"");		/* C1 control */
	JSON("</script><!--&", "\"\\u003c/script\\u003e\\u003c!--\\u0026\"");
	JSON("\xE2\x80\xA8\xE2\x80\xA9", "\"\\u2028\\u2029\"");
	JSON("caf\xC3\xA9 \xF0\x9F\x98\x80",
	     "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
	JSON("a\xFF" "b\xED\xA0\x80", "\"a" FFFD "b" FFFD FFFD FFFD "\"");
	check_json(NULL, 0, "\"\"");
}

/* Names printed on a terminal: C0, DEL and C1 controls become '?', the
 * rest of UTF-8 (accents, CJK, emoji) is kept. */
static void test_scrub_controls(void **state)
{
	(void)state;
	char s[] = "a\x1b[2Jb\x07\x7f\xc2\x9b" "31m\xc2\xa0\xc3\xa9\xe6\x97\xa5\nend";
	size_t n = ps_text_scrub(s);
	assert_string_equal(s, "a?[2Jb???31m\xc2\xa0\xc3\xa9\xe6\x97\xa5?end");
	assert_int_equal(n, strlen(s));
	char e[] = "";
	assert_int_equal(ps_text_scrub(e), 0);
	char cut[] = "x\xc2";   /* a lead byte at the end stays as it is */
	assert_int_equal(ps_text_scrub(cut), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ucs1),
		cmocka_unit_test(test_ucs2),
		cmocka_unit_test(test_ucs4),
		cmocka_unit_test(test_utf8_sanitize),
		cmocka_unit_test(test_utf8_truncation),
		cmocka_unit_test(test_repr_str),
		cmocka_unit_test(test_repr_str_cut),
		cmocka_unit_test(test_repr_bytes),
		cmocka_unit_test(test_repr_float_table),
		cmocka_unit_test(test_repr_float_special),
		cmocka_unit_test(test_repr_float_roundtrip),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_scrub_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
