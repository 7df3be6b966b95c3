/* ELF files through libelf (elfutils). Everything we read from the file is
 * untrusted: a corrupt or truncated file gives PS_EINVAL, never a crash. We
 * use the gelf_* accessors throughout so that 32-bit files work too.
 *
 * At open we check that the section header table and every section with
 * file contents lie inside the file, then index the symbols of every
 * SHT_SYMTAB and SHT_DYNSYM section into one array sorted by name. Names
 * point into libelf's mapping of the file, which lives as long as elf. */
#include "ps_elf.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ps_sym {
	const char *name;
	uint64_t value, size;
	uint32_t rank;   /* lower wins among equal names; see sym_rank */
	uint32_t index;  /* position in the tables, to keep qsort stable */
	int func;        /* STT_FUNC or STT_GNU_IFUNC: code, for symbolizing */
};

struct ps_elf {
	int fd;
	Elf *elf;
	size_t shstrndx;
	struct ps_sym *syms;
	size_t nsyms;
	int has_symtab;
	int has_load;
	uint64_t load_vaddr, load_offset;
	char *soname;
};

static int elf_fail(struct ps_errmsg *e, const char *path, const char *what)
{
	const char *why = elf_errmsg(-1); /* thread-local, may be stale */
	return ps_error(e, PS_EINVAL, "'%s': %s: %s", path, what,
			why ? why : "invalid elf data");
}

/* Does [off, off + len) lie within a file of fsize bytes? */
static int in_file(uint64_t off, uint64_t len, size_t fsize)
{
	return off <= fsize && len <= fsize - off;
}

/* Is the section header table the ELF header describes inside the file?
 * libelf does not say: for a table cut off by truncation it reports zero
 * sections, which would pass for a file without sections. */
static int check_shdr_table(Elf *elf, const GElf_Ehdr *eh, size_t fsize)
{
	size_t shnum;
	uint64_t ent = gelf_fsize(elf, ELF_T_SHDR, 1, EV_CURRENT);

	if (eh->e_shoff == 0)
		return eh->e_shnum == 0 ? 0 : -1;
	if (eh->e_shentsize != ent || !in_file(eh->e_shoff, ent, fsize))
		return -1;
	/* With e_shnum 0 the count is in section 0 (extended numbering). */
	if (elf_getshdrnum(elf, &shnum) != 0 ||
	    (eh->e_shnum != 0 && shnum != eh->e_shnum))
		return -1;
	return in_file(eh->e_shoff, (uint64_t)shnum * ent, fsize) ? 0 : -1;
}

/* libelf validates lazily; check up front that the section headers and the
 * bytes of every section are inside the file, so that a truncated file is
 * refused at open rather than half-working. */
static int check_layout(struct ps_elf *p, const char *path,
			struct ps_errmsg *e)
{
	size_t fsize = 0;
	GElf_Ehdr eh;

	if (!elf_rawfile(p->elf, &fsize) || !gelf_getehdr(p->elf, &eh))
		return elf_fail(e, path, "cannot read the elf header");
	if (check_shdr_table(p->elf, &eh, fsize) != 0)
		return ps_error(e, PS_EINVAL,
				"'%s': truncated or corrupt section header table",
				path);
	if (elf_getshdrstrndx(p->elf, &p->shstrndx) != 0)
		return elf_fail(e, path, "bad section name table");
	for (Elf_Scn *s = elf_nextscn(p->elf, NULL); s;
	     s = elf_nextscn(p->elf, s)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh))
			return elf_fail(e, path, "bad section header");
		if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
		    !in_file(sh.sh_offset, sh.sh_size, fsize))
			return ps_error(e, PS_EINVAL,
					"'%s': section %zu beyond the end of the file",
					path, elf_ndxscn(s));
	}
	return PS_OK;
}

/* Definitions only: undefined, absolute (not relocated by the load bias),
 * common (relocatable objects), zero-valued, TLS (an offset, not an
 * address), section and file symbols are not. */
static int sym_wanted(const GElf_Sym *s)
{
	int type = GELF_ST_TYPE(s->st_info);

	if (s->st_name == 0 || s->st_value == 0)
		return 0;
	if (s->st_shndx == SHN_UNDEF || s->st_shndx == SHN_ABS ||
	    s->st_shndx == SHN_COMMON)
		return 0;
	return type == STT_OBJECT || type == STT_FUNC || type == STT_NOTYPE ||
	       type == STT_GNU_IFUNC;
}

/* Order among symbols of the same name: .symtab before .dynsym, then global
 * before weak before local (several translation units may each have a
 * static of that name; a global one is the unambiguous answer). */
static uint32_t sym_rank(int dynamic, const GElf_Sym *s)
{
	int bind = GELF_ST_BIND(s->st_info);
	uint32_t b = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
	return (dynamic ? 4u : 0u) + b;
}

