/* The sampling loop. */
#include "ps_sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ps_tasks.h"

#define NS 1000000000ull

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

uint64_t ps_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

uint64_t ps_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
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

/* Thread names by thread id. Looking names up walks sys.modules, so it is
 * done only when a thread we have not named appears, and every few seconds
 * (a thread may be renamed); other snapshots take names from here. */
#define NAMES_MAX 4096
#define NAMES_REFRESH_NS (5 * NS)

struct names {
	uint64_t id[NAMES_MAX];
	char name[NAMES_MAX][128];
	size_t n;
	uint64_t refreshed;
};

static const char *names_get(const struct names *nm, uint64_t id)
{
	for (size_t i = 0; i < nm->n; i++)
		if (nm->id[i] == id)
			return nm->name[i];
	return NULL;
}

/* Whether to look names up now: a thread we have not seen; a thread
 * still without a name once a second (threading may not have been imported
 * yet when we first saw it); everything every few seconds (renames). */
static int names_due(const struct names *nm, const struct ps_snapshot *s, uint64_t now)
{
	uint64_t age = now - nm->refreshed;
	for (size_t i = 0; i < s->n; i++) {
		const char *n = names_get(nm, s->threads[i].thread_id);
		if (!n || (!n[0] && age >= NS))
			return 1;
	}
	return age >= NAMES_REFRESH_NS;
}

/* Remember the names just looked up (forgetting threads that are gone). */
static void names_store(struct names *nm, const struct ps_snapshot *s, uint64_t now)
{
	nm->n = 0;
	for (size_t i = 0; i < s->n && nm->n < NAMES_MAX; i++) {
		nm->id[nm->n] = s->threads[i].thread_id;
		memcpy(nm->name[nm->n++], s->threads[i].name, sizeof(s->threads[i].name));
	}
	nm->refreshed = now;
}

static void names_fill(const struct names *nm, struct ps_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *n = names_get(nm, s->threads[i].thread_id);
		if (n)
			memcpy(s->threads[i].name, n, sizeof(s->threads[i].name));
	}
}

/* One snapshot: states first (a paused thread looks stopped), then pause,
 * read, resume. Nothing returns between pause and resume. */
static int snapshot(struct ps_proc *p, const struct ps_sampler_opts *o, struct ps_snapshot *s,
		    struct names *nm, uint64_t now, struct ps_errmsg *e)
{
	struct ps_tasks tasks = { 0 };
	struct ps_pause pz = { 0 };
	int rc = ps_tasks_read(p->pid, &tasks);
	if (rc == PS_OK && !o->nonblocking)
		rc = ps_pause(p->pid, &pz, 500, e);
	if (rc == PS_OK) {
		rc = ps_snapshot_take(p, s, o->native ? PS_SNAP_NATIVE : 0, &tasks, e);
		if (rc == PS_OK) {
			if (names_due(nm, s, now)) {
				ps_snapshot_names(p, s);
				names_store(nm, s, now);
			} else {
				names_fill(nm, s);
			}
		}
		ps_resume(&pz);
	}
	ps_tasks_release(&tasks);
	return rc;
}

static void status_line(const struct ps_sampler_stats *st, int final)
{
	double secs = (double)st->elapsed_ns / NS;
	fprintf(stderr, "\r%.1fs  %llu samples  %.1f Hz  %llu errors  %llu late%s", secs,
		(unsigned long long)st->samples, secs > 0 ? (double)st->samples / secs : 0.0,
		(unsigned long long)st->errors, (unsigned long long)st->late,
		final ? "\n" : "   ");
	fflush(stderr);
}

/* Sleep until the next deadline; account for deadlines we missed. */
static void wait_deadline(uint64_t *next, uint64_t period, struct ps_sampler_stats *st,
			  struct ps_sample_sink *sink, struct ps_proc *p)
{
	uint64_t now = ps_now_ns();
	*next += period;
	if (now >= *next + period) {
		uint64_t missed = (now - *next) / period;
		st->late += missed;
		st->late_ns += now - *next;
		if (sink->event)
			sink->event(sink->ctx, p, now, PS_EVENT_LATE, missed, (int64_t)(now - *next));
		*next += missed * period;
	}
	struct timespec ts = { (time_t)(*next / NS), (long)(*next % NS) };
	while (!stop_signal && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int sample_loop(const struct ps_sampler_opts *o, struct ps_proc *p, int child,
		       struct ps_sample_sink *sink, struct ps_sampler_stats *st)
{
	uint64_t period = (uint64_t)(NS / o->rate_hz), t0 = ps_now_ns(), next = t0;
	uint64_t end = o->duration_s > 0 ? t0 + (uint64_t)(o->duration_s * NS) : 0;
	uint64_t last_status = t0, pending_errors = 0;
	static struct names nm; /* large: not on the stack */
	memset(&nm, 0, sizeof(nm));
	int rc = sink->start ? sink->start(sink->ctx, p, t0) : PS_OK;
	st->started = rc == PS_OK;
	while (rc == PS_OK && !stop_signal) {
		uint64_t now = ps_now_ns();
		st->elapsed_ns = now - t0;
		if (end && now >= end)
			break;
		if (target_gone(p->pid, child, st)) {
			st->target_exited = 1;
			break;
		}
		struct ps_snapshot s;
		struct ps_errmsg e = { 0 };
		st->ticks++;
		int src = snapshot(p, o, &s, &nm, now, &e);
		if (src == PS_OK) {
			st->samples++;
			st->errors += s.errors;
			pending_errors += s.errors;
			/* stamped with the tick's deadline, not the instant the
			 * read began: regular times compress to almost nothing,
			 * and lateness is reported by LATE events */
			rc = sink->sample(sink->ctx, p, next, &s);
			ps_snapshot_release(&s);
		} else if (target_gone(p->pid, child, st)) {
			st->target_exited = 1; /* it went while we read: not an error */
			break;
		} else {
			st->errors++;
			pending_errors++;
		}
		if (pending_errors && sink->event && now - last_status >= NS / 2) {
			sink->event(sink->ctx, p, now, PS_EVENT_ERRORS, pending_errors, 0);
			pending_errors = 0;
		}
		if (o->status && now - last_status >= NS) {
			status_line(st, 0);
			last_status = now;
		}
		wait_deadline(&next, period, st, sink, p);
	}
	if (pending_errors && sink->event)
		sink->event(sink->ctx, p, ps_now_ns(), PS_EVENT_ERRORS, pending_errors, 0);
	st->elapsed_ns = ps_now_ns() - t0;
	st->stopped_by = stop_signal;
	if (o->status)
		status_line(st, 1);
	return rc;
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
	int rc = open_target(o, pid, child, &p, st, e);
	if (rc == PS_OK) {
		rc = sample_loop(o, p, child, sink, st);
		if (rc)
			ps_error(e, rc, "cannot write samples: %s", ps_strerror(rc));
		if (st->target_exited && sink->event)
			sink->event(sink->ctx, p, ps_now_ns(), PS_EVENT_PROCESS_EXIT, 1,
				    st->child_status);
	}
	ps_proc_free(p);
	if (stop_signal)
		st->stopped_by = stop_signal;
	restore_handlers(old);
	return rc;
}
