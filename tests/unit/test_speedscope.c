/* Speedscope output (lib/ps_speedscope): streams written with ps_sw_* into
 * memory, read back through ps_speedscope_read, and the JSON parsed by a
 * strict little parser here (RFC 8259: no trailing commas, no raw control
 * characters in strings, valid escapes, nothing after the value). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_error.h"
#include "ps_filter.h"
#include "ps_input.h"
#include "ps_speedscope.h"
#include "ps_stream.h"

#include "mem_sink.h"

#define MS 1000000ULL
#define ORIGIN (7 * 1000 * MS)

/* ---- a memory sink ----------------------------------------------------- */

/* ---- a strict JSON parser ---------------------------------------------- */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
	enum jt t;
	double num;
	char *str;              /* J_STR (decoded UTF-8); a key for members */
	size_t n;               /* J_ARR, J_OBJ: items */
	struct json *v;         /* items */
	char **keys;            /* J_OBJ */
};

struct jp {
	const char *s;
	size_t i, len;
	int bad;
};

static void j_ws(struct jp *p)
{
	while (p->i < p->len && strchr(" \t\r\n", p->s[p->i]))
		p->i++;
}

static int j_lit(struct jp *p, const char *w)
{
	size_t n = strlen(w);
	if (p->len - p->i < n || memcmp(p->s + p->i, w, n) != 0)
		return 0;
	p->i += n;
	return 1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int j_hex4(struct jp *p, uint32_t *v)
{
	*v = 0;
	for (int k = 0; k < 4; k++, p->i++) {
		if (p->i >= p->len)
			return 0;
		char c = p->s[p->i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return 0;
		*v = *v << 4 | (uint32_t)d;
	}
	return 1;
}

/* Also checks that raw bytes are valid UTF-8 (our output must be). */
static char *j_string(struct jp *p)
{
	if (p->i >= p->len || p->s[p->i] != '"') {
		p->bad = 1;
		return NULL;
	}
	p->i++;
	char *o = malloc(p->len * 4 + 1);
	size_t k = 0;
	assert_non_null(o);
	while (p->i < p->len && p->s[p->i] != '"') {
		unsigned char c = (unsigned char)p->s[p->i];
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			int n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
				: (c & 0xf8) == 0xf0 ? 4 : 0;
			if (!n || p->i + (size_t)n > p->len)
				goto bad;
			for (int m = 1; m < n; m++)
				if (((unsigned char)p->s[p->i + (size_t)m] & 0xc0) != 0x80)
					goto bad;
			memcpy(o + k, p->s + p->i, (size_t)n);
			k += (size_t)n;
			p->i += (size_t)n;
			continue;
		}
		if (++p->i >= p->len)
			goto bad;
		char e = p->s[p->i++];
		uint32_t cp, lo;
		switch (e) {
		case '"': o[k++] = '"'; break;
		case '\\': o[k++] = '\\'; break;
		case '/': o[k++] = '/'; break;
		case 'b': o[k++] = '\b'; break;
		case 'f': o[k++] = '\f'; break;
		case 'n': o[k++] = '\n'; break;
		case 'r': o[k++] = '\r'; break;
		case 't': o[k++] = '\t'; break;
		case 'u':
			if (!j_hex4(p, &cp))
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (!j_lit(p, "\\u") || !j_hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto bad;
			}
			k += put_utf8(o + k, cp);
			break;
		default:
			goto bad;
		}
	}
	if (p->i >= p->len)
		goto bad;
	p->i++;
	o[k] = '\0';
	return o;
bad:
	free(o);
	p->bad = 1;
	return NULL;
}

static int j_number(struct jp *p, double *v)
{
	size_t st = p->i;
	if (p->i < p->len && p->s[p->i] == '-')
		p->i++;
	if (p->i < p->len && p->s[p->i] == '0')
		p->i++;
	else if (p->i < p->len && p->s[p->i] >= '1' && p->s[p->i] <= '9')
		while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	else
		return 0;
	if (p->i < p->len && p->s[p->i] == '.') {
		size_t d = ++p->i;
		while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
		if (p->i == d)
			return 0;
	}
	if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		size_t d = p->i;
		while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
		if (p->i == d)
			return 0;
	}
	char buf[64];
	size_t n = p->i - st;
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, p->s + st, n);
	buf[n] = '\0';
	*v = strtod(buf, NULL);
	return 1;
}

