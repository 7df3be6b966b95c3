/* Opening a target: which object holds Python, which version it is, and
 * where its interpreter state lives. */
#include "ps_proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps_elf.h"
#include "ps_native.h"
#include "ps_pyobj.h"

/* ---- small /proc helpers ---- */

static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t have = 0;
	while (have + 1 < cap) {
		ssize_t n = read(fd, buf + have, cap - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	*len = have;
	return 0;
}

/* The command line, as arguments (argv, NULL-terminated, one allocation)
 * and joined by spaces for messages. */
static int read_cmdline(struct ps_proc *p)
{
	char path[64], buf[8192];
	size_t len, n = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)p->pid);
	if (read_file(path, buf, sizeof(buf), &len) < 0 || len == 0)
		len = (size_t)snprintf(buf, sizeof(buf), "?") + 1;
	if (buf[len - 1] != '\0')
		len++; /* cut at our buffer: read_file's NUL ends the last one */
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	char **argv = malloc((n + 1) * sizeof(*argv) + len);
	p->cmdline = malloc(len);
	if (!argv || !p->cmdline) {
		free(argv);
		return PS_ENOMEM;
	}
	char *copy = (char *)(argv + n + 1);
	memcpy(copy, buf, len);
	for (size_t i = 0, k = 0; i < len; i += strlen(copy + i) + 1)
		argv[k++] = copy + i;
	argv[n] = NULL;
	p->argv = argv;
	p->argc = (int)n;
	for (size_t i = 0; i + 1 < len; i++)
		buf[i] = buf[i] ? buf[i] : ' ';
	memcpy(p->cmdline, buf, len);
	return PS_OK;
}

const char *ps_perm_advice(void)
{
	char buf[16];
	size_t len;
	if (geteuid() == 0)
		return "even as root: is the process traced by another debugger, "
		       "or in another container? (CAP_SYS_PTRACE is needed)";
	if (read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf), &len) == 0 &&
	    buf[0] >= '1')
		return "run as root (sudo), grant CAP_SYS_PTRACE, or allow it with "
		       "'sysctl kernel.yama.ptrace_scope=0'";
	return "run as root (sudo) or as the process's owner, or grant CAP_SYS_PTRACE";
}

/* ---- version ---- */

int ps_parse_version(const char *s, int *major, int *minor, int *micro)
{
	int a, b, c, n = 0;
	if (sscanf(s, "%d.%d.%d%n", &a, &b, &c, &n) != 3)
		return PS_EINVAL;
	if (a < 2 || a > 3 || b < 0 || b > 99 || c < 0 || c > 99)
		return PS_EINVAL;
	*major = a, *minor = b, *micro = c;
	return PS_OK;
}

/* A whole NUL-terminated string that looks like PY_VERSION: "3.9.18",
 * "3.13.0rc1", "2.7.18+". */
static int looks_like_py_version(const char *s, size_t len)
{
	int maj, min, mic, n = 0;
	if (len < 5 || len > 16 || (s[0] != '2' && s[0] != '3') || s[1] != '.')
		return 0;
	if (sscanf(s, "%d.%d.%d%n", &maj, &min, &mic, &n) != 3 ||
	    (size_t)n != strspn(s, "0123456789."))
		return 0; /* %d also takes signs and spaces */
	const char *rest = s + n;
	if (*rest == 'a' || *rest == 'b' || *rest == 'c' || (rest[0] == 'r' && rest[1] == 'c')) {
		rest += rest[0] == 'r' ? 2 : 1;
		if (!isdigit((unsigned char)*rest))
			return 0; /* a release level has a serial: "rc1" */
	}
	while (isdigit((unsigned char)*rest))
		rest++;
	if (*rest == '+')
		rest++;
	return rest == s + len;
}

int ps_find_version_in_rodata(const uint8_t *data, size_t size, int hint_major,
			      int hint_minor, char *out, size_t cap)
{
	int found = 0;
	for (size_t i = 0; i < size; i++) {
		if (i > 0 && data[i - 1] != '\0')
			continue;
		const uint8_t *end = memchr(data + i, '\0', size - i);
		if (!end)
			break;
		size_t len = (size_t)(end - (data + i));
		int maj, min, mic;
		if (looks_like_py_version((const char *)data + i, len) &&
		    ps_parse_version((const char *)data + i, &maj, &min, &mic) == PS_OK) {
			int matches = hint_major < 0 || (maj == hint_major && min == hint_minor);
			if (matches && len < cap) {
				memcpy(out, data + i, len);
				out[len] = '\0';
				found++;
				if (hint_major >= 0)
					return PS_OK;
			}
		}
		i += len;
	}
	/* without a hint, only a single candidate is trusted */
	return found == 1 ? PS_OK : PS_EINVAL;
}

