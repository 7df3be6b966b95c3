/* ps_maps: parsing /proc/PID/maps text, lookups, load bias. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "ps_maps.h"

/* Lines as the kernel writes them (padding before the path included), with
 * the awkward cases: no path, spaces in the path, " (deleted)", pseudo
 * paths, garbage, and a last line without its newline. */
static const char maps_text[] =
	"00400000-00452000 r-xp 00000000 08:02 173521                             /usr/bin/dbus-daemon\n"
	"00651000-00652000 r--p 00051000 08:02 173521                             /usr/bin/dbus-daemon\n"
	"00652000-00655000 rw-p 00052000 08:02 173521                             /usr/bin/dbus-daemon\n"
	"00e03000-00e24000 rw-p 00000000 00:00 0                                  [heap]\n"
	"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
	"this is not a mapping\n"
	"7f0000001000-7f0000002000 r--s 00000000 08:02 42                         /tmp/my dir/lib with  spaces.so\n"
	"7f0000002000-7f0000003000 r-xp 00001000 fe:01 43                         /tmp/libpython3.11.so.1.0 (deleted)\n"
	"\n"
	"7f0000004000-7f0000003000 r-xp 00000000 00:00 0                          /backwards\n"
	"7f0000005000-7f0000006000 rwxq 00000000 00:00 0                          /badperms\n"
	"7f0000006000 r-xp 00000000 00:00 0                                       /nodash\n"
	"7ffd5a3c1000-7ffd5a3c3000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7ffd5a3c3000-7ffd5a3c4000 ---p 00000000 00:00 0\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

static void test_parse(void **state)
{
	struct ps_maps m;

	(void)state;
	assert_int_equal(ps_maps_parse(maps_text, &m), PS_OK);
	assert_int_equal(m.n, 10);

	assert_int_equal(m.v[0].start, 0x400000);
	assert_int_equal(m.v[0].end, 0x452000);
	assert_int_equal(m.v[0].perms, PS_MAP_R | PS_MAP_X | PS_MAP_P);
	assert_int_equal(m.v[0].inode, 173521);
	assert_string_equal(m.v[0].path, "/usr/bin/dbus-daemon");
	assert_int_equal(m.v[1].offset, 0x51000);
	assert_int_equal(m.v[2].perms, PS_MAP_R | PS_MAP_W | PS_MAP_P);

	assert_string_equal(m.v[3].path, "[heap]");
	assert_string_equal(m.v[4].path, "");
	assert_int_equal(m.v[4].inode, 0);
	assert_string_equal(m.v[5].path, "/tmp/my dir/lib with  spaces.so");
	assert_int_equal(m.v[5].perms, PS_MAP_R); /* shared: no P */
	assert_string_equal(m.v[6].path, "/tmp/libpython3.11.so.1.0 (deleted)");
	assert_int_equal(m.v[6].offset, 0x1000);
	assert_string_equal(m.v[7].path, "[vdso]");
	assert_string_equal(m.v[8].path, "");
	assert_int_equal(m.v[8].perms, PS_MAP_P);
	assert_string_equal(m.v[9].path, "[vsyscall]");
	assert_int_equal(m.v[9].start, 0xffffffffff600000ull);
	assert_int_equal(m.v[9].perms, PS_MAP_X | PS_MAP_P);
	ps_maps_release(&m);
	assert_null(m.v);
	assert_int_equal(m.n, 0);
	ps_maps_release(&m); /* twice is harmless */
}

static void test_parse_edge(void **state)
{
	struct ps_maps m;

	(void)state;
	assert_int_equal(ps_maps_parse("", &m), PS_OK);
	assert_int_equal(m.n, 0);
	ps_maps_release(&m);

	/* Overflowing numbers and truncated lines are skipped. */
	assert_int_equal(ps_maps_parse(
		"1ffffffffffffffff-2ffffffffffffffff r--p 00000000 00:00 0 /big\n"
		"1000-2000 r--p 00000000 00:00\n"
		"1000-2000 r--p\n"
		"1000-2000 r--p 00000000 00:00 0x12 /hexinode\n"
		"1000-2000\n", &m), PS_OK);
	assert_int_equal(m.n, 0);
	ps_maps_release(&m);

	/* Out of order input is sorted, so that find() works. */
	assert_int_equal(ps_maps_parse(
		"5000-6000 r--p 00000000 00:00 0 /b\n"
		"1000-2000 r--p 00000000 00:00 0 /a\n", &m), PS_OK);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.v[0].path, "/a");
	assert_string_equal(ps_maps_find(&m, 0x5800)->path, "/b");
	ps_maps_release(&m);
}

