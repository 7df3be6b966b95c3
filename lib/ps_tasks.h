/* The threads (tasks) of a process, from /proc/PID/task, with their
 * scheduler state, and pausing all of them for a consistent read. */
#ifndef PS_TASKS_H
#define PS_TASKS_H

#include <signal.h>
#include <stddef.h>
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
};

/* Stop every thread of pid (PTRACE_SEIZE + PTRACE_INTERRUPT), including
 * threads started while we attach. Termination signals are blocked until
 * ps_resume, so a Ctrl-C can not leave the target stopped. A thread that
 * does not stop within timeout_ms makes the pause fail; everything already
 * stopped is resumed before returning an error. */
int ps_pause(pid_t pid, struct ps_pause *pz, int timeout_ms, struct ps_errmsg *e);

/* Resume every thread paused by ps_pause and restore the signal mask. Safe
 * to call twice. Returns the number of threads that could not be released
 * (interrupted, but still not stopped after a second: stuck in the kernel);
 * they are released when this process exits, so a caller seeing a non-zero
 * count should stop sampling and exit. */
int ps_resume(struct ps_pause *pz);

#endif
