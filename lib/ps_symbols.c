/* Address -> symbol for a target process.
 *
 * Per object file: its function symbols sorted by address, loaded once with
 * ps_elf and kept (names copied, so the file is closed again: a process may
 * map hundreds of objects). Per mapping: which object it shows and the load
 * bias, recomputed whenever the mappings are read again. */
#include "ps_symbols.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps_elf.h"
#include "ps_maps.h"
#include "ps_mem.h"

#define MAX_OBJECTS 4096
/* Symbol tables held at most (names and addresses; libpython's is ~1 MB):
 * beyond it an object's frames carry its name but no symbols. */
#define MAX_SYM_BYTES ((size_t)256 << 20)
#define NAME_MAX_BYTES 1024
#define VDSO_MAX ((size_t)1 << 16)
#define VDSO "[vdso]"

struct fsym {
	uint64_t addr, size;
	const char *name;   /* into the object's arena */
	char *shown;        /* demangled, on first use; NULL: not yet */
};

struct object {
	char *path;
	char *base;
	uint64_t inode;
	int64_t mtime;
	int loaded;         /* symbols read (or the file could not be) */
	uint64_t load_vaddr, load_offset;
	int has_load;
	struct fsym *syms;
	size_t nsyms;
	char *arena;
	size_t bytes;       /* held for syms and arena */
};

struct ps_symbols {
	pid_t pid;
	struct ps_mem mem;        /* for the vdso, which is no file */
	struct ps_maps maps;
	struct object **map_obj;  /* per mapping; NULL: anonymous */
	uint64_t *map_bias;
	int *map_bias_ok;
	int maps_read;
	unsigned maps_gen;
	int may_refresh;          /* one re-read allowed this snapshot */
	struct object *objs[MAX_OBJECTS];
	size_t nobjs;
	size_t loaded;
	size_t bytes;             /* symbol tables held, all objects */
	size_t max_objects, max_bytes; /* see ps_symbols_limit */
	uint64_t evicted;
};

/* ---- demangling ---- */

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

/* __cxa_demangle from libstdc++, looked up at run time: a C tool need not
 * link the C++ runtime for it, and without libstdc++ (no C++ in sight)
 * names simply stay mangled. */
static demangle_fn demangler(void)
{
	static int tried;
	static demangle_fn fn;
	if (!tried) {
		tried = 1;
		void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
		if (h)
			*(void **)&fn = dlsym(h, "__cxa_demangle");
	}
	return fn;
}

int ps_demangle(const char *name, char *out, size_t cap)
{
	int status = -1;
	char *d = NULL;
	demangle_fn fn;
	if (cap == 0)
		return 0;
	if (strncmp(name, "_Z", 2) == 0 && (fn = demangler()))
		d = fn(name, NULL, NULL, &status);
	if (d && status == 0) {
		snprintf(out, cap, "%s", d);
		free(d);
		return 1;
	}
	free(d);
	snprintf(out, cap, "%s", name);
	return 0;
}

/* ---- objects ---- */

static int fsym_cmp(const void *a, const void *b)
{
	const struct fsym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name); /* deterministic among aliases */
}

/* Copy the function symbols of an open ELF into the object, by address. */
static int take_symbols(struct object *o, const struct ps_elf *elf)
{
	size_t n = ps_elf_nsyms(elf), bytes = 0, k = 0;
	const char *name;
	uint64_t addr, size;
	int func;
	for (size_t i = 0; i < n; i++)
		if (ps_elf_sym_at(elf, i, &name, &addr, &size, &func) == PS_OK && func)
			bytes += strlen(name) + 1;
	o->syms = calloc(n ? n : 1, sizeof(*o->syms));
	o->arena = malloc(bytes ? bytes : 1);
	o->bytes = n * sizeof(*o->syms) + bytes;
	if (!o->syms || !o->arena)
		return PS_ENOMEM;
	char *at = o->arena;
	for (size_t i = 0; i < n; i++) {
		if (ps_elf_sym_at(elf, i, &name, &addr, &size, &func) != PS_OK || !func)
			continue;
		size_t len = strlen(name) + 1;
		memcpy(at, name, len);
		o->syms[k++] = (struct fsym){ addr, size, at, NULL };
		at += len;
	}
	o->nsyms = k;
	qsort(o->syms, k, sizeof(*o->syms), fsym_cmp);
	return PS_OK;
}

/* The kernel's vdso (clock_gettime and friends) is an ELF image in memory
 * only: copied from the target into a memory file that libelf can open. */
static int open_vdso(struct ps_symbols *s, const struct ps_map *m, struct ps_elf **elf)
{
	size_t len = (size_t)(m->end - m->start);
	char path[64];
	int rc = PS_EINVAL;
	if (m->end <= m->start || len > VDSO_MAX)
		return PS_EINVAL;
	uint8_t *img = malloc(len);
	int fd = memfd_create("pyspy-vdso", MFD_CLOEXEC);
	if (img && fd >= 0 && ps_mem_read(&s->mem, m->start, img, len) == PS_OK &&
	    write(fd, img, len) == (ssize_t)len) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		rc = ps_elf_open(path, elf, NULL);
	}
	if (fd >= 0)
		close(fd); /* libelf has mapped what it needs, or read it */
	free(img);
	return rc;
}

