#include "ps_tasks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ps_time.h"

char ps_stat_state(const char *line)
{
	const char *rp = strrchr(line, ')');
	if (!rp || rp[1] != ' ' || !rp[2])
		return '?';
	return rp[2];
}

/* Read a small /proc file of a process (tid 0) or one of its threads:
 * "stat" or "status". Returns the bytes read, or -1. */
static ssize_t read_proc_file(pid_t pid, pid_t tid, const char *name, char *buf, size_t cap)
{
	char path[96];
	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)pid, (int)tid, name);
	else
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

char ps_task_state(pid_t pid, pid_t tid)
{
	char buf[512];
	return read_proc_file(pid, tid, "stat", buf, sizeof(buf)) < 0 ? '?' : ps_stat_state(buf);
}

pid_t ps_parent_of(pid_t pid)
{
	char buf[512];
	int ppid = -1;
	if (read_proc_file(pid, 0, "stat", buf, sizeof(buf)) < 0)
		return -1;
	const char *rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Append a thread and its state to a task list. */
static int push(struct ps_tasks *t, pid_t tid, char state)
{
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		pid_t *nv = realloc(t->tid, nc * sizeof(*nv));
		if (!nv)
			return PS_ENOMEM;
		t->tid = nv;
		char *ns = realloc(t->state, nc);
		if (!ns)
			return PS_ENOMEM;
		t->state = ns;
		t->cap = nc;
	}
	t->tid[t->n] = tid;
	t->state[t->n++] = state;
	return PS_OK;
}

/* List the threads of pid; states too (one file each) if with_states. */
static int list_tasks(pid_t pid, struct ps_tasks *t, int with_states)
{
	char path[64];
	t->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? PS_ENOPROC : ps_err_from_errno(errno);
	struct dirent *de;
	int rc = PS_OK;
	while (rc == PS_OK && (de = readdir(d)) != NULL) {
		int tid = atoi(de->d_name);
		if (tid > 0)
			rc = push(t, tid, with_states ? ps_task_state(pid, tid) : '?');
	}
	closedir(d);
	return rc;
}

int ps_tasks_read(pid_t pid, struct ps_tasks *t)
{
	return list_tasks(pid, t, 1);
}

void ps_tasks_release(struct ps_tasks *t)
{
	free(t->tid);
	free(t->state);
	memset(t, 0, sizeof(*t));
}

char ps_tasks_state(const struct ps_tasks *t, pid_t tid)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (t->tid[i] == tid)
			return t->state[i];
	return '?';
}

/* ---- watching ---- */

void ps_task_watch_init(struct ps_task_watch *w, pid_t pid)
{
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->stale = 1;
}

static void watch_close(struct ps_task_watch *w)
{
	for (size_t i = 0; i < w->nfd; i++)
		if (w->fd[i] >= 0)
			close(w->fd[i]);
	w->nfd = 0;
}

void ps_task_watch_release(struct ps_task_watch *w)
{
	watch_close(w);
	free(w->fd);
	ps_tasks_release(&w->list);
	memset(w, 0, sizeof(*w));
}

/* A thread's state from its open stat file; '?' if it is gone. */
static char watch_state(int fd)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	return ps_stat_state(buf);
}

/* List the threads again, opening the stat files of the first ones. */
static int watch_list(struct ps_task_watch *w, uint64_t now_ns)
{
	watch_close(w);
	int rc = ps_tasks_read(w->pid, &w->list);
	if (rc)
		return rc;
	size_t want = w->list.n < PS_WATCH_FDS ? w->list.n : PS_WATCH_FDS;
	int *fd = realloc(w->fd, (want ? want : 1) * sizeof(*fd));
	if (!fd)
		return PS_ENOMEM;
	w->fd = fd;
	for (size_t i = 0; i < want; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)w->pid,
			 (int)w->list.tid[i]);
		fd[i] = open(path, O_RDONLY | O_CLOEXEC);
	}
	w->nfd = want;
	w->stale = 0;
	w->listed_ns = now_ns;
	w->listings++;
	return PS_OK;
}