/* "libpython3.9.so.1.0" or "python3.11" → 3, 9 / 3, 11; a hint only. */
static void name_hint(const char *path, int *maj, int *min)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *p = strstr(base, "python");
	*maj = *min = -1;
	if (p && sscanf(p + 6, "%d.%d", maj, min) != 2)
		*maj = *min = -1;
}

static int version_from_symbols(struct ps_proc *p, const struct ps_elf *elf,
				uint64_t bias)
{
	uint64_t addr, size, hex;
	char buf[128];

	if (ps_elf_symbol(elf, "Py_Version", &addr, &size) == PS_OK &&
	    ps_mem_read_ptr(&p->mem, addr + bias, &hex) == PS_OK) {
		snprintf(p->version, sizeof(p->version), "%d.%d.%d",
			 (int)(hex >> 24 & 0xff), (int)(hex >> 16 & 0xff),
			 (int)(hex >> 8 & 0xff));
		return PS_OK;
	}
	/* the static buffer Py_GetVersion() fills at start-up */
	if (ps_elf_symbol(elf, "Py_GetVersion.version", &addr, &size) == PS_OK &&
	    ps_mem_read_cstr(&p->mem, addr + bias, buf, sizeof(buf)) == PS_OK) {
		int n = 0;
		while (buf[n] && buf[n] != ' ' && n < 31)
			n++;
		if (n > 0) {
			memcpy(p->version, buf, (size_t)n);
			p->version[n] = '\0';
			return PS_OK;
		}
	}
	return PS_EINVAL;
}

/* What the binary claims to be, before we have looked inside: Py_Version
 * (3.11+), the buffer Py_GetVersion() fills, or a PY_VERSION string in
 * .rodata. PS_EINVAL when none of them says (compilers may store short
 * literals such as "3.10.13" as immediates, so .rodata often has nothing). */
static int claimed_version(struct ps_proc *p, const struct ps_elf *elf,
			   uint64_t bias, unsigned flags)
{
	const uint8_t *ro;
	size_t rosize;
	if (!(flags & PS_OPEN_FORCE_SCAN) && version_from_symbols(p, elf, bias) == PS_OK)
		return ps_parse_version(p->version, &p->major, &p->minor, &p->micro);
	if (ps_elf_section_data(elf, ".rodata", &ro, &rosize) == PS_OK &&
	    ps_find_version_in_rodata(ro, rosize, -1, -1, p->version,
				      sizeof(p->version)) == PS_OK)
		return ps_parse_version(p->version, &p->major, &p->minor, &p->micro);
	return PS_EINVAL;
}

/* ---- interpreter discovery ---- */

/* An interpreter state validates when its first thread state points back
 * at it and its modules are a dict holding "sys": independent pointers
 * that garbage does not satisfy together. */
static int interp_valid(struct ps_proc *p, uint64_t interp)
{
	uint64_t ts, back, mods;
	char tname[16];

	if (!ps_mem_plausible(interp) ||
	    ps_mem_read_ptr(&p->mem, interp + (uint64_t)p->lay.interp_tstate_head, &ts) ||
	    !ps_mem_plausible(ts) ||
	    ps_mem_read_ptr(&p->mem, ts + (uint64_t)p->lay.tstate_interp, &back) ||
	    back != interp)
		return 0;
	/* the pair is symmetric when tstate_interp == interp_tstate_head (3.11),
	 * so a thread state can pass for its interpreter: sys.modules must
	 * also hold "sys" */
	uint64_t sys;
	if (ps_mem_read_ptr(&p->mem, interp + (uint64_t)p->lay.interp_modules, &mods) ||
	    ps_py_type_name(p, mods, tname, sizeof(tname)) ||
	    strcmp(tname, "dict") != 0 ||
	    ps_py_dict_get_str(p, mods, "sys", &sys) != PS_OK)
		return 0;
	return 1;
}

/* _Py_DebugOffsets (3.13+): the target states its own layout at the start
 * of _PyRuntime. Where it disagrees with our table, the target wins. */
