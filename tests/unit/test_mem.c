/* ps_mem: bounded, counted reads of a process's memory, exercised on this
 * very process (process_vm_readv works on oneself) and on one that exited. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_error.h"
#include "ps_mem.h"

#define PAGE 4096

/* What the tests read back. Not const: .data, like the interpreter state. */
static unsigned char g_pattern[300];
static uint64_t g_word = 0x1122334455667788ULL;
static char g_text[] = "the quick brown fox";

static uint64_t addr_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void fill_pattern(void)
{
	for (size_t i = 0; i < sizeof(g_pattern); i++)
		g_pattern[i] = (unsigned char)(i * 7 + 3);
}

/* Two readable pages of which the second is unmapped again: an address
 * just before *hole is the last mapped byte. Returns the first page. */
static unsigned char *page_before_hole(unsigned char **hole)
{
	unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(munmap(p + PAGE, PAGE), 0);
	*hole = p + PAGE;
	return p;
}

/* ---- ps_mem_init / ps_mem_read ---- */

static void test_init_zeroes_counters_and_sets_pid(void **state)
{
	struct ps_mem m;

	(void)state;
	memset(&m, 0xAB, sizeof(m));
	ps_mem_init(&m, 1234);
	assert_int_equal(m.pid, 1234);
	assert_int_equal(m.reads, 0);
	assert_int_equal(m.bytes, 0);
	assert_int_equal(m.errors, 0);
}

static void test_read_global_round_trip(void **state)
{
	struct ps_mem m;
	unsigned char buf[sizeof(g_pattern)];

	(void)state;
	fill_pattern();
	ps_mem_init(&m, getpid());
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern), buf, sizeof(buf)), PS_OK);
	assert_memory_equal(buf, g_pattern, sizeof(buf));

	/* an unaligned piece from the middle */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern + 13), buf, 101), PS_OK);
	assert_memory_equal(buf, g_pattern + 13, 101);
	assert_int_equal(buf[101], 0);	/* nothing beyond len written */

	/* what we read is the memory now, not a copy made earlier */
	g_pattern[0] ^= 0xFF;
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern), buf, 1), PS_OK);
	assert_int_equal(buf[0], g_pattern[0]);
}

static void test_read_ptr_reads_64bit_value(void **state)
{
	struct ps_mem m;
	uint64_t v = 0;

	(void)state;
	ps_mem_init(&m, getpid());
	assert_int_equal(ps_mem_read_ptr(&m, addr_of(&g_word), &v), PS_OK);
	assert_true(v == 0x1122334455667788ULL);
	assert_int_equal(m.bytes, 8);
	assert_int_equal(m.reads, 1);
}

static void test_counters_move_as_documented(void **state)
{
	struct ps_mem m;
	unsigned char buf[64];
	unsigned char *hole;
	unsigned char *p = page_before_hole(&hole);

	(void)state;
	ps_mem_init(&m, getpid());
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern), buf, 10), PS_OK);
	assert_int_equal(m.reads, 1);
	assert_int_equal(m.bytes, 10);
	assert_int_equal(m.errors, 0);
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern), buf, 64), PS_OK);
	assert_int_equal(m.reads, 2);
	assert_int_equal(m.bytes, 74);
	assert_int_equal(m.errors, 0);

	/* a failed syscall: one more read, one more error, no bytes */
	assert_int_equal(ps_mem_read(&m, addr_of(hole), buf, 8), PS_EREAD);
	assert_int_equal(m.reads, 3);
	assert_int_equal(m.errors, 1);
	assert_int_equal(m.bytes, 74);

	/* a partial read is an error; bytes counts what actually came */
	assert_int_equal(ps_mem_read(&m, addr_of(hole - 8), buf, 16), PS_EREAD);
	assert_int_equal(m.reads, 4);
	assert_int_equal(m.errors, 2);
	assert_int_equal(m.bytes, 74 + 8);

	/* a zero-length read of a plausible address is fine */
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern), buf, 0), PS_OK);
	assert_int_equal(m.errors, 2);
	assert_int_equal(m.bytes, 82);

	munmap(p, PAGE);
}

