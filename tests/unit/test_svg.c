/* Flame graph SVG (lib/ps_svg): layout, reverse layout, thin frames,
 * escaping of hostile names (checked for well-formedness here, and by
 * xmllint when it is installed), colours, the subtitle, and trees built
 * from a sample stream.
 *
 *   test_svg                        run the tests
 *   test_svg --bench [DIR [N [K [bushy]]]]
 *       time N samples (default 1000000) over K distinct stacks (default
 *       30000; "bushy": the worst case, see bench_write): write the stream,
 *       read and aggregate it, write the SVG; keeps DIR/svg_bench.pss and
 *       DIR/svg_bench.svg when DIR is given ("-": none) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ps_error.h"
#include "ps_filter.h"
#include "ps_stream.h"
#include "ps_svg.h"

#include "mem_sink.h"

/* ---- helpers ----------------------------------------------------------- */

/* Add "a;b;c" (frames split at ';') with count samples. */
static void add(struct ps_svg_tree *t, const char *folded, uint64_t count, unsigned flags)
{
	struct ps_svg_frame fr[64];
	char *copy = strdup(folded), *save = NULL;
	size_t n = 0;
	assert_non_null(copy);
	for (char *p = strtok_r(copy, ";", &save); p && n < 64; p = strtok_r(NULL, ";", &save))
		fr[n++] = (struct ps_svg_frame){ p, "app.py", PS_SVG_PYTHON };
	assert_int_equal(ps_svg_tree_add(t, fr, n, count, flags), PS_OK);
	free(copy);
}

static const struct ps_svg_box *find(const struct ps_svg_layout *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->box[i].name, name) == 0)
			return &l->box[i];
	return NULL;
}

/* The document as a string (caller frees). */
static char *render(const struct ps_svg_tree *t, const struct ps_svg_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(ps_svg_write(t, o, f), PS_OK);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static size_t count_of(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* ---- a small XML well-formedness checker ------------------------------ */

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == ':' || c == '-' || c == '.';
}

/* A reference at s ("&...;"): its length, 0 when it is not a valid one. */
static size_t reference(const char *s)
{
	static const char *const named[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
	for (size_t i = 0; i < 5; i++)
		if (strncmp(s, named[i], strlen(named[i])) == 0)
			return strlen(named[i]);
	if (s[1] != '#')
		return 0;
	size_t i = 2, digits = 0;
	int hexa = s[2] == 'x';
	for (i += hexa; s[i] && s[i] != ';'; i++, digits++)
		if (!(s[i] >= '0' && s[i] <= '9') &&
		    !(hexa && ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))))
			return 0;
	return s[i] == ';' && digits ? i + 1 : 0;
}