struct dbg_field {
	size_t dbg, field;
};
#define DBG(d, f) { offsetof(struct ps_layout, d), offsetof(struct ps_layout, f) }
static const struct dbg_field dbg_fields[] = {
	DBG(dbg_runtime_interp_head, runtime_interp_head),
	DBG(dbg_interp_next, interp_next),
	DBG(dbg_interp_threads_head, interp_tstate_head),
	DBG(dbg_interp_modules, interp_modules),
	DBG(dbg_interp_gil, interp_gil), /* ceval_gil: the pointer */
	/* gil_runtime_state_locked/holder are offsets inside PyInterpreterState
	 * (of the embedded _gil), not inside the struct ceval.gil points to, so
	 * they do not map onto gil_locked/gil_last_holder */
	DBG(dbg_tstate_prev, tstate_prev),
	DBG(dbg_tstate_next, tstate_next),
	DBG(dbg_tstate_interp, tstate_interp),
	DBG(dbg_tstate_current_frame, tstate_current_frame),
	DBG(dbg_tstate_thread_id, tstate_thread_id),
	DBG(dbg_tstate_native_thread_id, tstate_native_thread_id),
	DBG(dbg_tstate_datastack_chunk, tstate_datastack_chunk),
	DBG(dbg_iframe_previous, iframe_previous),
	DBG(dbg_iframe_executable, iframe_code),
	DBG(dbg_iframe_instr_ptr, iframe_instr),
	DBG(dbg_iframe_localsplus, iframe_localsplus),
	DBG(dbg_iframe_owner, iframe_owner),
	DBG(dbg_code_filename, code_filename),
	DBG(dbg_code_name, code_name),
	DBG(dbg_code_qualname, code_qualname),
	DBG(dbg_code_linetable, code_linetable),
	DBG(dbg_code_firstlineno, code_firstlineno),
	DBG(dbg_code_argcount, code_argcount),
	DBG(dbg_code_localsplusnames, code_varnames),
	DBG(dbg_code_localspluskinds, code_localspluskinds),
	DBG(dbg_code_co_code_adaptive, code_code_adaptive),
};

static int lay_int(const struct ps_layout *l, size_t off)
{
	int v;
	memcpy(&v, (const char *)l + off, sizeof(v));
	return v;
}

static int apply_debug_offsets(struct ps_proc *p)
{
	uint8_t buf[4096];
	struct ps_layout *l = &p->lay;
	uint64_t version;

	if (l->dbg_size <= 0 || (size_t)l->dbg_size > sizeof(buf) || !p->runtime ||
	    ps_mem_read(&p->mem, p->runtime, buf, (size_t)l->dbg_size))
		return PS_EREAD;
	if (memcmp(buf + l->dbg_cookie, "xdebugpy", 8) != 0)
		return PS_EINVAL;
	memcpy(&version, buf + l->dbg_version, 8);
	if ((int)(version >> 24 & 0xff) != p->major ||
	    (int)(version >> 16 & 0xff) != p->minor)
		return PS_EINVAL;
	for (size_t i = 0; i < sizeof(dbg_fields) / sizeof(dbg_fields[0]); i++) {
		int at = lay_int(l, dbg_fields[i].dbg);
		uint64_t v;
		if (at < 0 || at + 8 > l->dbg_size)
			continue;
		memcpy(&v, buf + at, 8);
		if (v > 1 << 20)
			return PS_EINVAL; /* not an offset: refuse the lot */
		if ((int)v != lay_int(l, dbg_fields[i].field)) {
			int iv = (int)v;
			memcpy((char *)l + dbg_fields[i].field, &iv, sizeof(iv));
			p->debug_offsets_differ++;
		}
	}
	p->debug_offsets = 1;
	return PS_OK;
}

/* The runtime state that holds a pointer to interp at addr, if addr is
 * its interpreters.head (3.7+): interpreters.main must agree. */
static uint64_t runtime_at(struct ps_proc *p, uint64_t addr, uint64_t interp)
{
	uint64_t main_interp;
	if (p->lay.runtime_interp_head < 0 || addr < (uint64_t)p->lay.runtime_interp_head)
		return 0;
	uint64_t rt = addr - (uint64_t)p->lay.runtime_interp_head;
	if (p->lay.runtime_interp_main >= 0 &&
	    (ps_mem_read_ptr(&p->mem, rt + (uint64_t)p->lay.runtime_interp_main, &main_interp) ||
	     main_interp != interp))
		return 0;
	return rt;
}