static void test_implausible_address_fails_without_syscall(void **state)
{
	static const uint64_t bad[] = {
		0, 1, 8, 4095,			/* the NULL page */
		(uint64_t)1 << 47,		/* beyond user space */
		~(uint64_t)0,
		0xffff800000000000ULL,		/* kernel half */
	};
	struct ps_mem m;
	unsigned char buf[16];

	(void)state;
	ps_mem_init(&m, getpid());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 0x5A, sizeof(buf));
		assert_int_equal(ps_mem_read(&m, bad[i], buf, 8), PS_EREAD);
		assert_int_equal(buf[0], 0x5A);
		assert_int_equal(m.errors, i + 1);
	}
	/* plausible start, but the range runs past the top of user space */
	assert_int_equal(ps_mem_read(&m, ((uint64_t)1 << 47) - 4, buf, 8), PS_EREAD);
	assert_int_equal(m.reads, 0);
	assert_int_equal(m.bytes, 0);
	assert_int_equal(m.errors, sizeof(bad) / sizeof(bad[0]) + 1);

	/* the bounds of the cheap check itself */
	assert_false(ps_mem_plausible(4095));
	assert_true(ps_mem_plausible(4096));
	assert_true(ps_mem_plausible(((uint64_t)1 << 47) - 1));
	assert_false(ps_mem_plausible((uint64_t)1 << 47));
}

static void test_read_across_unmapped_page(void **state)
{
	struct ps_mem m;
	unsigned char buf[32];
	unsigned char *hole;
	unsigned char *p = page_before_hole(&hole);

	(void)state;
	for (int i = 0; i < 16; i++)
		hole[-16 + i] = (unsigned char)(0xA0 + i);
	ps_mem_init(&m, getpid());

	/* across the boundary: all or nothing */
	assert_int_equal(ps_mem_read(&m, addr_of(hole - 8), buf, 16), PS_EREAD);
	/* entirely inside the hole */
	assert_int_equal(ps_mem_read(&m, addr_of(hole), buf, 1), PS_EREAD);
	assert_int_equal(ps_mem_read(&m, addr_of(hole + 100), buf, 8), PS_EREAD);
	/* just inside: the last 16 mapped bytes */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ps_mem_read(&m, addr_of(hole - 16), buf, 16), PS_OK);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0xA0 + i);
	/* the very last mapped byte */
	assert_int_equal(ps_mem_read(&m, addr_of(hole - 1), buf, 1), PS_OK);
	assert_int_equal(buf[0], 0xAF);
	assert_int_equal(m.errors, 3);
	assert_int_equal(m.reads, 5);

	munmap(p, PAGE);
}

static void test_read_beyond_max_is_enomem(void **state)
{
	struct ps_mem m;
	unsigned char buf[16];

	(void)state;
	ps_mem_init(&m, getpid());
	memset(buf, 0x5A, sizeof(buf));
	/* buf is far too small: the bound must be checked before any copy */
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern), buf, PS_MEM_MAX_READ + 1),
			 PS_ENOMEM);
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern), buf, (size_t)-1), PS_ENOMEM);
	assert_int_equal(buf[0], 0x5A);
	assert_int_equal(m.reads, 0);
	assert_int_equal(m.errors, 2);
}

static void test_read_max_size_is_allowed(void **state)
{
	struct ps_mem m;
	size_t len = PS_MEM_MAX_READ;
	unsigned char *src = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(src != MAP_FAILED);
	assert_true(dst != MAP_FAILED);
	src[0] = 1;
	src[len / 2] = 2;
	src[len - 1] = 3;
	ps_mem_init(&m, getpid());
	assert_int_equal(ps_mem_read(&m, addr_of(src), dst, len), PS_OK);
	assert_int_equal(dst[0], 1);
	assert_int_equal(dst[len / 2], 2);
	assert_int_equal(dst[len - 1], 3);
	assert_true(m.bytes == len);
	munmap(src, len);
	munmap(dst, len);
}

/* ---- ps_mem_readv ---- */