/* Valid UTF-8 without control characters other than \t \n \r. */
static int clean_utf8(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;
	while (*s) {
		unsigned c = *s, k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
			: (c & 0xF8) == 0xF0 ? 4 : 0;
		if (!k || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
			return 0;
		for (unsigned i = 1; i < k; i++)
			if ((s[i] & 0xC0) != 0x80)
				return 0;
		if (k == 2 && c < 0xC2)
			return 0;
		s += k;
	}
	return 1;
}

/* NULL when s is a well-formed document, else what is wrong. */
static const char *xml_check(const char *s)
{
	static char why[160];
	const char *stack[256];
	size_t depth = 0, roots = 0;
	if (!clean_utf8(s))
		return "not clean UTF-8";
	if (strncmp(s, "<?xml", 5) == 0)
		s = strstr(s, "?>") + 2;
	while (*s) {
		if (strncmp(s, "<!--", 4) == 0) {
			const char *e = strstr(s + 4, "-->");
			if (!e)
				return "unterminated comment";
			s = e + 3;
		} else if (strncmp(s, "<![CDATA[", 9) == 0) {
			const char *e = strstr(s, "]]>");
			if (!e || !depth)
				return "bad CDATA";
			s = e + 3;
		} else if (s[0] == '<' && s[1] == '/') {
			size_t n = 0;
			while (name_char(s[2 + n]))
				n++;
			if (!depth || strncmp(stack[depth - 1], s + 2, n) != 0 ||
			    name_char(stack[depth - 1][n]))
				return snprintf(why, sizeof(why), "mismatched </%.*s>", (int)n, s + 2), why;
			depth--;
			s += 2 + n;
			if (*s++ != '>')
				return "bad end tag";
		} else if (s[0] == '<') {
			const char *name = ++s;
			while (name_char(*s))
				s++;
			if (s == name)
				return "bad tag name";
			for (;;) {
				while (*s == ' ' || *s == '\n' || *s == '\t')
					s++;
				if (s[0] == '/' && s[1] == '>') {
					s += 2;
					roots += !depth;
					break;
				}
				if (*s == '>') {
					s++;
					if (!depth)
						roots++;
					if (depth == 256)
						return "too deep";
					stack[depth++] = name;
					break;
				}
				const char *an = s;
				while (name_char(*s))
					s++;
				if (s == an || *s++ != '=' || (*s != '"' && *s != '\''))
					return "bad attribute";
				if (an[0] == 'o' && an[1] == 'n')
					return "an event handler attribute"; /* we write none */
				char q = *s++;
				for (; *s != q; s++) {
					if (!*s || *s == '<')
						return "bad attribute value";
					if (*s == '&' && !reference(s))
						return "bad reference in attribute";
				}
				s++;
			}
		} else {
			if (*s == '&' && !reference(s))
				return "bad reference in text";
			if (strncmp(s, "]]>", 3) == 0)
				return "]]> in text";
			if (!depth && *s != '\n' && *s != ' ')
				return "text outside the root";
			s++;
		}
	}
	if (depth)
		return "unclosed element";
	return roots == 1 ? NULL : "not one root element";
}

/* xmllint's verdict when it is installed: 1 well-formed, 0 not, -1 absent. */
static int xmllint(const char *doc)
{
	char path[] = "/tmp/test_svg_XXXXXX", cmd[128];
	if (system("command -v xmllint >/dev/null 2>&1") != 0)
		return -1;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
	close(fd);
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s 2>&1", path);
	int rc = system(cmd);
	unlink(path);
	return rc == 0;
}

static void test_xml_checker(void **state)
{
	(void)state;
	assert_null(xml_check("<a x=\"1&amp;\"><b/>t&#60;<![CDATA[<&]]></a>\n"));
	assert_non_null(xml_check("<a><b></a></b>"));
	assert_non_null(xml_check("<a>&nope;</a>"));
	assert_non_null(xml_check("<a x=\"<\"/>"));
	assert_non_null(xml_check("<a>]]></a>"));
	assert_non_null(xml_check("<a>\x01</a>"));
	assert_non_null(xml_check("<a>\xff</a>"));
	assert_non_null(xml_check("<a/><b/>"));
	assert_non_null(xml_check("<a onload=\"x\"/>"));
}

/* ---- layout ------------------------------------------------------------ */

/* Every box inside its parent, one row above it, and no wider than it. */
static void check_nesting(const struct ps_svg_layout *l, int reverse)
{
	assert_true(l->n > 0);
	assert_int_equal(l->box[0].depth, 0);
	for (size_t i = 1; i < l->n; i++) {
		const struct ps_svg_box *b = &l->box[i], *p = &l->box[b->parent];
		assert_true(b->parent < i);
		assert_int_equal(b->depth, p->depth + 1);
		assert_true(b->x >= p->x - 1e-9);
		assert_true(b->x + b->w <= p->x + p->w + 1e-9);
		assert_true(b->samples <= p->samples);
		assert_true(b->y == (reverse ? p->y + 16 : p->y - 16));
	}
}

static void test_layout(void **state)
{
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	struct ps_svg_layout l;
	(void)state;
	ps_svg_opts_init(&o);
	add(t, "d", 60, 0);
	add(t, "a;c", 10, 0);
	add(t, "a;b", 30, 0);
	assert_int_equal(ps_svg_tree_total(t), 100);
	assert_int_equal(ps_svg_layout(t, &o, &l), PS_OK);
	assert_int_equal(l.n, 5);
	assert_true(l.width == 1200);
	check_nesting(&l, 0);
	/* the root spans the full width; widths proportional to samples */
	assert_string_equal(l.box[0].name, "all");
	assert_true(l.box[0].x == 10 && l.box[0].w == 1180);
	assert_true(find(&l, "a")->w == 472);
	assert_true(find(&l, "b")->w == 354);
	assert_true(find(&l, "c")->w == 118);
	assert_true(find(&l, "d")->w == 708);
	/* children ordered by text, from the parent's left edge */
	assert_true(find(&l, "a")->x == 10 && find(&l, "d")->x == 482);
	assert_true(find(&l, "b")->x == 10 && find(&l, "c")->x == 364);
	/* depth-first: a, its children, then d */
	assert_string_equal(l.box[1].name, "a");
	assert_string_equal(l.box[2].name, "b");
	assert_string_equal(l.box[4].name, "d");
	/* root at the bottom */
	assert_int_equal(l.depth, 2);
	assert_true(l.box[0].y > find(&l, "a")->y);
	assert_true(l.box[0].y + 16 <= l.height - 30);
	ps_svg_layout_release(&l);

	/* a narrower image scales everything */
	o.width = 600;
	assert_int_equal(ps_svg_layout(t, &o, &l), PS_OK);
	assert_true(l.box[0].w == 580 && find(&l, "d")->w == 348);
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);
}

static void test_layout_rounding(void **state)
{
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	struct ps_svg_layout l;
	char name[32];
	(void)state;
	ps_svg_opts_init(&o);
	o.min_width = 0;
	/* 7 children of 3 samples under one of 21 + 2 of self time: thirds of px */
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "p;c%d", i);
		add(t, name, 3, 0);
	}
	add(t, "p", 2, 0);
	add(t, "q", 977, 0);
	assert_int_equal(ps_svg_layout(t, &o, &l), PS_OK);
	check_nesting(&l, 0);
	for (size_t i = 0; i < l.n; i++) { /* rounded to 0.1 px */
		double x10 = l.box[i].x * 10, w10 = l.box[i].w * 10;
		assert_true(x10 - (long)(x10 + 0.5) < 1e-6 && x10 - (long)(x10 + 0.5) > -1e-6);
		assert_true(w10 - (long)(w10 + 0.5) < 1e-6 && w10 - (long)(w10 + 0.5) > -1e-6);
	}
	/* siblings touch without overlapping */
	for (int i = 0; i + 1 < 7; i++) {
		char a[8], b[8];
		snprintf(a, sizeof(a), "c%d", i);
		snprintf(b, sizeof(b), "c%d", i + 1);
		double end = find(&l, a)->x + find(&l, a)->w;
		assert_true(end - find(&l, b)->x < 1e-9 && find(&l, b)->x - end < 1e-9);
	}
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);
}

