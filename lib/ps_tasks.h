/* The threads (tasks) of a process, from /proc/PID/task, with their
 * scheduler state, and pausing all of them for a consistent read. */
#ifndef PS_TASKS_H
#define PS_TASKS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"

struct ps_tasks {
	pid_t *tid;
	char *state;   /* 'R' running, 'S' sleeping, 'D', 't'... ; '?' unknown */
	size_t n, cap;
};

/* List the threads of pid with their states. PS_ENOPROC if it is gone. */
int ps_tasks_read(pid_t pid, struct ps_tasks *t);
void ps_tasks_release(struct ps_tasks *t);

/* The threads of a process watched from one sample to the next: each
 * thread's stat file stays open and is read again with one pread, instead
 * of listing /proc/PID/task and opening every file each time. The list is
 * read afresh when marked stale (a thread we do not know appeared), when a
 * read fails (a thread left), and once a second. Only the first
 * PS_WATCH_FDS threads keep a file open (the open-file limit is shared
 * with the rest of the program); the others are opened each time. */
#define PS_WATCH_FDS 256

struct ps_task_watch {
	pid_t pid;
	struct ps_tasks list;  /* tids and the states last read */
	int *fd;               /* per list entry: open stat file, or -1 */
	size_t nfd;            /* entries of fd in use */
	int stale;             /* list again at the next update */
	uint64_t listed_ns;    /* when the list was last read */
	uint64_t listings;     /* how many times it was read (for --stats) */
};

void ps_task_watch_init(struct ps_task_watch *w, pid_t pid);
/* Read every watched thread's state now (now_ns: monotonic). PS_ENOPROC if
 * the process is gone. */
int ps_task_watch_update(struct ps_task_watch *w, uint64_t now_ns);
/* The two halves of an update, for a caller that needs only some states:
 * list the threads again (reading every state) if the list is due, saying
 * whether it was; read every watched thread's state now but skip's (a
 * thread whose state will not be asked; 0: none). */
int ps_task_watch_list_due(struct ps_task_watch *w, uint64_t now_ns, int *listed);
void ps_task_watch_states(struct ps_task_watch *w, pid_t skip);
/* Whether tid is in the list (else mark the list stale and return 0). */
int ps_task_watch_knows(struct ps_task_watch *w, pid_t tid);
void ps_task_watch_release(struct ps_task_watch *w);

/* State of one thread in a list read earlier; '?' if not listed. */
char ps_tasks_state(const struct ps_tasks *t, pid_t tid);

/* The state letter of a process (tid 0) or thread, read now; '?' when it
 * can not be read (gone). */
char ps_task_state(pid_t pid, pid_t tid);

/* The parent of a process, or -1. */
pid_t ps_parent_of(pid_t pid);

/* Parse the state letter out of a /proc/.../stat line (the command name in
 * parentheses may itself contain ") "). '?' when it does not parse. */
char ps_stat_state(const char *line);

/* A paused process: every thread seized with ptrace and stopped. */
struct ps_pause {
	pid_t pid;
	pid_t *tid;
	int *sig;      /* signal to deliver on resume, per thread */
	size_t n, cap;
	sigset_t saved_mask;
	int active;
	int our_child;  /* the process is our child: its exit is ours to collect */
	int parent_known; /* our_child is set for pid (a ps_pause kept between
			     pauses of one process skips the look-up) */
	uint64_t since; /* ps_now_ns() when the first thread stopped since
			   ps_pause_begin or a release was interrupted; 0:
			   none yet (what a pause cost the target starts here,
			   not with the listing and seizing before it) */
};

/* Stop every thread of pid (PTRACE_SEIZE + PTRACE_INTERRUPT), including
 * threads started while we attach. Termination signals are blocked until
 * ps_resume, so a Ctrl-C can not leave the target stopped. A thread that
 * does not stop within timeout_ms makes the pause fail; everything already
 * stopped is resumed before returning an error. */
int ps_pause(pid_t pid, struct ps_pause *pz, int timeout_ms, struct ps_errmsg *e);

/* Pausing one thread at a time, for a process with so many threads that
 * stopping them all at once would stall it for too long (ps_sampler).
 * ps_pause_begin blocks the termination signals as ps_pause does and
 * stops nothing; ps_pause_thread stops one thread (PS_EGONE: it exited;
 * PS_EIO: it did not stop within timeout_ms, and is waited for again on
 * release); ps_release_threads lets every thread stopped so far go on
 * (the pause stays begun, signals blocked) and returns how many could not
 * be released; ps_resume ends it all. */
void ps_pause_begin(pid_t pid, struct ps_pause *pz);
int ps_pause_thread(struct ps_pause *pz, pid_t tid, int timeout_ms);
int ps_release_threads(struct ps_pause *pz);

/* Resume every thread paused by ps_pause and restore the signal mask. Safe
 * to call twice. Returns the number of threads that could not be released
 * (interrupted, but still not stopped after a second: stuck in the kernel);
 * they are released when this process exits, so a caller seeing a non-zero
 * count should stop sampling and exit. */
int ps_resume(struct ps_pause *pz);

#endif
