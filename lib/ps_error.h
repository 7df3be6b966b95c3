/* Error codes and messages of the pyspy core library.
 *
 * Library functions return PS_OK (0) or a negative ps_err code, and fill an
 * optional struct ps_errmsg with a one-line, lowercase, full-stop-free message
 * naming the problem.  The library never prints: only tools do. */
#ifndef PS_ERROR_H
#define PS_ERROR_H

#include <stddef.h>

enum ps_err {
	PS_OK = 0,
	PS_ENOPROC = -1,   /* no such process */
	PS_EPERM = -2,     /* not allowed to read or trace the process */
	PS_ENOTPY = -3,    /* the process is not a CPython interpreter we can find */
	PS_EVERSION = -4,  /* a Python version we have no layout for */
	PS_EREAD = -5,     /* a remote read failed (bad pointer, unmapped memory) */
	PS_EINVAL = -6,    /* data read from the target or a file does not validate */
	PS_ENOMEM = -7,    /* out of memory, or a size beyond our bounds */
	PS_EIO = -8,       /* local I/O error (files, /proc) */
	PS_EGONE = -9,     /* the process exited while we read it */
	PS_EUSAGE = -10,   /* a caller passed arguments that make no sense */
	PS_EUNSUPPORTED = -11,
	PS_ENOTREADY = -12,  /* python, but no interpreter state yet (starting, exiting) */
};

#define PS_ERRMSG_MAX 256

struct ps_errmsg {
	int code;
	char msg[PS_ERRMSG_MAX];
};

/* A short fixed description of a code ("no such process"). */
const char *ps_strerror(int code);

/* Record code and a printf-style message in e (which may be NULL); returns
 * code so callers can write `return ps_error(e, PS_EREAD, "...")`. */
int ps_error(struct ps_errmsg *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Map an errno from a syscall on the target to a ps_err code. */
int ps_err_from_errno(int errnum);

#endif
