/* ps_symbols: address -> function and object, on this test's own process
 * (its executable, libc, the vdso, anonymous memory), the per-object cache,
 * and C++ demangling. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps_symbols.h"

/* A function only .symtab knows (local binding), sized by the compiler. */
__attribute__((noinline)) static int symbols_test_local(int x)
{
	return x * 3 + 1;
}

/* A function of libc itself (under ASan, the default lookup would find the
 * sanitizer's interceptor instead). */
static void *libc_qsort(void)
{
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	assert_non_null(h);
	void *f = dlsym(h, "qsort");
	dlclose(h);
	assert_non_null(f);
	return f;
}

static int setup(void **state)
{
	struct ps_symbols *s;
	assert_int_equal(ps_symbols_new(getpid(), &s), PS_OK);
	ps_symbols_begin(s);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	ps_symbols_free(*state);
	return 0;
}

static void test_local_function_of_the_executable(void **state)
{
	struct ps_symbols *s = *state;
	struct ps_symbol sym;
	uint64_t addr = (uint64_t)(uintptr_t)&symbols_test_local;
	assert_int_equal(symbols_test_local(1), 4);
	assert_int_equal(ps_symbols_lookup(s, addr + 2, &sym), PS_OK);
	assert_non_null(sym.name);
	assert_string_equal(sym.name, "symbols_test_local");
	assert_int_equal(sym.offset, 2);
	assert_string_equal(sym.object, "test_symbols");
	assert_non_null(sym.path);
}

/* An exported libc function, by its public name among its aliases. */
static void test_libc_function_and_object_name(void **state)
{
	struct ps_symbols *s = *state;
	struct ps_symbol sym;
	void *f = libc_qsort();
	assert_int_equal(ps_symbols_lookup(s, (uint64_t)(uintptr_t)f, &sym), PS_OK);
	assert_non_null(sym.name);
	assert_string_equal(sym.name, "qsort");
	assert_non_null(sym.object);
	assert_memory_equal(sym.object, "libc.so", 7);
}

/* Inside an object but in no function (its ELF header): no name, but the
 * object's name all the same, as for a stripped object. */
static void test_no_symbol_still_names_the_object(void **state)
{
	struct ps_symbols *s = *state;
	struct ps_symbol sym;
	Dl_info info;
	assert_true(dladdr(libc_qsort(), &info) != 0);
	assert_int_equal(ps_symbols_lookup(s, (uint64_t)(uintptr_t)info.dli_fbase + 16, &sym),
			 PS_OK);
	assert_null(sym.name);
	assert_non_null(sym.object);
	assert_memory_equal(sym.object, "libc.so", 7);
}

/* The vdso is no file: its symbols come from its image in memory. */
static void test_vdso_symbols_from_memory(void **state)
{
	struct ps_symbols *s = *state;
	struct ps_symbol sym;
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	if (!base)
		skip();
	assert_int_equal(ps_symbols_lookup(s, base, &sym), PS_OK);
	assert_non_null(sym.object);
	assert_string_equal(sym.object, "[vdso]");
	/* somewhere in its first pages there is a function with a name */
	int named = 0;
	for (uint64_t a = base; a < base + 8192 && !named; a += 16)
		named = ps_symbols_lookup(s, a, &sym) == PS_OK && sym.name &&
			strstr(sym.name, "gettime") != NULL;
	assert_true(named);
}

static void test_anonymous_and_unmapped_memory(void **state)
{
	struct ps_symbols *s = *state;
	struct ps_symbol sym;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	ps_symbols_begin(s); /* a new mapping: allow a re-read */
	assert_int_equal(ps_symbols_lookup(s, (uint64_t)(uintptr_t)m + 8, &sym), PS_OK);
	assert_null(sym.name);
	assert_null(sym.object);
	munmap(m, 4096);
	assert_int_equal(ps_symbols_lookup(s, 4096, &sym), PS_EINVAL);
	assert_null(sym.object);
}

/* Each object's table is read once, however many lookups. */
static void test_objects_are_loaded_once(void **state)
{
	struct ps_symbols *s = *state;
	struct ps_symbol sym;
	uint64_t a = (uint64_t)(uintptr_t)&symbols_test_local;
	uint64_t b = (uint64_t)(uintptr_t)libc_qsort();
	assert_int_equal(ps_symbols_lookup(s, a, &sym), PS_OK);
	assert_int_equal(ps_symbols_lookup(s, b, &sym), PS_OK);
	size_t loaded = ps_symbols_objects_loaded(s);
	assert_int_equal(loaded, 2);
	for (int i = 0; i < 100; i++) {
		ps_symbols_begin(s);
		assert_int_equal(ps_symbols_lookup(s, i % 2 ? a : b, &sym), PS_OK);
		assert_non_null(sym.name);
	}
	assert_int_equal(ps_symbols_objects_loaded(s), loaded);
}

static void test_demangle(void **state)
{
	char out[256];
	(void)state;
	if (!ps_demangle("_ZN3foo3barEv", out, sizeof(out)))
		skip(); /* no libstdc++ on this machine */
	assert_string_equal(out, "foo::bar()");
	assert_int_equal(ps_demangle("_ZNK5Shape4areaEd", out, sizeof(out)), 1);
	assert_string_equal(out, "Shape::area(double) const");
	assert_int_equal(ps_demangle("compute", out, sizeof(out)), 0);
	assert_string_equal(out, "compute");
	assert_int_equal(ps_demangle("_Znot a mangled name", out, sizeof(out)), 0);
	assert_string_equal(out, "_Znot a mangled name");
	assert_int_equal(ps_demangle("_ZN3foo3barEv", out, 5), 1); /* cut, terminated */
	assert_string_equal(out, "foo:");
}

/* A C++ function of a mapped object is named demangled. */
static void test_cpp_symbol_is_demangled(void **state)
{
	struct ps_symbols *s = *state;
	struct ps_symbol sym;
	void *h = dlopen("libstdc++.so.6", RTLD_LAZY);
	if (!h)
		skip();
	void *f = dlsym(h, "_ZNKSt9bad_alloc4whatEv"); /* std::bad_alloc::what() const */
	assert_non_null(f);
	ps_symbols_begin(s);
	assert_int_equal(ps_symbols_lookup(s, (uint64_t)(uintptr_t)f, &sym), PS_OK);
	assert_non_null(sym.name);
	assert_string_equal(sym.name, "std::bad_alloc::what() const");
	assert_memory_equal(sym.object, "libstdc++.so", 12);
	dlclose(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_local_function_of_the_executable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_libc_function_and_object_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_symbol_still_names_the_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdso_symbols_from_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anonymous_and_unmapped_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_objects_are_loaded_once, setup, teardown),
		cmocka_unit_test(test_demangle),
		cmocka_unit_test_setup_teardown(test_cpp_symbol_is_demangled, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
