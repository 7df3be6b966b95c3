/* /proc/PID/maps. A line is
 *   start-end perms offset dev inode [path]
 * with hex start, end and offset, dev as hex "major:minor", decimal inode,
 * and a path that may be absent, contain spaces, or end in " (deleted)".
 * The kernel escapes newlines in paths, so one mapping is one line. */
#include "ps_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest maps file we accept; a process has at most vm.max_map_count
 * (65530 by default) mappings of ~100-300 bytes each. */
#define MAPS_MAX_BYTES ((size_t)256 << 20)

/* Parse an unsigned number in base 16 or 10 from *p, at least one digit;
 * advance *p past it. Overflow fails. */
static int parse_num(const char **p, int base, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	for (;; s++, n++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / (unsigned)base)
			return -1;
		v = v * (unsigned)base + d;
	}
	if (n == 0)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int parse_perms(const char **p, unsigned *perms)
{
	const char *s = *p;
	static const char want[4][2] = { { 'r', '-' }, { 'w', '-' },
					 { 'x', '-' }, { 'p', 's' } };

	for (int i = 0; i < 4; i++)
		if (s[i] != want[i][0] && s[i] != want[i][1])
			return -1;
	*perms = (s[0] == 'r' ? PS_MAP_R : 0) | (s[1] == 'w' ? PS_MAP_W : 0) |
		 (s[2] == 'x' ? PS_MAP_X : 0) | (s[3] == 'p' ? PS_MAP_P : 0);
	*p = s + 4;
	return 0;
}

/* One line of len bytes (no newline) into m; path not yet copied: its start
 * is returned in *path. -1 when the line does not parse. */
static int parse_line(const char *s, const char *end, struct ps_map *m,
		      const char **path)
{
	uint64_t major, minor;

	if (parse_num(&s, 16, &m->start) || expect(&s, '-') ||
	    parse_num(&s, 16, &m->end) || expect(&s, ' ') ||
	    parse_perms(&s, &m->perms) || expect(&s, ' ') ||
	    parse_num(&s, 16, &m->offset) || expect(&s, ' ') ||
	    parse_num(&s, 16, &major) || expect(&s, ':') ||
	    parse_num(&s, 16, &minor) || expect(&s, ' ') ||
	    parse_num(&s, 10, &m->inode))
		return -1;
	if (s > end || (s < end && *s != ' ' && *s != '\t') ||
	    m->start >= m->end)
		return -1;
	/* The kernel pads with spaces up to the path column. */
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*path = s;
	return 0;
}

static int add_map(struct ps_maps *out, size_t *cap, const struct ps_map *m,
		   const char *path, size_t pathlen)
{
	if (out->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct ps_map *v;
		if (ncap > SIZE_MAX / sizeof(*v))
			return PS_ENOMEM;
		v = realloc(out->v, ncap * sizeof(*v));
		if (!v)
			return PS_ENOMEM;
		out->v = v;
		*cap = ncap;
	}
	out->v[out->n] = *m;
	out->v[out->n].path = strndup(path, pathlen);
	if (!out->v[out->n].path)
		return PS_ENOMEM;
	out->n++;
	return PS_OK;
}

