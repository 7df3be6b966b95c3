/* ps_tasks: listing threads with their states, and pausing every thread of
 * a process (ptrace) without losing its signals or our own. The pause tests
 * run on a forked child with four spinning threads; the fixture's teardown
 * resumes, kills and reaps it whatever the test did. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ps_error.h"
#include "ps_tasks.h"
#include "ps_time.h"

#define NSPIN 4  /* the child's main thread and three more */
#define NCHURN 3 /* threads that start threads, in the churning child */

/* ---- small helpers ---- */

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A pid that certainly does not exist: a child we have just reaped. */
static pid_t gone_pid(void)
{
	int status;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return pid;
}

/* State letter of one thread, read straight from /proc (not through the
 * code under test); '?' if it can not be read. */
static char proc_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : '?';
}

/* Count the tasks of pid, and how many of them are in state want. */
static int count_states(pid_t pid, char want, int *matching)
{
	char path[64];
	int n = 0;
	*matching = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		int tid = atoi(de->d_name);
		if (tid <= 0)
			continue;
		n++;
		if (proc_state(pid, tid) == want)
			(*matching)++;
	}
	closedir(d);
	return n;
}

static int signal_blocked(int sig)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

/* ---- ps_stat_state ---- */

static void test_stat_state_plain_lines(void **state)
{
	(void)state;
	assert_int_equal(ps_stat_state("1234 (bash) S 1 1234 1234 34816 0"), 'S');
	assert_int_equal(ps_stat_state("1 (systemd) R 0 1 1"), 'R');
	assert_int_equal(ps_stat_state("77 (kworker/0:1) I 2 0 0"), 'I');
	assert_int_equal(ps_stat_state("42 (python3) t 1 42 42"), 't');
	assert_int_equal(ps_stat_state("42 (python3) Z 1 42 42"), 'Z');
	/* a trailing newline, as read from the file */
	assert_int_equal(ps_stat_state("9 (x) D 1 2 3\n"), 'D');
}

static void test_stat_state_comm_with_parens_and_spaces(void **state)
{
	(void)state;
	/* comm "a) S (b": the first ") " is not the end of the name */
	assert_int_equal(ps_stat_state("4242 (a) S (b) R 1 4242 4242 0 -1"), 'R');
	assert_int_equal(ps_stat_state("7 (my prog) D 1 7 7"), 'D');
	assert_int_equal(ps_stat_state("8 ()) t 1 8 8"), 't');
	assert_int_equal(ps_stat_state("8 (x) T (y) ) S 1 8 8"), 'S');
	assert_int_equal(ps_stat_state("9 ( ) T 1"), 'T');
	assert_int_equal(ps_stat_state("10 (() Z 1"), 'Z');
}

static void test_stat_state_unparsable_is_unknown(void **state)
{
	(void)state;
	assert_int_equal(ps_stat_state(""), '?');
	assert_int_equal(ps_stat_state("garbage"), '?');
	assert_int_equal(ps_stat_state("12 (sleep"), '?');
	assert_int_equal(ps_stat_state("12 (sleep)"), '?');
	assert_int_equal(ps_stat_state("12 (sleep) "), '?');
	assert_int_equal(ps_stat_state("12 (sleep)S 1"), '?');
}

/* ---- ps_tasks_read / ps_tasks_state ---- */

static void test_tasks_read_self_is_running(void **state)
{
	struct ps_tasks t = { 0 };
	pid_t me = gettid();

	(void)state;
	assert_int_equal(ps_tasks_read(getpid(), &t), PS_OK);
	assert_true(t.n >= 1);
	assert_non_null(t.tid);
	assert_non_null(t.state);
	/* we are reading our own stat: we are on a CPU right now */
	assert_int_equal(ps_tasks_state(&t, me), 'R');
	assert_int_equal(ps_tasks_state(&t, getpid()), 'R');
	/* a tid that is not ours */
	assert_int_equal(ps_tasks_state(&t, 1), '?');
	assert_int_equal(ps_tasks_state(NULL, me), '?');

	/* reading again reuses the list: no duplicates */
	size_t n = t.n;
	assert_int_equal(ps_tasks_read(getpid(), &t), PS_OK);
	assert_int_equal(t.n, n);

	ps_tasks_release(&t);
	assert_null(t.tid);
	assert_null(t.state);
	assert_int_equal(t.n, 0);
	assert_int_equal(ps_tasks_state(&t, me), '?');
}

struct blocked_thread {
	int fd;
	volatile pid_t tid;
};