static void test_find(void **state)
{
	struct ps_maps m;
	const struct ps_map *p;

	(void)state;
	assert_int_equal(ps_maps_parse(maps_text, &m), PS_OK);
	assert_null(ps_maps_find(&m, 0));
	assert_null(ps_maps_find(&m, 0x3fffff));
	assert_ptr_equal(ps_maps_find(&m, 0x400000), &m.v[0]); /* inclusive */
	assert_ptr_equal(ps_maps_find(&m, 0x451fff), &m.v[0]);
	assert_null(ps_maps_find(&m, 0x452000));             /* exclusive */
	assert_null(ps_maps_find(&m, 0x650fff));
	assert_ptr_equal(ps_maps_find(&m, 0x651000), &m.v[1]);
	assert_ptr_equal(ps_maps_find(&m, 0x652000), &m.v[2]); /* adjacent */
	assert_ptr_equal(ps_maps_find(&m, 0x651fff), &m.v[1]);
	p = ps_maps_find(&m, 0x7f0000002abcull);
	assert_non_null(p);
	assert_string_equal(p->path, "/tmp/libpython3.11.so.1.0 (deleted)");
	assert_null(ps_maps_find(&m, 0x7f0000003000ull));
	assert_ptr_equal(ps_maps_find(&m, 0xffffffffff600000ull), &m.v[9]);
	assert_ptr_equal(ps_maps_find(&m, 0xffffffffff600fffull), &m.v[9]);
	assert_null(ps_maps_find(&m, 0xffffffffff601000ull));
	assert_null(ps_maps_find(&m, UINT64_MAX));
	ps_maps_release(&m);

	/* Empty set. */
	m.v = NULL;
	m.n = 0;
	assert_null(ps_maps_find(&m, 0x1000));
}

static void test_find_path(void **state)
{
	struct ps_maps m;

	(void)state;
	assert_int_equal(ps_maps_parse(maps_text, &m), PS_OK);
	assert_ptr_equal(ps_maps_find_path(&m, "dbus"), &m.v[0]); /* lowest */
	assert_ptr_equal(ps_maps_find_path(&m, "dbus-daemon"), &m.v[0]);
	assert_ptr_equal(ps_maps_find_path(&m, "libpython"), &m.v[6]);
	assert_ptr_equal(ps_maps_find_path(&m, "lib with"), &m.v[5]);
	/* Only the base name counts, and pseudo paths are not files. */
	assert_null(ps_maps_find_path(&m, "usr"));
	assert_null(ps_maps_find_path(&m, "bin"));
	assert_null(ps_maps_find_path(&m, "heap"));
	assert_null(ps_maps_find_path(&m, "[heap]"));
	assert_null(ps_maps_find_path(&m, "python"));
	assert_null(ps_maps_find_path(&m, "libpython3.12"));
	ps_maps_release(&m);
}

/* A PIE python, a non-PIE python and a libpython, the way ld.so maps them;
 * plus a whole-file data mapping of the library (as libelf makes when a
 * process reads its own libraries) just below its loaded image, and one
 * far below. */
static const char bias_text[] =
	"00400000-00401000 r--p 00000000 08:01 10 /usr/bin/python2.7\n"
	"00401000-00600000 r-xp 00001000 08:01 10 /usr/bin/python2.7\n"
	"00800000-00810000 rw-p 00200000 08:01 10 /usr/bin/python2.7\n"
	"55d0c0000000-55d0c0020000 r--p 00000000 08:01 11 /usr/bin/python3.11\n"
	"55d0c0020000-55d0c0300000 r-xp 00020000 08:01 11 /usr/bin/python3.11\n"
	"7f1000000000-7f1000400000 r--p 00000000 08:01 12 /usr/lib/libpython3.11.so.1.0\n"
	"7f1fffc00000-7f2000000000 r--p 00000000 08:01 12 /usr/lib/libpython3.11.so.1.0\n"
	"7f2000000000-7f2000100000 r--p 00000000 08:01 12 /usr/lib/libpython3.11.so.1.0\n"
	"7f2000100000-7f2000200000 ---p 00100000 08:01 12 /usr/lib/libpython3.11.so.1.0\n"
	"7f2000200000-7f2000300000 r-xp 00200000 08:01 12 /usr/lib/libpython3.11.so.1.0\n"
	"7f3000000000-7f3000001000 r--p 00000000 08:01 13 /usr/lib/libdata.so (deleted)\n"
	"7f4000000000-7f4000010000 r--p 00000000 08:01 14 /tmp/x.so\n";