static void test_min_width(void **state)
{
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	struct ps_svg_layout l;
	(void)state;
	ps_svg_opts_init(&o);
	add(t, "a;b", 1000, 0);
	add(t, "a;thin;deep;deeper", 1, 0); /* 1.18 px */
	o.min_width = 2;
	assert_int_equal(ps_svg_layout(t, &o, &l), PS_OK);
	check_nesting(&l, 0);
	assert_int_equal(l.n, 3);
	assert_null(find(&l, "thin"));
	assert_null(find(&l, "deep")); /* dropped with its parent */
	assert_int_equal(l.depth, 2);
	/* the parent keeps its full width: its samples include the thin one's */
	assert_true(find(&l, "a")->w == 1180);
	assert_int_equal(find(&l, "a")->samples, 1001);
	assert_true(find(&l, "b")->w < 1180);
	ps_svg_layout_release(&l);

	o.min_width = 0.1; /* the default keeps it */
	assert_int_equal(ps_svg_layout(t, &o, &l), PS_OK);
	assert_int_equal(l.n, 6);
	assert_non_null(find(&l, "deeper"));
	assert_int_equal(l.depth, 4);
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);
}

static void test_reverse(void **state)
{
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	struct ps_svg_layout fl, ic;
	(void)state;
	ps_svg_opts_init(&o);
	add(t, "a;b;c", 5, 0);
	add(t, "a;d", 5, 0);
	assert_int_equal(ps_svg_layout(t, &o, &fl), PS_OK);
	o.reverse = 1;
	assert_int_equal(ps_svg_layout(t, &o, &ic), PS_OK);
	check_nesting(&fl, 0);
	check_nesting(&ic, 1);
	assert_int_equal(fl.n, ic.n);
	assert_true(fl.height == ic.height);
	for (size_t i = 0; i < fl.n; i++) {
		assert_string_equal(fl.box[i].name, ic.box[i].name);
		assert_true(fl.box[i].x == ic.box[i].x && fl.box[i].w == ic.box[i].w);
		/* flipped: row d counts down from the bottom in one, up
		 * from the top in the other */
		assert_true(ic.box[i].y == 60 + 16.0 * ic.box[i].depth);
		assert_true(fl.box[i].y + ic.box[i].y == fl.box[0].y + ic.box[0].y);
	}
	assert_true(ic.box[0].y < find(&ic, "c")->y);   /* root on top */
	assert_true(fl.box[0].y > find(&fl, "c")->y);   /* root at the bottom */
	char *doc = render(t, &o);
	assert_non_null(strstr(doc, "data-reverse=\"1\""));
	assert_null(xml_check(doc));
	free(doc);
	ps_svg_layout_release(&fl);
	ps_svg_layout_release(&ic);
	ps_svg_tree_free(t);
}

static void test_deep(void **state)
{
	enum { DEPTH = 6000 };
	struct ps_svg_frame *fr = calloc(DEPTH, sizeof(*fr));
	char (*names)[16] = calloc(DEPTH, sizeof(*names));
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	struct ps_svg_layout l;
	(void)state;
	for (int i = 0; i < DEPTH; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i % 7);
		fr[i] = (struct ps_svg_frame){ names[i], NULL, PS_SVG_PYTHON };
	}
	assert_int_equal(ps_svg_tree_add(t, fr, DEPTH, 3, 0), PS_OK);
	assert_int_equal(ps_svg_tree_add(t, fr, DEPTH / 2, 1, 0), PS_OK);
	ps_svg_opts_init(&o);
	assert_int_equal(ps_svg_layout(t, &o, &l), PS_OK);
	assert_int_equal(l.n, DEPTH + 1);
	assert_int_equal(l.depth, DEPTH);
	assert_int_equal(l.box[DEPTH / 2].samples, 4);
	assert_int_equal(l.box[DEPTH / 2 + 1].samples, 3);
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);
	free(fr);
	free(names);
}

/* ---- the document ------------------------------------------------------ */