int ps_task_watch_list_due(struct ps_task_watch *w, uint64_t now_ns, int *listed)
{
	*listed = w->stale || now_ns - w->listed_ns >= 1000000000ull;
	return *listed ? watch_list(w, now_ns) : PS_OK;
}

void ps_task_watch_states(struct ps_task_watch *w, pid_t skip)
{
	for (size_t i = 0; i < w->list.n; i++) {
		if (skip > 0 && w->list.tid[i] == skip)
			continue;
		char st = i < w->nfd && w->fd[i] >= 0 ? watch_state(w->fd[i])
						      : ps_task_state(w->pid, w->list.tid[i]);
		w->list.state[i] = st;
		if (st == '?')
			w->stale = 1; /* gone: not listed from the next update */
	}
}

int ps_task_watch_update(struct ps_task_watch *w, uint64_t now_ns)
{
	int listed;
	int rc = ps_task_watch_list_due(w, now_ns, &listed);
	if (rc == PS_OK && !listed)
		ps_task_watch_states(w, 0);
	return rc;
}

int ps_task_watch_knows(struct ps_task_watch *w, pid_t tid)
{
	for (size_t i = 0; i < w->list.n; i++)
		if (w->list.tid[i] == tid)
			return 1;
	w->stale = 1;
	return 0;
}

/* ---- pausing ---- */


static int paused_has(const struct ps_pause *pz, pid_t tid)
{
	for (size_t i = 0; i < pz->n; i++)
		if (pz->tid[i] == tid)
			return 1;
	return 0;
}

static long now_ms(void)
{
	return (long)(ps_now_ns() / 1000000u);
}

/* A thread running on another core reports its stop within microseconds
 * of the interrupt: it is polled for that long before we sleep, since a
 * sleeping sampler wakes slowly (its core idle), and the target waits
 * stopped meanwhile. 3.10 deep, 1 kHz: 94-102 -> 78-86 us a pause. */
#define STOP_SPIN_NS 50000

/* Wait for a seized, interrupted thread to report its stop. WNOHANG with a
 * deadline: a thread stuck in the kernel must not hang us. If what stopped
 * it was a signal on its way to the thread, *sig is that signal: it must be
 * passed back on detach or the target would lose it. */
static int wait_stopped(pid_t leader, int our_child, pid_t tid, long deadline, int *sig)
{
	uint64_t spin_until = ps_now_ns() + STOP_SPIN_NS;
	for (;;) {
		/* peek first: the exit of the process's main thread must stay
		 * for its parent to collect (in launch mode, that is us, and
		 * we exit with its status) */
		siginfo_t si;
		si.si_pid = 0;
		int r = waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL);
		if (r == 0 && si.si_pid == tid) {
			int status;
			if (si.si_code != CLD_TRAPPED && si.si_code != CLD_STOPPED) {
				/* a traced process's exit comes to its tracer first;
				 * collecting it passes it on to the real parent, unless
				 * that is us (launch mode), who collect it later */
				if (tid != leader || !our_child)
					waitpid(tid, &status, __WALL | WNOHANG);
				return PS_EGONE;
			}
			if (waitpid(tid, &status, __WALL | WNOHANG) != tid || !WIFSTOPPED(status))
				return PS_EGONE;
			/* set only now: after a timeout *sig must still say "not
			 * stopped yet" (-1), so that ps_resume waits for it */
			*sig = status >> 16 != PTRACE_EVENT_STOP ? WSTOPSIG(status) : 0;
			return PS_OK;
		}
		if (r < 0 && errno != EINTR)
			return errno == ECHILD ? PS_EGONE : PS_EIO;
		if (ps_now_ns() < spin_until)
			continue;
		long left = deadline - now_ms();
		if (left <= 0)
			return PS_EIO;
		/* a tracee's stop sends us SIGCHLD (blocked during the pause):
		 * sleep until one comes, not a fixed slice */
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
		sigtimedwait(&chld, NULL, &ts);
	}
}