static int in_rw_mapping(const struct ps_maps *m, uint64_t v)
{
	const struct ps_map *mp = ps_maps_find(m, v);
	return mp && (mp->perms & (PS_MAP_R | PS_MAP_W)) == (PS_MAP_R | PS_MAP_W);
}

static void scan_words(struct ps_proc *p, uint64_t base, const uint64_t *w,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p->interp && (p->runtime || p->lay.runtime_interp_head < 0))
			return;
		if (!ps_mem_plausible(w[i]) || (w[i] & 7) || !in_rw_mapping(&p->maps, w[i]))
			continue;
		if (p->interp && w[i] != p->interp)
			continue;
		if (!p->interp && !interp_valid(p, w[i]))
			continue;
		p->interp = w[i];
		if (!p->runtime)
			p->runtime = runtime_at(p, base + i * 8, w[i]);
	}
}

/* Writable mappings of the object holding Python, and the anonymous
 * mapping right after them (where a large .bss continues). */
static int scan_for_interp(struct ps_proc *p)
{
	static uint64_t words[1 << 17]; /* 1 MiB window */
	int prev_ours = 0;

	for (size_t i = 0; i < p->maps.n; i++) {
		const struct ps_map *m = &p->maps.v[i];
		int ours = strcmp(m->path, p->pyobj_path) == 0;
		int bss_tail = prev_ours && m->path[0] == '\0';
		prev_ours = ours;
		if (!(ours || bss_tail) || !(m->perms & PS_MAP_W) || !(m->perms & PS_MAP_R))
			continue;
		for (uint64_t a = m->start; a < m->end; a += sizeof(words)) {
			size_t len = m->end - a < sizeof(words) ? m->end - a : sizeof(words);
			if (ps_mem_read(&p->mem, a, words, len))
				continue;
			scan_words(p, a, words, len / 8);
		}
	}
	p->found_by = PS_FOUND_SCAN;
	return p->interp ? PS_OK : PS_ENOTPY;
}

static int find_by_symbols(struct ps_proc *p, const struct ps_elf *elf,
			   uint64_t bias)
{
	uint64_t addr, size, interp = 0;

	if (ps_elf_symbol(elf, "_PyThreadState_Current", &addr, &size) == PS_OK)
		p->tstate_current_sym = addr + bias;
	if (p->lay.runtime_interp_head >= 0 &&
	    ps_elf_symbol(elf, "_PyRuntime", &addr, &size) == PS_OK) {
		p->runtime = addr + bias;
		if (p->lay.dbg_size > 0)
			apply_debug_offsets(p);
		if (ps_mem_read_ptr(&p->mem, p->runtime + (uint64_t)p->lay.runtime_interp_head,
				    &interp) == PS_OK && interp_valid(p, interp)) {
			p->interp = interp;
			p->found_by = PS_FOUND_RUNTIME_SYMBOL;
			return PS_OK;
		}
	}
	if (ps_elf_symbol(elf, "interp_head", &addr, &size) == PS_OK &&
	    ps_mem_read_ptr(&p->mem, addr + bias, &interp) == PS_OK &&
	    interp_valid(p, interp)) {
		p->interp = interp;
		p->found_by = PS_FOUND_INTERP_HEAD_SYMBOL;
		return PS_OK;
	}
	return PS_ENOTPY;
}

/* ---- open / free ---- */

static int is_python_object(const struct ps_elf *elf)
{
	static const char *const marks[] = { "Py_Initialize", "Py_InitializeEx",
					     "PyEval_SaveThread", "_PyRuntime" };
	uint64_t a, s;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (ps_elf_symbol(elf, marks[i], &a, &s) == PS_OK)
			return 1;
	return 0;
}

/* The file behind a mapping: by its path, through the target's root (it
 * may live in another mount namespace), or through /proc/PID/map_files
 * (the file may have been deleted or replaced since it was mapped). */