static void *block_in_read(void *arg)
{
	struct blocked_thread *b = arg;
	char c;
	b->tid = gettid();
	(void)!read(b->fd, &c, 1);
	return NULL;
}

static void test_tasks_read_self_sees_sleeping_thread(void **state)
{
	struct ps_tasks t = { 0 };
	struct blocked_thread b = { -1, 0 };
	pthread_t th;
	int fds[2];
	char st = '?';

	(void)state;
	assert_int_equal(pipe(fds), 0);
	b.fd = fds[0];
	assert_int_equal(pthread_create(&th, NULL, block_in_read, &b), 0);
	/* wait until the thread sleeps in read() */
	for (long end = now_ms() + 2000; now_ms() < end; sleep_ms(1))
		if (b.tid && (st = proc_state(getpid(), b.tid)) == 'S')
			break;
	int rc = ps_tasks_read(getpid(), &t);
	char st_thread = ps_tasks_state(&t, b.tid);
	char st_self = ps_tasks_state(&t, gettid());
	size_t n = t.n;
	ps_tasks_release(&t);
	(void)!write(fds[1], "x", 1);
	pthread_join(th, NULL);
	close(fds[0]);
	close(fds[1]);

	assert_int_equal(st, 'S');
	assert_int_equal(rc, PS_OK);
	assert_true(n >= 2);
	assert_int_equal(st_thread, 'S');
	assert_int_equal(st_self, 'R');
}

static void test_tasks_read_missing_pid_is_enoproc(void **state)
{
	struct ps_tasks t = { 0 };

	(void)state;
	assert_int_equal(ps_tasks_read(gone_pid(), &t), PS_ENOPROC);
	assert_int_equal(t.n, 0);
	ps_tasks_release(&t);
	assert_int_equal(ps_tasks_read(0x7ffffff0, &t), PS_ENOPROC);
	ps_tasks_release(&t);
}

/* ---- watching ---- */

/* Start a thread blocked in read() on a new pipe and wait until it sleeps. */
static void start_blocked(struct blocked_thread *b, pthread_t *th, int fds[2])
{
	assert_int_equal(pipe(fds), 0);
	b->fd = fds[0];
	b->tid = 0;
	assert_int_equal(pthread_create(th, NULL, block_in_read, b), 0);
	for (long end = now_ms() + 2000; now_ms() < end; sleep_ms(1))
		if (b->tid && proc_state(getpid(), b->tid) == 'S')
			break;
}

static void stop_blocked(pthread_t th, int fds[2])
{
	(void)!write(fds[1], "x", 1);
	pthread_join(th, NULL);
	close(fds[0]);
	close(fds[1]);
}

static void test_task_watch_rereads_states_without_listing_again(void **state)
{
	struct ps_task_watch w;
	struct blocked_thread b = { -1, 0 };
	pthread_t th;
	int fds[2];

	(void)state;
	start_blocked(&b, &th, fds);
	ps_task_watch_init(&w, getpid());
	assert_int_equal(ps_task_watch_update(&w, 1), PS_OK);
	assert_int_equal(w.listings, 1);
	assert_int_equal(ps_tasks_state(&w.list, b.tid), 'S');
	assert_int_equal(ps_tasks_state(&w.list, gettid()), 'R');
	/* within the second: states read again from the open files */
	(void)!write(fds[1], "x", 1);
	pthread_join(th, NULL);
	assert_int_equal(ps_task_watch_update(&w, 2), PS_OK);
	assert_int_equal(w.listings, 1);
	assert_int_equal(ps_tasks_state(&w.list, b.tid), '?'); /* gone */
	/* a thread gone makes the next update list again, without it */
	assert_int_equal(ps_task_watch_update(&w, 3), PS_OK);
	assert_int_equal(w.listings, 2);
	assert_int_equal(ps_tasks_state(&w.list, b.tid), '?');
	assert_true(ps_task_watch_knows(&w, gettid()));
	ps_task_watch_release(&w);
	close(fds[0]);
	close(fds[1]);
}