static void j_value(struct jp *p, struct json *out, int depth);

static void j_push(struct json *a, size_t *cap)
{
	if (a->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		a->v = realloc(a->v, *cap * sizeof(*a->v));
		assert_non_null(a->v);
		if (a->t == J_OBJ) {
			a->keys = realloc(a->keys, *cap * sizeof(*a->keys));
			assert_non_null(a->keys);
		}
	}
	a->n++;
}

static void j_container(struct jp *p, struct json *out, int depth, char close)
{
	size_t cap = 0;
	p->i++;
	j_ws(p);
	if (p->i < p->len && p->s[p->i] == close) {
		p->i++;
		return;
	}
	for (;;) {
		j_ws(p);
		char *key = NULL;
		if (out->t == J_OBJ) {
			if (!(key = j_string(p)))
				return;
			j_ws(p);
			if (!j_lit(p, ":")) {
				free(key);
				p->bad = 1;
				return;
			}
		}
		j_push(out, &cap);
		if (key)
			out->keys[out->n - 1] = key;
		j_value(p, &out->v[out->n - 1], depth + 1);
		if (p->bad)
			return;
		j_ws(p);
		if (j_lit(p, ","))
			continue;
		if (p->i < p->len && p->s[p->i] == close) {
			p->i++;
			return;
		}
		p->bad = 1;
		return;
	}
}

static void j_value(struct jp *p, struct json *out, int depth)
{
	memset(out, 0, sizeof(*out));
	j_ws(p);
	if (depth > 64 || p->i >= p->len) {
		p->bad = 1;
		return;
	}
	char c = p->s[p->i];
	if (c == '{') {
		out->t = J_OBJ;
		j_container(p, out, depth, '}');
	} else if (c == '[') {
		out->t = J_ARR;
		j_container(p, out, depth, ']');
	} else if (c == '"') {
		out->t = J_STR;
		out->str = j_string(p);
	} else if (j_lit(p, "null")) {
		out->t = J_NULL;
	} else if (j_lit(p, "true") || j_lit(p, "false")) {
		out->t = J_BOOL;
	} else {
		out->t = J_NUM;
		if (!j_number(p, &out->num))
			p->bad = 1;
	}
}