/* Seize and interrupt one thread; its stop is awaited later, so that all
 * threads of a round stop in parallel. */
/* Why PTRACE_SEIZE said EPERM: -1 the thread is exiting or gone (nothing
 * to pause), 1 we already trace it (an earlier pause interrupted it but
 * could not release it while it was stuck in the kernel: ours to stop and
 * release now), 0 someone else traces it or we may not. */
static int seize_refused(pid_t pid, pid_t tid)
{
	char buf[1024];
	if (read_proc_file(pid, tid, "status", buf, sizeof(buf)) < 0)
		return -1;
	const char *st = strstr(buf, "State:");
	if (st) {
		st += strlen("State:");
		st += strspn(st, " \t");
		if (*st == 'Z' || *st == 'X')
			return -1;
	}
	const char *t = strstr(buf, "TracerPid:");
	return t && atoi(t + 10) == (int)gettid(); /* the tracing thread */
}

static int seize_one(struct ps_pause *pz, pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
		int err = errno;
		if (err == ESRCH)
			return PS_EGONE;
		if (err != EPERM)
			return ps_err_from_errno(err);
		int why = seize_refused(pz->pid, tid);
		if (why < 0)
			return PS_EGONE;
		if (why == 0)
			return PS_EPERM;
	}
	int rc = PS_OK;
	if (pz->n == pz->cap) {
		size_t nc = pz->cap ? pz->cap * 2 : 16;
		pid_t *nt = realloc(pz->tid, nc * sizeof(*nt));
		int *ns = nt ? realloc(pz->sig, nc * sizeof(*ns)) : NULL;
		if (nt)
			pz->tid = nt;
		if (ns)
			pz->sig = ns;
		if (!nt || !ns)
			rc = PS_ENOMEM;
		else
			pz->cap = nc;
	}
	if (rc == PS_OK) {
		pz->tid[pz->n] = tid;
		pz->sig[pz->n++] = -1; /* not stopped yet */
	}
	if (rc) {
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return rc;
	}
	if (!pz->since)
		pz->since = ps_now_ns();
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0)
		return errno == ESRCH ? PS_EGONE : ps_err_from_errno(errno);
	return PS_OK;
}

/* Seize every listed thread not yet seized; *added counts the new ones. */
static int seize_round(struct ps_pause *pz, long deadline, size_t *added,
		       struct ps_errmsg *e)
{
	struct ps_tasks t = { 0 };
	int rc = list_tasks(pz->pid, &t, 0); /* pausing needs no states */
	*added = 0;
	if (rc) {
		ps_tasks_release(&t);
		return ps_error(e, rc, "cannot list threads of process %d", (int)pz->pid);
	}
	size_t first = pz->n;
	for (size_t i = 0; rc == PS_OK && i < t.n; i++) {
		if (paused_has(pz, t.tid[i]))
			continue;
		rc = seize_one(pz, t.tid[i]);
		if (rc == PS_EGONE)
			rc = PS_OK; /* the thread exited meanwhile: nothing to pause */
	}
	for (size_t i = first; rc == PS_OK && i < pz->n; i++) {
		rc = wait_stopped(pz->pid, pz->our_child, pz->tid[i], deadline, &pz->sig[i]);
		if (rc == PS_EGONE)
			rc = PS_OK;
	}
	*added = pz->n - first;
	ps_tasks_release(&t);
	if (rc == PS_EPERM)
		return ps_error(e, rc, "cannot pause process %d: permission denied", (int)pz->pid);
	if (rc)
		return ps_error(e, rc, "cannot pause process %d: %s", (int)pz->pid,
				rc == PS_EIO ? "a thread did not stop in time" : ps_strerror(rc));
	return PS_OK;
}

