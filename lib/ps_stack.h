/* Snapshots: every thread of the interpreter with its Python stack. */
#ifndef PS_STACK_H
#define PS_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ps_code.h"
#include "ps_proc.h"
#include "ps_tasks.h"

#define PS_MAX_FRAMES 8192
#define PS_MAX_THREADS 65536
/* A thread list's head is read afresh at least every so many snapshots
 * (lib/ps_stack.c, thread_list_head; between, a head still first is used
 * again). */
#define PS_HEAD_RECHECK 1024

/* A Python frame (code set) or, in a native snapshot, a C frame (code
 * NULL, symbol and object set). */
struct ps_frame {
	struct ps_code *code;   /* valid until the next snapshot; NULL: native */
	int line;               /* -1 when the instruction has no line */
	uint64_t addr;          /* the frame in the target (for locals), or a
				   native frame's instruction address */
	const char *symbol;     /* native: function name, "<unknown>" when the
				   object has no symbol there */
	const char *object;     /* native: shared object base name ("libc.so.6"),
				   NULL for anonymous memory; both strings live
				   as long as the ps_proc */
	unsigned entries;       /* Python: C eval-loop calls that end at this
				   frame (it is the outermost frame they run) */
};

enum ps_thread_flags {
	PS_THREAD_GIL = 1 << 0,      /* holds the GIL */
	PS_THREAD_IDLE = 1 << 1,     /* not running on a CPU */
	PS_THREAD_TRUNCATED = 1 << 2, /* stack cut at PS_MAX_FRAMES or by an error */
	PS_THREAD_NO_NATIVE = 1 << 3, /* native snapshot, but native and Python
					 stacks could not be merged: Python only */
};

struct ps_thread {
	uint64_t tstate;
	uint64_t thread_id;     /* pthread_t, as threading.get_ident() */
	pid_t tid;              /* OS thread id, 0 if unknown */
	unsigned flags;
	char name[128];         /* threading name, "" if unknown */
	struct ps_frame *frames; /* innermost first */
	size_t nframes, cap;
	int error;              /* first error met on this thread's stack */
	unsigned hidden_entries; /* eval calls begun above the innermost
				    frame, before it started (see entries) */
};

struct ps_snapshot {
	struct ps_thread *threads;
	size_t n, cap;
	uint64_t errors;        /* reads that failed while walking */
	unsigned retries;       /* walks done again (PS_SNAP_RETRY) */
};

#define PS_SNAP_RETRIES 2

enum ps_snap_flags {
	PS_SNAP_NAMES = 1 << 0,  /* look up threading names */
	PS_SNAP_NATIVE = 1 << 1, /* C frames too, merged with the Python ones:
				    the target must be paused (ps_pause) */
	PS_SNAP_NO_IDLE = 1 << 2, /* leave idle flags to the caller, who reads
				     the states it needs after the walk and
				     calls ps_snapshot_idle */
	PS_SNAP_RETRY = 1 << 3,  /* the target runs: a snapshot with a stack
				    that could not be read whole (a frame freed
				    under the walk) is read again, at most
				    PS_SNAP_RETRIES more times */
};

/* Walk every thread. With PS_SNAP_NATIVE each thread's native stack is
 * unwound and the Python frames spliced in where the eval loop runs them;
 * a thread where the two do not agree keeps its Python stack alone, is
 * flagged PS_THREAD_NO_NATIVE and counted in errors. tasks (may be NULL) holds thread states read before
 * the target was paused: idle flags come from it. Errors on one thread are
 * counted and that thread's stack is marked truncated; the snapshot fails
 * only when the thread list itself cannot be read. */
int ps_snapshot_take(struct ps_proc *p, struct ps_snapshot *s, unsigned flags,
		     const struct ps_tasks *tasks, struct ps_errmsg *e);

/* The same, stopping one thread at a time instead of relying on a paused
 * process: for a process with so many threads that stopping them all would
 * stall it (ps_sampler). The thread list is walked as in nonblocking mode
 * (every read validated); each thread is stopped by stop->stop(ctx, tid)
 * (PS_EGONE: it exited, and is left out) while its state and stack are
 * read (and unwound, with PS_SNAP_NATIVE), then let go by stop->go. Each
 * stack is exact; across threads the snapshot is not one instant (two
 * threads are read at different moments; the GIL holder is read once,
 * first). Needs the threads' OS tids: 3.11+, or a pthread tid offset
 * calibrated by an earlier ps_snapshot_take (a thread whose tid is
 * unknown is left out). */
struct ps_thread_stopper {
	void *ctx;
	int (*stop)(void *ctx, pid_t tid);
	void (*go)(void *ctx, pid_t tid);
};
int ps_snapshot_take_each(struct ps_proc *p, struct ps_snapshot *s, unsigned flags,
			  const struct ps_tasks *tasks, const struct ps_thread_stopper *stop,
			  struct ps_errmsg *e);
void ps_snapshot_release(struct ps_snapshot *s);

/* Flag the idle threads of a snapshot from thread states (what
 * ps_snapshot_take does without PS_SNAP_NO_IDLE). A thread holding the GIL
 * is never idle, so its state is not looked at. */
void ps_snapshot_idle(struct ps_snapshot *s, const struct ps_tasks *tasks);

/* Look up the threading names of a snapshot's threads (what PS_SNAP_NAMES
 * does; costs a walk of sys.modules, so samplers do it only when a thread
 * they have not named yet appears). */
void ps_snapshot_names(struct ps_proc *p, struct ps_snapshot *s);

/* The local variables of a frame: for each bound local, its name, whether
 * it is an argument and its value's address. */
struct ps_local {
	const char *name;
	int is_arg;
	uint64_t value;
};
int ps_frame_locals(struct ps_proc *p, const struct ps_frame *f,
		    struct ps_local *out, size_t cap, size_t *n);

#endif