static void test_readv_several_ranges(void **state)
{
	struct ps_mem m;
	unsigned char a[40], c[5];
	uint64_t b = 0;
	char d[sizeof(g_text)];
	struct ps_mem_range r[] = {
		{ addr_of(g_pattern + 100), a, sizeof(a) },
		{ addr_of(&g_word), &b, sizeof(b) },
		{ addr_of(g_pattern), c, sizeof(c) },
		{ addr_of(g_text), d, sizeof(d) },
	};

	(void)state;
	fill_pattern();
	ps_mem_init(&m, getpid());
	assert_int_equal(ps_mem_readv(&m, r, 4), PS_OK);
	assert_memory_equal(a, g_pattern + 100, sizeof(a));
	assert_true(b == g_word);
	assert_memory_equal(c, g_pattern, sizeof(c));
	assert_string_equal(d, g_text);
	assert_int_equal(m.reads, 1);	/* one syscall for all of them */
	assert_int_equal(m.bytes, sizeof(a) + sizeof(b) + sizeof(c) + sizeof(d));
	assert_int_equal(m.errors, 0);

	/* nothing to read is not an error and no syscall */
	assert_int_equal(ps_mem_readv(&m, r, 0), PS_OK);
	assert_int_equal(m.reads, 1);
	assert_int_equal(m.errors, 0);
}

static void test_readv_one_bad_range_fails_all(void **state)
{
	struct ps_mem m;
	unsigned char a[8], b[8];
	unsigned char *hole;
	unsigned char *p = page_before_hole(&hole);
	struct ps_mem_range r[] = {
		{ addr_of(g_pattern), a, sizeof(a) },
		{ addr_of(hole), b, sizeof(b) },
	};

	(void)state;
	ps_mem_init(&m, getpid());
	assert_int_equal(ps_mem_readv(&m, r, 2), PS_EREAD);
	assert_int_equal(m.errors, 1);

	/* an implausible range is refused before the syscall */
	r[1].addr = 16;
	assert_int_equal(ps_mem_readv(&m, r, 2), PS_EREAD);
	assert_int_equal(m.reads, 1);
	assert_int_equal(m.errors, 2);

	/* so is a range beyond the size bound, even after good ones */
	r[1].addr = addr_of(g_pattern);
	r[1].len = PS_MEM_MAX_READ + 1;
	assert_int_equal(ps_mem_readv(&m, r, 2), PS_ENOMEM);
	assert_int_equal(m.reads, 1);
	assert_int_equal(m.errors, 3);
	munmap(p, PAGE);
}

static void test_readv_max_ranges_ok_one_more_usage(void **state)
{
	enum { N = PS_MEM_MAX_RANGES };
	struct ps_mem m;
	struct ps_mem_range r[N + 1];
	unsigned char out[N + 1][4];

	(void)state;
	assert_true(4 * (N + 1) <= (int)sizeof(g_pattern));
	fill_pattern();
	for (int i = 0; i <= N; i++)
		r[i] = (struct ps_mem_range){ addr_of(g_pattern + 4 * i), out[i], 4 };
	ps_mem_init(&m, getpid());
	memset(out, 0, sizeof(out));
	assert_int_equal(ps_mem_readv(&m, r, N), PS_OK);
	for (int i = 0; i < N; i++)
		assert_memory_equal(out[i], g_pattern + 4 * i, 4);
	assert_int_equal(m.reads, 1);

	memset(out, 0, sizeof(out));
	assert_int_equal(ps_mem_readv(&m, r, N + 1), PS_EUSAGE);
	assert_int_equal(m.reads, 1);	/* refused before any syscall */
	assert_int_equal(out[0][0], 0);
	assert_int_equal(ps_mem_readv(&m, r, 1000), PS_EUSAGE);
	assert_int_equal(m.reads, 1);
}

/* ---- prefetching ---- */