static int open_elf(struct ps_proc *p, const char *path, struct ps_elf **elf,
		    struct ps_errmsg *e)
{
	char alt[4200];
	if (ps_elf_open(path, elf, e) == PS_OK)
		return PS_OK;
	snprintf(alt, sizeof(alt), "/proc/%d/root%s", (int)p->pid, path);
	if (ps_elf_open(alt, elf, NULL) == PS_OK)
		return PS_OK;
	for (size_t i = 0; i < p->maps.n; i++) {
		const struct ps_map *m = &p->maps.v[i];
		if (strcmp(m->path, path) != 0)
			continue;
		snprintf(alt, sizeof(alt), "/proc/%d/map_files/%llx-%llx", (int)p->pid,
			 (unsigned long long)m->start, (unsigned long long)m->end);
		return ps_elf_open(alt, elf, NULL) == PS_OK ? PS_OK : PS_EIO;
	}
	return PS_EIO;
}

static int open_maps(struct ps_proc *p, struct ps_errmsg *e)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d", (int)p->pid);
	if (access(path, F_OK) != 0)
		return ps_error(e, PS_ENOPROC, "no process with pid %d", (int)p->pid);
	int rc = ps_maps_read(p->pid, &p->maps, e);
	if (rc == PS_EPERM)
		return ps_error(e, PS_EPERM, "cannot read process %d: permission denied; %s",
				(int)p->pid, ps_perm_advice());
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ENOENT
			? ps_error(e, PS_ENOPROC, "no process with pid %d", (int)p->pid)
			: ps_error(e, PS_EPERM, "cannot read process %d: permission denied; %s",
				   (int)p->pid, ps_perm_advice());
	buf[n] = '\0';
	p->exe = strdup(buf);
	if (read_cmdline(p))
		return ps_error(e, PS_ENOMEM, "out of memory");
	const struct ps_map *lib = ps_maps_find_path(&p->maps, "libpython");
	if (lib)
		p->libpython = strdup(lib->path);
	if (!p->exe || !p->cmdline || (lib && !p->libpython))
		return ps_error(e, PS_ENOMEM, "out of memory");
	p->pyobj_path = p->libpython ? p->libpython : p->exe;
	return PS_OK;
}

static int find_interp(struct ps_proc *p, const struct ps_elf *elf,
		       uint64_t bias, unsigned flags, struct ps_errmsg *e)
{
	if (!(flags & PS_OPEN_FORCE_SCAN) && find_by_symbols(p, elf, bias) == PS_OK)
		return PS_OK;
	p->runtime = 0;
	if (scan_for_interp(p) != PS_OK) {
		/* distinguish "we may not read it" from "nothing there" */
		uint64_t probe;
		const struct ps_map *m = p->maps.n ? &p->maps.v[0] : NULL;
		if (m && ps_mem_read_ptr(&p->mem, m->start, &probe) == PS_EPERM)
			return ps_error(e, PS_EPERM, "cannot read process %d: permission denied; %s",
					(int)p->pid, ps_perm_advice());
		return ps_error(e, PS_ENOTREADY,
				"no python interpreter state found in process %d "
				"(python %s, starting up or shutting down?)",
				(int)p->pid, p->version);
	}
	if (p->runtime && p->lay.dbg_size > 0 && !p->debug_offsets)
		apply_debug_offsets(p);
	return PS_OK;
}

/* sys.version, as the interpreter itself reports it: the final word. */
static int sys_version(struct ps_proc *p, char *out, size_t cap)
{
	uint64_t modules, sys, sdict, ver;
	if (ps_mem_read_ptr(&p->mem, p->interp + (uint64_t)p->lay.interp_modules, &modules) ||
	    ps_py_dict_get_str(p, modules, "sys", &sys) ||
	    ps_mem_read_ptr(&p->mem, sys + (uint64_t)p->lay.module_dict, &sdict) ||
	    ps_py_dict_get_str(p, sdict, "version", &ver) ||
	    ps_py_text(p, ver, 1, 32, out, cap, NULL, NULL))
		return PS_EINVAL;
	out[strcspn(out, " ")] = '\0';
	return PS_OK;
}

/* Find the interpreter reading it as layout l, then check that it calls
 * itself that version. trusted: the version came from the binary itself, so
 * an unreadable sys.version (early start-up) is no reason to doubt it. */