static void test_task_watch_lists_again_for_an_unknown_thread_and_each_second(void **state)
{
	struct ps_task_watch w;
	struct blocked_thread b = { -1, 0 };
	pthread_t th;
	int fds[2];

	(void)state;
	ps_task_watch_init(&w, getpid());
	assert_int_equal(ps_task_watch_update(&w, 10), PS_OK);
	start_blocked(&b, &th, fds);
	assert_int_equal(ps_task_watch_update(&w, 20), PS_OK);
	assert_int_equal(w.listings, 1);
	assert_int_equal(ps_tasks_state(&w.list, b.tid), '?'); /* not seen yet */
	assert_false(ps_task_watch_knows(&w, b.tid));          /* marks it stale */
	assert_int_equal(ps_task_watch_update(&w, 30), PS_OK);
	assert_int_equal(w.listings, 2);
	assert_int_equal(ps_tasks_state(&w.list, b.tid), 'S');
	assert_true(ps_task_watch_knows(&w, b.tid));
	assert_int_equal(ps_task_watch_update(&w, 40), PS_OK);
	assert_int_equal(w.listings, 2);
	assert_int_equal(ps_task_watch_update(&w, 30 + 1000000000ull), PS_OK);
	assert_int_equal(w.listings, 3);
	ps_task_watch_release(&w);
	stop_blocked(th, fds);
}

static void test_task_watch_missing_pid_is_enoproc(void **state)
{
	struct ps_task_watch w;

	(void)state;
	ps_task_watch_init(&w, gone_pid());
	assert_int_equal(ps_task_watch_update(&w, 1), PS_ENOPROC);
	ps_task_watch_release(&w);
}

/* ---- a child to pause ---- */

struct shared {
	volatile uint64_t count[NSPIN];
	volatile pid_t tid[NSPIN];
	volatile int started;
	volatile int usr1_tid;   /* the thread that handled SIGUSR1 */
	volatile int usr1_count;
	volatile int rt_count;   /* SIGRTMIN handled, each exactly once */
	volatile uint64_t churned; /* short-lived threads started */
	volatile uint64_t churn_work; /* and what they did */
	volatile pid_t vfork_tid;  /* the thread waiting in vfork() */
	volatile int vfork_returned;
};

enum child_extra {
	EXTRA_NONE,
	EXTRA_CHURN,  /* a thread starting short-lived threads all the time */
	EXTRA_VFORK,  /* a thread stuck in vfork() until g_release is written */
};

static struct shared *g_sh; /* the child inherits these */
static enum child_extra g_extra;
static int g_release[2] = { -1, -1 };

static void on_usr1(int sig)
{
	(void)sig;
	g_sh->usr1_tid = gettid();
	__atomic_fetch_add(&g_sh->usr1_count, 1, __ATOMIC_SEQ_CST);
}

static void on_rt(int sig)
{
	(void)sig;
	__atomic_fetch_add(&g_sh->rt_count, 1, __ATOMIC_SEQ_CST);
}

static void spin(int i)
{
	g_sh->tid[i] = gettid();
	__atomic_fetch_add(&g_sh->started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		g_sh->count[i]++;
}

static void *spin_thread(void *arg)
{
	spin((int)(intptr_t)arg);
	return NULL;
}

/* Lives for a millisecond of work: one that escaped a pause would be seen
 * running, and its work advancing. */
static void *short_lived(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&g_sh->churned, 1, __ATOMIC_SEQ_CST);
	for (long end = now_ms() + 1; now_ms() <= end;)
		__atomic_fetch_add(&g_sh->churn_work, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *churn(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t th;
		if (pthread_create(&th, NULL, short_lived, NULL) == 0)
			pthread_join(th, NULL);
	}
	return NULL;
}

/* vfork() waits in the kernel (state D) until the vforked process execs or
 * exits, and ptrace can not stop a thread there: a thread that does not
 * stop in time. */
static void *stuck_in_vfork(void *arg)
{
	(void)arg;
	g_sh->vfork_tid = gettid();
	pid_t pid = vfork();
	if (pid == 0) {
		char c;
		(void)!read(g_release[0], &c, 1);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	g_sh->vfork_returned = 1;
	for (;;)
		pause();
	return NULL;
}

static void child_main(pid_t parent)
{
	struct sigaction sa;
	sigset_t all;

	/* never outlive the test */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	alarm(60);
	if (g_release[1] >= 0)
		close(g_release[1]); /* the vforked process sees EOF if we die */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_rt;
	sigaction(SIGRTMIN, &sa, NULL);
	for (int i = 1; i < NSPIN; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, spin_thread, (void *)(intptr_t)i) != 0)
			_exit(2);
	}
	for (int i = 0; i < (g_extra == EXTRA_CHURN ? NCHURN : g_extra == EXTRA_VFORK); i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, g_extra == EXTRA_CHURN ? churn : stuck_in_vfork,
				   NULL) != 0)
			_exit(2);
	}
	spin(0);
	_exit(3);
}

struct sender {
	pid_t pid;
	volatile pid_t *tid;
	volatile int stop;
	int sent;
};