static void test_prefetch_serves_last_snapshots_reads_fresh_with_one_call(void **state)
{
	struct ps_mem m;
	uint64_t w = 0;
	unsigned char out[8];

	(void)state;
	fill_pattern();
	ps_mem_init(&m, getpid());
	ps_mem_prefetch_begin(&m); /* nothing remembered yet: no call */
	assert_int_equal(m.reads, 0);
	assert_int_equal(ps_mem_read_ptr(&m, addr_of(&g_word), &w), PS_OK);
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern + 100), out, 8), PS_OK);
	ps_mem_prefetch_end(&m);
	assert_int_equal(m.reads, 2);

	g_word = 0x0102030405060708ULL; /* changed between snapshots */
	g_pattern[100] ^= 0xFF;
	ps_mem_prefetch_begin(&m);
	assert_int_equal(m.reads, 3);
	assert_int_equal(ps_mem_read_ptr(&m, addr_of(&g_word), &w), PS_OK);
	assert_int_equal(ps_mem_read(&m, addr_of(g_pattern + 100), out, 8), PS_OK);
	assert_int_equal(m.reads, 3); /* both served from the prefetch... */
	assert_int_equal(m.served, 2);
	assert_true(w == 0x0102030405060708ULL); /* ...as read at begin */
	assert_memory_equal(out, g_pattern + 100, 8);
	ps_mem_prefetch_end(&m);

	/* outside a snapshot every read is a call */
	assert_int_equal(ps_mem_read_ptr(&m, addr_of(&g_word), &w), PS_OK);
	assert_int_equal(m.reads, 4);
	g_word = 0x1122334455667788ULL;
	fill_pattern();
	ps_mem_release(&m);
	ps_mem_release(&m); /* twice is harmless */
}

static void test_prefetch_of_a_page_unmapped_since_serves_the_rest(void **state)
{
	struct ps_mem m;
	unsigned char *hole, out[16];
	unsigned char *page = page_before_hole(&hole);
	unsigned char *other = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(other != MAP_FAILED);
	memset(page, 0x5A, PAGE);
	memset(other, 0xA5, PAGE);
	ps_mem_init(&m, getpid());
	ps_mem_prefetch_begin(&m);
	/* the range ends at the hole: its slack must not cross into it */
	assert_int_equal(ps_mem_read(&m, addr_of(hole - 16), out, 16), PS_OK);
	assert_int_equal(ps_mem_read(&m, addr_of(other + 64), out, 16), PS_OK);
	ps_mem_prefetch_end(&m);

	ps_mem_prefetch_begin(&m);
	assert_int_equal(ps_mem_read(&m, addr_of(hole - 16), out, 16), PS_OK);
	assert_int_equal(ps_mem_read(&m, addr_of(other + 64), out, 16), PS_OK);
	assert_int_equal(m.served, 2);
	ps_mem_prefetch_end(&m);
	uint64_t errors = m.errors;

	assert_int_equal(munmap(page, PAGE), 0); /* gone before the next snapshot */
	ps_mem_prefetch_begin(&m);
	assert_int_equal(m.errors, errors); /* a failed prefetch is no error */
	assert_int_equal(ps_mem_read(&m, addr_of(hole - 16), out, 16), PS_EREAD);
	assert_int_equal(ps_mem_read(&m, addr_of(other + 64), out, 16), PS_OK);
	assert_int_equal(out[0], 0xA5);
	ps_mem_prefetch_end(&m);
	munmap(other, PAGE);
	ps_mem_release(&m);
}

/* Two ranges close together on either side of a page boundary (read as one
 * span, the bytes between them included) are served as of the begin, next
 * to a range that ends at an unmapped page. */
static void test_prefetch_serves_close_ranges_either_side_of_a_page_boundary(void **state)
{
	struct ps_mem m;
	unsigned char out[16], *hole;
	unsigned char *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *page = page_before_hole(&hole);

	(void)state;
	assert_true(two != MAP_FAILED);
	memset(two, 1, 2 * PAGE);
	memset(page, 2, PAGE);
	ps_mem_init(&m, getpid());
	for (int round = 0; round < 3; round++) {
		ps_mem_prefetch_begin(&m);
		two[PAGE - 600] = two[PAGE + 300] = (unsigned char)(10 + round); /* after begin */
		assert_int_equal(ps_mem_read(&m, addr_of(two + PAGE - 600), out, 16), PS_OK);
		assert_int_equal(out[0], round ? 10 + round - 1 : 10 + round);
		assert_int_equal(ps_mem_read(&m, addr_of(two + PAGE + 300), out, 16), PS_OK);
		assert_int_equal(out[0], round ? 10 + round - 1 : 10 + round);
		assert_int_equal(ps_mem_read(&m, addr_of(hole - 16), out, 16), PS_OK);
		ps_mem_prefetch_end(&m);
	}
	assert_int_equal(m.served, 6); /* rounds 2 and 3, from one call each */
	assert_int_equal(m.reads, 3 + 2);
	assert_int_equal(m.errors, 0);
	munmap(two, 2 * PAGE);
	ps_mem_release(&m);
}

