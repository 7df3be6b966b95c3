/* ps_elf: symbols, sections and load segments of real and synthetic ELF
 * files, and robustness against truncated and corrupted ones. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps_elf.h"
#include "ps_maps.h"

/* Symbols the tests look up in their own binary. The static ones only have
 * .symtab entries (local binding), which is what we need for CPython's
 * interp_head and friends. */
int test_elf_global = 42;
static int test_elf_static[4] = { 1, 2, 3, 4 };
static long test_elf_bss;

static char tmpdir[PATH_MAX / 2]; /* room for "/name" in a PATH_MAX */
static char self_path[PATH_MAX];

/* ---- helpers ---- */

static void tmp_path(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", tmpdir, name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Run-time address of a file's symbol: its value plus the load bias found
 * from our own /proc/self/maps. */
static uint64_t runtime_addr(struct ps_elf *elf, const char *path,
			     const char *sym)
{
	struct ps_maps maps;
	struct ps_errmsg e = { 0 };
	uint64_t vaddr, off, bias, addr;

	assert_int_equal(ps_elf_symbol(elf, sym, &addr, NULL), PS_OK);
	assert_int_equal(ps_maps_read(getpid(), &maps, &e), PS_OK);
	assert_int_equal(ps_elf_first_load(elf, &vaddr, &off), PS_OK);
	assert_int_equal(ps_maps_load_bias(&maps, path, vaddr, off, &bias),
			 PS_OK);
	ps_maps_release(&maps);
	return addr + bias;
}

static int group_setup(void **state)
{
	const char *t = getenv("TMPDIR");
	ssize_t n;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/pyspy-test-elf-XXXXXX",
		 t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	/* The same path the kernel shows in /proc/self/maps. */
	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		return -1;
	self_path[n] = '\0';
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- our own binary ---- */

static void test_self_symbols(void **state)
{
	struct ps_elf *elf;
	struct ps_errmsg e = { 0 };
	uint64_t addr, size;

	(void)state;
	assert_int_equal(ps_elf_open("/proc/self/exe", &elf, &e), PS_OK);
	assert_true(ps_elf_has_symtab(elf));

	assert_int_equal(ps_elf_symbol(elf, "test_elf_global", &addr, &size),
			 PS_OK);
	assert_int_equal(size, sizeof(test_elf_global));
	assert_int_equal(runtime_addr(elf, self_path, "test_elf_global"),
			 (uintptr_t)&test_elf_global);

	assert_int_equal(ps_elf_symbol(elf, "test_elf_static", &addr, &size),
			 PS_OK);
	assert_int_equal(size, sizeof(test_elf_static));
	assert_int_equal(runtime_addr(elf, self_path, "test_elf_static"),
			 (uintptr_t)test_elf_static);
	assert_int_equal(runtime_addr(elf, self_path, "test_elf_bss"),
			 (uintptr_t)&test_elf_bss);

	/* Absent, and present only as an undefined reference (to libelf). */
	assert_int_equal(ps_elf_symbol(elf, "no_such_symbol_xyz", &addr, &size),
			 PS_EINVAL);
	assert_int_equal(ps_elf_symbol(elf, "elf_begin", &addr, &size),
			 PS_EINVAL);
	assert_int_equal(ps_elf_symbol(elf, "", &addr, &size), PS_EINVAL);
	assert_null(ps_elf_soname(elf)); /* an executable has none */
	ps_elf_free(elf);
}

static void test_self_sections(void **state)
{
	struct ps_elf *elf;
	struct ps_errmsg e = { 0 };
	uint64_t addr, size, gaddr;
	const uint8_t *data;
	size_t dsize;
	int v;

	(void)state;
	assert_int_equal(ps_elf_open(self_path, &elf, &e), PS_OK);
	static const char *const names[] = { ".data", ".bss", ".rodata",
					     ".text" };
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		assert_int_equal(ps_elf_section(elf, names[i], &addr, &size),
				 PS_OK);
		assert_true(addr != 0 && size != 0);
	}
	assert_int_equal(ps_elf_section(elf, ".nope", &addr, &size), PS_EINVAL);

	/* NOBITS: no bytes in the file. */
	assert_int_equal(ps_elf_section_data(elf, ".bss", &data, &dsize),
			 PS_EINVAL);
	assert_int_equal(ps_elf_section_data(elf, ".nope", &data, &dsize),
			 PS_EINVAL);
	assert_int_equal(ps_elf_section_data(elf, ".rodata", &data, &dsize),
			 PS_OK);
	assert_int_equal(ps_elf_section(elf, ".rodata", &addr, &size), PS_OK);
	assert_int_equal(dsize, size);

	/* The initial value of test_elf_global is in .data's bytes. */
	assert_int_equal(ps_elf_section_data(elf, ".data", &data, &dsize),
			 PS_OK);
	assert_int_equal(ps_elf_section(elf, ".data", &addr, &size), PS_OK);
	assert_int_equal(ps_elf_symbol(elf, "test_elf_global", &gaddr, NULL),
			 PS_OK);
	assert_true(gaddr >= addr && gaddr + sizeof(v) <= addr + dsize);
	memcpy(&v, data + (gaddr - addr), sizeof(v));
	assert_int_equal(v, 42);
	ps_elf_free(elf);
}

/* libc is stripped on most distributions: only .dynsym. Its malloc is
 * looked up through dlsym on libc's own handle, which sanitizers'
 * interposed malloc does not shadow. */
static void test_libc_dynsym(void **state)
{
	struct ps_maps maps;
	struct ps_errmsg e = { 0 };
	const struct ps_map *m;
	struct ps_elf *elf;
	const char *soname;
	uint64_t addr, size;
	void *h, *real;

	(void)state;
	assert_int_equal(ps_maps_read(getpid(), &maps, &e), PS_OK);
	m = ps_maps_find_path(&maps, "libc.so");
	if (!m)
		m = ps_maps_find_path(&maps, "libc-");
	assert_non_null(m);
	assert_int_equal(ps_elf_open(m->path, &elf, &e), PS_OK);
	soname = ps_elf_soname(elf);
	assert_non_null(soname);
	assert_true(strncmp(soname, "libc.so", 7) == 0);

	assert_int_equal(ps_elf_symbol(elf, "malloc", &addr, &size), PS_OK);
	assert_true(size > 0);
	h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
	assert_non_null(h);
	real = dlsym(h, "malloc");
	assert_non_null(real);
	assert_int_equal(runtime_addr(elf, m->path, "malloc"), (uintptr_t)real);
	dlclose(h);
	ps_elf_free(elf);
	ps_maps_release(&maps);
}

static void test_stripped(void **state)
{
	char out[PATH_MAX], cmd[3 * PATH_MAX];
	struct ps_elf *elf, *orig;
	struct ps_errmsg e = { 0 };
	uint64_t v1, o1, v2, o2;

	(void)state;
	if (system("command -v strip >/dev/null 2>&1") != 0) {
		print_message("strip not found: skipping the stripped-binary test\n");
		skip();
	}
	tmp_path(out, "stripped");
	snprintf(cmd, sizeof(cmd), "strip -o '%s' '%s'", out, self_path);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(ps_elf_open(out, &elf, &e), PS_OK);
	assert_int_equal(ps_elf_open(self_path, &orig, &e), PS_OK);
	assert_false(ps_elf_has_symtab(elf));
	assert_int_equal(ps_elf_symbol(elf, "test_elf_static", NULL, NULL),
			 PS_EINVAL);
	assert_int_equal(ps_elf_section(elf, ".data", NULL, NULL), PS_OK);
	assert_int_equal(ps_elf_first_load(elf, &v1, &o1), PS_OK);
	assert_int_equal(ps_elf_first_load(orig, &v2, &o2), PS_OK);
	assert_int_equal(v1, v2);
	assert_int_equal(o1, o2);
	ps_elf_free(elf);
	ps_elf_free(orig);
}

/* ---- files that are not (whole) ELF ---- */

static void test_not_elf(void **state)
{
	char path[PATH_MAX];
	struct ps_elf *elf = (void *)1;
	struct ps_errmsg e = { 0 };

	(void)state;
	tmp_path(path, "text");
	spit(path, "hello, this is not an ELF file\n", 31);
	assert_int_equal(ps_elf_open(path, &elf, &e), PS_EINVAL);
	assert_null(elf);
	assert_int_equal(e.code, PS_EINVAL);
	assert_non_null(strstr(e.msg, path));

	tmp_path(path, "empty");
	spit(path, "", 0);
	assert_int_equal(ps_elf_open(path, &elf, &e), PS_EINVAL);
	assert_null(elf);

	/* A directory opens but is no ELF file. */
	assert_int_equal(ps_elf_open(tmpdir, &elf, &e), PS_EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
	ps_elf_free(NULL);
}

static void test_missing(void **state)
{
	struct ps_elf *elf = (void *)1;
	struct ps_errmsg e = { 0 };
	const char *p = "/nonexistent/pyspy/libpython9.9.so";

	(void)state;
	assert_int_equal(ps_elf_open(p, &elf, &e), PS_EIO);
	assert_null(elf);
	assert_string_equal(e.msg, "cannot open '/nonexistent/pyspy/"
			    "libpython9.9.so': No such file or directory");
}

static void test_truncated(void **state)
{
	char path[PATH_MAX];
	struct ps_errmsg e = { 0 };
	struct ps_elf *elf;
	Elf64_Ehdr eh;
	size_t len;
	uint8_t *buf = slurp(self_path, &len);
	size_t cuts[3] = { 200, 4096, 0 };

	(void)state;
	memcpy(&eh, buf, sizeof(eh));
	assert_int_equal(eh.e_ident[EI_CLASS], ELFCLASS64);
	assert_true(eh.e_shnum > 2);
	/* In the middle of the section header table (at the end of the
	 * file for GNU ld output). */
	cuts[2] = eh.e_shoff + (size_t)eh.e_shnum * eh.e_shentsize / 2 + 3;
	assert_true(cuts[2] < len);
	tmp_path(path, "truncated");
	for (size_t i = 0; i < 3; i++) {
		elf = (void *)1;
		spit(path, buf, cuts[i]);
		assert_int_equal(ps_elf_open(path, &elf, &e), PS_EINVAL);
		assert_null(elf);
		assert_non_null(strstr(e.msg, path));
	}
	free(buf);
}

/* ---- a synthetic 32-bit file: gelf paths, edge cases by construction ---- */

#define V32_BASE 0x08048000u
#define V32_DATA 0x0804a000u

struct elf32 {
	uint8_t b[2048];
	size_t len;
	size_t shoff;
};

static size_t put(struct elf32 *f, const void *p, size_t n)
{
	size_t at = (f->len + 7) & ~(size_t)7;

	assert_true(at + n <= sizeof(f->b));
	memcpy(f->b + at, p, n);
	f->len = at + n;
	return at;
}

static Elf32_Shdr *shdr32(struct elf32 *f, int i)
{
	return (Elf32_Shdr *)(f->b + f->shoff) + i;
}

static Elf32_Sym *sym32(struct elf32 *f, int shndx, int i)
{
	return (Elf32_Sym *)(f->b + shdr32(f, shndx)->sh_offset) + i;
}

enum { S_SHSTR = 1, S_STR, S_SYMTAB, S_DYNSTR, S_DYNSYM, S_DYNAMIC, S_DATA,
       S_BSS, S_NUM };

static Elf32_Sym mksym(uint32_t name, uint32_t value, uint32_t size, int bind,
		       int type, uint16_t shndx)
{
	return (Elf32_Sym){ .st_name = name, .st_value = value, .st_size = size,
			    .st_info = ELF32_ST_INFO(bind, type),
			    .st_shndx = shndx };
}

/* Symbols: "loc" local; "dup" local then global (global wins); "undef"
 * undefined; "zero" valued 0; "both" in .symtab and .dynsym at different
 * values (.symtab wins); "dynonly" only in .dynsym; "tls" a TLS symbol. */
static void build32(struct elf32 *f)
{
	static const char shstr[] = "\0.shstrtab\0.strtab\0.symtab\0.dynstr\0"
				    ".dynsym\0.dynamic\0.data\0.bss";
	static const char str[] = "\0loc\0dup\0undef\0zero\0both\0tls";
	static const char dynstr[] = "\0both\0dynonly\0libfake.so.1";
	const Elf32_Sym syms[] = {
		{ 0 },
		mksym(1, V32_DATA, 4, STB_LOCAL, STT_OBJECT, S_DATA),
		mksym(5, V32_DATA + 4, 4, STB_LOCAL, STT_OBJECT, S_DATA),
		mksym(5, V32_DATA + 8, 4, STB_GLOBAL, STT_OBJECT, S_DATA),
		mksym(9, 0x1234, 0, STB_GLOBAL, STT_FUNC, SHN_UNDEF),
		mksym(15, 0, 4, STB_GLOBAL, STT_OBJECT, S_DATA),
		mksym(20, V32_DATA + 12, 4, STB_GLOBAL, STT_OBJECT, S_DATA),
		mksym(25, 16, 4, STB_GLOBAL, STT_TLS, S_DATA),
	};
	const Elf32_Sym dsyms[] = {
		{ 0 },
		mksym(1, V32_DATA + 0x80, 4, STB_GLOBAL, STT_OBJECT, S_DATA),
		mksym(6, V32_BASE + 0x100, 2, STB_GLOBAL, STT_FUNC, S_DATA),
	};
	const Elf32_Dyn dyn[] = { { DT_SONAME, { 14 } }, { DT_NULL, { 0 } } };
	uint8_t data[16];
	Elf32_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_386,
			  .e_version = EV_CURRENT, .e_ehsize = sizeof(eh),
			  .e_phentsize = sizeof(Elf32_Phdr),
			  .e_phnum = 1, .e_shentsize = sizeof(Elf32_Shdr),
			  .e_shnum = S_NUM, .e_shstrndx = S_SHSTR };
	Elf32_Phdr ph = { .p_type = PT_LOAD, .p_vaddr = V32_BASE,
			  .p_offset = 0, .p_align = 0x1000 };
	Elf32_Shdr sh[S_NUM] = { { 0 } };
	size_t phoff;

	memset(f, 0, sizeof(*f));
	memset(data, 0xab, sizeof(data));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	put(f, &eh, sizeof(eh));
	phoff = put(f, &ph, sizeof(ph)); /* put() aligns: not at sizeof(eh) */

	sh[S_SHSTR] = (Elf32_Shdr){ 1, SHT_STRTAB, 0, 0, put(f, shstr, sizeof(shstr)), sizeof(shstr), 0, 0, 1, 0 };
	sh[S_STR] = (Elf32_Shdr){ 11, SHT_STRTAB, 0, 0, put(f, str, sizeof(str)), sizeof(str), 0, 0, 1, 0 };
	sh[S_SYMTAB] = (Elf32_Shdr){ 19, SHT_SYMTAB, 0, 0, put(f, syms, sizeof(syms)), sizeof(syms), S_STR, 3, 4, sizeof(Elf32_Sym) };
	sh[S_DYNSTR] = (Elf32_Shdr){ 27, SHT_STRTAB, SHF_ALLOC, 0, put(f, dynstr, sizeof(dynstr)), sizeof(dynstr), 0, 0, 1, 0 };
	sh[S_DYNSYM] = (Elf32_Shdr){ 35, SHT_DYNSYM, SHF_ALLOC, 0, put(f, dsyms, sizeof(dsyms)), sizeof(dsyms), S_DYNSTR, 1, 4, sizeof(Elf32_Sym) };
	sh[S_DYNAMIC] = (Elf32_Shdr){ 43, SHT_DYNAMIC, SHF_ALLOC, 0, put(f, dyn, sizeof(dyn)), sizeof(dyn), S_DYNSTR, 0, 4, sizeof(Elf32_Dyn) };
	sh[S_DATA] = (Elf32_Shdr){ 52, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, V32_DATA, put(f, data, sizeof(data)), sizeof(data), 0, 0, 4, 0 };
	sh[S_BSS] = (Elf32_Shdr){ 58, SHT_NOBITS, SHF_ALLOC | SHF_WRITE, V32_DATA + 16, f->len, 64, 0, 0, 4, 0 };
	f->shoff = put(f, sh, sizeof(sh));
	((Elf32_Ehdr *)f->b)->e_shoff = (Elf32_Off)f->shoff;
	((Elf32_Ehdr *)f->b)->e_phoff = (Elf32_Off)phoff;
	((Elf32_Phdr *)(f->b + phoff))->p_filesz = (Elf32_Word)f->len;
	((Elf32_Phdr *)(f->b + phoff))->p_memsz = (Elf32_Word)f->len;
}

static int open32(struct elf32 *f, struct ps_elf **elf, struct ps_errmsg *e)
{
	char path[PATH_MAX];

	tmp_path(path, "elf32");
	spit(path, f->b, f->len);
	return ps_elf_open(path, elf, e);
}

static void expect_sym(struct ps_elf *elf, const char *name, uint64_t addr,
		       uint64_t size)
{
	uint64_t a = 0, s = 0;

	assert_int_equal(ps_elf_symbol(elf, name, &a, &s), PS_OK);
	assert_int_equal(a, addr);
	assert_int_equal(s, size);
}

static void test_elf32(void **state)
{
	struct elf32 f;
	struct ps_elf *elf;
	struct ps_errmsg e = { 0 };
	uint64_t a, s;
	const uint8_t *data;
	size_t n;

	(void)state;
	build32(&f);
	assert_int_equal(open32(&f, &elf, &e), PS_OK);
	assert_true(ps_elf_has_symtab(elf));
	expect_sym(elf, "loc", V32_DATA, 4);
	expect_sym(elf, "dup", V32_DATA + 8, 4);
	expect_sym(elf, "both", V32_DATA + 12, 4);
	expect_sym(elf, "dynonly", V32_BASE + 0x100, 2);
	assert_int_equal(ps_elf_symbol(elf, "undef", &a, &s), PS_EINVAL);
	assert_int_equal(ps_elf_symbol(elf, "zero", &a, &s), PS_EINVAL);
	assert_int_equal(ps_elf_symbol(elf, "tls", &a, &s), PS_EINVAL);
	assert_string_equal(ps_elf_soname(elf), "libfake.so.1");
	assert_int_equal(ps_elf_first_load(elf, &a, &s), PS_OK);
	assert_int_equal(a, V32_BASE);
	assert_int_equal(s, 0);
	assert_int_equal(ps_elf_section(elf, ".bss", &a, &s), PS_OK);
	assert_int_equal(a, V32_DATA + 16);
	assert_int_equal(s, 64);
	assert_int_equal(ps_elf_section_data(elf, ".bss", &data, &n), PS_EINVAL);
	assert_int_equal(ps_elf_section_data(elf, ".data", &data, &n), PS_OK);
	assert_int_equal(n, 16);
	assert_int_equal(data[0], 0xab);
	assert_int_equal(data[15], 0xab);
	ps_elf_free(elf);
}

/* Targeted corruptions of the synthetic file. */
static void test_elf32_corrupt(void **state)
{
	struct elf32 f;
	struct ps_elf *elf;
	struct ps_errmsg e = { 0 };
	uint64_t a;

	(void)state;
	build32(&f); /* symbol entry size that is not the class's */
	shdr32(&f, S_SYMTAB)->sh_entsize = 12;
	assert_int_equal(open32(&f, &elf, &e), PS_EINVAL);

	build32(&f); /* a section past the end of the file */
	shdr32(&f, S_DATA)->sh_offset = (Elf32_Off)f.len - 8;
	assert_int_equal(open32(&f, &elf, &e), PS_EINVAL);
	build32(&f);
	shdr32(&f, S_DATA)->sh_size = 0xfffffff0u;
	assert_int_equal(open32(&f, &elf, &e), PS_EINVAL);

	build32(&f); /* a name offset beyond the string table: skipped */
	sym32(&f, S_SYMTAB, 1)->st_name = 100000;
	assert_int_equal(open32(&f, &elf, &e), PS_OK);
	assert_int_equal(ps_elf_symbol(elf, "loc", &a, NULL), PS_EINVAL);
	expect_sym(elf, "both", V32_DATA + 12, 4);
	ps_elf_free(elf);

	build32(&f); /* string table without its final NUL */
	f.b[shdr32(&f, S_STR)->sh_offset + shdr32(&f, S_STR)->sh_size - 1] = 'x';
	assert_int_equal(open32(&f, &elf, &e), PS_OK);
	assert_int_equal(ps_elf_symbol(elf, "tlsx", &a, NULL), PS_EINVAL);
	ps_elf_free(elf);

	build32(&f); /* links to sections that do not exist or are no strtab */
	shdr32(&f, S_SYMTAB)->sh_link = 99;
	shdr32(&f, S_DYNSYM)->sh_link = S_DATA;
	shdr32(&f, S_DYNAMIC)->sh_link = 0;
	assert_int_equal(open32(&f, &elf, &e), PS_OK);
	assert_int_equal(ps_elf_symbol(elf, "loc", &a, NULL), PS_EINVAL);
	assert_null(ps_elf_soname(elf));
	ps_elf_free(elf);

	build32(&f); /* section names beyond .shstrtab */
	shdr32(&f, S_DATA)->sh_name = 5000;
	assert_int_equal(open32(&f, &elf, &e), PS_OK);
	assert_int_equal(ps_elf_section(elf, ".data", &a, NULL), PS_EINVAL);
	ps_elf_free(elf);
}

/* ---- random corruption ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64: the same sequence everywhere, unlike rand(). */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct range { size_t off, len; };

/* The parts of the file our parser reads: headers, the section header
 * table, and the symbol, string and dynamic sections. Flips elsewhere
 * (code, debug info) mostly test nothing. */
static size_t hot_ranges(const uint8_t *buf, size_t len, struct range *r,
			 size_t max)
{
	Elf64_Ehdr eh;
	size_t n = 0;

	memcpy(&eh, buf, sizeof(eh));
	r[n++] = (struct range){ 0, eh.e_phoff + (size_t)eh.e_phnum * eh.e_phentsize };
	r[n++] = (struct range){ eh.e_shoff, (size_t)eh.e_shnum * eh.e_shentsize };
	for (size_t i = 0; i < eh.e_shnum && n < max; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, buf + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if ((sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM ||
		     sh.sh_type == SHT_STRTAB || sh.sh_type == SHT_DYNAMIC) &&
		    sh.sh_size > 0 && sh.sh_offset + sh.sh_size <= len)
			r[n++] = (struct range){ sh.sh_offset, sh.sh_size };
	}
	return n;
}

/* Use everything the API offers; results do not matter, crashes do. */
static void poke(struct ps_elf *elf)
{
	static const char *const syms[] = { "test_elf_global", "test_elf_static",
					    "main", "_start", "elf_begin" };
	static const char *const secs[] = { ".data", ".bss", ".rodata", ".text",
					    ".dynstr", ".symtab", ".comment",
					    ".shstrtab", ".dynamic" };
	uint64_t a, s;
	const uint8_t *d;
	size_t n;
	volatile uint8_t sum = 0;

	for (size_t i = 0; i < sizeof(syms) / sizeof(*syms); i++)
		ps_elf_symbol(elf, syms[i], &a, &s);
	for (size_t i = 0; i < sizeof(secs) / sizeof(*secs); i++) {
		ps_elf_section(elf, secs[i], &a, &s);
		if (ps_elf_section_data(elf, secs[i], &d, &n) == PS_OK)
			for (size_t k = 0; k < n; k++)
				sum += d[k];
	}
	ps_elf_has_symtab(elf);
	ps_elf_first_load(elf, &a, &s);
	if (ps_elf_soname(elf))
		sum += (uint8_t)strlen(ps_elf_soname(elf));
	(void)sum;
}

/* Flip 1-8 bytes, three in four inside the hot ranges; record the
 * offsets in at[] so they can be restored. */
static int flip_some(int fd, const uint8_t *buf, size_t len,
		     const struct range *r, size_t nr, size_t at[8])
{
	int k = 1 + (int)(rng() % 8);

	for (int i = 0; i < k; i++) {
		uint8_t b;
		if (rng() % 4 == 0) {
			at[i] = rng() % len;
		} else {
			const struct range *q = &r[rng() % nr];
			at[i] = q->off + rng() % q->len;
		}
		b = (uint8_t)(buf[at[i]] ^ (1 + rng() % 255));
		assert_int_equal(pwrite(fd, &b, 1, (off_t)at[i]), 1);
	}
	return k;
}

static void test_fuzz(void **state)
{
	char path[PATH_MAX];
	struct range r[64];
	size_t len, nr, ok = 0;
	uint8_t *buf = slurp(self_path, &len);
	int fd;

	(void)state;
	nr = hot_ranges(buf, len, r, sizeof(r) / sizeof(*r));
	tmp_path(path, "fuzz");
	spit(path, buf, len);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	for (int it = 0; it < 400; it++) {
		struct ps_elf *elf;
		struct ps_errmsg e = { 0 };
		size_t at[8];
		int k = flip_some(fd, buf, len, r, nr, at);
		if (ps_elf_open(path, &elf, &e) == PS_OK) {
			poke(elf);
			ps_elf_free(elf);
			ok++;
		}
		for (int i = 0; i < k; i++)
			assert_int_equal(pwrite(fd, buf + at[i], 1, (off_t)at[i]), 1);
	}
	close(fd);
	free(buf);
	print_message("fuzz: %zu of 400 corrupted files opened\n", ok);
}

/* The synthetic file is small and nearly all structure: flips there hit
 * headers, tables and links far more often than in a real binary. */
static void test_fuzz32(void **state)
{
	struct elf32 f;
	size_t ok = 0;

	(void)state;
	for (int it = 0; it < 1000; it++) {
		struct ps_elf *elf;
		struct ps_errmsg e = { 0 };
		int k = 1 + (int)(rng() % 4);
		build32(&f);
		for (int i = 0; i < k; i++)
			f.b[rng() % f.len] ^= (uint8_t)(1 + rng() % 255);
		if (open32(&f, &elf, &e) == PS_OK) {
			poke(elf);
			ps_elf_free(elf);
			ok++;
		}
	}
	print_message("fuzz32: %zu of 1000 corrupted files opened\n", ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_symbols),
		cmocka_unit_test(test_self_sections),
		cmocka_unit_test(test_libc_dynsym),
		cmocka_unit_test(test_stripped),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_elf32),
		cmocka_unit_test(test_elf32_corrupt),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_fuzz32),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