static void test_document(void **state)
{
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	(void)state;
	ps_svg_opts_init(&o);
	add(t, "main (app.py:3);work (app.py:9)", 3, 0);
	add(t, "main (app.py:3)", 1, 0);
	o.subtitle = "python app.py";
	char *doc = render(t, &o);
	assert_null(xml_check(doc));
	assert_int_not_equal(xmllint(doc), 0);
	/* the controls and hooks the browser tests use */
	static const char *const ids[] = { "id=\"pyspy\"", "id=\"reset\"", "id=\"search\"",
					   "id=\"matched\"", "id=\"details\"", "id=\"frames\"",
					   "id=\"bg\"", "window.pyspySearch",
					   "window.pyspyZoom", "window.pyspyResetZoom",
					   "window.pyspyFrames" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_non_null(strstr(doc, ids[i]));
	assert_non_null(strstr(doc, ">" PS_SVG_DEFAULT_TITLE "</text>"));
	assert_non_null(strstr(doc, ">python app.py</text>"));
	assert_int_equal(count_of(doc, "<g class=\"f\""), 3);
	assert_non_null(strstr(doc, "<g class=\"f\" data-samples=\"3\"><title>work (app.py:9)\n"
				    "3 samples, 75.00%</title><rect x=\"10\" y=\"60\" width=\"885\" "
				    "height=\"15\" fill=\"#"));
	/* one style and one script, nothing external */
	assert_int_equal(count_of(doc, "<script"), 1);
	assert_int_equal(count_of(doc, "]]>"), 2);
	assert_null(strstr(doc, "href"));
	assert_int_equal(count_of(doc, "http"), count_of(doc, "http://www.w3.org/2000/svg"));
	assert_null(strstr(doc, "url("));
	/* the same tree gives the same bytes */
	char *again = render(t, &o);
	assert_string_equal(doc, again);
	free(again);
	free(doc);
	ps_svg_tree_free(t);
}

static void test_order_independent(void **state)
{
	struct ps_svg_tree *a = ps_svg_tree_new(NULL), *b = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	(void)state;
	ps_svg_opts_init(&o);
	add(a, "x;y", 2, 0);
	add(a, "m;n", 3, 0);
	add(a, "x;z", 4, 0);
	add(b, "x;z", 4, 0);
	add(b, "m;n", 1, 0);
	add(b, "x;y", 2, 0);
	add(b, "m;n", 2, 0);
	char *da = render(a, &o), *db = render(b, &o);
	assert_string_equal(da, db);
	free(da);
	free(db);
	ps_svg_tree_free(a);
	ps_svg_tree_free(b);
}

static void test_empty(void **state)
{
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	(void)state;
	ps_svg_opts_init(&o);
	char *doc = render(t, &o);
	assert_null(xml_check(doc));
	assert_non_null(strstr(doc, "id=\"empty\""));
	assert_int_equal(count_of(doc, "class=\"f\""), 0);
	free(doc);
	ps_svg_tree_free(t);
}

static void test_label(void **state)
{
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	char big[601];
	(void)state;
	ps_svg_opts_init(&o);
	for (int i = 0; i < 300; i++) /* 300 characters of 2 bytes */
		memcpy(big + 2 * i, "\xC3\xA9", 2);
	big[600] = '\0';
	struct ps_svg_frame fr = { big, NULL, PS_SVG_PYTHON };

	/* a wide frame has its whole name; one too narrow (1.2 px) none */
	assert_int_equal(ps_svg_tree_add(t, &fr, 1, 1, 0), PS_OK);
	add(t, "short", 1000, 0);
	char *doc = render(t, &o);
	assert_null(xml_check(doc));
	assert_non_null(strstr(doc, ">short</text>"));
	char *g = strstr(doc, "<title>\xC3\xA9");
	assert_non_null(g);
	char *label = strstr(g, "<text");
	assert_true(!label || label > strstr(g, "</g>"));
	free(doc);
	ps_svg_tree_free(t);

	/* full width: (1180 - 6) / 7.2 = 163 characters, the last two ".." */
	t = ps_svg_tree_new(NULL);
	assert_int_equal(ps_svg_tree_add(t, &fr, 1, 1, 0), PS_OK);
	doc = render(t, &o);
	char *p = strstr(doc, "<title>\xC3\xA9");
	assert_non_null(p);
	p = strstr(p, "<text x=\"13\"");
	assert_non_null(p);
	p = strchr(p, '>') + 1;
	char *end = strstr(p, "</text>");
	size_t chars = 0;
	for (char *q = p; q < end; q++)
		chars += ((unsigned char)*q & 0xC0) != 0x80;
	assert_int_equal(chars, 163);
	assert_memory_equal(end - 2, "..", 2);
	free(doc);
	ps_svg_tree_free(t);
}

/* ---- escaping ---------------------------------------------------------- */

static void check_escape(const char *in, size_t n, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ps_svg_escape(f, in, n);
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
}

static void test_escape(void **state)
{
	(void)state;
	check_escape("a&b<c>d\"e'f", 11, "a&amp;b&lt;c&gt;d&quot;e&#39;f");
	check_escape("]]>", 3, "]]&gt;");
	check_escape("x\x01y\x1b\x7fz\tq\n", 9, "x?y??z?q?");
	check_escape("\xff\xfe", 2, "\xEF\xBF\xBD\xEF\xBF\xBD");     /* invalid: U+FFFD */
	check_escape("\xC2\x85\xC2\xA0", 4, "?\xC2\xA0");             /* C1 control */
	check_escape("\xEF\xBF\xBE\xEF\xBF\xBF\xEF\xBF\xBD", 9, "??\xEF\xBF\xBD");
	check_escape("\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate */
	check_escape("caf\xC3\xA9 \xE2\x82\xAC", 9, "caf\xC3\xA9 \xE2\x82\xAC");
	check_escape("a\0b", 3, "a?b");
}

static void test_hostile(void **state)
{
	static const char *const evil[] = {
		"<script>alert(1)</script>",
		"]]><script>alert(2)</script><![CDATA[",
		"x\" onload=\"alert(3)",
		"y' onclick='alert(4)",
		"&amp; &#0; &lt;",
		"bad \xff\xc0\x80 utf8 \xed\xa0\x80",
		"ctl \x01\x08\x0b\x1b\x7f \xc2\x80 \xef\xbf\xbf",
		"</g></svg><svg onload=alert(5)>",
		"<!-- -- -->",
		"\xe2\x80\xa8line\xe2\x80\xa9sep",
	};
	struct ps_svg_tree *t = ps_svg_tree_new(NULL);
	struct ps_svg_opts o;
	(void)state;
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		struct ps_svg_frame fr[2] = { { evil[i], evil[(i + 1) % 10], PS_SVG_PYTHON },
					      { evil[(i + 3) % 10], evil[i], PS_SVG_NATIVE } };
		assert_int_equal(ps_svg_tree_add(t, fr, 2, 100 + i, i & 1), PS_OK);
	}
	ps_svg_opts_init(&o);
	o.min_width = 0;
	o.title = "</text><script>alert(6)</script>\xff";
	o.subtitle = "]]> & \"' \x01";
	for (int rev = 0; rev < 2; rev++) {
		o.reverse = rev;
		char *doc = render(t, &o);
		const char *why = xml_check(doc);
		if (why)
			fail_msg("not well-formed: %s", why);
		assert_int_not_equal(xmllint(doc), 0);
		/* the one script element and its CDATA, the style's CDATA */
		assert_int_equal(count_of(doc, "<script"), 1);
		assert_int_equal(count_of(doc, "]]>"), 2);
		assert_int_equal(count_of(doc, "<![CDATA["), 2);
		assert_null(strstr(doc, "alert(1)</script>"));
		assert_non_null(strstr(doc, "&lt;script&gt;alert(1)&lt;/script&gt;"));
		assert_non_null(strstr(doc, "&amp;amp; &amp;#0; &amp;lt;"));
		assert_non_null(strstr(doc, "x&quot; onload=&quot;alert(3)"));
		assert_non_null(strstr(doc, "y&#39; onclick=&#39;alert(4)"));
		assert_non_null(strstr(doc, "&lt;/g&gt;&lt;/svg&gt;&lt;svg onload=alert(5)&gt;"));
		assert_non_null(strstr(doc, "bad \xEF\xBF\xBD"));
		assert_non_null(strstr(doc, "ctl ????? ? ?"));
		/* the script comes last and is the generator's own */
		const char *script = strstr(doc, "<script");
		assert_non_null(strstr(script, "window.pyspyConfig = { fh: 16"));
		assert_null(strstr(script, "alert"));
		free(doc);
	}
	ps_svg_tree_free(t);
}

/* ---- colours and the subtitle ------------------------------------------ */

static void rgb(const char *hex, int *r, int *g, int *b)
{
	assert_int_equal(strlen(hex), 7);
	assert_int_equal(sscanf(hex, "#%2x%2x%2x", (unsigned *)r, (unsigned *)g, (unsigned *)b), 3);
}

static void test_colors(void **state)
{
	char a[8], b[8], key[64];
	int r, g, bl;
	(void)state;
	for (int mode = PS_SVG_COLORS_MODULE; mode <= PS_SVG_COLORS_MONO; mode++) {
		/* deterministic */
		ps_svg_color(mode, "parse (app.py:3)", "app.py", PS_SVG_PYTHON, 0, a);
		ps_svg_color(mode, "parse (app.py:3)", "app.py", PS_SVG_PYTHON, 0, b);
		assert_string_equal(a, b);
		/* warm: red >= green >= blue (hot: flamegraph.pl's ranges) */
		rgb(a, &r, &g, &bl);
		if (mode == PS_SVG_COLORS_HOT)
			assert_true(r >= 205 && g <= 230 && bl <= 55);
		else
			assert_true(r >= g && g >= bl);
		/* idle grey, native blue, in every mode */
		ps_svg_color(mode, "wait", "threading.py", PS_SVG_PYTHON, 1, a);
		rgb(a, &r, &g, &bl);
		assert_true(r == g && g == bl && r > 150);
		ps_svg_color(mode, "memcpy", NULL, PS_SVG_NATIVE, 0, a);
		rgb(a, &r, &g, &bl);
		assert_true(bl > r && bl > g);
	}
	/* module colours: the hue follows the module, the shade the function */
	const char *mods[] = { "app.py", "lib/x.py", "numpy", "requests", "json/decoder.py" };
	for (int i = 0; i < 5; i++) {
		for (int j = 0; j < 20; j++) {
			char fn[16];
			snprintf(fn, sizeof(fn), "f%d", j);
			ps_svg_color(PS_SVG_COLORS_MODULE, fn, mods[i], PS_SVG_PYTHON, 0, a);
			rgb(a, &r, &g, &bl);
			assert_true(r >= g && g >= bl && r > 180);
		}
	}
	/* hot: flamegraph.pl's ranges */
	ps_svg_color(PS_SVG_COLORS_HOT, "anything", NULL, PS_SVG_PYTHON, 0, a);
	rgb(a, &r, &g, &bl);
	assert_true(r >= 205 && g <= 230 && bl <= 55);

	assert_string_equal(ps_svg_module_key("/usr/lib/python3/dist-packages/numpy/core/a.py",
					      key, sizeof(key)), "numpy");
	assert_string_equal(ps_svg_module_key("/v/lib/python3.11/site-packages/six.py", key,
					      sizeof(key)), "six");
	assert_string_equal(ps_svg_module_key("/srv/app/main.py", key, sizeof(key)),
			    "/srv/app/main.py");
	assert_string_equal(ps_svg_module_key("site-packages/", key, sizeof(key)),
			    "site-packages/");
	assert_string_equal(ps_svg_module_key("/srv/app/main.py", key, 5), "/srv");

	enum ps_svg_colors c;
	assert_int_equal(ps_svg_parse_colors("hot", &c), PS_OK);
	assert_int_equal(c, PS_SVG_COLORS_HOT);
	assert_int_equal(ps_svg_parse_colors("mono", &c), PS_OK);
	assert_int_equal(c, PS_SVG_COLORS_MONO);
	assert_int_equal(ps_svg_parse_colors("module", &c), PS_OK);
	assert_int_equal(c, PS_SVG_COLORS_MODULE);
	assert_int_equal(ps_svg_parse_colors("rainbow", &c), PS_EINVAL);
}

static void test_subtitle(void **state)
{
	static const char *const argv[] = { "python", "app.py", "--x" };
	struct ps_stream_header h = { .argc = 3, .argv = argv, .python_version = "3.11.7",
				      .rate_hz = 100 };
	char buf[256];
	(void)state;
	assert_string_equal(ps_svg_subtitle(buf, sizeof(buf), &h, 5000000000ull, 500, 100),
			    "python app.py --x \xC2\xB7 Python 3.11.7 \xC2\xB7 5.0 s \xC2\xB7 "
			    "500 samples \xC2\xB7 100 Hz");
	assert_string_equal(ps_svg_subtitle(buf, sizeof(buf), &h, 0, 1, 10),
			    "python a.. \xC2\xB7 Python 3.11.7 \xC2\xB7 1 sample \xC2\xB7 100 Hz");
	assert_string_equal(ps_svg_subtitle(buf, sizeof(buf), &h, 0, 1, 17),
			    "python app.py --x \xC2\xB7 Python 3.11.7 \xC2\xB7 1 sample \xC2\xB7 100 Hz");
	assert_string_equal(ps_svg_subtitle(buf, sizeof(buf), NULL, 1500000000ull, 7, 80),
			    "1.5 s \xC2\xB7 7 samples");
	/* multi-byte characters are never split */
	static const char *const utf[] = { "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9" };
	struct ps_stream_header hu = { .argc = 1, .argv = utf };
	assert_string_equal(ps_svg_subtitle(buf, sizeof(buf), &hu, 0, 0, 4),
			    "\xC3\xA9\xC3\xA9.. \xC2\xB7 0 samples");
	/* a small buffer is cut, still terminated */
	assert_int_equal(strlen(ps_svg_subtitle(buf, 8, &h, 0, 0, 100)), 7);
}

/* ---- from a stream ----------------------------------------------------- */

#define T0 1000000000ull

/* A stream of two threads: main in a.py, a worker in native code, idle
 * samples, and a frame name with ';' and a control character. */
static void write_stream(struct sink *s)
{
	static const char *const argv[] = { "python3", "a.py" };
	struct ps_stream_header h = { .sampler = "test", .pid = 42, .argc = 2, .argv = argv,
				      .python_version = "3.12.1", .rate_hz = 100,
				      .mono_origin_ns = T0 };
	struct ps_sw *w;
	uint32_t f[5], st[4], th[2];
	struct ps_stream_frame fr[5] = {
		{ "<module>", NULL, "a.py", 10, PS_FRAME_PYTHON },
		{ "run", "Job.run", "a.py", 20, PS_FRAME_PYTHON },
		{ "run", "Job.run", "a.py", 21, PS_FRAME_PYTHON },
		{ "memcpy", NULL, "libc.so.6", 0, PS_FRAME_NATIVE },
		{ "we;ird\x01", NULL, "/x/site-packages/pkg/m.py", 7, PS_FRAME_PYTHON },
	};
	assert_int_equal(ps_sw_open_cb(sink_write, s, &h, NULL, &w, NULL), PS_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ps_sw_frame(w, &fr[i], &f[i], NULL), PS_OK);
	uint32_t p0[] = { f[0], f[1] }, p1[] = { f[0], f[2] }, p2[] = { f[0], f[1], f[3] },
		 p3[] = { f[4] };
	assert_int_equal(ps_sw_stack_path(w, p0, 2, &st[0], NULL), PS_OK);
	assert_int_equal(ps_sw_stack_path(w, p1, 2, &st[1], NULL), PS_OK);
	assert_int_equal(ps_sw_stack_path(w, p2, 3, &st[2], NULL), PS_OK);
	assert_int_equal(ps_sw_stack_path(w, p3, 1, &st[3], NULL), PS_OK);
	assert_int_equal(ps_sw_process(w, 42, 1, 2, argv, NULL), PS_OK);
	assert_int_equal(ps_sw_thread(w, 42, 100, "MainThread", &th[0], NULL), PS_OK);
	assert_int_equal(ps_sw_thread(w, 42, 101, "work<er>", &th[1], NULL), PS_OK);
	uint64_t t = T0;
	for (int i = 0; i < 6; i++) /* main: 6 at line 20, 2 at line 21 */
		assert_int_equal(ps_sw_sample(w, t += 10000000, th[0], st[0], PS_SAMPLE_GIL, NULL), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(ps_sw_sample(w, t += 10000000, th[0], st[1], PS_SAMPLE_GIL, NULL), 0);
	for (int i = 0; i < 3; i++) /* worker: 3 native, 4 idle, 1 without a stack */
		assert_int_equal(ps_sw_sample(w, t += 10000000, th[1], st[2], 0, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ps_sw_sample(w, t += 10000000, th[1], st[3], PS_SAMPLE_IDLE, NULL), 0);
	assert_int_equal(ps_sw_sample(w, t += 10000000, th[1], 0, 0, NULL), 0);
	struct ps_stream_totals tot = { .duration_ns = 160000000 };
	assert_int_equal(ps_sw_close(w, &tot, NULL), PS_OK);
}

/* Read the stream through the filter into a tree; the layout of it. */
static struct ps_svg_tree *read_tree(const struct sink *s, const struct ps_filter *f,
				     struct ps_svg_layout *l)
{
	struct ps_sr *r;
	struct ps_sr_record rec;
	struct ps_svg_tree *t = ps_svg_tree_new(f);
	struct ps_svg_opts o;
	int rc;
	assert_int_equal(ps_sr_open_mem(s->p, s->len, &r, NULL), PS_OK);
	ps_sr_resolve_frames(r, 0);
	while ((rc = ps_sr_next(r, &rec, NULL)) == PS_OK)
		if (rec.type == PS_REC_SAMPLE && ps_filter_accept(f, &rec.sample, T0))
			assert_int_equal(ps_svg_tree_sample(t, r, &rec.sample), PS_OK);
	assert_int_equal(rc, PS_STREAM_EOF);
	assert_int_equal(ps_svg_tree_resolve(t, r), PS_OK);
	assert_int_equal(ps_svg_tree_resolve(t, r), PS_OK); /* adds nothing more */
	ps_sr_free(r);
	ps_svg_opts_init(&o);
	assert_int_equal(ps_svg_layout(t, &o, l), PS_OK);
	check_nesting(l, 0);
	return t;
}

static void test_stream(void **state)
{
	struct sink s = { 0 };
	struct ps_filter f = { 0 };
	struct ps_svg_layout l;
	int r, g, b;
	(void)state;
	write_stream(&s);

	/* by default idle samples are left out, as pyspy-fold does */
	struct ps_svg_tree *t = read_tree(&s, &f, &l);
	assert_int_equal(ps_svg_tree_total(t), 11);
	/* samples the filter passed, 10 ms apart: the first at 10 ms, the
	 * stackless one at 160 ms (not drawn, but in the span) */
	assert_int_equal(ps_svg_tree_span_ns(t), 150000000);
	assert_int_equal(find(&l, "<module> (a.py:10)")->samples, 11);
	assert_int_equal(find(&l, "Job.run (a.py:20)")->samples, 9);
	assert_int_equal(find(&l, "Job.run (a.py:21)")->samples, 2);
	const struct ps_svg_box *n = find(&l, "memcpy (libc.so.6)");
	assert_non_null(n);
	assert_int_equal(n->kind, PS_SVG_NATIVE);
	rgb(n->fill, &r, &g, &b);
	assert_true(b > r);
	assert_null(find(&l, "we,ird? (/x/site-packages/pkg/m.py:7)"));
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);

	/* --idle: the idle-only stack is grey, its parent root is not */
	f.idle = 1;
	t = read_tree(&s, &f, &l);
	assert_int_equal(ps_svg_tree_total(t), 15);
	n = find(&l, "we,ird? (/x/site-packages/pkg/m.py:7)");
	assert_non_null(n);
	assert_true(n->idle);
	assert_string_equal(n->module, "pkg");
	rgb(n->fill, &r, &g, &b);
	assert_true(r == g && g == b);
	assert_false(l.box[0].idle);
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);

	/* --threads --pids --no-lines: group frames as pyspy-fold writes them */
	f.threads = f.pids = f.no_lines = 1;
	t = read_tree(&s, &f, &l);
	n = find(&l, "process 42: python3 a.py");
	assert_non_null(n);
	assert_int_equal(n->samples, 15);
	assert_int_equal(n->kind, PS_SVG_GROUP);
	assert_int_equal(find(&l, "thread 100: MainThread")->samples, 8);
	assert_int_equal(find(&l, "thread 101: work<er>")->samples, 7);
	assert_int_equal(find(&l, "Job.run (a.py)")->samples, 8);
	assert_int_equal(find(&l, "thread 100: MainThread")->depth, 2);
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);

	/* --from/--to: a time window; the span follows it */
	f = (struct ps_filter){ .from_set = 1, .from_s = 0.025, .to_set = 1, .to_s = 0.055 };
	t = read_tree(&s, &f, &l);
	assert_int_equal(ps_svg_tree_total(t), 3);
	assert_int_equal(ps_svg_tree_span_ns(t), 20000000);
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);
	free(s.p);
}

