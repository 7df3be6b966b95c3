/* The process tree: the descendants of a set of processes (for
 * --subprocesses), and what tells a process apart from a reused pid or from
 * itself before an exec. */
#ifndef PS_PTREE_H
#define PS_PTREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"

/* How children are found. /proc/PID/task/TID/children needs a kernel built
 * with CONFIG_PROC_CHILDREN and costs a read per thread of each process
 * followed; the scan reads /proc/N/stat of every process on the system. */
enum ps_ptree_method {
	PS_PTREE_AUTO = 0,      /* children files when the kernel has them, else scan */
	PS_PTREE_CHILDREN,
	PS_PTREE_SCAN,
};

/* Whether this kernel has /proc/PID/task/TID/children. */
int ps_ptree_have_children_files(void);

/* What /proc/PID/stat says about a process. */
struct ps_pstat {
	pid_t ppid;
	char state;             /* 'R', 'S', 'Z'... */
	int exiting;            /* on its way out (it can not be stopped any more) */
	uint64_t start;         /* start time, clock ticks after boot: with the
				   pid, names one process (pids are reused) */
	uint64_t image;         /* stack and argument addresses mixed: changes
				   when the process execs (0 when we may not
				   read them) */
};

/* PS_ENOPROC when pid is gone (a zombie is not gone: see state). */
int ps_pstat_read(pid_t pid, struct ps_pstat *st);

/* Parse a /proc/PID/stat line (the command name may hold ") " itself).
 * PS_EINVAL when it does not parse. Exposed for tests. */
int ps_pstat_parse(const char *line, struct ps_pstat *st);

/* Every descendant of roots[0..nroots) (children, their children...), not
 * the roots themselves, each once, into a malloc'd array (*out, *n; free
 * it). Zombies and exiting processes are left out (their children,
 * re-parented, are not theirs any more). method: enum ps_ptree_method. */
int ps_ptree_descendants(const pid_t *roots, size_t nroots, int method, pid_t **out,
			 size_t *n);

#endif
