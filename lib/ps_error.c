#include "ps_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *ps_strerror(int code)
{
	switch (code) {
	case PS_OK: return "success";
	case PS_ENOPROC: return "no such process";
	case PS_EPERM: return "permission denied";
	case PS_ENOTPY: return "not a python process";
	case PS_EVERSION: return "unsupported python version";
	case PS_EREAD: return "remote read failed";
	case PS_EINVAL: return "invalid data";
	case PS_ENOMEM: return "out of memory";
	case PS_EIO: return "i/o error";
	case PS_EGONE: return "process exited";
	case PS_EUSAGE: return "invalid arguments";
	case PS_EUNSUPPORTED: return "not supported";
	case PS_ENOTREADY: return "python not ready";
	}
	return "unknown error";
}

int ps_error(struct ps_errmsg *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int ps_err_from_errno(int errnum)
{
	switch (errnum) {
	case ESRCH: return PS_EGONE;
	case EPERM:
	case EACCES: return PS_EPERM;
	case ENOMEM: return PS_ENOMEM;
	case EFAULT:
	case EIO: return PS_EREAD;
	default: return PS_EIO;
	}
}