static void *send_signals(void *arg)
{
	struct sender *s = arg;
	for (unsigned k = 0; !s->stop; k++) {
		if (tgkill(s->pid, s->tid[k % NSPIN], SIGRTMIN) == 0)
			s->sent++;
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

struct fx {
	struct shared *sh;
	pid_t child;
	struct ps_pause pz;
	sigset_t mask0;
	struct sender sender;     /* a thread of ours signalling the child */
	pthread_t sender_thread;
	int sender_running;
	pthread_t releaser;       /* a thread of ours ending the vfork later */
	int releaser_running;
};

static int child_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	sigprocmask(SIG_BLOCK, NULL, &f->mask0);
	f->sh = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f->sh == MAP_FAILED) {
		free(f);
		return -1;
	}
	g_sh = f->sh;
	pid_t parent = getpid();
	f->child = fork();
	if (f->child == 0)
		child_main(parent);
	*state = f;
	if (f->child < 0)
		return -1;
	for (long end = now_ms() + 5000; now_ms() < end; sleep_ms(1))
		if (f->sh->started == NSPIN &&
		    (g_extra != EXTRA_CHURN || f->sh->churned > 0) &&
		    (g_extra != EXTRA_VFORK ||
		     (f->sh->vfork_tid && proc_state(f->child, f->sh->vfork_tid) == 'D')))
			return 0;
	return -1; /* spinning_child cleans up */
}

static void release_vfork(void)
{
	if (g_release[1] >= 0) {
		(void)!write(g_release[1], "x", 1);
		close(g_release[1]);
		g_release[1] = -1;
	}
}

/* Kill the child and reap it, and anything of its that was orphaned to us
 * (we are a subreaper: see main). Threads we still trace, after a failed
 * test, must be reaped one by one before their leader can be: wait for any
 * child, until there are none; bounded, so a bug can not hang the suite. */
static void reap(pid_t pid)
{
	int status;
	kill(pid, SIGKILL);
	for (long end = now_ms() + 5000; now_ms() < end;) {
		pid_t r = waitpid(-1, &status, __WALL | WNOHANG);
		if (r < 0 && errno != EINTR)
			break; /* ECHILD: all gone */
		if (r <= 0)
			sleep_ms(1);
	}
}

static int child_teardown(void **state)
{
	struct fx *f = *state;
	if (!f)
		return 0;
	if (f->releaser_running)
		pthread_join(f->releaser, NULL);
	if (f->sender_running) {
		f->sender.stop = 1;
		pthread_join(f->sender_thread, NULL);
	}
	ps_resume(&f->pz);
	sigprocmask(SIG_SETMASK, &f->mask0, NULL);
	release_vfork();
	if (f->child > 0)
		reap(f->child);
	if (f->sh != MAP_FAILED)
		munmap(f->sh, sizeof(struct shared));
	g_sh = NULL;
	free(f);
	*state = NULL;
	return 0;
}

/* cmocka skips teardown after a failed setup: wrap setup to clean up. */
static int spinning_child(void **state)
{
	*state = NULL;
	if (child_setup(state) == 0)
		return 0;
	child_teardown(state);
	return -1;
}

static int churning_child(void **state)
{
	g_extra = EXTRA_CHURN;
	int rc = spinning_child(state);
	g_extra = EXTRA_NONE;
	return rc;
}

static int child_stuck_in_vfork(void **state)
{
	if (pipe2(g_release, O_CLOEXEC) != 0)
		return -1;
	g_extra = EXTRA_VFORK;
	int rc = spinning_child(state);
	g_extra = EXTRA_NONE;
	close(g_release[0]);
	g_release[0] = -1;
	if (rc != 0) {
		close(g_release[1]);
		g_release[1] = -1;
	}
	return rc;
}

static void snapshot(const struct fx *f, uint64_t out[NSPIN])
{
	for (int i = 0; i < NSPIN; i++)
		out[i] = f->sh->count[i];
}

/* Whether every counter moves past base within ms. */
static int all_advance(const struct fx *f, const uint64_t base[NSPIN], long ms)
{
	for (long end = now_ms() + ms;; sleep_ms(1)) {
		int moved = 0;
		for (int i = 0; i < NSPIN; i++)
			moved += f->sh->count[i] != base[i];
		if (moved == NSPIN)
			return 1;
		if (now_ms() > end)
			return 0;
	}
}