/* n fresh pages, every byte fill. */
static unsigned char *map_pages(size_t n, int fill)
{
	unsigned char *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, fill, n * PAGE);
	return p;
}

/* One snapshot reading 16 bytes at each of addrs: 1 if all were served by
 * the prefetch (no call of their own). */
static int snapshot_served(struct ps_mem *m, const unsigned char *const *addrs, size_t n)
{
	unsigned char out[16];
	ps_mem_prefetch_begin(m);
	uint64_t reads = m->reads;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ps_mem_read(m, addr_of(addrs[i]), out, 16), PS_OK);
		assert_memory_equal(out, addrs[i], 16);
	}
	ps_mem_prefetch_end(m);
	return m->reads == reads;
}

/* A range left out of a snapshot (a walk cut short) is still prefetched
 * in the PS_MEM_PREFETCH_KEEP snapshots after it was last read, then no
 * more; a prefetch that fails forgets the ranges it only kept. */
static void test_prefetch_keeps_ranges_of_recent_snapshots(void **state)
{
	struct ps_mem m;
	unsigned char *p = map_pages(8, 7);
	(void)state;
	const unsigned char *a[] = { p + 100 }, *ab[] = { p + 100, p + 5 * PAGE + 100 },
			    *b[] = { p + 5 * PAGE + 100 }, *c[] = { p + 7 * PAGE + 100 };
	ps_mem_init(&m, getpid());
	assert_false(snapshot_served(&m, ab, 2));
	for (int i = 1; i < PS_MEM_PREFETCH_KEEP; i++)
		assert_true(snapshot_served(&m, a, 1));
	assert_true(snapshot_served(&m, b, 1)); /* the 16th after its read */
	for (int i = 0; i < PS_MEM_PREFETCH_KEEP; i++)
		assert_true(snapshot_served(&m, a, 1));
	assert_false(snapshot_served(&m, b, 1)); /* the 17th: a call */

	assert_false(snapshot_served(&m, c, 1)); /* kept now: a, b and c */
	assert_true(snapshot_served(&m, a, 1));
	assert_int_equal(munmap(p + 7 * PAGE, PAGE), 0);
	uint64_t errors = m.errors;
	assert_true(snapshot_served(&m, a, 1)); /* its prefetch failed at c */
	assert_false(snapshot_served(&m, b, 1)); /* b was forgotten with c */
	assert_int_equal(m.errors, errors);
	munmap(p, 7 * PAGE);
	ps_mem_release(&m);
}

/* Ranges in the same or the next page are copied as one span, the bytes
 * between them too; never across a page no range lies in, which may be
 * unmapped. */
static void test_prefetch_merges_ranges_in_neighbouring_pages_only(void **state)
{
	struct ps_mem m;
	unsigned char *p = map_pages(5, 9);
	(void)state;
	assert_int_equal(munmap(p + 3 * PAGE, PAGE), 0);
	const unsigned char *r[] = { p + 100, p + 2 * PAGE - 100, p + 2 * PAGE + 50,
				     p + 4 * PAGE + 100 };
	ps_mem_init(&m, getpid());
	assert_false(snapshot_served(&m, r, 4));
	uint64_t bytes = m.bytes, errors = m.errors;
	assert_true(snapshot_served(&m, r, 4));
	/* from the first range to the end of the third (with its slack of
	 * 512), then the last with its slack: two spans */
	assert_int_equal(m.bytes - bytes, (2 * PAGE + 50 + 16 + 512 - 100) + (16 + 512));
	assert_int_equal(m.errors, errors);
	munmap(p, 3 * PAGE);
	munmap(p + 4 * PAGE, PAGE);
	ps_mem_release(&m);
}

/* The prefetch copies in the order of first reads: a range read first
 * but lying higher is still copied (and served) when a lower one, read
 * after it, has been unmapped since. */