static int open_file(const struct object *o, struct ps_elf **elf)
{
	struct stat st;
	if (stat(o->path, &st) != 0 || (uint64_t)st.st_ino != o->inode)
		return PS_EINVAL;
	return ps_elf_open(o->path, elf, NULL);
}

/* Read an object's symbols on first use. A file we can not read, or that
 * is no longer the one mapped (replaced on disk: other inode), keeps no
 * symbols: its frames still carry the object's name. */
static void object_load(struct ps_symbols *s, struct object *o, const struct ps_map *m)
{
	struct ps_elf *elf = NULL;
	o->loaded = 1;
	if (s->bytes >= s->max_bytes)
		return; /* over the bound: the object's name, no symbols */
	if ((strcmp(o->path, VDSO) == 0 ? open_vdso(s, m, &elf) : open_file(o, &elf)) != PS_OK)
		return;
	o->has_load = ps_elf_first_load(elf, &o->load_vaddr, &o->load_offset) == PS_OK;
	if (take_symbols(o, elf) != PS_OK)
		o->nsyms = 0;
	s->bytes += o->bytes;
	ps_elf_free(elf);
	s->loaded++;
}

static void object_free(struct object *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nsyms; i++)
		free(o->syms[i].shown);
	free(o->syms);
	free(o->arena);
	free(o->path);
	free(o->base);
	free(o);
}

/* The path without a " (deleted)" suffix. */
static char *clean_path(const char *mpath)
{
	size_t n = strlen(mpath);
	const char *del = " (deleted)";
	size_t dl = strlen(del);
	if (n > dl && strcmp(mpath + n - dl, del) == 0)
		n -= dl;
	return strndup(mpath, n);
}

static struct object *object_get(struct ps_symbols *s, const struct ps_map *m)
{
	struct stat st;
	char *path = clean_path(m->path);
	if (!path)
		return NULL;
	int64_t mtime = stat(path, &st) == 0 ? (int64_t)st.st_mtime : -1;
	for (size_t i = 0; i < s->nobjs; i++) {
		struct object *o = s->objs[i];
		if (o->inode == m->inode && o->mtime == mtime && strcmp(o->path, path) == 0) {
			free(path);
			return o;
		}
	}
	struct object *o = calloc(1, sizeof(*o));
	const char *slash = strrchr(path, '/');
	if (!o || s->nobjs >= s->max_objects || !(o->base = strdup(slash ? slash + 1 : path))) {
		free(o);
		free(path);
		return NULL;
	}
	o->path = path;
	o->inode = m->inode;
	o->mtime = mtime;
	s->objs[s->nobjs++] = o;
	return o;
}

/* ---- mappings ---- */

static void maps_drop(struct ps_symbols *s)
{
	ps_maps_release(&s->maps);
	free(s->map_obj);
	free(s->map_bias);
	free(s->map_bias_ok);
	s->map_obj = NULL;
	s->map_bias = NULL;
	s->map_bias_ok = NULL;
	s->maps_read = 0;
}

static int maps_load(struct ps_symbols *s)
{
	maps_drop(s);
	int rc = ps_maps_read(s->pid, &s->maps, NULL);
	if (rc)
		return rc;
	size_t n = s->maps.n ? s->maps.n : 1;
	s->map_obj = calloc(n, sizeof(*s->map_obj));
	s->map_bias = calloc(n, sizeof(*s->map_bias));
	s->map_bias_ok = calloc(n, sizeof(*s->map_bias_ok));
	if (!s->map_obj || !s->map_bias || !s->map_bias_ok) {
		maps_drop(s);
		return PS_ENOMEM;
	}
	for (size_t i = 0; i < s->maps.n; i++)
		if (s->maps.v[i].path[0] == '/' || strcmp(s->maps.v[i].path, VDSO) == 0)
			s->map_obj[i] = object_get(s, &s->maps.v[i]);
	s->maps_read = 1;
	s->maps_gen++;
	return PS_OK;
}

/* Run-time minus file address for mapping i, once its object is loaded. */
static int map_bias(struct ps_symbols *s, size_t i, uint64_t *bias)
{
	struct object *o = s->map_obj[i];
	if (!s->map_bias_ok[i] && o->has_load) {
		s->map_bias_ok[i] = ps_maps_load_bias(&s->maps, s->maps.v[i].path, o->load_vaddr,
						      o->load_offset, &s->map_bias[i]) == PS_OK
			? 1 : -1;
	}
	*bias = s->map_bias[i];
	return s->map_bias_ok[i] == 1 ? PS_OK : PS_EINVAL;
}

/* ---- lookup ---- */

/* Among aliases (one address, several names: clock_nanosleep,
 * __clock_nanosleep, __GI___clock_nanosleep) the one a user knows: fewest
 * leading underscores, then shortest. */
