/* The sampling loop. */
#include "ps_sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ps_names.h"
#include "ps_pace.h"
#include "ps_ptree.h"
#include "ps_tasks.h"

#define NS 1000000000ull

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

int ps_launch(char *const argv[], pid_t *pid, struct ps_errmsg *e)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return ps_error(e, PS_EIO, "cannot start '%s': %s", argv[0], strerror(errno));
	pid_t c = fork();
	if (c < 0) {
		close(fds[0]);
		close(fds[1]);
		return ps_error(e, PS_EIO, "cannot start '%s': %s", argv[0], strerror(errno));
	}
	if (c == 0) {
		int err;
		close(fds[0]);
		execvp(argv[0], argv);
		err = errno;
		if (write(fds[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(fds[1]);
	int err = 0;
	ssize_t n;
	do
		n = read(fds[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(c, NULL, 0);
		return ps_error(e, PS_EIO, "cannot run '%s': %s", argv[0], strerror(err));
	}
	*pid = c;
	return PS_OK;
}

void ps_launch_stop(pid_t child)
{
	int status;
	if (waitpid(child, &status, WNOHANG) == child)
		return;
	kill(child, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(child, &status, WNOHANG) == child)
			return;
		usleep(10000);
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
}

int ps_launch_exit_code(const struct ps_sampler_stats *st, pid_t child)
{
	int status = st->child_status;
	if (status < 0 && waitpid(child, &status, 0) != child)
		return 1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

static void install_handlers(struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: sleeps end at once */
	sigemptyset(&sa.sa_mask);
	stop_signal = 0;
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
	sigaction(SIGHUP, &sa, &old[2]);
	signal(SIGPIPE, SIG_IGN); /* a closed pipe is an EPIPE from write */
}

static void restore_handlers(const struct sigaction *old)
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	sigaction(SIGHUP, &old[2], NULL);
}

/* Whether a launched child has exited (reaping it), or a target is gone. */
static int target_gone(pid_t pid, int child, struct ps_sampler_stats *st)
{
	if (child) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			st->child_status = status;
			return 1;
		}
		return r < 0;
	}
	/* kill(pid, 0) still succeeds on a zombie (exited, not yet reaped) */
	char state = ps_task_state(pid, 0);
	return (kill(pid, 0) != 0 && errno == ESRCH) || state == 'Z' || state == 'X' ||
	       state == '?';
}

/* Whether the child has exec'd: until then it is a copy of us. */
static int execed(pid_t pid)
{
	char a[64], self[4096], other[4096];
	snprintf(a, sizeof(a), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(a, other, sizeof(other) - 1), m = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0 || m < 0)
		return 0;
	other[n] = self[m] = '\0';
	return strcmp(self, other) != 0;
}

/* Open the target. A launched command needs a moment to become a python
 * with an interpreter: "not ready" is retried until startup_timeout; "not
 * python" only for a short while after exec (the dynamic loader maps
 * libpython after the executable). */
static int open_target(const struct ps_sampler_opts *o, pid_t pid, int child,
		       struct ps_proc **p, struct ps_sampler_stats *st, struct ps_errmsg *e)
{
	double limit = o->startup_timeout_s > 0 ? o->startup_timeout_s : 10;
	uint64_t now = ps_now_ns(), deadline = now + (uint64_t)(limit * NS), notpy_since = 0;
	for (;;) {
		int rc = ps_proc_open(p, pid, o->open_flags, e);
		if (rc == PS_OK || !child || (rc != PS_ENOTREADY && rc != PS_ENOTPY))
			return rc;
		if (target_gone(pid, child, st)) {
			st->target_exited = 1;
			return ps_error(e, PS_ENOTPY, "the command exited before python started");
		}
		now = ps_now_ns();
		if (rc == PS_ENOTPY && execed(pid)) {
			if (!notpy_since)
				notpy_since = now;
			if (now - notpy_since > NS / 3)
				return rc;
		}
		if (stop_signal || now > deadline)
			return rc;
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

unsigned ps_pause_bucket(uint64_t ns)
{
	if (ns < 8)
		return 0;
	unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
	unsigned b = (msb - 2) * 8 + (unsigned)((ns >> (msb - 3)) & 7);
	return b < PS_PAUSE_BUCKETS ? b : PS_PAUSE_BUCKETS - 1;
}

uint64_t ps_pause_bucket_ns(unsigned bucket)
{
	if (bucket < 8)
		return bucket;
	unsigned msb = bucket / 8 + 2, frac = bucket % 8;
	uint64_t low = (uint64_t)(8 + frac) << (msb - 3);
	return low + ((uint64_t)1 << (msb - 3)) / 2;
}

uint64_t ps_pause_median_ns(const struct ps_sampler_stats *st)
{
	uint64_t seen = 0;
	for (unsigned b = 0; st->paused && b < PS_PAUSE_BUCKETS; b++) {
		seen += st->pause_hist[b];
		if (seen * 2 >= st->paused)
			return ps_pause_bucket_ns(b);
	}
	return 0;
}

static void count_pause(struct ps_sampler_stats *st, uint64_t ns)
{
	st->paused++;
	st->pause_hist[ps_pause_bucket(ns)]++;
	if (ns > st->pause_max_ns)
		st->pause_max_ns = ns;
}

/* The OS thread of the thread holding the GIL in s, or 0. */
static pid_t gil_tid(const struct ps_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->threads[i].flags & PS_THREAD_GIL)
			return s->threads[i].tid;
	return 0;
}

/* Stopping one thread at a time (see each_thread): how long the longest
 * stop of this snapshot lasted. */
struct each_stop {
	struct ps_pause *pz;
	uint64_t longest;
};

static int each_stop(void *ctx, pid_t tid)
{
	struct each_stop *es = ctx;
	return ps_pause_thread(es->pz, tid, 100);
}

static void each_go(void *ctx, pid_t tid)
{
	struct each_stop *es = ctx;
	uint64_t since = es->pz->since;
	(void)tid;
	ps_release_threads(es->pz);
	uint64_t ns = since ? ps_now_ns() - since : 0;
	if (ns > es->longest)
		es->longest = ns;
}

/* Whether to stop the threads one at a time rather than all together:
 * stopping a thread costs a few syscalls (tens of us on a busy machine),
 * so beyond PS_PAUSE_ALL_MAX threads a whole-process pause would stall
 * the target for milliseconds every sample. The tids must be known
 * before the walk (3.11+, or calibrated by an earlier snapshot; after a
 * failure, tried again from p->tid_calibrate_at, a second later). */
static int each_thread(struct ps_proc *p, const struct ps_task_watch *tw, uint64_t now)
{
	if (tw->list.n <= PS_PAUSE_ALL_MAX)
		return 0;
	if (p->lay.tstate_native_thread_id < 0 && p->pthread_tid_offset < 0 &&
	    now >= p->tid_calibrate_at) {
		/* before 3.11 a snapshot learns where glibc keeps the tid; it
		 * needs no pause (those fields do not change), so the target
		 * is not paused whole for it either */
		struct ps_snapshot s;
		if (ps_snapshot_take(p, &s, 0, &tw->list, NULL) == PS_OK)
			ps_snapshot_release(&s);
	}
	return p->lay.tstate_native_thread_id >= 0 || p->pthread_tid_offset >= 0;
}

/* The snapshot with each thread stopped only while it is read. */
static int snapshot_each(struct ps_proc *p, const struct ps_sampler_opts *o, struct ps_snapshot *s,
			 struct ps_task_watch *tw, struct ps_pause *pz, struct ps_sampler_stats *st,
			 struct ps_errmsg *e)
{
	struct each_stop es = { .pz = pz };
	struct ps_thread_stopper stop = { &es, each_stop, each_go };
	ps_pause_begin(p->pid, pz);
	int rc = ps_snapshot_take_each(p, s, o->native ? PS_SNAP_NATIVE : 0, &tw->list, &stop, e);
	ps_resume(pz);
	st->paused_each++;
	count_pause(st, es.longest);
	return rc;
}

/* One snapshot. Pausing: states first (a paused thread looks stopped), then
 * pause, read, resume; nothing returns between pause and resume (a process
 * with many threads: each stopped only while it is read, see each_thread).
 * Not pausing, the states are read after the walk, all but the GIL
 * holder's: it is running Python whatever its state says, so a single busy
 * thread costs no state read at all. */
static int snapshot(struct ps_proc *p, const struct ps_sampler_opts *o, struct ps_snapshot *s,
		    struct ps_names *nm, struct ps_task_watch *tw, struct ps_pause *pz,
		    uint64_t now, int spare, struct ps_sampler_stats *st, struct ps_errmsg *e)
{
	uint64_t listings = tw->listings;
	unsigned flags = o->native ? PS_SNAP_NATIVE : 0;
	int listed = 0, each = 0, rc;
	if (o->nonblocking) {
		rc = ps_task_watch_list_due(tw, now, &listed);
		flags |= PS_SNAP_NO_IDLE | (spare ? PS_SNAP_RETRY : 0);
	} else {
		rc = ps_task_watch_update(tw, now);
	}
	st->listings += tw->listings - listings;
	if (rc == PS_OK && !o->nonblocking) {
		each = each_thread(p, tw, now);
		if (!each)
			rc = ps_pause(p->pid, pz, 500, e);
	}
	if (rc == PS_OK) {
		if (each) {
			rc = snapshot_each(p, o, s, tw, pz, st, e);
		} else {
			rc = ps_snapshot_take(p, s, flags, &tw->list, e);
			if (rc == PS_OK && o->nonblocking) {
				if (!listed)
					ps_task_watch_states(tw, gil_tid(s));
				ps_snapshot_idle(s, &tw->list);
			}
		}
		if (rc == PS_OK) {
			/* a thread the list does not have yet: its state is
			 * guessed this time, read from the next sample on */
			for (size_t i = 0; i < s->n; i++)
				if (s->threads[i].tid > 0)
					ps_task_watch_knows(tw, s->threads[i].tid);
			if (ps_names_due(nm, s, now)) {
				ps_snapshot_names(p, s);
				ps_names_store(nm, s, now);
			} else {
				ps_names_fill(nm, s);
			}
		}
		uint64_t since = pz->since; /* the first thread stopped */
		ps_resume(pz);
		if (since && !each)
			count_pause(st, ps_now_ns() - since);
	}
	return rc;
}

static void status_line(const struct ps_sampler_stats *st, int final)
{
	double secs = (double)st->elapsed_ns / NS;
	char procs[32] = "";
	if (st->processes > 1)
		snprintf(procs, sizeof(procs), "  %u processes", st->processes);
	fprintf(stderr, "\r%.1fs  %llu samples  %.1f Hz  %llu errors  %llu late%s%s", secs,
		(unsigned long long)st->samples, secs > 0 ? (double)st->samples / secs : 0.0,
		(unsigned long long)st->errors, (unsigned long long)st->late, procs,
		final ? "\n" : "   ");
	fflush(stderr);
}

/* The tick that began at start is over: count the asked deadlines it
 * missed, and sleep until the next deadline (ps_pace.h). */
static void pace_wait(struct ps_pace *pc, uint64_t start, struct ps_sampler_stats *st,
		      struct ps_sample_sink *sink, struct ps_proc *p)
{
	uint64_t now = ps_now_ns(), late_ns;
	uint64_t missed = ps_pace_done(pc, start, now, &late_ns);
	if (missed) {
		st->late += missed;
		st->late_ns += late_ns;
		if (sink->event)
			sink->event(sink->ctx, p, now, PS_EVENT_LATE, missed, (int64_t)late_ns);
	}
	uint64_t wake = ps_pace_wake(pc, ps_now_ns());
	if (!wake)
		return;
	struct timespec ts = { (time_t)(wake / NS), (long)(wake % NS) };
	while (!stop_signal && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- the processes sampled ------------------------------------------------
 * The target (member 0, opened before sampling starts) and, with
 * --subprocesses, its descendants: found by polling the process tree, opened
 * once they are a python we can read, dropped quietly when they exit. */

/* How often the tree is looked at, how long a new process (or one that just
 * exec'd) may take to become a readable python, and how often we try. */
#define POLL_NS (NS / 5)
#define NOTPY_RETRY_NS (NS + NS / 2)
#define NOTREADY_RETRY_NS (3 * NS)
#define RETRY_EVERY_NS (NS / 20)
#define HOLD_NS NS

struct member {
	pid_t pid;
	struct ps_proc *p;      /* NULL: not (yet) a python we read */
	struct ps_pstat id;     /* start time (pid reuse) and image (exec) */
	uint64_t since;         /* found, or seen to exec: retries count from here */
	uint64_t next_try;
	int ignored;            /* not python: looked at again only if it execs */
	struct ps_names nm;
	struct ps_task_watch tw;   /* its threads' states, kept open */
	struct ps_pause pz;        /* kept: it knows whether we are the parent */
	uint64_t snap_ns;          /* a snapshot's duration, averaged (see sample_member) */
	uint64_t pending_errors;   /* counted, not yet reported to the sink */
	uint64_t held_errors;      /* not counted yet: see count_errors */
	uint64_t held_since;
};

struct procset {
	struct member *m;
	size_t n, cap;
	uint64_t last_poll;
	int root_alive;
};

/* Processes followed at most (the target and its descendants): a program
 * that forks for ever keeps the set, and what each member holds, bounded;
 * descendants beyond it are not sampled. */
#define MAX_PROCESSES 1024

static int set_add(struct procset *ps, pid_t pid, const struct ps_pstat *id, uint64_t now)
{
	if (ps->n >= MAX_PROCESSES)
		return PS_ENOMEM;
	if (ps->n == ps->cap) {
		size_t nc = ps->cap ? ps->cap * 2 : 8;
		struct member *nm = realloc(ps->m, nc * sizeof(*nm));
		if (!nm)
			return PS_ENOMEM;
		ps->m = nm;
		ps->cap = nc;
	}
	ps->m[ps->n] = (struct member){ .pid = pid, .id = *id, .since = now, .next_try = now };
	ps_task_watch_init(&ps->m[ps->n++].tw, pid);
	return PS_OK;
}

/* Forget member i (not the root); its exit goes to the sink if we sampled it. */
static void set_drop(struct procset *ps, size_t i, struct ps_sample_sink *sink, uint64_t now)
{
	struct member *m = &ps->m[i];
	if (m->p && sink->event) {
		if (m->pending_errors)
			sink->event(sink->ctx, m->p, now, PS_EVENT_ERRORS, m->pending_errors, 0);
		sink->event(sink->ctx, m->p, now, PS_EVENT_PROCESS_EXIT, 1, -1);
	}
	ps_proc_free(m->p);
	ps_names_release(&m->nm);
	ps_task_watch_release(&m->tw);
	ps->m[i] = ps->m[--ps->n];
}

/* The member read the same program as when we found (or opened) it: 1 yes,
 * 0 it exec'd something else, -1 it is gone (or its pid is another's). */
static int member_check(const struct member *m)
{
	struct ps_pstat now;
	if (ps_pstat_read(m->pid, &now) != PS_OK || now.state == 'Z' || now.state == 'X' ||
	    now.exiting || now.start != m->id.start)
		return -1;
	return now.image == m->id.image;
}

/* A member that exec'd is a new program: read it afresh (a new PROCESS
 * record follows once it is open again). */
static void member_reset(struct member *m, uint64_t now)
{
	ps_proc_free(m->p);
	m->p = NULL;
	ps_names_release(&m->nm);
	ps_task_watch_release(&m->tw);
	ps_task_watch_init(&m->tw, m->pid);
	ps_pstat_read(m->pid, &m->id);
	m->since = m->next_try = now;
	m->ignored = 0;
	m->held_errors = 0; /* the old program's end, not errors */
}

/* Try to open member m: a new python is announced to the sink. */
static void member_open(struct member *m, const struct ps_sampler_opts *o,
			struct ps_sample_sink *sink, struct ps_sampler_stats *st, uint64_t now)
{
	struct ps_errmsg e = { 0 };
	int rc = ps_proc_open(&m->p, m->pid, o->open_flags, &e);
	if (rc == PS_OK && member_check(m) != 1) {
		/* it exec'd (or left) while we read it: what we found is stale;
		 * the program it runs now gets its own start-up time */
		ps_proc_free(m->p);
		m->p = NULL;
		ps_pstat_read(m->pid, &m->id);
		m->since = now;
		rc = PS_ENOTREADY;
	}
	if (rc == PS_OK) {
		st->processes++;
		if (sink->event)
			sink->event(sink->ctx, m->p, now, PS_EVENT_PROCESS_START, 1, m->id.ppid);
		return;
	}
	uint64_t limit = rc == PS_ENOTREADY ? NOTREADY_RETRY_NS : NOTPY_RETRY_NS;
	if ((rc == PS_ENOTPY || rc == PS_ENOTREADY) && now - m->since < limit)
		m->next_try = now + RETRY_EVERY_NS;
	else
		m->ignored = 1; /* not python, not one we can read: quietly */
}

/* Look at the tree: new descendants join; members gone leave; ignored ones
 * that exec'd are looked at again. Descendants of every member are followed,
 * so that a grandchild stays in view when its parent (or the target) exits
 * first. */
static void set_poll(struct procset *ps, struct ps_sample_sink *sink, uint64_t now)
{
	pid_t *roots = malloc((ps->n + 1) * sizeof(*roots)), *found = NULL;
	size_t nr = 0, nf = 0;
	ps->last_poll = now;
	for (size_t i = ps->n; i-- > 1;) {
		int c = member_check(&ps->m[i]);
		if (c < 0)
			set_drop(ps, i, sink, now);
		else if (c == 0)
			member_reset(&ps->m[i], now);
	}
	for (size_t i = 0; roots && i < ps->n; i++)
		if (i || ps->root_alive)
			roots[nr++] = ps->m[i].pid;
	if (roots && ps_ptree_descendants(roots, nr, PS_PTREE_AUTO, &found, &nf) == PS_OK) {
		for (size_t i = 0; i < nf; i++) {
			size_t j = 0;
			struct ps_pstat id;
			while (j < ps->n && ps->m[j].pid != found[i])
				j++;
			if (j == ps->n && ps_pstat_read(found[i], &id) == PS_OK)
				set_add(ps, found[i], &id, now);
		}
	}
	free(found);
	free(roots);
}

/* Whether something is still being sampled, or may soon be. */
static int set_busy(const struct procset *ps)
{
	for (size_t i = 1; i < ps->n; i++)
		if (ps->m[i].p || !ps->m[i].ignored)
			return 1;
	return 0;
}

static void set_release(struct procset *ps, struct ps_sample_sink *sink)
{
	uint64_t now = ps_now_ns();
	while (ps->n > 1)
		set_drop(ps, ps->n - 1, sink, now);
	if (ps->n) {
		ps_names_release(&ps->m[0].nm);
		ps_task_watch_release(&ps->m[0].tw);
	}
	free(ps->m);
	memset(ps, 0, sizeof(*ps));
}

/* ---- the loop ------------------------------------------------------------- */

struct loop {
	const struct ps_sampler_opts *o;
	struct ps_sample_sink *sink;
	struct ps_sampler_stats *st;
	struct procset set;
	int child;
	int rc;                 /* the first sink error */
	uint64_t last_errors;   /* when pending errors were last reported */
	int statfd;             /* the target's /proc/PID/stat, or -1 */
	uint64_t gone_checked;  /* when root_gone was last asked by tick */
};

/* The target's stat, from its stat file kept open: no open, read and
 * close at every tick, nor at every failed snapshot (vanished asks whether
 * it is dying). The open file is bound to the process, not the number:
 * once it is reaped the read fails, even if the pid is reused. */
static int root_stat(struct loop *l, struct ps_pstat *ps)
{
	if (l->statfd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)l->set.m[0].pid);
		l->statfd = open(path, O_RDONLY | O_CLOEXEC);
		if (l->statfd < 0)
			return PS_ENOPROC;
	}
	char buf[1024];
	ssize_t n = pread(l->statfd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return PS_ENOPROC;
	buf[n] = '\0';
	return ps_pstat_parse(buf, ps);
}

/* Whether the target is gone (a target we launched is reaped here). */
static int root_gone(struct loop *l)
{
	pid_t pid = l->set.m[0].pid;
	struct ps_pstat ps;
	if (l->child)
		return target_gone(pid, 1, l->st);
	int rc = root_stat(l, &ps);
	if (rc && l->statfd < 0)
		return target_gone(pid, 0, l->st);
	return rc || ps.state == 'Z' || ps.state == 'X';
}

/* Whether the target is gone, dead or on its way out (a process that
 * cannot be stopped any more, or whose interpreter is being torn down under
 * us): its reads fail then, and that is no error. */
static int root_dying(struct loop *l)
{
	struct ps_pstat ps;
	return root_stat(l, &ps) != PS_OK || ps.state == 'Z' || ps.state == 'X' || ps.exiting;
}

/* The target is gone: say so, once. */
static void root_exited(struct loop *l, uint64_t now)
{
	l->st->target_exited = 1;
	l->set.root_alive = 0;
	l->set.m[0].held_errors = 0; /* its end, not errors */
	if (l->sink->event)
		l->sink->event(l->sink->ctx, l->set.m[0].p, now, PS_EVENT_PROCESS_EXIT, 1,
			       l->st->child_status);
}

/* Whether member i is gone (or exec'd, when it is reset to be read afresh)
 * after a failed snapshot: its failure is then no error. */
static int vanished(struct loop *l, size_t i, uint64_t now)
{
	struct member *m = &l->set.m[i];
	if (i == 0) {
		if (!root_gone(l))
			return root_dying(l); /* its exit comes next tick */
		root_exited(l, now);
		return 1;
	}
	int c = member_check(m);
	if (c < 0)
		set_drop(&l->set, i, l->sink, now);
	else if (c == 0)
		member_reset(m, now);
	return c != 1;
}

/* Count n errors of member i, held for a second first: reads fail and
 * frames are freed under us while an interpreter is torn down at exit, and
 * a process that exits costs nothing (the target's held errors are dropped
 * by root_exited); one still there a second later has them counted. No
 * question to /proc for it: a stack torn by a frame freed under us (fib
 * before 3.11, not pausing) happens at half the samples. */
static void count_errors(struct loop *l, size_t i, uint64_t n, uint64_t now)
{
	struct member *m = &l->set.m[i];
	if (!m->held_errors)
		m->held_since = now;
	m->held_errors += n;
}

/* Count the held errors of a member still there after HOLD_NS (or now). */
static void release_held(struct loop *l, struct member *m, uint64_t now, int force)
{
	if (m->held_errors && (force || now - m->held_since >= HOLD_NS)) {
		l->st->errors += m->held_errors;
		m->pending_errors += m->held_errors;
		m->held_errors = 0;
	}
}

/* Sample member i at the tick stamped t. */
static void sample_member(struct loop *l, size_t i, uint64_t now, uint64_t t)
{
	struct member *m = &l->set.m[i];
	struct ps_snapshot s;
	struct ps_errmsg e = { 0 };
	uint64_t reads = m->p->mem.reads, bytes = m->p->mem.bytes;
	/* a torn stack is read again (nonblocking) in time the sampler has to
	 * spare: when a period is several snapshots long, not at the highest
	 * rates, where the retries would take the place of samples */
	uint64_t period = (uint64_t)(NS / l->o->rate_hz), t0 = ps_now_ns();
	int spare = period > 4 * m->snap_ns;
	int rc = snapshot(m->p, l->o, &s, &m->nm, &m->tw, &m->pz, now, spare, l->st, &e);
	m->snap_ns = (7 * m->snap_ns + (ps_now_ns() - t0)) / 8;
	l->st->reads += m->p->mem.reads - reads;
	l->st->bytes += m->p->mem.bytes - bytes;
	if (rc == PS_OK) {
		l->st->samples++;
		l->st->thread_samples += s.n;
		l->st->retried += s.retries > 0;
		l->st->retries += s.retries;
		if (s.errors)
			count_errors(l, i, s.errors, now);
		/* stamped with the tick's deadline, not the instant the read
		 * began: regular times compress to almost nothing, and lateness
		 * is reported by LATE events */
		l->rc = l->sink->sample(l->sink->ctx, m->p, t, &s);
		ps_snapshot_release(&s);
	} else if (!vanished(l, i, now)) {
		count_errors(l, i, 1, now);
	}
}

/* Report errors counted since the last report, per process. At the end
 * (force), errors held for a process still there are counted. */
static void report_errors(struct loop *l, uint64_t now, int force)
{
	if (!force && now - l->last_errors < NS / 2)
		return;
	for (size_t i = 0; i < l->set.n; i++) {
		struct member *m = &l->set.m[i];
		release_held(l, m, now, force && member_check(m) >= 0);
		if (m->pending_errors && m->p && l->sink->event)
			l->sink->event(l->sink->ctx, m->p, now, PS_EVENT_ERRORS, m->pending_errors, 0);
		m->pending_errors = 0;
	}
	l->last_errors = now;
}

/* One tick: the target's exit, the tree, then a snapshot of every process.
 * 0 when sampling is over. */
static int tick(struct loop *l, uint64_t now, uint64_t t)
{
	struct procset *ps = &l->set;
	/* at most every 10 ms: a target that exits makes its next snapshot
	 * fail, and a failed snapshot asks at once (vanished) */
	if (ps->root_alive && now - l->gone_checked >= NS / 100) {
		l->gone_checked = now;
		if (root_gone(l))
			root_exited(l, now);
	}
	if (l->o->subprocesses) {
		if (now - ps->last_poll >= POLL_NS)
			set_poll(ps, l->sink, now);
		for (size_t i = 1; i < ps->n; i++)
			if (!ps->m[i].p && !ps->m[i].ignored && now >= ps->m[i].next_try)
				member_open(&ps->m[i], l->o, l->sink, l->st, now);
	}
	if (!ps->root_alive && !(l->o->subprocesses && set_busy(ps)))
		return 0;
	l->st->ticks++;
	/* the target first; a member dropped on the way is replaced by the
	 * last one, which is then next */
	for (size_t i = 0, n; l->rc == PS_OK && i < ps->n; i += ps->n == n) {
		n = ps->n;
		if (!ps->m[i].p || (i == 0 && !ps->root_alive))
			continue;
		if (i > 0 && member_check(&ps->m[i]) != 1 && vanished(l, i, now))
			continue; /* gone or exec'd since the last look */
		sample_member(l, i, now, t);
	}
	return 1;
}

static int sample_loop(const struct ps_sampler_opts *o, struct ps_proc *p, int child,
		       struct ps_sample_sink *sink, struct ps_sampler_stats *st)
{
	uint64_t period = (uint64_t)(NS / o->rate_hz), t0 = ps_now_ns();
	uint64_t end = o->duration_s > 0 ? t0 + (uint64_t)(o->duration_s * NS) : 0;
	uint64_t last_status = t0;
	struct loop l = { .o = o, .sink = sink, .st = st, .child = child, .statfd = -1 };
	struct ps_pstat id = { 0 };
	ps_pstat_read(p->pid, &id);
	l.rc = set_add(&l.set, p->pid, &id, t0);
	if (l.rc == PS_OK) {
		l.set.m[0].p = p;
		l.set.root_alive = 1;
		l.set.last_poll = t0 - POLL_NS; /* look at the tree at once */
		st->processes = 1;
		l.rc = sink->start ? sink->start(sink->ctx, p, t0) : PS_OK;
	}
	st->started = l.rc == PS_OK;
	/* the duration (and the rate shown) count from the first sample:
	 * opening the output (a capture database, slow under valgrind) must
	 * not eat the duration up; the stream's start stays stamped before */
	t0 = last_status = ps_now_ns();
	struct ps_pace pc;
	ps_pace_start(&pc, period, t0);
	if (end)
		end = t0 + (uint64_t)(o->duration_s * NS);
	while (l.rc == PS_OK && !stop_signal) {
		uint64_t now = ps_now_ns();
		st->elapsed_ns = now - t0;
		if ((end && now >= end) || !tick(&l, now, ps_pace_stamp(&pc, now)))
			break;
		report_errors(&l, now, 0);
		if (o->status && now - last_status >= NS) {
			status_line(st, 0);
			last_status = now;
		}
		pace_wait(&pc, now, st, sink, p);
	}
	report_errors(&l, ps_now_ns(), 1);
	if (l.set.n && l.set.m[0].p) {
		size_t entries, bytes;
		ps_code_cache_stats(l.set.m[0].p->codes, &entries, &bytes);
		st->code_entries = entries;
		st->code_bytes = bytes;
		st->code_evicted = ps_code_cache_evicted(l.set.m[0].p->codes);
	}
	set_release(&l.set, sink);
	if (l.statfd >= 0)
		close(l.statfd);
	st->elapsed_ns = ps_now_ns() - t0;
	st->stopped_by = stop_signal;
	if (o->status)
		status_line(st, 1);
	return l.rc;
}

int ps_sampler_run(const struct ps_sampler_opts *o, pid_t pid, int child,
		   struct ps_sample_sink *sink, struct ps_sampler_stats *st,
		   struct ps_errmsg *e)
{
	struct sigaction old[3];
	struct ps_proc *p = NULL;
	memset(st, 0, sizeof(*st));
	st->child_status = -1;
	if (!(o->rate_hz > 0))
		return ps_error(e, PS_EUSAGE, "the rate must be positive");
	if (o->native && o->nonblocking)
		return ps_error(e, PS_EUSAGE, "native stacks need the target paused: not with nonblocking");
	install_handlers(old);
	/* the default 50 us timer slack would round every sleep up: at 10 kHz
	 * and beyond that is half the period */
	int slack = prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	int rc = open_target(o, pid, child, &p, st, e);
	if (rc == PS_OK) {
		rc = sample_loop(o, p, child, sink, st);
		if (rc)
			ps_error(e, rc, "cannot write samples: %s", ps_strerror(rc));
	}
	ps_proc_free(p);
	if (stop_signal)
		st->stopped_by = stop_signal;
	restore_handlers(old);
	if (slack > 0)
		prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0UL, 0UL, 0UL);
	return rc;
}