static int grow_syms(struct ps_elf *p, size_t *cap, size_t more)
{
	size_t want = p->nsyms + more;
	struct ps_sym *v;

	if (want <= *cap)
		return PS_OK;
	if (want < p->nsyms || want > SIZE_MAX / sizeof(*v))
		return PS_ENOMEM;
	v = realloc(p->syms, want * sizeof(*v));
	if (!v)
		return PS_ENOMEM;
	p->syms = v;
	*cap = want;
	return PS_OK;
}

/* Append the definitions of one symbol table section. The entry count comes
 * from the data size and the file's entry size, which must agree with the
 * class's symbol size (a corrupt sh_entsize would make us misread). */
static int add_symtab(struct ps_elf *p, Elf_Scn *scn, const GElf_Shdr *sh,
		      size_t *cap, const char *path, struct ps_errmsg *e)
{
	size_t entsize = gelf_fsize(p->elf, ELF_T_SYM, 1, EV_CURRENT);
	int dynamic = sh->sh_type == SHT_DYNSYM;
	Elf_Data *d;
	size_t n;

	if (entsize == 0 || sh->sh_entsize != entsize)
		return ps_error(e, PS_EINVAL, "'%s': bad symbol table entry size",
				path);
	d = elf_getdata(scn, NULL);
	if (!d)
		return elf_fail(e, path, "cannot read a symbol table");
	n = d->d_size / entsize;
	/* gelf_getsym takes an int index; .index is 32 bits. */
	if (n > INT_MAX || p->nsyms + n > UINT32_MAX)
		return ps_error(e, PS_EINVAL, "'%s': too many symbols", path);
	if (grow_syms(p, cap, n) != PS_OK)
		return ps_error(e, PS_ENOMEM, "'%s': out of memory", path);
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;
		if (!gelf_getsym(d, (int)i, &s) || !sym_wanted(&s))
			continue;
		/* elf_strptr checks the offset and the terminating NUL. */
		name = elf_strptr(p->elf, sh->sh_link, s.st_name);
		if (!name || !*name)
			continue;
		p->syms[p->nsyms] = (struct ps_sym){
			.name = name, .value = s.st_value, .size = s.st_size,
			.rank = sym_rank(dynamic, &s), .index = (uint32_t)p->nsyms,
			.func = GELF_ST_TYPE(s.st_info) == STT_FUNC ||
				GELF_ST_TYPE(s.st_info) == STT_GNU_IFUNC,
		};
		p->nsyms++;
	}
	return PS_OK;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct ps_sym *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* DT_SONAME of a SHT_DYNAMIC section; its string table is sh_link. */
static int read_soname(struct ps_elf *p, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t entsize = gelf_fsize(p->elf, ELF_T_DYN, 1, EV_CURRENT);

	if (!d || entsize == 0 || p->soname)
		return PS_OK; /* a bad .dynamic only costs us the soname */
	for (size_t i = 0; i < d->d_size / entsize && i <= INT_MAX; i++) {
		GElf_Dyn dyn;
		const char *s;
		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag != DT_SONAME)
			continue;
		s = elf_strptr(p->elf, sh->sh_link, dyn.d_un.d_val);
		if (s && !(p->soname = strdup(s)))
			return PS_ENOMEM;
		break;
	}
	return PS_OK;
}

static int index_sections(struct ps_elf *p, const char *path,
			  struct ps_errmsg *e)
{
	size_t cap = 0;
	int rc;

	for (Elf_Scn *s = elf_nextscn(p->elf, NULL); s;
	     s = elf_nextscn(p->elf, s)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(s, &sh))
			return elf_fail(e, path, "bad section header");
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			p->has_symtab |= sh.sh_type == SHT_SYMTAB;
			rc = add_symtab(p, s, &sh, &cap, path, e);
			if (rc != PS_OK)
				return rc;
		} else if (sh.sh_type == SHT_DYNAMIC &&
			   read_soname(p, s, &sh) != PS_OK) {
			return ps_error(e, PS_ENOMEM, "'%s': out of memory", path);
		}
	}
	if (p->nsyms > 1)
		qsort(p->syms, p->nsyms, sizeof(*p->syms), sym_cmp);
	return PS_OK;
}

static int find_first_load(struct ps_elf *p, const char *path,
			   struct ps_errmsg *e)
{
	size_t n;

	if (elf_getphdrnum(p->elf, &n) != 0 || n > INT_MAX)
		return elf_fail(e, path, "bad program header table");
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(p->elf, (int)i, &ph))
			return elf_fail(e, path, "bad program header");
		if (ph.p_type == PT_LOAD) {
			p->has_load = 1;
			p->load_vaddr = ph.p_vaddr;
			p->load_offset = ph.p_offset;
			break;
		}
	}
	return PS_OK;
}