static void test_prefetch_copies_in_first_read_order(void **state)
{
	struct ps_mem m;
	unsigned char out[16];
	unsigned char *p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(p != MAP_FAILED);
	for (size_t i = 0; i < 8 * PAGE; i++)
		p[i] = (unsigned char)(i / 16);
	ps_mem_init(&m, getpid());
	ps_mem_prefetch_begin(&m);
	assert_int_equal(ps_mem_read(&m, addr_of(p + 7 * PAGE + 100), out, 16), PS_OK);
	assert_int_equal(ps_mem_read(&m, addr_of(p + 100), out, 16), PS_OK);
	ps_mem_prefetch_end(&m);
	assert_int_equal(munmap(p, PAGE), 0);

	ps_mem_prefetch_begin(&m);
	uint64_t errors = m.errors;
	assert_int_equal(ps_mem_read(&m, addr_of(p + 7 * PAGE + 100), out, 16), PS_OK);
	assert_memory_equal(out, p + 7 * PAGE + 100, 16);
	assert_int_equal(m.served, 1);
	assert_int_equal(ps_mem_read(&m, addr_of(p + 100), out, 16), PS_EREAD);
	assert_int_equal(m.errors, errors + 1);
	ps_mem_prefetch_end(&m);
	munmap(p + PAGE, 7 * PAGE);
	ps_mem_release(&m);
}

/* ---- ps_mem_read_cstr ---- */

static void test_cstr_ending_at_end_of_mapped_page(void **state)
{
	struct ps_mem m;
	char out[256];
	unsigned char *hole;
	unsigned char *p = page_before_hole(&hole);
	static const char s[] = "ends at the page";

	(void)state;
	/* the NUL is the very last mapped byte */
	memcpy(hole - sizeof(s), s, sizeof(s));
	ps_mem_init(&m, getpid());
	memset(out, 'Z', sizeof(out));
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(hole - sizeof(s)), out, sizeof(out)),
			 PS_OK);
	assert_string_equal(out, s);
	assert_int_equal(m.errors, 0);

	/* the empty string in the last byte */
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(hole - 1), out, sizeof(out)), PS_OK);
	assert_string_equal(out, "");
	munmap(p, PAGE);
}

static void test_cstr_spanning_two_pages(void **state)
{
	struct ps_mem m;
	char out[300];
	char want[200];
	unsigned char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(p != MAP_FAILED);
	assert_int_equal(munmap(p + 2 * PAGE, PAGE), 0);
	for (int i = 0; i < 199; i++)
		want[i] = (char)('a' + i % 26);
	want[199] = '\0';
	/* starts 50 bytes before the first page boundary, ends in page two */
	memcpy(p + PAGE - 50, want, sizeof(want));
	ps_mem_init(&m, getpid());
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(p + PAGE - 50), out, sizeof(out)),
			 PS_OK);
	assert_string_equal(out, want);
	assert_true(m.reads >= 2);
	assert_int_equal(m.errors, 0);
	munmap(p, 2 * PAGE);
}

static void test_cstr_longer_than_cap_is_truncated(void **state)
{
	struct ps_mem m;
	char out[16];

	(void)state;
	ps_mem_init(&m, getpid());
	memset(out, 'Z', sizeof(out));
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(g_text), out, 10), PS_OK);
	assert_string_equal(out, "the quick");	/* cap - 1 bytes */
	assert_int_equal(out[10], 'Z');		/* nothing written past cap */

	/* exactly fitting: strlen == cap - 1 */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(g_text + 10), out, 10), PS_OK);
	assert_string_equal(out, "brown fox");

	/* cap 1: only the terminator */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(g_text), out, 1), PS_OK);
	assert_int_equal(out[0], '\0');
	assert_int_equal(out[1], 'Z');
	assert_int_equal(m.errors, 0);

	/* cap 0: nowhere to put even the terminator */
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(g_text), out, 0), PS_EUSAGE);
	assert_int_equal(out[1], 'Z');
}