static int try_layout(struct ps_proc *p, const struct ps_layout *l, const struct ps_elf *elf,
		      uint64_t bias, unsigned flags, int trusted, struct ps_errmsg *e)
{
	char sv[32];
	int maj, min, mic;
	p->lay = *l;
	p->runtime = p->interp = p->tstate_current_sym = 0;
	p->debug_offsets = p->debug_offsets_differ = 0;
	p->major = l->version >> 8;
	p->minor = l->version & 0xff;
	int rc = find_interp(p, elf, bias, flags, e);
	if (rc)
		return rc;
	if (sys_version(p, sv, sizeof(sv)) == PS_OK &&
	    ps_parse_version(sv, &maj, &min, &mic) == PS_OK) {
		if (maj != p->major || min != p->minor)
			return ps_error(e, PS_ENOTPY, "process %d: sys.version %s is not %s",
					(int)p->pid, sv, l->name);
		memcpy(p->version, sv, sizeof(sv));
		p->micro = mic;
		return PS_OK;
	}
	if (!trusted)
		return ps_error(e, PS_ENOTPY, "process %d: cannot confirm python %s",
				(int)p->pid, l->name);
	return PS_OK;
}

/* Which layouts to try, best first: the version the binary claims; else
 * the one its file name suggests, then every other one. */
static int try_versions(struct ps_proc *p, const struct ps_elf *elf, uint64_t bias,
			unsigned flags, struct ps_errmsg *e)
{
	int hmaj, hmin, rc = PS_ENOTPY;
	if (claimed_version(p, elf, bias, flags) == PS_OK) {
		const struct ps_layout *l = ps_layout_find(p->major, p->minor);
		if (!l)
			return ps_error(e, PS_EVERSION,
					"python %s in process %d is not supported (2.7 and 3.6-3.13 are)",
					p->version, (int)p->pid);
		return try_layout(p, l, elf, bias, flags, 1, e);
	}
	const char *soname = ps_elf_soname(elf);
	name_hint(soname ? soname : p->pyobj_path, &hmaj, &hmin);
	const struct ps_layout *hinted = ps_layout_find(hmaj, hmin);
	if (hinted && (rc = try_layout(p, hinted, elf, bias, flags, 0, e)) == PS_OK)
		return PS_OK;
	for (int i = ps_layouts_count - 1; i >= 0; i--) {
		if (&ps_layouts[i] != hinted &&
		    try_layout(p, &ps_layouts[i], elf, bias, flags, 0, NULL) == PS_OK)
			return PS_OK;
	}
	if (rc == PS_EPERM)
		return rc;
	return ps_error(e, PS_ENOTREADY,
			"cannot tell the python version of process %d ('%s'), or find its interpreter",
			(int)p->pid, p->pyobj_path);
}

static int proc_init(struct ps_proc *p, unsigned flags, struct ps_errmsg *e)
{
	struct ps_elf *elf = NULL;
	uint64_t vaddr, off, bias = 0;
	int rc = open_maps(p, e);
	if (rc)
		return rc;
	struct ps_errmsg why = { 0 };
	rc = open_elf(p, p->pyobj_path, &elf, &why);
	if (rc)
		return ps_error(e, PS_ENOTPY, "process %d ('%s') is not python: %s",
				(int)p->pid, p->cmdline, why.msg);
	if (!p->libpython && !is_python_object(elf)) {
		ps_elf_free(elf);
		return ps_error(e, PS_ENOTPY,
				"process %d ('%s') is not python: no libpython and no python "
				"symbols in %s", (int)p->pid, p->cmdline, p->exe);
	}
	if (ps_elf_first_load(elf, &vaddr, &off) == PS_OK)
		ps_maps_load_bias(&p->maps, p->pyobj_path, vaddr, off, &bias);
	rc = try_versions(p, elf, bias, flags, e);
	ps_elf_free(elf);
	return rc;
}

int ps_proc_open(struct ps_proc **out, pid_t pid, unsigned flags,
		 struct ps_errmsg *e)
{
	struct ps_proc *p = calloc(1, sizeof(*p));
	*out = NULL;
	if (!p)
		return ps_error(e, PS_ENOMEM, "out of memory");
	p->pid = pid;
	p->pthread_tid_offset = -1;
	ps_mem_init(&p->mem, pid);
	int rc = ps_caches_init(p, e); /* discovery reads types already */
	if (rc == PS_OK)
		rc = proc_init(p, flags, e);
	if (rc) {
		ps_proc_free(p);
		return rc;
	}
	*out = p;
	return PS_OK;
}

void ps_proc_free(struct ps_proc *p)
{
	if (!p)
		return;
	ps_caches_free(p);
	ps_native_free(p->native);
	ps_maps_release(&p->maps);
	ps_mem_release(&p->mem);
	free(p->exe);
	free(p->libpython);
	free(p->cmdline);
	free(p->argv);
	free(p);
}