static void test_load_bias(void **state)
{
	struct ps_maps m;
	uint64_t bias = 1;
	long page = sysconf(_SC_PAGESIZE);

	(void)state;
	assert_int_equal(ps_maps_parse(bias_text, &m), PS_OK);

	/* Non-PIE: vaddr 0x400000 at offset 0 is loaded where linked. */
	assert_int_equal(ps_maps_load_bias(&m, "/usr/bin/python2.7", 0x400000, 0,
					   &bias), PS_OK);
	assert_int_equal(bias, 0);

	/* PIE: vaddr 0 at offset 0. */
	assert_int_equal(ps_maps_load_bias(&m, "/usr/bin/python3.11", 0, 0, &bias),
			 PS_OK);
	assert_int_equal(bias, 0x55d0c0000000ull);

	/* The loaded image, not the data mapping at the lower address. */
	assert_int_equal(ps_maps_load_bias(&m, "/usr/lib/libpython3.11.so.1.0", 0,
					   0, &bias), PS_OK);
	assert_int_equal(bias, 0x7f2000000000ull);

	/* Unaligned first segment: both rounded down to the page. */
	if (page <= 0x1000) {
		assert_int_equal(ps_maps_load_bias(&m, "/usr/bin/python2.7",
						   0x400234, 0x234, &bias), PS_OK);
		assert_int_equal(bias, 0);
	}

	/* A replaced file: the " (deleted)" suffix is tolerated. */
	assert_int_equal(ps_maps_load_bias(&m, "/usr/lib/libdata.so", 0x10000, 0,
					   &bias), PS_OK);
	assert_int_equal(bias, 0x7f3000000000ull - 0x10000);
	assert_int_equal(ps_maps_load_bias(&m, "/usr/lib/libdata.so (deleted)",
					   0x10000, 0, &bias), PS_OK);
	assert_int_equal(bias, 0x7f3000000000ull - 0x10000);

	/* Not executable anywhere, still the only candidate. */
	assert_int_equal(ps_maps_load_bias(&m, "/tmp/x.so", 0, 0, &bias), PS_OK);
	assert_int_equal(bias, 0x7f4000000000ull);

	assert_int_equal(ps_maps_load_bias(&m, "", 0, 0, &bias), PS_EINVAL);
	/* Missing path, no mapping at that offset, prefix is not enough. */
	assert_int_equal(ps_maps_load_bias(&m, "/usr/bin/python3", 0, 0, &bias),
			 PS_EINVAL);
	assert_int_equal(ps_maps_load_bias(&m, "/usr/bin/python3.11", 0x5000,
					   0x5000, &bias), PS_EINVAL);
	assert_int_equal(ps_maps_load_bias(&m, "/usr/lib/libdata", 0, 0, &bias),
			 PS_EINVAL);
	ps_maps_release(&m);
}

static void test_read_self(void **state)
{
	struct ps_maps m;
	struct ps_errmsg e = { 0 };
	const struct ps_map *p;
	char exe[PATH_MAX];
	ssize_t n;

	(void)state;
	assert_int_equal(ps_maps_read(getpid(), &m, &e), PS_OK);
	assert_true(m.n > 5);
	for (size_t i = 1; i < m.n; i++)
		assert_true(m.v[i - 1].end <= m.v[i].start);

	/* Our code is in an executable mapping of our own file. */
	p = ps_maps_find(&m, (uintptr_t)&test_read_self);
	assert_non_null(p);
	assert_true(p->perms & PS_MAP_X);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_string_equal(p->path, exe);

	/* A stack variable is in a writable mapping. */
	p = ps_maps_find(&m, (uintptr_t)&e);
	assert_non_null(p);
	assert_true(p->perms & PS_MAP_W);
	ps_maps_release(&m);
}

static void test_read_missing(void **state)
{
	struct ps_maps m = { (void *)1, 1 };
	struct ps_errmsg e = { 0 };

	(void)state;
	/* Above any pid_max (at most 2^22). */
	assert_int_equal(ps_maps_read(INT_MAX, &m, &e), PS_ENOPROC);
	assert_int_equal(e.code, PS_ENOPROC);
	assert_string_equal(e.msg, "no process with pid 2147483647");
	assert_null(m.v);
	assert_int_equal(m.n, 0);
	assert_int_equal(ps_maps_read(0, &m, &e), PS_ENOPROC);
	assert_int_equal(ps_maps_read(-5, &m, &e), PS_ENOPROC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_edge),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_path),
		cmocka_unit_test(test_load_bias),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test(test_read_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