static int better_alias(const char *a, const char *b)
{
	size_t ua = strspn(a, "_"), ub = strspn(b, "_");
	if (ua != ub)
		return ua < ub;
	return strlen(a) < strlen(b);
}

static struct fsym *find_sym(struct object *o, uint64_t vaddr)
{
	size_t lo = 0, hi = o->nsyms;
	while (lo < hi) { /* first symbol above vaddr */
		size_t mid = lo + (hi - lo) / 2;
		if (o->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	struct fsym *best = NULL;
	/* symbols at or below vaddr, nearest first, that cover vaddr. An
	 * unsized one (_init, hand-written assembly) says nothing about where
	 * it ends: the PLT after _init is not _init. */
	for (size_t i = lo; i-- > 0 && lo - i <= 64;) {
		struct fsym *f = &o->syms[i];
		if (best && f->addr != best->addr)
			break;
		if (vaddr - f->addr < f->size && (!best || better_alias(f->name, best->name)))
			best = f;
	}
	return best;
}

static const char *shown_name(struct fsym *f)
{
	if (!f->shown) {
		char buf[NAME_MAX_BYTES];
		ps_demangle(f->name, buf, sizeof(buf));
		f->shown = strdup(buf);
		if (!f->shown)
			return f->name;
	}
	return f->shown;
}

static const struct ps_map *find_map(struct ps_symbols *s, uint64_t addr, size_t *idx)
{
	if (!s->maps_read || (!ps_maps_find(&s->maps, addr) && s->may_refresh)) {
		s->may_refresh = 0;
		if (maps_load(s) != PS_OK)
			return NULL;
	}
	const struct ps_map *m = ps_maps_find(&s->maps, addr);
	if (m)
		*idx = (size_t)(m - s->maps.v);
	return m;
}

int ps_symbols_lookup(struct ps_symbols *s, uint64_t addr, struct ps_symbol *out)
{
	size_t i = 0;
	uint64_t bias;
	memset(out, 0, sizeof(*out));
	const struct ps_map *m = find_map(s, addr, &i);
	if (!m)
		return PS_EINVAL;
	struct object *o = s->map_obj[i];
	if (!o) {
		out->object = m->path[0] ? m->path : NULL; /* "[vdso]", "[heap]" */
		return PS_OK;
	}
	out->object = o->base;
	out->path = o->path;
	if (!o->loaded)
		object_load(s, o, m);
	if (map_bias(s, i, &bias) != PS_OK)
		return PS_OK;
	struct fsym *f = find_sym(o, addr - bias);
	if (f) {
		out->name = shown_name(f);
		out->offset = addr - bias - f->addr;
	}
	return PS_OK;
}

int ps_symbols_new(pid_t pid, struct ps_symbols **out)
{
	struct ps_symbols *s = calloc(1, sizeof(*s));
	*out = s;
	if (!s)
		return PS_ENOMEM;
	s->pid = pid;
	s->max_objects = MAX_OBJECTS;
	s->max_bytes = MAX_SYM_BYTES;
	ps_mem_init(&s->mem, pid);
	return PS_OK;
}

void ps_symbols_limit(struct ps_symbols *s, size_t objects, size_t bytes)
{
	s->max_objects = objects < MAX_OBJECTS ? objects : MAX_OBJECTS;
	s->max_bytes = bytes;
}

/* Forget the objects no mapping shows any more (a library dlclose'd, a
 * file replaced on disk): kept, they would fill the bounds of a process
 * that loads and unloads code for ever. */
static void evict_unmapped(struct ps_symbols *s)
{
	size_t kept = 0;
	for (size_t i = 0; i < s->nobjs; i++) {
		struct object *o = s->objs[i];
		int mapped = 0;
		for (size_t j = 0; s->maps_read && j < s->maps.n && !mapped; j++)
			mapped = s->map_obj[j] == o;
		if (mapped) {
			s->objs[kept++] = o;
		} else {
			s->bytes -= o->bytes;
			object_free(o);
			s->evicted++;
		}
	}
	s->nobjs = kept;
}

void ps_symbols_begin(struct ps_symbols *s)
{
	s->may_refresh = 1;
	/* between snapshots: no frame of the one being taken points into
	 * an object yet */
	if (s->nobjs > s->max_objects / 2 || s->bytes > s->max_bytes / 2)
		evict_unmapped(s);
}

size_t ps_symbols_objects_held(const struct ps_symbols *s)
{
	return s->nobjs;
}

uint64_t ps_symbols_evicted(const struct ps_symbols *s)
{
	return s->evicted;
}

unsigned ps_symbols_maps_generation(const struct ps_symbols *s)
{
	return s->maps_gen;
}

size_t ps_symbols_objects_loaded(const struct ps_symbols *s)
{
	return s->loaded;
}

void ps_symbols_free(struct ps_symbols *s)
{
	if (!s)
		return;
	maps_drop(s);
	for (size_t i = 0; i < s->nobjs; i++)
		object_free(s->objs[i]);
	free(s);
}