static void j_free(struct json *j)
{
	for (size_t i = 0; i < j->n; i++) {
		j_free(&j->v[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->v);
	free(j->keys);
	free(j->str);
}

/* Parse the whole text; fails the test when it is not JSON. */
static struct json *j_parse(const char *s)
{
	struct jp p = { s, 0, strlen(s), 0 };
	struct json *j = malloc(sizeof(*j));
	assert_non_null(j);
	j_value(&p, j, 0);
	j_ws(&p);
	if (p.bad || p.i != p.len)
		fail_msg("not JSON near byte %zu: %.40s", p.i, s + (p.i < p.len ? p.i : p.len));
	return j;
}

static void j_drop(struct json *j)
{
	j_free(j);
	free(j);
}

static const struct json *j_get(const struct json *o, const char *key)
{
	assert_int_equal(o->t, J_OBJ);
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->v[i];
	return NULL;
}

static const struct json *j_at(const struct json *a, size_t i)
{
	assert_int_equal(a->t, J_ARR);
	assert_true(i < a->n);
	return &a->v[i];
}

static const struct json *j_path(const struct json *o, const char *key, enum jt t)
{
	const struct json *v = j_get(o, key);
	if (!v)
		fail_msg("no member '%s'", key);
	assert_int_equal(v->t, t);
	return v;
}

/* ---- building streams and converting them ------------------------------ */

struct builder {
	struct sink sink;
	struct ps_sw *w;
};

static void b_open(struct builder *b, uint32_t rate, uint32_t argc, const char *const *argv)
{
	struct ps_stream_header h = { .sampler = "test", .pid = 100, .argc = argc, .argv = argv,
				      .python_version = "3.12.1", .rate_hz = rate,
				      .wall_start_ns = 1, .mono_origin_ns = ORIGIN };
	memset(b, 0, sizeof(*b));
	assert_int_equal(ps_sw_open_cb(sink_write, &b->sink, &h, NULL, &b->w, NULL), PS_OK);
}

static uint32_t b_frame(struct builder *b, const char *fn, const char *qual, const char *file,
			uint32_t line)
{
	struct ps_stream_frame f = { fn, qual, file, line, PS_FRAME_PYTHON };
	uint32_t id;
	assert_int_equal(ps_sw_frame(b->w, &f, &id, NULL), PS_OK);
	return id;
}

static uint32_t b_stack(struct builder *b, const uint32_t *frames, size_t n)
{
	uint32_t id;
	assert_int_equal(ps_sw_stack_path(b->w, frames, n, &id, NULL), PS_OK);
	return id;
}

static uint32_t b_thread(struct builder *b, uint32_t pid, uint32_t tid, const char *name)
{
	uint32_t id;
	assert_int_equal(ps_sw_thread(b->w, pid, tid, name, &id, NULL), PS_OK);
	return id;
}

static void b_sample(struct builder *b, uint64_t ms, uint32_t thread, uint32_t stack,
		     unsigned flags)
{
	assert_int_equal(ps_sw_sample(b->w, ORIGIN + ms * MS, thread, stack, flags, NULL), PS_OK);
}

static void b_close(struct builder *b)
{
	assert_int_equal(ps_sw_close(b->w, NULL, NULL), PS_OK);
	b->w = NULL;
}

/* Convert the stream with filter f; returns the JSON text (free it) and
 * the status of the read in *rc when rc is not NULL. */
static char *convert(struct builder *b, const struct ps_filter *f, int *rc)
{
	struct ps_input in = { .fd = -1, .name = "memory" };
	struct ps_errmsg e = { 0 };
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(ps_sr_open_mem(b->sink.p, b->sink.len, &in.r, &e), PS_OK);
	struct ps_speedscope *ss = ps_speedscope_new(f);
	assert_non_null(ss);
	int r = ps_speedscope_read(ss, &in, &e);
	if (rc)
		*rc = r;
	else
		assert_int_equal(r, PS_OK);
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(ps_speedscope_write(ss, in.r, out), PS_OK);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(strlen(text), len);
	/* nothing more once written */
	struct ps_sr_sample s = { .time_ns = ORIGIN };
	assert_int_equal(ps_speedscope_add(ss, in.r, &s), PS_EUSAGE);
	ps_speedscope_free(ss);
	ps_sr_free(in.r);
	return text;
}

static const struct ps_filter no_filter = { 0 };

/* A parsed file with its top-level shape checked against the schema. */
static struct json *parse_file(const char *text)
{
	struct json *j = j_parse(text);
	assert_string_equal(j_path(j, "$schema", J_STR)->str, PS_SPEEDSCOPE_SCHEMA);
	assert_string_equal(j_path(j, "exporter", J_STR)->str, "pyspy 0.1.0");
	j_path(j, "name", J_STR);
	const struct json *frames = j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR);
	for (size_t i = 0; i < frames->n; i++)
		j_path(j_at(frames, i), "name", J_STR);
	const struct json *profiles = j_path(j, "profiles", J_ARR);
	double active = j_path(j, "activeProfileIndex", J_NUM)->num;
	assert_true(active >= 0 && (profiles->n == 0 || active < (double)profiles->n));
	for (size_t i = 0; i < profiles->n; i++) {
		const struct json *p = j_at(profiles, i);
		assert_string_equal(j_path(p, "type", J_STR)->str, "sampled");
		assert_string_equal(j_path(p, "unit", J_STR)->str, "seconds");
		j_path(p, "name", J_STR);
		double start = j_path(p, "startValue", J_NUM)->num;
		double end = j_path(p, "endValue", J_NUM)->num;
		assert_true(start <= end);
		const struct json *s = j_path(p, "samples", J_ARR), *w = j_path(p, "weights", J_ARR);
		assert_int_equal(s->n, w->n);
		for (size_t k = 0; k < s->n; k++) {
			const struct json *st = j_at(s, k);
			assert_int_equal(st->t, J_ARR);
			for (size_t m = 0; m < st->n; m++) {
				assert_int_equal(j_at(st, m)->t, J_NUM);
				assert_true(j_at(st, m)->num >= 0 && j_at(st, m)->num < (double)frames->n);
			}
			assert_int_equal(j_at(w, k)->t, J_NUM);
			assert_true(j_at(w, k)->num >= 0);
		}
	}
	return j;
}

static const struct json *profile(const struct json *j, size_t i)
{
	return j_at(j_path(j, "profiles", J_ARR), i);
}

static const char *frame_name(const struct json *j, double idx)
{
	const struct json *frames = j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR);
	return j_path(j_at(frames, (size_t)idx), "name", J_STR)->str;
}

