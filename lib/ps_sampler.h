/* The sampling loop: fixed rate on absolute deadlines, pausing the target
 * (unless nonblocking), handing each snapshot to a sink. Shared by
 * pyspy-sample (sink: the stream writer) and the live modes of the analysis
 * tools (sink: their aggregators). */
#ifndef PS_SAMPLER_H
#define PS_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"
#include "ps_proc.h"
#include "ps_stack.h"
#include "ps_time.h"

struct ps_sampler_opts {
	double rate_hz;         /* samples per second, > 0 */
	double duration_s;      /* 0: until the target exits or we are stopped */
	int nonblocking;        /* never pause the target */
	int native;             /* C frames too (PS_SNAP_NATIVE); not with nonblocking */
	int status;             /* one-line status on stderr once a second */
	unsigned open_flags;    /* PS_OPEN_* */
	double startup_timeout_s; /* launch mode: how long a command may take
				     to become a python we can read (0: 10 s) */
	int subprocesses;       /* sample the target's python descendants too */
};

enum ps_event_kind {
	PS_EVENT_ERRORS = 1,    /* count snapshots failed since the last one */
	PS_EVENT_LATE = 2,      /* count deadlines missed; value: ns behind */
	PS_EVENT_PROCESS_START = 3, /* a descendant is open; value: its parent's pid */
	PS_EVENT_PROCESS_EXIT = 4, /* value: exit status as waitpid gives it, or -1 */
};

struct ps_sample_sink {
	void *ctx;
	/* the target is open; t0 is the monotonic time sampling starts at */
	int (*start)(void *ctx, struct ps_proc *p, uint64_t t0_ns);
	/* one snapshot of process p (the target, or with subprocesses one of
	 * its descendants), taken at monotonic time t_ns (p is running again
	 * by now; s and its code pointers are valid during the call) */
	int (*sample)(void *ctx, struct ps_proc *p, uint64_t t_ns, const struct ps_snapshot *s);
	int (*event)(void *ctx, struct ps_proc *p, uint64_t t_ns, enum ps_event_kind kind,
		     uint64_t count, int64_t value);
};

#define PS_PAUSE_BUCKETS 256

/* In blocking mode, a process with more threads than this is sampled one
 * thread at a time (each thread stopped only while its own stack is read,
 * ps_snapshot_take_each) instead of being paused whole: stopping a
 * thread costs tens of microseconds, and a thousand of them at once
 * would stall the target for tens of milliseconds every sample. */
#define PS_PAUSE_ALL_MAX 32

struct ps_sampler_stats {
	uint64_t ticks;         /* deadlines reached */
	uint64_t samples;       /* snapshots taken */
	uint64_t errors;        /* snapshots that failed, plus read errors inside */
	uint64_t late;          /* deadlines missed because we fell behind */
	uint64_t late_ns;       /* total lateness */
	uint64_t elapsed_ns;
	int started;            /* the target was opened and sampling began */
	int stopped_by;         /* signal that stopped us, or 0 */
	int target_exited;      /* the target went away */
	int child_status;       /* launch mode: waitpid status, -1 if unknown */
	unsigned processes;     /* python processes sampled, the target included */
	/* the cost of sampling (pyspy-sample --stats) */
	uint64_t thread_samples; /* threads in the snapshots taken */
	uint64_t reads;         /* process_vm_readv calls made for them */
	uint64_t bytes;         /* bytes those calls read */
	uint64_t listings;      /* times a thread list was read (/proc/PID/task) */
	uint64_t retried;       /* snapshots read again, torn (PS_SNAP_RETRY) */
	uint64_t retries;       /* walks done again for them */
	uint64_t paused;        /* pauses (not nonblocking) ... */
	uint64_t paused_each;   /* ... of which thread by thread (see
				   PS_PAUSE_ALL_MAX); for those, the
				   duration is the longest a thread was
				   stopped in that snapshot ... */
	uint64_t pause_max_ns;  /* ... the longest ... */
	uint64_t pause_hist[PS_PAUSE_BUCKETS]; /* ... and their durations: see ps_pause_bucket */
	/* the target's code cache at the end: entries, bytes, and entries
	 * dropped on the way to stay within its bounds (ps_code.h) */
	uint64_t code_entries, code_bytes, code_evicted;
};

/* Pause durations are counted in buckets 1/8 of a power of two wide (12 %
 * precision) from 8 ns to 8 s: a median without keeping every
 * pause. */
unsigned ps_pause_bucket(uint64_t ns);
uint64_t ps_pause_bucket_ns(unsigned bucket); /* the middle of one */
/* The median pause, from the buckets; 0 when there was none. */
uint64_t ps_pause_median_ns(const struct ps_sampler_stats *st);

/* Start argv as a child (exec failure reported as an error, not a child that
 * exits 127). */
int ps_launch(char *const argv[], pid_t *pid, struct ps_errmsg *e);

/* A command we started that we will not sample (it never became a python
 * we could read, or the user quit): stop it (SIGTERM, then SIGKILL after a
 * second) and collect it, as py-spy does, rather than leave it running. */
void ps_launch_stop(pid_t child);

/* The exit status to give for a launched command: its own (waiting for it
 * if it still runs), 128 + signal if it was killed, 1 if unknown. */
int ps_launch_exit_code(const struct ps_sampler_stats *st, pid_t child);

/* Sample pid until duration, a termination signal (SIGINT, SIGTERM,
 * SIGHUP), the target's exit, or a sink error. With o->subprocesses, its
 * python descendants too, each from the tick it is found (the tree is
 * polled 5 times a second) to its exit (PROCESS_START / PROCESS_EXIT
 * events), and the run goes on after the target's exit while one of them
 * is sampled. child: pid is our launched
 * child, to be waited for. Returns PS_OK when sampling ran and ended for one
 * of those reasons (stats say which), an error when the target could not be
 * opened. */
int ps_sampler_run(const struct ps_sampler_opts *o, pid_t pid, int child,
		   struct ps_sample_sink *sink, struct ps_sampler_stats *st,
		   struct ps_errmsg *e);

#endif