void ps_pause_begin(pid_t pid, struct ps_pause *pz)
{
	sigset_t block;
	/* whose child it is does not change while we sample it (we are not
	 * a subreaper): looked up once for a ps_pause reused for one pid */
	if (!pz->parent_known || pz->pid != pid) {
		pz->our_child = ps_parent_of(pid) == getpid();
		pz->parent_known = 1;
	}
	pz->pid = pid;
	pz->n = 0;
	pz->since = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, SIGALRM);
	sigaddset(&block, SIGCHLD); /* waited for with sigtimedwait */
	/* a stop (Ctrl-Z, a shell's job control) waits for the resume too:
	 * stopped with the target paused, we would hold it stopped as long */
	sigaddset(&block, SIGTSTP);
	sigaddset(&block, SIGTTIN);
	sigaddset(&block, SIGTTOU);
	sigprocmask(SIG_BLOCK, &block, &pz->saved_mask);
	pz->active = 1;
}

int ps_pause(pid_t pid, struct ps_pause *pz, int timeout_ms, struct ps_errmsg *e)
{
	ps_pause_begin(pid, pz);
	long deadline = now_ms() + timeout_ms;
	/* threads may start while we attach: list again until none is new */
	for (int round = 0; round < 16; round++) {
		size_t added;
		int rc = seize_round(pz, deadline, &added, e);
		if (rc) {
			ps_resume(pz);
			return rc;
		}
		if (added == 0)
			return PS_OK;
	}
	ps_resume(pz);
	return ps_error(e, PS_EIO, "cannot pause process %d: it keeps starting threads", (int)pid);
}

int ps_pause_thread(struct ps_pause *pz, pid_t tid, int timeout_ms)
{
	if (!pz->active || tid <= 0)
		return PS_EINVAL;
	if (paused_has(pz, tid))
		return PS_OK;
	/* tid was read from the target while it ran: make sure it is one of
	 * its threads (a signal 0 to tid in thread group pid) before we
	 * stop it */
	if (syscall(SYS_tgkill, (int)pz->pid, (int)tid, 0) != 0)
		return errno == ESRCH ? PS_EGONE : ps_err_from_errno(errno);
	int rc = seize_one(pz, tid);
	if (rc)
		return rc;
	return wait_stopped(pz->pid, pz->our_child, tid, now_ms() + timeout_ms,
			    &pz->sig[pz->n - 1]);
}

/* Detach one thread. A thread we interrupted but that has not stopped yet
 * (we gave up waiting) must still be waited for: it will enter the stop
 * when it leaves the kernel, and only a stopped tracee can be detached. */
static int release_one(struct ps_pause *pz, size_t i)
{
	if (pz->sig[i] < 0) {
		int rc = wait_stopped(pz->pid, pz->our_child, pz->tid[i], now_ms() + 1000,
				      &pz->sig[i]);
		if (rc)
			return rc != PS_EGONE; /* gone is fine */
	}
	if (ptrace(PTRACE_DETACH, pz->tid[i], NULL, (void *)(long)pz->sig[i]) == 0)
		return 0;
	return errno != ESRCH; /* gone is fine */
}

int ps_release_threads(struct ps_pause *pz)
{
	int stuck = 0;
	for (size_t i = 0; pz->active && i < pz->n; i++)
		stuck += release_one(pz, i);
	pz->n = 0;
	pz->since = 0;
	return stuck;
}

int ps_resume(struct ps_pause *pz)
{
	if (!pz->active)
		return 0;
	int stuck = ps_release_threads(pz);
	free(pz->tid);
	free(pz->sig);
	pz->tid = NULL;
	pz->sig = NULL;
	pz->cap = 0;
	pz->active = 0;
	sigprocmask(SIG_SETMASK, &pz->saved_mask, NULL);
	return stuck;
}