static int map_cmp(const void *a, const void *b)
{
	const struct ps_map *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int ps_maps_parse(const char *text, struct ps_maps *out)
{
	size_t cap = 0;
	int sorted = 1;

	out->v = NULL;
	out->n = 0;
	for (const char *s = text; *s;) {
		const char *nl = strchr(s, '\n');
		const char *end = nl ? nl : s + strlen(s);
		struct ps_map m = { 0 };
		const char *path;
		if (parse_line(s, end, &m, &path) == 0) {
			if (add_map(out, &cap, &m, path, (size_t)(end - path))) {
				ps_maps_release(out);
				return PS_ENOMEM;
			}
			if (out->n > 1 && out->v[out->n - 2].start > m.start)
				sorted = 0;
		}
		s = nl ? nl + 1 : end;
	}
	/* The kernel lists mappings in address order; other text may not,
	 * and ps_maps_find relies on the order. */
	if (!sorted)
		qsort(out->v, out->n, sizeof(*out->v), map_cmp);
	return PS_OK;
}

void ps_maps_release(struct ps_maps *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static int read_error(pid_t pid, int err, struct ps_errmsg *e)
{
	/* /proc/PID disappears (ENOENT) or a read finds the task gone
	 * (ESRCH) when there is no such process any more. */
	if (err == ENOENT || err == ESRCH)
		return ps_error(e, PS_ENOPROC, "no process with pid %ld",
				(long)pid);
	return ps_error(e, ps_err_from_errno(err), "cannot read /proc/%ld/maps: %s",
			(long)pid, strerror(err));
}

/* The whole file into a NUL-terminated buffer (a /proc file has no size to
 * stat: read until EOF). */
static int slurp(int fd, char **buf, int *err)
{
	size_t len = 0, cap = 0;
	char *b = NULL;

	for (;;) {
		ssize_t r;
		if (cap - len < 4096 + 1) {
			char *nb;
			cap = cap ? cap * 2 : 65536;
			if (cap > MAPS_MAX_BYTES || !(nb = realloc(b, cap))) {
				free(b);
				*err = ENOMEM;
				return -1;
			}
			b = nb;
		}
		r = read(fd, b + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	b[len] = '\0';
	*buf = b;
	return 0;
}

int ps_maps_read(pid_t pid, struct ps_maps *out, struct ps_errmsg *e)
{
	char path[64], *text = NULL;
	int fd, err = 0, rc;

	out->v = NULL;
	out->n = 0;
	if (pid <= 0)
		return ps_error(e, PS_ENOPROC, "no process with pid %ld",
				(long)pid);
	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return read_error(pid, errno, e);
	rc = slurp(fd, &text, &err);
	close(fd);
	if (rc != 0) {
		if (err == ENOMEM)
			return ps_error(e, PS_ENOMEM, "%s: out of memory", path);
		return read_error(pid, err, e);
	}
	rc = ps_maps_parse(text, out);
	free(text);
	if (rc != PS_OK)
		return ps_error(e, rc, "%s: out of memory", path);
	return PS_OK;
}

const struct ps_map *ps_maps_find(const struct ps_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	/* The last mapping with start <= addr is the only candidate. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= m->v[lo - 1].end)
		return NULL;
	return &m->v[lo - 1];
}

const struct ps_map *ps_maps_find_path(const struct ps_maps *m,
				       const char *basename_prefix)
{
	size_t plen = strlen(basename_prefix);

	for (size_t i = 0; i < m->n; i++) {
		/* Pseudo-paths ("[heap]") have no slash: not files. */
		const char *slash = strrchr(m->v[i].path, '/');
		if (slash && strncmp(slash + 1, basename_prefix, plen) == 0)
			return &m->v[i];
	}
	return NULL;
}

/* path as given, or path + " (deleted)" when the file was replaced or
 * removed since it was mapped (e.g. a package upgrade). */
static int same_file(const char *mpath, const char *path)
{
	size_t n = strlen(path);

	if (strncmp(mpath, path, n) != 0)
		return 0;
	return mpath[n] == '\0' || strcmp(mpath + n, " (deleted)") == 0;
}

/* Do the mappings from i on look like the loader's image of the file: a
 * contiguous run of mappings of it, at increasing offsets, one of them
 * executable? A plain mmap of the whole file (libelf's own when a process
 * inspects itself, or a program reading its libraries as data) also has
 * the right path and offset 0, but no executable part; if it happens to
 * end where the image starts, the offset going back to 0 ends the run. */
static int looks_loaded(const struct ps_maps *m, size_t i, const char *path)
{
	for (size_t j = i; j < m->n; j++) {
		const struct ps_map *p = &m->v[j], *q = &m->v[j - (j > i)];
		if (j > i && (p->start != q->end || p->offset <= q->offset ||
			      !same_file(p->path, path)))
			break;
		if (p->perms & PS_MAP_X)
			return 1;
	}
	return 0;
}

int ps_maps_load_bias(const struct ps_maps *m, const char *path,
		      uint64_t first_load_vaddr, uint64_t first_load_offset,
		      uint64_t *bias)
{
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t mask = ~((uint64_t)(ps > 0 ? ps : 4096) - 1);
	const struct ps_map *found = NULL;

	if (!*path)
		return PS_EINVAL; /* anonymous mappings are no file */
	/* The loader maps the first PT_LOAD from its page-aligned offset to
	 * bias + its page-aligned vaddr; that mapping gives the bias. When
	 * several match, prefer one that looks like a loaded image (files
	 * without an executable segment take the first). */
	for (size_t i = 0; i < m->n; i++) {
		const struct ps_map *p = &m->v[i];
		if (p->offset != (first_load_offset & mask) ||
		    !same_file(p->path, path))
			continue;
		if (looks_loaded(m, i, path)) {
			found = p;
			break;
		}
		if (!found)
			found = p;
	}
	if (!found)
		return PS_EINVAL;
	*bias = found->start - (first_load_vaddr & mask);
	return PS_OK;
}
