/* A target process running CPython: finding its interpreter, its version
 * and the layout to read it with. */
#ifndef PS_PROC_H
#define PS_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "ps_error.h"
#include "ps_layout.h"
#include "ps_maps.h"
#include "ps_mem.h"

enum ps_open_flags {
	/* Ignore ELF symbols: find the version in .rodata and the interpreter
	 * by scanning writable data. Exercises the path taken for stripped
	 * binaries. */
	PS_OPEN_FORCE_SCAN = 1 << 0,
};

/* How the interpreter state was found. */
enum ps_found_by {
	PS_FOUND_RUNTIME_SYMBOL = 1,  /* _PyRuntime */
	PS_FOUND_INTERP_HEAD_SYMBOL,  /* interp_head (2.7, 3.6) */
	PS_FOUND_SCAN,                /* scanning .data/.bss */
};

struct ps_code_cache;
struct ps_type_cache;
struct ps_native;

struct ps_proc {
	pid_t pid;
	struct ps_mem mem;
	struct ps_maps maps;
	char *exe;              /* /proc/PID/exe target */
	char *libpython;        /* mapped libpython, or NULL (static build) */
	char *cmdline;          /* arguments joined by spaces (for messages) */
	char **argv;            /* the arguments, NULL-terminated */
	int argc;
	const char *pyobj_path; /* exe or libpython: the object holding Python */

	int major, minor, micro;
	char version[32];       /* "3.11.7" */
	struct ps_layout lay;   /* copy of the table entry, patched from the
				   target's _Py_DebugOffsets on 3.13+ */
	int debug_offsets;      /* 1 if _Py_DebugOffsets were read and used */
	int debug_offsets_differ; /* fields where the target disagreed with
				     our generated table */

	uint64_t runtime;       /* &_PyRuntime, or 0 */
	uint64_t interp;        /* main interpreter state */
	uint64_t tstate_current_sym; /* &_PyThreadState_Current (2.7, 3.6) */
	enum ps_found_by found_by;

	int pthread_tid_offset; /* offset of tid in glibc's struct pthread, for
				   versions without native_thread_id; -1 unknown */
	uint64_t tid_calibrate_at; /* a failed calibration of that offset is
				      tried again from then on (monotonic ns) */
	uint64_t epoch;         /* bumped per snapshot; caches validate per epoch */
	struct ps_code_cache *codes;
	struct ps_type_cache *types;
	struct ps_native *native; /* native unwinding, set up on first use */
	uint64_t gil;           /* 3.12+: interp->ceval.gil as last read, or 0 */
	uint64_t head;          /* the thread list's head as last read, or 0 */
	uint64_t head_epoch;    /* ... in the snapshot of this epoch */
};

/* Attach (read-only) to pid: maps, version, layout, interpreter. Fails with
 * PS_ENOPROC, PS_EPERM, PS_ENOTPY, PS_EVERSION, with a message naming the
 * process and what to do. */
int ps_proc_open(struct ps_proc **out, pid_t pid, unsigned flags,
		 struct ps_errmsg *e);

/* Free; NULL is a no-op. */
void ps_proc_free(struct ps_proc *p);

/* Parse "3.11.7", "2.7.18+", "3.13.0rc1" into numbers; PS_EINVAL if it is
 * not a version we would recognise. Exposed for tests. */
int ps_parse_version(const char *s, int *major, int *minor, int *micro);

/* Find a Python version string (PY_VERSION, e.g. "3.9.18") among the
 * NUL-terminated strings of a .rodata image; hint_minor (or -1) breaks ties
 * between candidates. Exposed for tests. */
int ps_find_version_in_rodata(const uint8_t *data, size_t size,
			      int hint_major, int hint_minor, char *out,
			      size_t cap);

/* The sentence to print for PS_EPERM: what to do about it. */
const char *ps_perm_advice(void);

#endif