/* Whether, within ms, no task of pid is in a tracing stop any more. */
static int none_traced_within(pid_t pid, long ms)
{
	for (long end = now_ms() + ms;; sleep_ms(1)) {
		int traced;
		int n = count_states(pid, 't', &traced);
		if (n > 0 && traced == 0)
			return 1;
		if (now_ms() > end)
			return 0;
	}
}

static void assert_all_stopped(const struct fx *f)
{
	int traced;
	int n = count_states(f->child, 't', &traced);
	assert_int_equal(n, NSPIN);
	assert_int_equal(traced, NSPIN);
	for (int i = 0; i < NSPIN; i++)
		assert_int_equal(proc_state(f->child, f->sh->tid[i]), 't');
}

static void test_pause_stops_every_thread_and_resume_restarts_them(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	uint64_t before[NSPIN], c1[NSPIN], c2[NSPIN];

	/* the child really runs before we pause it */
	snapshot(f, before);
	assert_true(all_advance(f, before, 2000));

	uint64_t t0 = ps_now_ns();
	assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
	/* the pause is timed from the first interrupt, after the listing */
	assert_true(f->pz.since > t0 && f->pz.since <= ps_now_ns());
	assert_int_equal(f->pz.active, 1);
	assert_int_equal(f->pz.pid, f->child);
	assert_int_equal(f->pz.n, NSPIN);
	assert_all_stopped(f);
	snapshot(f, c1);
	sleep_ms(50);
	snapshot(f, c2);
	assert_memory_equal(c1, c2, sizeof(c1));
	assert_all_stopped(f);

	ps_resume(&f->pz);
	assert_int_equal(f->pz.active, 0);
	assert_int_equal(f->pz.n, 0);
	assert_true(f->pz.since == 0);
	assert_null(f->pz.tid);
	assert_true(all_advance(f, c2, 2000));
	assert_true(none_traced_within(f->child, 2000));

	/* resuming twice is harmless: the child keeps running */
	ps_resume(&f->pz);
	assert_int_equal(f->pz.active, 0);
	snapshot(f, c1);
	assert_true(all_advance(f, c1, 2000));
	assert_true(none_traced_within(f->child, 100));
}

/* One thread at a time: only that thread stops; the others run on; a
 * release lets it go; the signal mask is held until ps_resume. */
static void test_pause_thread_stops_only_that_thread(void **state)
{
	struct fx *f = *state;
	uint64_t c1[NSPIN], c2[NSPIN];
	sigset_t during;
	ps_pause_begin(f->child, &f->pz);
	for (int k = 0; k < NSPIN; k++) {
		pid_t tid = f->sh->tid[k];
		assert_int_equal(ps_pause_thread(&f->pz, tid, 2000), PS_OK);
		assert_int_equal(proc_state(f->child, tid), 't');
		snapshot(f, c1);
		/* the others run (on a loaded machine, within seconds) */
		int moved = 0;
		for (long end = now_ms() + 3000; moved < NSPIN - 1 && now_ms() < end;) {
			sleep_ms(5);
			snapshot(f, c2);
			moved = 0;
			for (int i = 0; i < NSPIN; i++)
				moved += i != k && c2[i] != c1[i];
		}
		assert_int_equal(moved, NSPIN - 1);
		assert_true(c2[k] == c1[k]); /* while this one stays stopped */
		assert_true(f->pz.since > 0); /* when this thread was interrupted */
		assert_int_equal(ps_release_threads(&f->pz), 0);
		assert_int_equal(f->pz.n, 0);
		assert_true(f->pz.since == 0);
		assert_true(all_advance(f, c2, 2000));
	}
	sigprocmask(SIG_BLOCK, NULL, &during);
	assert_true(sigismember(&during, SIGTERM));
	assert_true(f->pz.active);
	ps_resume(&f->pz);
	assert_true(none_traced_within(f->child, 2000));
}

/* A tid read from a running target may be garbage: a thread of another
 * process (here: ours) is never stopped. */
static void test_pause_thread_refuses_a_tid_of_another_process(void **state)
{
	struct fx *f = *state;
	ps_pause_begin(f->child, &f->pz);
	assert_int_equal(ps_pause_thread(&f->pz, gettid(), 200), PS_EGONE);
	assert_int_equal(ps_pause_thread(&f->pz, getpid(), 200), PS_EGONE);
	assert_int_equal(ps_pause_thread(&f->pz, 0, 200), PS_EINVAL);
	assert_int_equal(f->pz.n, 0);
	ps_resume(&f->pz);
	/* and without ps_pause_begin nothing is stopped at all */
	assert_int_equal(ps_pause_thread(&f->pz, f->sh->tid[1], 200), PS_EINVAL);
	assert_true(none_traced_within(f->child, 100));
}

