/* What every pyspy tool shares on its command line: program name, error
 * reporting with git-style messages, exit codes, pid parsing. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <sys/types.h>

#define PS_VERSION "0.1.0"

enum ps_exit {
	PS_EXIT_OK = 0,
	PS_EXIT_FAIL = 1,   /* runtime error: the target, a file, the system */
	PS_EXIT_USAGE = 2,  /* bad command line */
};

/* Set once from main: "pyspy-dump". */
void ps_cli_init(const char *name);
const char *ps_cli_name(void);

/* "pyspy-dump: <message>" on stderr. */
void ps_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Output to `what` ("stdout", a file name) failed with errno: say so, except
 * for a closed pipe (EPIPE), which ends a Unix tool quietly. */
void ps_cli_write_error(const char *what);

/* Usage error: message, a hint to --help, exit 2. */
_Noreturn void ps_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What getopt_long returned for an option it could not take (':' for a
 * missing value, anything else for an unknown option): a usage error. */
_Noreturn void ps_cli_bad_option(int c, char **argv);

/* Parse a pid (positive decimal); exits with a usage error otherwise. */
pid_t ps_cli_pid(const char *s);

/* Parse a number of seconds or hertz: > 0 (positive) or >= 0 (nonneg),
 * at most 1e9; exits with a usage error naming what otherwise. */
double ps_cli_positive(const char *s, const char *what);
double ps_cli_nonneg(const char *s, const char *what);

/* Print "<name> <version>" and exit 0. */
_Noreturn void ps_cli_version(void);

#endif