/* ---- bench ------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* 0 with probability 1/2, 1 with 1/4, ... up to n - 1. */
static uint32_t skewed(uint32_t n)
{
	uint32_t k = 0;
	while (k + 1 < n && (rng() & 1))
		k++;
	return k;
}

/* A call graph of 3000 functions in 120 files, each with 6 callees and 4
 * call sites (lines). A stack is a walk from one of 4 entry points, 10 to
 * 40 frames deep. By default the walk prefers the first callees and call
 * sites (half the time the first, a quarter the second...), so stacks
 * share prefixes and differ mostly towards the leaves, as real profiles
 * do; "bushy" picks uniformly, which makes nearly every frame beyond the
 * sixth level distinct: the worst case for the number of boxes. Samples
 * follow a Zipf-like law over the stacks in the order they were found. */
static int bench_write(const char *path, uint64_t nsamples, uint32_t nstacks, int bushy)
{
	enum { NFUNC = 3000, NSITE = 4, NFILE = 120, NTHREAD = 8, MAXD = 40 };
	static const char *const argv[] = { "python3", "-m", "bench.app", "--workers", "8" };
	struct ps_stream_header h = { .sampler = "test_svg --bench", .pid = 4242, .argc = 5,
				      .argv = argv, .python_version = "3.12.1", .rate_hz = 1000,
				      .mono_origin_ns = T0 };
	struct ps_errmsg e = { 0 };
	struct ps_sw *w;
	uint32_t *fid = malloc(NFUNC * NSITE * sizeof(*fid));
	uint32_t *stack = malloc(nstacks * sizeof(*stack));
	uint32_t th[NTHREAD], ids[MAXD], have = 0, maxid = 0;
	double *cum = malloc(nstacks * sizeof(*cum));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !fid || !stack || !cum || ps_sw_open_fd(fd, &h, NULL, &w, &e)) {
		fprintf(stderr, "bench: cannot write '%s': %s\n", path, e.msg);
		return 1;
	}
	for (uint32_t i = 0; i < NFUNC * NSITE; i++) {
		uint32_t fn_i = i / NSITE;
		char fn[64], file[96];
		snprintf(fn, sizeof(fn), "%s_%u", fn_i % 5 ? "handle" : "Worker.process", fn_i);
		snprintf(file, sizeof(file), "/srv/venv/lib/python3.12/site-packages/pkg%u/mod%u.py",
			 fn_i % NFILE % 17, fn_i % NFILE);
		struct ps_stream_frame f = { fn, NULL, file, 10 + fn_i % 400 + 7 * (i % NSITE),
					     fn_i % 97 == 0 ? PS_FRAME_NATIVE : PS_FRAME_PYTHON };
		if (ps_sw_frame(w, &f, &fid[i], &e))
			return 1;
	}
	while (have < nstacks) {
		uint32_t d = 10 + rng() % (MAXD - 10), f = bushy ? rng() % 4 : skewed(4);
		for (uint32_t k = 0; k < d; k++) {
			ids[k] = fid[f * NSITE + (bushy ? rng() % NSITE : skewed(NSITE))];
			f = (f * 7 + 1 + (bushy ? rng() % 6 : skewed(6)) * 131) % NFUNC;
		}
		uint32_t id;
		if (ps_sw_stack_path(w, ids, d, &id, &e))
			return 1;
		if (id > maxid) { /* a new distinct stack */
			maxid = id;
			stack[have++] = id;
		}
	}
	for (uint32_t i = 0; i < NTHREAD; i++) {
		char name[32];
		snprintf(name, sizeof(name), "worker-%u", i);
		if (ps_sw_thread(w, 4242, 5000 + i, name, &th[i], &e))
			return 1;
	}
	double sum = 0;
	for (uint32_t i = 0; i < nstacks; i++) {
		sum += 1.0 / (1.0 + i);
		cum[i] = sum;
	}
	uint64_t t = T0;
	for (uint64_t i = 0; i < nsamples; i++) {
		double x = rng() / 4294967296.0 * sum;
		uint32_t lo = 0, hi = nstacks - 1;
		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;
			if (cum[mid] < x)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (i % NTHREAD == 0)
			t += 1000000;
		unsigned flags = rng() % 10 == 0 ? PS_SAMPLE_IDLE : PS_SAMPLE_GIL;
		if (ps_sw_sample(w, t, th[i % NTHREAD], stack[lo], flags, &e))
			return 1;
	}
	struct ps_stream_totals tot = { .duration_ns = t - T0 };
	int rc = ps_sw_close(w, &tot, &e);
	close(fd);
	free(fid);
	free(stack);
	free(cum);
	return rc != PS_OK;
}