/* ps_resume ends a pause begun thread by thread, releasing a thread still
 * stopped (the path of an error in the middle of a walk). */
static void test_resume_releases_a_thread_still_stopped(void **state)
{
	struct fx *f = *state;
	uint64_t c[NSPIN];
	ps_pause_begin(f->child, &f->pz);
	assert_int_equal(ps_pause_thread(&f->pz, f->sh->tid[2], 2000), PS_OK);
	assert_int_equal(ps_resume(&f->pz), 0);
	snapshot(f, c);
	assert_true(all_advance(f, c, 2000));
	assert_true(none_traced_within(f->child, 2000));
}

static void test_pause_repeatedly(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	uint64_t c1[NSPIN], c2[NSPIN];

	for (int round = 0; round < 20; round++) {
		assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
		assert_all_stopped(f);
		snapshot(f, c1);
		sleep_ms(2);
		snapshot(f, c2);
		assert_memory_equal(c1, c2, sizeof(c1));
		ps_resume(&f->pz);
		assert_true(all_advance(f, c2, 2000));
	}
	assert_true(none_traced_within(f->child, 2000));
}

static void test_signal_sent_while_paused_is_delivered_after_resume(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	pid_t target = f->sh->tid[2];

	assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
	/* to one thread, and to the process (any thread may take it) */
	assert_int_equal(tgkill(f->child, target, SIGUSR1), 0);
	sleep_ms(20);
	assert_int_equal(f->sh->usr1_count, 0); /* stopped threads run no handler */
	assert_all_stopped(f);
	ps_resume(&f->pz);

	for (long end = now_ms() + 2000; now_ms() < end && f->sh->usr1_count < 1;)
		sleep_ms(1);
	assert_int_equal(f->sh->usr1_count, 1);
	assert_int_equal(f->sh->usr1_tid, target);

	assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
	assert_int_equal(kill(f->child, SIGUSR1), 0);
	sleep_ms(20);
	assert_int_equal(f->sh->usr1_count, 1);
	ps_resume(&f->pz);
	for (long end = now_ms() + 2000; now_ms() < end && f->sh->usr1_count < 2;)
		sleep_ms(1);
	assert_int_equal(f->sh->usr1_count, 2);
}

/* Signals sent while we pause: some arrive before the thread is seized,
 * some while it is stopped, and some between PTRACE_SEIZE and the
 * interrupt, stopping the thread in a signal-delivery-stop that ps_pause
 * must hand back on resume. Real-time signals queue, so every one sent must
 * be handled exactly once, whichever way it went. */
static void test_signals_racing_pause_are_neither_lost_nor_duplicated(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	uint64_t c1[NSPIN], c2[NSPIN];

	f->sender = (struct sender){ f->child, f->sh->tid, 0, 0 };
	assert_int_equal(pthread_create(&f->sender_thread, NULL, send_signals, &f->sender), 0);
	f->sender_running = 1;
	for (int i = 0; i < 200; i++) {
		assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
		snapshot(f, c1);
		assert_all_stopped(f);
		/* a signal handed back on resume is the one that was sent */
		for (size_t k = 0; k < f->pz.n; k++)
			assert_true(f->pz.sig[k] == 0 || f->pz.sig[k] == SIGRTMIN);
		snapshot(f, c2);
		assert_memory_equal(c1, c2, sizeof(c1));
		ps_resume(&f->pz);
	}
	f->sender.stop = 1;
	pthread_join(f->sender_thread, NULL);
	f->sender_running = 0;
	assert_true(f->sender.sent > 0);
	for (long end = now_ms() + 3000; now_ms() < end && f->sh->rt_count < f->sender.sent;)
		sleep_ms(1);
	sleep_ms(50); /* time for a duplicate to show up */
	assert_int_equal(f->sh->rt_count, f->sender.sent);
	assert_true(none_traced_within(f->child, 2000));
}