/* "[a,b,c]" of sample k, as frame names joined by ';'. */
static void sample_text(const struct json *j, const struct json *p, size_t k, char *buf,
			size_t cap)
{
	const struct json *s = j_at(j_path(p, "samples", J_ARR), k);
	size_t len = 0;
	buf[0] = '\0';
	for (size_t m = 0; m < s->n; m++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", m ? ";" : "",
					frame_name(j, j_at(s, m)->num));
}

static double weight(const struct json *p, size_t k)
{
	return j_at(j_path(p, "weights", J_ARR), k)->num;
}

static void assert_near(double a, double b)
{
	if (fabs(a - b) > 1e-9)
		fail_msg("%.9f != %.9f", a, b);
}

/* ---- tests ------------------------------------------------------------- */

/* Two threads share frames; stacks come out root first, each frame once. */
static void test_frames_shared_root_first(void **state)
{
	(void)state;
	struct builder b;
	b_open(&b, 100, 0, NULL);
	uint32_t a = b_frame(&b, "<module>", NULL, "app.py", 17);
	uint32_t m = b_frame(&b, "main", NULL, "app.py", 15);
	uint32_t h = b_frame(&b, "hot", "App.hot", "app.py", 5);
	uint32_t c = b_frame(&b, "cold", NULL, "app.py", 9);
	uint32_t s1 = b_stack(&b, (uint32_t[]){ a, m, h }, 3);
	uint32_t s2 = b_stack(&b, (uint32_t[]){ a, m, c }, 3);
	uint32_t t1 = b_thread(&b, 100, 100, "MainThread");
	uint32_t t2 = b_thread(&b, 100, 101, "worker");
	for (int i = 0; i < 10; i++) {
		b_sample(&b, (uint64_t)i * 10, t1, i % 3 ? s1 : s2, PS_SAMPLE_GIL);
		b_sample(&b, (uint64_t)i * 10, t2, s2, 0);
	}
	b_close(&b);
	char *text = convert(&b, &no_filter, NULL);
	struct json *j = parse_file(text);
	const struct json *frames = j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR);
	assert_int_equal(frames->n, 4);
	const struct json *f0 = j_at(frames, 0);
	assert_string_equal(j_path(f0, "name", J_STR)->str, "<module>");
	assert_string_equal(j_path(f0, "file", J_STR)->str, "app.py");
	assert_int_equal((int)j_path(f0, "line", J_NUM)->num, 17);
	char buf[256];
	sample_text(j, profile(j, 0), 0, buf, sizeof(buf));
	assert_string_equal(buf, "<module>;main;cold");
	sample_text(j, profile(j, 0), 1, buf, sizeof(buf));
	assert_string_equal(buf, "<module>;main;App.hot"); /* the qualified name */
	sample_text(j, profile(j, 1), 9, buf, sizeof(buf));
	assert_string_equal(buf, "<module>;main;cold");
	assert_int_equal(j_path(profile(j, 1), "samples", J_ARR)->n, 10);
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* Samples at 0, 10 and 30 ms: 0.01 and 0.02 s, and the last one the lower
 * median of the intervals; a thread seen once weighs 1/rate. */