static int open_elf(struct ps_elf *p, const char *path, struct ps_errmsg *e)
{
	struct stat st;
	int rc;

	p->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0) {
		int err = errno;
		return ps_error(e, ps_err_from_errno(err), "cannot open '%s': %s",
				path, strerror(err));
	}
	/* libelf's message for a directory is "invalid file descriptor". */
	if (fstat(p->fd, &st) == 0 && !S_ISREG(st.st_mode))
		return ps_error(e, PS_EINVAL, "'%s' is not a regular file", path);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return ps_error(e, PS_EUNSUPPORTED, "libelf is out of date");
	/* libelf keeps using fd (when mmap is not possible): keep it open. */
	p->elf = elf_begin(p->fd, ELF_C_READ_MMAP, NULL);
	if (!p->elf)
		return elf_fail(e, path, "cannot read");
	if (elf_kind(p->elf) != ELF_K_ELF ||
	    gelf_getclass(p->elf) == ELFCLASSNONE)
		return ps_error(e, PS_EINVAL, "'%s' is not an elf file", path);
	if ((rc = check_layout(p, path, e)) != PS_OK ||
	    (rc = find_first_load(p, path, e)) != PS_OK)
		return rc;
	return index_sections(p, path, e);
}

int ps_elf_open(const char *path, struct ps_elf **out, struct ps_errmsg *e)
{
	struct ps_elf *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p)
		return ps_error(e, PS_ENOMEM, "'%s': out of memory", path);
	p->fd = -1;
	rc = open_elf(p, path, e);
	if (rc != PS_OK) {
		ps_elf_free(p);
		return rc;
	}
	*out = p;
	return PS_OK;
}

void ps_elf_free(struct ps_elf *elf)
{
	if (!elf)
		return;
	if (elf->elf)
		elf_end(elf->elf);
	if (elf->fd >= 0)
		close(elf->fd);
	free(elf->syms);
	free(elf->soname);
	free(elf);
}

int ps_elf_symbol(const struct ps_elf *elf, const char *name, uint64_t *addr,
		  uint64_t *size)
{
	size_t lo = 0, hi = elf->nsyms;

	/* Lower bound: the first entry of that name has the best rank. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(elf->syms[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == elf->nsyms || strcmp(elf->syms[lo].name, name) != 0)
		return PS_EINVAL;
	if (addr)
		*addr = elf->syms[lo].value;
	if (size)
		*size = elf->syms[lo].size;
	return PS_OK;
}

int ps_elf_has_symtab(const struct ps_elf *elf)
{
	return elf->has_symtab;
}

int ps_elf_first_load(const struct ps_elf *elf, uint64_t *vaddr,
		      uint64_t *offset)
{
	if (!elf->has_load)
		return PS_EINVAL;
	*vaddr = elf->load_vaddr;
	*offset = elf->load_offset;
	return PS_OK;
}

/* Sections are few (tens): a linear scan by name is enough. */
static Elf_Scn *find_section(const struct ps_elf *elf, const char *name,
			     GElf_Shdr *sh)
{
	for (Elf_Scn *s = elf_nextscn(elf->elf, NULL); s;
	     s = elf_nextscn(elf->elf, s)) {
		const char *n;
		if (!gelf_getshdr(s, sh) || sh->sh_type == SHT_NULL)
			continue;
		n = elf_strptr(elf->elf, elf->shstrndx, sh->sh_name);
		if (n && strcmp(n, name) == 0)
			return s;
	}
	return NULL;
}

int ps_elf_section(const struct ps_elf *elf, const char *name, uint64_t *addr,
		   uint64_t *size)
{
	GElf_Shdr sh;

	if (!find_section(elf, name, &sh))
		return PS_EINVAL;
	if (addr)
		*addr = sh.sh_addr;
	if (size)
		*size = sh.sh_size;
	return PS_OK;
}

int ps_elf_section_data(const struct ps_elf *elf, const char *name,
			const uint8_t **data, size_t *size)
{
	GElf_Shdr sh;
	Elf_Scn *s = find_section(elf, name, &sh);
	Elf_Data *d;

	/* Compressed sections (.debug_*) would need elf_compress, which
	 * rewrites the section in place: not offered. */
	if (!s || sh.sh_type == SHT_NOBITS || (sh.sh_flags & SHF_COMPRESSED))
		return PS_EINVAL;
	/* Raw bytes as in the file, without libelf's type conversion. */
	d = elf_rawdata(s, NULL);
	if (!d || (d->d_size > 0 && !d->d_buf))
		return PS_EINVAL;
	*data = d->d_buf;
	*size = d->d_size;
	return PS_OK;
}

const char *ps_elf_soname(const struct ps_elf *elf)
{
	return elf->soname;
}

size_t ps_elf_nsyms(const struct ps_elf *elf)
{
	return elf->nsyms;
}

int ps_elf_sym_at(const struct ps_elf *elf, size_t i, const char **name, uint64_t *addr,
		  uint64_t *size, int *func)
{
	if (i >= elf->nsyms)
		return PS_EINVAL;
	*name = elf->syms[i].name;
	*addr = elf->syms[i].value;
	*size = elf->syms[i].size;
	*func = elf->syms[i].func;
	return PS_OK;
}