static void test_pause_blocks_termination_signals_until_resume(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	sigset_t unblock;

	sigemptyset(&unblock);
	sigaddset(&unblock, SIGINT);
	sigaddset(&unblock, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
	assert_false(signal_blocked(SIGINT));
	assert_false(signal_blocked(SIGTERM));

	assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
	assert_true(signal_blocked(SIGINT));
	assert_true(signal_blocked(SIGTERM));
	assert_true(signal_blocked(SIGHUP));
	assert_false(signal_blocked(SIGUSR2)); /* only termination signals */
	ps_resume(&f->pz);
	assert_false(signal_blocked(SIGINT));
	assert_false(signal_blocked(SIGTERM));

	/* the mask is restored, not merely unblocked: SIGTERM blocked before
	 * the pause stays blocked after it */
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
	assert_true(signal_blocked(SIGINT));
	ps_resume(&f->pz);
	assert_false(signal_blocked(SIGINT));
	assert_true(signal_blocked(SIGTERM));
	/* and a second resume does not touch the mask again */
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	ps_resume(&f->pz);
	assert_false(signal_blocked(SIGTERM));
}

static void test_pause_keeps_a_stopped_child_stopped(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	uint64_t c1[NSPIN], c2[NSPIN];
	int stopped, n;

	assert_int_equal(kill(f->child, SIGSTOP), 0);
	for (long end = now_ms() + 2000; now_ms() < end; sleep_ms(1))
		if (count_states(f->child, 'T', &stopped) == NSPIN && stopped == NSPIN)
			break;
	n = count_states(f->child, 'T', &stopped);
	assert_int_equal(stopped, NSPIN);

	assert_int_equal(ps_pause(f->child, &f->pz, 2000, &e), PS_OK);
	ps_resume(&f->pz);
	/* still stopped by the job-control stop, not running */
	sleep_ms(20);
	snapshot(f, c1);
	sleep_ms(50);
	snapshot(f, c2);
	assert_memory_equal(c1, c2, sizeof(c1));
	n = count_states(f->child, 'T', &stopped);
	assert_int_equal(n, NSPIN);
	assert_int_equal(stopped, NSPIN);

	assert_int_equal(kill(f->child, SIGCONT), 0);
	assert_true(all_advance(f, c2, 2000));
}

static void test_pause_catches_threads_started_while_attaching(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	uint64_t c1[NSPIN], c2[NSPIN], k1, k2, w1, w2;

	for (int round = 0; round < 200; round++) {
		int rc = ps_pause(f->child, &f->pz, 2000, &e);
		if (rc != PS_OK)
			print_error("round %d: %s\n", round, e.msg);
		assert_int_equal(rc, PS_OK);
		int traced, n = count_states(f->child, 't', &traced);
		assert_true(n >= NSPIN + NCHURN);
		assert_int_equal(traced, n);
		snapshot(f, c1);
		k1 = f->sh->churned;
		w1 = f->sh->churn_work;
		sleep_ms(2);
		snapshot(f, c2);
		k2 = f->sh->churned;
		w2 = f->sh->churn_work;
		n = count_states(f->child, 't', &traced);
		assert_int_equal(traced, n);
		assert_memory_equal(c1, c2, sizeof(c1));
		/* no thread escaped the pause */
		assert_true(k1 == k2);
		assert_true(w1 == w2);
		ps_resume(&f->pz);
	}
	assert_true(all_advance(f, c2, 2000));
	for (long end = now_ms() + 2000; now_ms() < end && f->sh->churned == k2;)
		sleep_ms(1);
	assert_true(f->sh->churned != k2);
	assert_true(none_traced_within(f->child, 2000));
}

static void test_pause_timeout_resumes_what_it_stopped(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };
	uint64_t c[NSPIN];
	sigset_t before, after;
	char want[32];

	snprintf(want, sizeof(want), "%d", (int)f->child);
	sigprocmask(SIG_BLOCK, NULL, &before);
	long t0 = now_ms();
	int rc = ps_pause(f->child, &f->pz, 200, &e);
	long took = now_ms() - t0;
	sigprocmask(SIG_BLOCK, NULL, &after);
	assert_int_equal(rc, PS_EIO);
	assert_non_null(strstr(e.msg, want));
	assert_non_null(strstr(e.msg, "in time"));
	assert_true(took >= 150 && took < 5000);
	assert_int_equal(f->pz.active, 0);
	for (int s = 1; s < NSIG; s++)
		assert_int_equal(sigismember(&before, s), sigismember(&after, s));

	/* the threads that did stop run again */
	snapshot(f, c);
	assert_true(all_advance(f, c, 2000));

	/* once the stuck thread can stop, pausing works again, and resuming
	 * leaves none of it stopped: the failed pause left nothing behind
	 * that would make every later one fail */
	release_vfork();
	sleep_ms(50);
	rc = ps_pause(f->child, &f->pz, 2000, &e);
	if (rc != PS_OK)
		print_error("pause after the timeout: %s\n", e.msg);
	assert_int_equal(rc, PS_OK);
	int traced, n = count_states(f->child, 't', &traced);
	assert_int_equal(n, NSPIN + 1);
	assert_int_equal(traced, n);
	ps_resume(&f->pz);
	for (long end = now_ms() + 2000; now_ms() < end && !f->sh->vfork_returned;)
		sleep_ms(1);
	assert_true(f->sh->vfork_returned);
	assert_true(none_traced_within(f->child, 1000));
	for (long end = now_ms() + 1000; now_ms() < end; sleep_ms(1))
		if (proc_state(f->child, f->sh->vfork_tid) == 'S')
			break;
	assert_int_equal(proc_state(f->child, f->sh->vfork_tid), 'S');
}