static void test_weights_from_times(void **state)
{
	(void)state;
	struct builder b;
	b_open(&b, 50, 0, NULL);
	uint32_t fr = b_frame(&b, "f", NULL, "f.py", 1);
	uint32_t s = b_stack(&b, &fr, 1);
	uint32_t t1 = b_thread(&b, 100, 100, "MainThread");
	uint32_t t2 = b_thread(&b, 100, 101, "once");
	b_sample(&b, 0, t1, s, 0);
	b_sample(&b, 10, t1, s, 0);
	b_sample(&b, 25, t2, s, 0);
	b_sample(&b, 30, t1, s, 0);
	b_close(&b);
	char *text = convert(&b, &no_filter, NULL);
	struct json *j = parse_file(text);
	const struct json *p = profile(j, 0);
	assert_int_equal(j_path(p, "weights", J_ARR)->n, 3);
	assert_near(weight(p, 0), 0.01);
	assert_near(weight(p, 1), 0.02);
	assert_near(weight(p, 2), 0.01);
	assert_near(j_path(p, "startValue", J_NUM)->num, 0);
	assert_near(j_path(p, "endValue", J_NUM)->num, 0.04);
	p = profile(j, 1);
	assert_near(weight(p, 0), 0.02); /* 1 / 50 Hz */
	assert_near(j_path(p, "startValue", J_NUM)->num, 0.025);
	assert_near(j_path(p, "endValue", J_NUM)->num, 0.045);
	/* exact decimal seconds in the text */
	assert_non_null(strstr(text, "\"weights\":[\n0.01,\n0.02,\n0.01\n]"));
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* Idle samples are left out by default and kept with --idle; the kept
 * ones end where the thread's next sample is, kept or not. */
static void test_idle_and_filtered_times(void **state)
{
	(void)state;
	struct builder b;
	b_open(&b, 100, 0, NULL);
	uint32_t f1 = b_frame(&b, "run", NULL, "a.py", 1);
	uint32_t f2 = b_frame(&b, "sleep", NULL, "a.py", 2);
	uint32_t run = b_stack(&b, &f1, 1);
	uint32_t slp = b_stack(&b, (uint32_t[]){ f1, f2 }, 2);
	uint32_t t = b_thread(&b, 100, 100, "MainThread");
	b_sample(&b, 0, t, run, PS_SAMPLE_GIL);
	b_sample(&b, 10, t, slp, PS_SAMPLE_IDLE);
	b_sample(&b, 30, t, run, 0);
	b_sample(&b, 40, t, run, PS_SAMPLE_GIL);
	b_close(&b);

	char *text = convert(&b, &no_filter, NULL);
	struct json *j = parse_file(text);
	const struct json *p = profile(j, 0);
	assert_int_equal(j_path(p, "samples", J_ARR)->n, 3);
	assert_near(weight(p, 0), 0.01);
	assert_near(weight(p, 1), 0.01);
	assert_near(weight(p, 2), 0.01); /* median of 10, 20, 10 */
	assert_near(j_path(p, "startValue", J_NUM)->num, 0);
	/* start + the sum of the weights: what the kept samples stand for */
	assert_near(j_path(p, "endValue", J_NUM)->num, 0.03);
	assert_int_equal(j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR)->n, 1);
	j_drop(j);
	free(text);

	struct ps_filter f = { .idle = 1 };
	text = convert(&b, &f, NULL);
	j = parse_file(text);
	p = profile(j, 0);
	assert_int_equal(j_path(p, "samples", J_ARR)->n, 4);
	char buf[128];
	sample_text(j, p, 1, buf, sizeof(buf));
	assert_string_equal(buf, "run;sleep");
	assert_near(weight(p, 1), 0.02);
	j_drop(j);
	free(text);

	f = (struct ps_filter){ .gil_only = 1 };
	text = convert(&b, &f, NULL);
	j = parse_file(text);
	p = profile(j, 0);
	assert_int_equal(j_path(p, "samples", J_ARR)->n, 2);
	assert_near(weight(p, 0), 0.01);
	assert_near(weight(p, 1), 0.01);
	assert_near(j_path(p, "startValue", J_NUM)->num, 0);
	assert_near(j_path(p, "endValue", J_NUM)->num, 0.02);
	j_drop(j);
	free(text);

	f = (struct ps_filter){ .from_set = 1, .from_s = 0.005, .to_set = 1, .to_s = 0.035 };
	text = convert(&b, &f, NULL);
	j = parse_file(text);
	p = profile(j, 0);
	assert_int_equal(j_path(p, "samples", J_ARR)->n, 1);
	assert_near(weight(p, 0), 0.01); /* to the sample at 40 ms, outside */
	assert_near(j_path(p, "startValue", J_NUM)->num, 0.03);
	assert_near(j_path(p, "endValue", J_NUM)->num, 0.04);
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* A gap far beyond the thread's usual interval (it was not recorded in
 * between) weighs the median; a sample of stack 0 (no Python frames) is
 * left out but ends the one before it. */
