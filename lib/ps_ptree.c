#include "ps_ptree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int ps_ptree_have_children_files(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
	return access(path, R_OK) == 0;
}

int ps_pstat_parse(const char *line, struct ps_pstat *st)
{
	/* fields after the command name, numbered as proc(5) does from 3 */
	const char *p = strrchr(line, ')');
	uint64_t v[52] = { 0 };
	memset(st, 0, sizeof(*st));
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return PS_EINVAL;
	st->state = p[2];
	p += 4;
	int field = 4;
	for (; field < 52 && *p; field++) {
		char *end;
		errno = 0;
		/* unsigned: rsslim is 2^64-1; signed fields (nice) wrap */
		unsigned long long x = strtoull(p, &end, 10);
		if (end == p || errno)
			break;
		v[field] = (uint64_t)x;
		p = *end == ' ' ? end + 1 : end;
	}
	if (field <= 22)
		return PS_EINVAL; /* no start time: not a stat line we know */
	st->ppid = (pid_t)v[4];
	st->exiting = (v[9] & 0x4) != 0; /* PF_EXITING */
	st->start = v[22];
	/* 28 startstack, 48 arg_start, 49 arg_end: randomised per exec (and
	 * different for another command line even without randomisation) */
	st->image = v[28] * 0x9e3779b97f4a7c15ull ^ v[48] * 0xc2b2ae3d27d4eb4full ^ v[49];
	return PS_OK;
}

/* Read /proc/<dir>/stat (dir: "PID" or "PID/task/TID") into buf. */
static int read_stat(const char *dir, char *buf, size_t cap)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%s/stat", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? PS_ENOPROC : ps_err_from_errno(errno);
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return PS_ENOPROC; /* it went between open and read */
	buf[n] = '\0';
	return PS_OK;
}

int ps_pstat_read(pid_t pid, struct ps_pstat *st)
{
	char dir[24], buf[1024];
	snprintf(dir, sizeof(dir), "%d", (int)pid);
	int rc = read_stat(dir, buf, sizeof(buf));
	return rc ? rc : ps_pstat_parse(buf, st);
}

struct pidvec {
	pid_t *v;
	size_t n, cap;
};

static int push(struct pidvec *pv, pid_t pid)
{
	if (pv->n == pv->cap) {
		size_t nc = pv->cap ? pv->cap * 2 : 64;
		pid_t *nv = realloc(pv->v, nc * sizeof(*nv));
		if (!nv)
			return PS_ENOMEM;
		pv->v = nv;
		pv->cap = nc;
	}
	pv->v[pv->n++] = pid;
	return PS_OK;
}

static int contains(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return 1;
	return 0;
}

/* ---- the scan: (pid, ppid) of every live process -------------------------- */

struct edge {
	pid_t ppid, pid;
};

static int edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	return x->ppid != y->ppid ? (x->ppid < y->ppid ? -1 : 1)
				  : (x->pid < y->pid ? -1 : x->pid > y->pid);
}

static int scan_edges(struct edge **out, size_t *n)
{
	DIR *d = opendir("/proc");
	struct edge *v = NULL;
	size_t cap = 0;
	int rc = PS_OK;
	struct dirent *de;
	*n = 0;
	if (!d)
		return ps_err_from_errno(errno);
	while (rc == PS_OK && (de = readdir(d)) != NULL) {
		char buf[1024];
		struct ps_pstat st;
		int pid = atoi(de->d_name);
		if (pid <= 0 || read_stat(de->d_name, buf, sizeof(buf)) != PS_OK ||
		    ps_pstat_parse(buf, &st) != PS_OK || st.state == 'Z' || st.state == 'X' ||
		    st.exiting)
			continue; /* gone while we looked, dead or dying */
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct edge *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				rc = PS_ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		v[(*n)++] = (struct edge){ st.ppid, pid };
	}
	closedir(d);
	if (rc) {
		free(v);
		return rc;
	}
	qsort(v, *n, sizeof(*v), edge_cmp);
	*out = v;
	return PS_OK;
}

/* Append the children of parent from the sorted edges. */
static int children_scanned(const struct edge *e, size_t n, pid_t parent, struct pidvec *q)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e[mid].ppid < parent)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && e[lo].ppid == parent; lo++) {
		int rc = push(q, e[lo].pid);
		if (rc)
			return rc;
	}
	return PS_OK;
}

/* ---- the kernel's lists: /proc/PID/task/TID/children ---------------------- */

/* Append the live children listed in one children file. */
static int children_file(const char *path, struct pidvec *q)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PS_OK; /* the thread ended */
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return PS_OK;
	buf[n] = '\0';
	int rc = PS_OK;
	for (char *p = buf, *end; rc == PS_OK; p = end) {
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		struct ps_pstat st;
		if (pid > 0 && ps_pstat_read((pid_t)pid, &st) == PS_OK && st.state != 'Z' &&
		    st.state != 'X' && !st.exiting)
			rc = push(q, (pid_t)pid);
	}
	return rc;
}

/* Append the children of parent: each of its threads has its own list. */
static int children_listed(pid_t parent, struct pidvec *q)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)parent);
	DIR *d = opendir(path);
	if (!d)
		return PS_OK; /* it went: no children of its own any more */
	struct dirent *de;
	int rc = PS_OK;
	while (rc == PS_OK && (de = readdir(d)) != NULL) {
		int tid = atoi(de->d_name);
		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, tid);
		rc = children_file(path, q);
	}
	closedir(d);
	return rc;
}

int ps_ptree_descendants(const pid_t *roots, size_t nroots, int method, pid_t **out,
			 size_t *n)
{
	struct pidvec q = { 0 };
	struct edge *e = NULL;
	size_t ne = 0;
	*out = NULL;
	*n = 0;
	if (!nroots)
		return PS_OK;
	if (method == PS_PTREE_AUTO)
		method = ps_ptree_have_children_files() ? PS_PTREE_CHILDREN : PS_PTREE_SCAN;
	int rc = method == PS_PTREE_SCAN ? scan_edges(&e, &ne) : PS_OK;
	/* breadth first: q holds the roots, then every descendant found */
	for (size_t i = 0; rc == PS_OK && i < nroots; i++)
		rc = push(&q, roots[i]);
	for (size_t i = 0; rc == PS_OK && i < q.n; i++) {
		size_t before = q.n;
		rc = method == PS_PTREE_SCAN ? children_scanned(e, ne, q.v[i], &q)
					     : children_listed(q.v[i], &q);
		/* a root below another root, or a pid listed twice while
		 * the tree changed, is kept once */
		for (size_t j = before; rc == PS_OK && j < q.n;) {
			if (contains(q.v, j, q.v[j]))
				q.v[j] = q.v[--q.n];
			else
				j++;
		}
	}
	free(e);
	if (rc) {
		free(q.v);
		return rc;
	}
	memmove(q.v, q.v + nroots, (q.n - nroots) * sizeof(*q.v));
	*n = q.n - nroots;
	*out = q.v;
	return PS_OK;
}