static void *release_vfork_later(void *arg)
{
	sleep_ms((long)(intptr_t)arg);
	release_vfork();
	return NULL;
}

/* A thread that stops soon after the pause gave up on it (within the
 * second ps_resume waits for such threads, see ps_tasks.h) is released,
 * not left stopped until some later pause. */
static void test_pause_timeout_releases_a_thread_that_stops_soon_after(void **state)
{
	struct fx *f = *state;
	struct ps_errmsg e = { 0 };

	assert_int_equal(pthread_create(&f->releaser, NULL, release_vfork_later,
					(void *)(intptr_t)300), 0);
	f->releaser_running = 1;
	assert_int_equal(ps_pause(f->child, &f->pz, 100, &e), PS_EIO);
	pthread_join(f->releaser, NULL);
	f->releaser_running = 0;

	/* no ps_pause or ps_resume from here on */
	for (long end = now_ms() + 2000; now_ms() < end && !f->sh->vfork_returned;)
		sleep_ms(1);
	assert_true(f->sh->vfork_returned);
	assert_true(none_traced_within(f->child, 1000));
}

static void test_pause_missing_pid_fails_and_keeps_mask(void **state)
{
	struct ps_pause pz = { 0 };
	struct ps_errmsg e = { 0 };
	sigset_t before, after;
	char want[32];

	(void)state;
	pid_t pid = gone_pid();
	snprintf(want, sizeof(want), "%d", (int)pid);
	sigprocmask(SIG_BLOCK, NULL, &before);
	int rc = ps_pause(pid, &pz, 500, &e);
	sigprocmask(SIG_BLOCK, NULL, &after);
	assert_int_equal(rc, PS_ENOPROC);
	assert_int_equal(e.code, PS_ENOPROC);
	assert_non_null(strstr(e.msg, want));
	assert_int_equal(pz.active, 0);
	assert_int_equal(pz.n, 0);
	for (int s = 1; s < NSIG; s++)
		assert_int_equal(sigismember(&before, s), sigismember(&after, s));
	ps_resume(&pz); /* harmless after a failed pause */
	sigprocmask(SIG_BLOCK, NULL, &after);
	for (int s = 1; s < NSIG; s++)
		assert_int_equal(sigismember(&before, s), sigismember(&after, s));
}

int main(void)
{
	/* what the children under test leave behind is ours to reap */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_state_plain_lines),
		cmocka_unit_test(test_stat_state_comm_with_parens_and_spaces),
		cmocka_unit_test(test_stat_state_unparsable_is_unknown),
		cmocka_unit_test(test_tasks_read_self_is_running),
		cmocka_unit_test(test_tasks_read_self_sees_sleeping_thread),
		cmocka_unit_test(test_tasks_read_missing_pid_is_enoproc),
		cmocka_unit_test(test_task_watch_rereads_states_without_listing_again),
		cmocka_unit_test(test_task_watch_lists_again_for_an_unknown_thread_and_each_second),
		cmocka_unit_test(test_task_watch_missing_pid_is_enoproc),
		cmocka_unit_test_setup_teardown(test_pause_stops_every_thread_and_resume_restarts_them,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_repeatedly,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_thread_stops_only_that_thread,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_thread_refuses_a_tid_of_another_process,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_resume_releases_a_thread_still_stopped,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_signal_sent_while_paused_is_delivered_after_resume,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_signals_racing_pause_are_neither_lost_nor_duplicated,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_blocks_termination_signals_until_resume,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_keeps_a_stopped_child_stopped,
						spinning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_catches_threads_started_while_attaching,
						churning_child, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_timeout_resumes_what_it_stopped,
						child_stuck_in_vfork, child_teardown),
		cmocka_unit_test_setup_teardown(test_pause_timeout_releases_a_thread_that_stops_soon_after,
						child_stuck_in_vfork, child_teardown),
		cmocka_unit_test(test_pause_missing_pid_fails_and_keeps_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