static void test_gaps_and_empty_stacks(void **state)
{
	(void)state;
	struct builder b;
	b_open(&b, 100, 0, NULL);
	uint32_t fr = b_frame(&b, "f", NULL, "f.py", 1);
	uint32_t s = b_stack(&b, &fr, 1);
	uint32_t t = b_thread(&b, 100, 100, "MainThread");
	for (int i = 0; i < 10; i++)
		b_sample(&b, (uint64_t)i * 10, t, s, 0);
	b_sample(&b, 1000, t, s, 0);   /* 910 ms later: over 10 x 10 ms */
	b_sample(&b, 1010, t, 0, 0);   /* no Python frames */
	b_sample(&b, 1040, t, s, 0);
	b_sample(&b, 1140, t, s, 0);   /* 100 ms: 10 x the median, kept */
	b_close(&b);
	char *text = convert(&b, &no_filter, NULL);
	struct json *j = parse_file(text);
	const struct json *p = profile(j, 0);
	assert_int_equal(j_path(p, "samples", J_ARR)->n, 13);
	assert_near(weight(p, 8), 0.01);
	assert_near(weight(p, 9), 0.01);   /* capped */
	assert_near(weight(p, 10), 0.01);  /* to the stack-0 sample */
	assert_near(weight(p, 11), 0.1);
	assert_near(weight(p, 12), 0.01);
	assert_near(j_path(p, "endValue", J_NUM)->num, 0.22); /* 0 + the weights */
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* Profiles by pid, then tid; named "NAME (tid N)", with the pid when
 * several processes appear; a renamed thread stays one profile with its
 * latest name; activeProfileIndex is the busiest. */
static void test_profiles_named_ordered_active(void **state)
{
	(void)state;
	const char *argv[] = { "python3", "app.py", "20" };
	struct builder b;
	b_open(&b, 100, 3, argv);
	uint32_t fr = b_frame(&b, "f", NULL, "f.py", 1);
	uint32_t s = b_stack(&b, &fr, 1);
	uint32_t w = b_thread(&b, 100, 102, "worker");
	uint32_t mt = b_thread(&b, 100, 100, "MainThread");
	uint32_t anon = b_thread(&b, 100, 103, NULL);
	b_sample(&b, 0, w, s, 0);
	b_sample(&b, 0, mt, s, 0);
	b_sample(&b, 0, anon, s, 0);
	uint32_t w2 = b_thread(&b, 100, 102, "worker-renamed");
	for (int i = 1; i < 5; i++)
		b_sample(&b, (uint64_t)i * 10, w2, s, 0);
	b_close(&b);
	char *text = convert(&b, &no_filter, NULL);
	struct json *j = parse_file(text);
	assert_int_equal(j_path(j, "profiles", J_ARR)->n, 3);
	assert_string_equal(j_path(profile(j, 0), "name", J_STR)->str, "MainThread (tid 100)");
	assert_string_equal(j_path(profile(j, 1), "name", J_STR)->str,
			    "worker-renamed (tid 102)");
	assert_string_equal(j_path(profile(j, 2), "name", J_STR)->str, "tid 103");
	assert_int_equal((int)j_path(j, "activeProfileIndex", J_NUM)->num, 1);
	assert_string_equal(j_path(j, "name", J_STR)->str, "python3 app.py 20 (pid 100)");
	j_drop(j);
	free(text);

	/* with --tid, only that thread */
	struct ps_filter f = { .tid_set = 1, .tid = 103 };
	text = convert(&b, &f, NULL);
	j = parse_file(text);
	assert_int_equal(j_path(j, "profiles", J_ARR)->n, 1);
	assert_string_equal(j_path(profile(j, 0), "name", J_STR)->str, "tid 103");
	assert_int_equal((int)j_path(j, "activeProfileIndex", J_NUM)->num, 0);
	j_drop(j);
	free(text);
	free(b.sink.p);

	b_open(&b, 100, 0, NULL);
	fr = b_frame(&b, "f", NULL, "f.py", 1);
	s = b_stack(&b, &fr, 1);
	uint32_t c = b_thread(&b, 200, 200, "MainThread");
	mt = b_thread(&b, 100, 100, "MainThread");
	b_sample(&b, 0, c, s, 0);
	b_sample(&b, 0, mt, s, 0);
	b_sample(&b, 10, c, s, 0);
	b_close(&b);
	text = convert(&b, &no_filter, NULL);
	j = parse_file(text);
	assert_string_equal(j_path(profile(j, 0), "name", J_STR)->str,
			    "MainThread (pid 100, tid 100)");
	assert_string_equal(j_path(profile(j, 1), "name", J_STR)->str,
			    "MainThread (pid 200, tid 200)");
	assert_int_equal((int)j_path(j, "activeProfileIndex", J_NUM)->num, 1);
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* --no-lines merges frames that differ only by line, and leaves "line" out. */
static void test_no_lines(void **state)
{
	(void)state;
	struct builder b;
	b_open(&b, 100, 0, NULL);
	uint32_t m = b_frame(&b, "main", NULL, "a.py", 10);
	uint32_t f1 = b_frame(&b, "f", NULL, "a.py", 1);
	uint32_t f2 = b_frame(&b, "f", NULL, "a.py", 2);
	uint32_t f3 = b_frame(&b, "f", NULL, "b.py", 2);   /* another file */
	uint32_t g = b_frame(&b, "<gc>", NULL, NULL, 0);   /* no file, no line */
	uint32_t t = b_thread(&b, 100, 100, "MainThread");
	b_sample(&b, 0, t, b_stack(&b, (uint32_t[]){ m, f1 }, 2), 0);
	b_sample(&b, 10, t, b_stack(&b, (uint32_t[]){ m, f2 }, 2), 0);
	b_sample(&b, 20, t, b_stack(&b, (uint32_t[]){ m, f3 }, 2), 0);
	b_sample(&b, 30, t, b_stack(&b, (uint32_t[]){ m, f3, g }, 3), 0);
	b_close(&b);

	char *text = convert(&b, &no_filter, NULL);
	struct json *j = parse_file(text);
	const struct json *frames = j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR);
	assert_int_equal(frames->n, 5);
	assert_null(j_get(j_at(frames, 4), "file"));
	assert_null(j_get(j_at(frames, 4), "line"));
	j_drop(j);
	free(text);

	struct ps_filter f = { .no_lines = 1 };
	text = convert(&b, &f, NULL);
	j = parse_file(text);
	frames = j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR);
	assert_int_equal(frames->n, 4);
	for (size_t i = 0; i < frames->n; i++)
		assert_null(j_get(j_at(frames, i), "line"));
	const struct json *p = profile(j, 0);
	const struct json *s0 = j_at(j_path(p, "samples", J_ARR), 0);
	const struct json *s1 = j_at(j_path(p, "samples", J_ARR), 1);
	const struct json *s2 = j_at(j_path(p, "samples", J_ARR), 2);
	assert_true(j_at(s0, 1)->num == j_at(s1, 1)->num);
	assert_true(j_at(s0, 1)->num != j_at(s2, 1)->num);
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* Names that would break JSON or HTML come out escaped and decode back;
 * invalid UTF-8 becomes U+FFFD. */
static void test_hostile_names(void **state)
{
	(void)state;
	static const char evil[] = "q\"b\\c\x01\x1f\x7f\n</script><b>&x \xff\xc3(\xe2\x80\xa8";
	static const char want[] = "q\"b\\c\x01\x1f\x7f\n</script><b>&x \xef\xbf\xbd\xef\xbf\xbd("
				   "\xe2\x80\xa8";
	const char *argv[] = { evil };
	struct builder b;
	b_open(&b, 100, 1, argv);
	uint32_t fr = b_frame(&b, evil, NULL, evil, 3);
	uint32_t s = b_stack(&b, &fr, 1);
	uint32_t t = b_thread(&b, 100, 100, evil);
	b_sample(&b, 0, t, s, 0);
	b_close(&b);
	char *text = convert(&b, &no_filter, NULL);
	assert_null(strstr(text, "</script>"));
	assert_null(strchr(text, '<'));
	assert_null(strchr(text, '&'));
	assert_null(strstr(text, "\xe2\x80\xa8"));
	for (const char *c = text; *c; c++)
		assert_true(*c == '\n' || (unsigned char)*c >= 0x20);
	struct json *j = parse_file(text);
	const struct json *f0 = j_at(j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR), 0);
	assert_string_equal(j_path(f0, "name", J_STR)->str, want);
	assert_string_equal(j_path(f0, "file", J_STR)->str, want);
	char name[256];
	snprintf(name, sizeof(name), "%s (tid 100)", want);
	assert_string_equal(j_path(profile(j, 0), "name", J_STR)->str, name);
	snprintf(name, sizeof(name), "%s (pid 100)", want);
	assert_string_equal(j_path(j, "name", J_STR)->str, name);
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* Nothing selected: still a valid file, with no profiles. */
static void test_empty(void **state)
{
	(void)state;
	struct builder b;
	b_open(&b, 0, 0, NULL);
	uint32_t fr = b_frame(&b, "f", NULL, "f.py", 1);
	uint32_t s = b_stack(&b, &fr, 1);
	uint32_t t = b_thread(&b, 100, 100, "MainThread");
	b_sample(&b, 0, t, s, PS_SAMPLE_IDLE);
	b_close(&b);
	char *text = convert(&b, &no_filter, NULL);
	struct json *j = parse_file(text);
	assert_int_equal(j_path(j, "profiles", J_ARR)->n, 0);
	assert_int_equal(j_path(j_path(j, "shared", J_OBJ), "frames", J_ARR)->n, 0);
	assert_int_equal((int)j_path(j, "activeProfileIndex", J_NUM)->num, 0);
	j_drop(j);
	free(text);

	struct ps_filter f = { .idle = 1 }; /* rate 0 in the header: 1/100 s */
	text = convert(&b, &f, NULL);
	j = parse_file(text);
	assert_near(weight(profile(j, 0), 0), 0.01);
	j_drop(j);
	free(text);
	free(b.sink.p);
}

/* A stream cut short converts what came before the cut; the same stream
 * gives the same bytes every time. */
static void test_truncated_and_deterministic(void **state)
{
	(void)state;
	struct builder b;
	b_open(&b, 100, 0, NULL);
	uint32_t fr = b_frame(&b, "f", NULL, "f.py", 1);
	uint32_t g = b_frame(&b, "g", NULL, "f.py", 2);
	uint32_t t1 = b_thread(&b, 100, 100, "MainThread");
	uint32_t t2 = b_thread(&b, 100, 101, "w");
	for (int i = 0; i < 300; i++) {
		uint32_t s = b_stack(&b, (uint32_t[]){ fr, g, i % 2 ? fr : g }, 3);
		b_sample(&b, (uint64_t)i * 10, i % 3 ? t1 : t2, s, 0);
	}
	assert_int_equal(ps_sw_flush(b.w, ORIGIN + 3000 * MS, NULL), PS_OK);
	b_sample(&b, 3000, t1, 0, 0);
	ps_sw_free(b.w); /* killed: no END record */
	int rc;
	char *a = convert(&b, &no_filter, &rc);
	assert_int_equal(rc, PS_STREAM_TRUNCATED);
	char *again = convert(&b, &no_filter, &rc);
	assert_string_equal(a, again);
	struct json *j = parse_file(a);
	assert_int_equal(j_path(profile(j, 0), "samples", J_ARR)->n, 200);
	assert_int_equal(j_path(profile(j, 1), "samples", J_ARR)->n, 100);
	assert_int_equal((int)j_path(j, "activeProfileIndex", J_NUM)->num, 0);
	j_drop(j);
	free(a);
	free(again);
	free(b.sink.p);
}

/* The parser here rejects what it must (so the tests above mean something). */
static void test_parser_is_strict(void **state)
{
	(void)state;
	static const char *bad[] = { "[1,]", "{\"a\":1,}", "\"\x01\"", "\"\\x\"", "[01]",
				     "[1.]", "{\"a\" 1}", "[1] x", "\"\\ud800\"", "\"\xff\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct jp p = { bad[i], 0, strlen(bad[i]), 0 };
		struct json j;
		j_value(&p, &j, 0);
		j_ws(&p);
		assert_true(p.bad || p.i != p.len);
		j_free(&j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_is_strict),
		cmocka_unit_test(test_frames_shared_root_first),
		cmocka_unit_test(test_weights_from_times),
		cmocka_unit_test(test_idle_and_filtered_times),
		cmocka_unit_test(test_gaps_and_empty_stacks),
		cmocka_unit_test(test_profiles_named_ordered_active),
		cmocka_unit_test(test_no_lines),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_truncated_and_deterministic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
