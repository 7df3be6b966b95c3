#include "ps_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "pyspy";

void ps_cli_init(const char *name)
{
	prog = name;
}

const char *ps_cli_name(void)
{
	return prog;
}

void ps_cli_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ps_cli_write_error(const char *what)
{
	if (errno != EPIPE)
		ps_cli_error("cannot write '%s': %s", what, errno ? strerror(errno) : "i/o error");
}

void ps_cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", prog);
	exit(PS_EXIT_USAGE);
}

void ps_cli_bad_option(int c, char **argv)
{
	if (c == ':')
		ps_cli_usage_error("option '%s' needs a value", argv[optind - 1]);
	ps_cli_usage_error("unknown option '%s'", argv[optind - 1]);
}

pid_t ps_cli_pid(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v <= 0 || v > 0x3fffffff)
		ps_cli_usage_error("invalid pid '%s'", s);
	return (pid_t)v;
}

static double number(const char *s, const char *what, int zero_ok)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v != v || v < 0 || (!zero_ok && v == 0) || v > 1e9)
		ps_cli_usage_error("invalid %s '%s'", what, s);
	return v;
}

double ps_cli_positive(const char *s, const char *what)
{
	return number(s, what, 0);
}

double ps_cli_nonneg(const char *s, const char *what)
{
	return number(s, what, 1);
}

void ps_cli_version(void)
{
	printf("%s %s\n", prog, PS_VERSION);
	exit(PS_EXIT_OK);
}