static void test_cstr_unterminated_up_to_unmapped_page(void **state)
{
	struct ps_mem m;
	char out[512];
	unsigned char *hole;
	unsigned char *p = page_before_hole(&hole);

	(void)state;
	memset(p, 'x', PAGE);	/* no NUL anywhere in the mapped page */
	ps_mem_init(&m, getpid());
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(hole - 100), out, sizeof(out)),
			 PS_EREAD);
	assert_true(m.errors >= 1);
	/* with a cap that ends before the hole it is just a truncation */
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(hole - 100), out, 50), PS_OK);
	assert_int_equal(strlen(out), 49);
	/* starting in the hole */
	assert_int_equal(ps_mem_read_cstr(&m, addr_of(hole), out, sizeof(out)), PS_EREAD);
	/* a NULL pointer */
	assert_int_equal(ps_mem_read_cstr(&m, 0, out, sizeof(out)), PS_EREAD);
	munmap(p, PAGE);
}

/* ---- a process that is gone ---- */

static void test_read_exited_process_is_gone(void **state)
{
	struct ps_mem m;
	uint64_t v = 0;
	int status;

	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));

	ps_mem_init(&m, pid);
	/* g_word is mapped at the same address in the child: only its being
	 * gone can make this fail. process_vm_readv says ESRCH. */
	assert_int_equal(ps_mem_read_ptr(&m, addr_of(&g_word), &v), PS_EGONE);
	assert_int_equal(m.reads, 1);
	assert_int_equal(m.errors, 1);
	assert_int_equal(m.bytes, 0);
	assert_int_equal(ps_err_from_errno(ESRCH), PS_EGONE);
}

static void test_read_forked_child_sees_its_memory(void **state)
{
	struct ps_mem m;
	uint64_t v = 0;
	int status;
	int go[2];

	(void)state;
	/* the positive counterpart of the test above: the child's copy of
	 * g_word differs from ours, so we read the child, not ourselves */
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		g_word = 0xC0FFEE;
		close(go[1]);
		(void)!read(go[0], &c, 1); /* wait until the parent is done */
		_exit(0);
	}
	close(go[0]);
	ps_mem_init(&m, pid);
	int rc = PS_EREAD;
	for (int i = 0; i < 2000 && !(rc == PS_OK && v == 0xC0FFEE); i++) {
		rc = ps_mem_read_ptr(&m, addr_of(&g_word), &v);
		if (rc != PS_OK || v != 0xC0FFEE)
			usleep(1000);
	}
	close(go[1]);	/* lets the child exit */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_int_equal(rc, PS_OK);
	assert_true(v == 0xC0FFEE);
	assert_true(g_word == 0x1122334455667788ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_zeroes_counters_and_sets_pid),
		cmocka_unit_test(test_read_global_round_trip),
		cmocka_unit_test(test_read_ptr_reads_64bit_value),
		cmocka_unit_test(test_counters_move_as_documented),
		cmocka_unit_test(test_implausible_address_fails_without_syscall),
		cmocka_unit_test(test_read_across_unmapped_page),
		cmocka_unit_test(test_read_beyond_max_is_enomem),
		cmocka_unit_test(test_read_max_size_is_allowed),
		cmocka_unit_test(test_readv_several_ranges),
		cmocka_unit_test(test_readv_one_bad_range_fails_all),
		cmocka_unit_test(test_readv_max_ranges_ok_one_more_usage),
		cmocka_unit_test(test_prefetch_serves_last_snapshots_reads_fresh_with_one_call),
		cmocka_unit_test(test_prefetch_of_a_page_unmapped_since_serves_the_rest),
		cmocka_unit_test(test_prefetch_serves_close_ranges_either_side_of_a_page_boundary),
		cmocka_unit_test(test_prefetch_copies_in_first_read_order),
		cmocka_unit_test(test_prefetch_keeps_ranges_of_recent_snapshots),
		cmocka_unit_test(test_prefetch_merges_ranges_in_neighbouring_pages_only),
		cmocka_unit_test(test_cstr_ending_at_end_of_mapped_page),
		cmocka_unit_test(test_cstr_spanning_two_pages),
		cmocka_unit_test(test_cstr_longer_than_cap_is_truncated),
		cmocka_unit_test(test_cstr_unterminated_up_to_unmapped_page),
		cmocka_unit_test(test_read_exited_process_is_gone),
		cmocka_unit_test(test_read_forked_child_sees_its_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