static int bench(int argc, char **argv)
{
	const char *dir = argc > 0 && strcmp(argv[0], "-") != 0 ? argv[0] : NULL;
	uint64_t nsamples = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	uint32_t nstacks = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 30000;
	int bushy = argc > 3 && strcmp(argv[3], "bushy") == 0;
	char pss[4096], svg[4096];
	snprintf(pss, sizeof(pss), "%s/svg_bench.pss", dir ? dir : "/tmp");
	snprintf(svg, sizeof(svg), "%s/svg_bench.svg", dir ? dir : "/tmp");
	if (!dir) {
		snprintf(pss, sizeof(pss), "/tmp/test_svg_bench_%d.pss", (int)getpid());
		snprintf(svg, sizeof(svg), "/tmp/test_svg_bench_%d.svg", (int)getpid());
	}
	double t0 = now_s();
	if (nstacks < 1 || bench_write(pss, nsamples, nstacks, bushy))
		return 1;
	double t1 = now_s();

	struct ps_filter f = { 0 };
	struct ps_sr *r;
	struct ps_sr_record rec;
	struct ps_errmsg e = { 0 };
	int fd = open(pss, O_RDONLY), rc;
	if (fd < 0 || ps_sr_open_fd(fd, &r, &e)) {
		fprintf(stderr, "bench: cannot read '%s': %s\n", pss, e.msg);
		return 1;
	}
	ps_sr_resolve_frames(r, 0);
	struct ps_svg_tree *t = ps_svg_tree_new(&f);
	while ((rc = ps_sr_next(r, &rec, &e)) == PS_OK)
		if (rec.type == PS_REC_SAMPLE && ps_filter_accept(&f, &rec.sample, T0))
			ps_svg_tree_sample(t, r, &rec.sample);
	double t2 = now_s();
	rc = ps_svg_tree_resolve(t, r);
	double t3 = now_s();
	struct ps_svg_opts o;
	ps_svg_opts_init(&o);
	FILE *out = fopen(svg, "w");
	if (rc || !out || ps_svg_write(t, &o, out) || fclose(out)) {
		fprintf(stderr, "bench: cannot write '%s'\n", svg);
		return 1;
	}
	double t4 = now_s();
	struct ps_svg_layout l;
	ps_svg_layout(t, &o, &l);
	struct stat sp, ss;
	stat(pss, &sp);
	stat(svg, &ss);
	printf("svg bench: %" PRIu64 " samples, %u %sstacks, %" PRIu64 " drawn\n"
	       "  write stream  %.3f s  (%.1f MB)\n"
	       "  read + count  %.3f s\n"
	       "  build tree    %.3f s\n"
	       "  layout + svg  %.3f s  (%.2f MB, %zu boxes, depth %u)\n"
	       "  render total  %.3f s  (read to svg, what pyspy-svg does)\n",
	       nsamples, nstacks, bushy ? "bushy " : "", ps_svg_tree_total(t), t1 - t0, sp.st_size / 1e6, t2 - t1,
	       t3 - t2, t4 - t3, ss.st_size / 1e6, l.n, l.depth, t4 - t1);
	ps_svg_layout_release(&l);
	ps_svg_tree_free(t);
	ps_sr_free(r);
	close(fd);
	if (!dir) {
		unlink(pss);
		unlink(svg);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench(argc - 2, argv + 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_checker),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_layout_rounding),
		cmocka_unit_test(test_min_width),
		cmocka_unit_test(test_reverse),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_colors),
		cmocka_unit_test(test_subtitle),
		cmocka_unit_test(test_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
