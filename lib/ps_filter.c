#include "ps_filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ps_cli.h"

const struct option ps_filter_longopts[] = {
	{ "idle", no_argument, 0, PS_OPT_IDLE },
	{ "gil", no_argument, 0, PS_OPT_GIL },
	{ "tid", required_argument, 0, PS_OPT_TID },
	{ "only-pid", required_argument, 0, PS_OPT_PID_FILTER },
	{ "from", required_argument, 0, PS_OPT_FROM },
	{ "to", required_argument, 0, PS_OPT_TO },
	{ "threads", no_argument, 0, PS_OPT_THREADS },
	{ "pids", no_argument, 0, PS_OPT_PIDS },
	{ "no-lines", no_argument, 0, PS_OPT_NO_LINES },
	{ "nolineno", no_argument, 0, PS_OPT_NO_LINES }, /* py-spy's spelling */
	{ 0, 0, 0, 0 },
};

const char ps_filter_help[] =
	"Selecting and grouping samples:\n"
	"      --idle            include idle samples (left out by default)\n"
	"      --gil             only samples whose thread held the GIL\n"
	"      --tid TID         only this thread (OS thread id)\n"
	"      --only-pid PID    only this process\n"
	"      --from TIME       only samples at or after TIME: seconds from the start,\n"
	"                        or a local time (14:02, 14:02:30, 2026-11-22 14:02:30)\n"
	"      --to TIME         only samples before TIME (the same forms)\n"
	"      --threads         a root frame per thread, with its name\n"
	"      --pids            a root frame per process\n"
	"      --no-lines        aggregate by function, without line numbers\n";

static uint32_t id_arg(const char *arg, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v == 0 || v > 0x7fffffff)
		ps_cli_usage_error("invalid %s '%s'", what, arg);
	return (uint32_t)v;
}

/* Digits only, n of them (n 0: one or two), as an int. */
static int digits(const char **p, int n, int *v)
{
	int k = 0;
	*v = 0;
	while (**p >= '0' && **p <= '9' && (n ? k < n : k < 2)) {
		*v = *v * 10 + (**p - '0');
		(*p)++;
		k++;
	}
	return n ? k == n : k > 0;
}

int ps_filter_parse_clock(const char *s, struct tm *tm, double *sec, int *has_date)
{
	int y, mo, d, h, mi;
	memset(tm, 0, sizeof(*tm));
	*sec = 0;
	*has_date = strlen(s) >= 10 && s[4] == '-' && s[7] == '-';
	if (*has_date) {
		if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
		    !digits(&s, 2, &d) || (*s != ' ' && *s != 'T') || mo < 1 || mo > 12 || d < 1 ||
		    d > 31)
			return -1;
		s++;
		tm->tm_year = y - 1900;
		tm->tm_mon = mo - 1;
		tm->tm_mday = d;
	}
	if (!digits(&s, 0, &h) || *s++ != ':' || !digits(&s, 2, &mi) || h > 23 || mi > 59)
		return -1;
	if (*s == ':') {
		char *end;
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		*sec = strtod(s, &end);
		if (errno || *end || *sec >= 61)
			return -1;
		s = end;
	}
	if (*s)
		return -1;
	tm->tm_hour = h;
	tm->tm_min = mi;
	tm->tm_isdst = -1;
	return 0;
}

static const char *clock_arg(const char *arg, const char *what)
{
	struct tm tm;
	double sec;
	int has_date;
	if (!strchr(arg, ':'))
		return NULL;
	if (ps_filter_parse_clock(arg, &tm, &sec, &has_date))
		ps_cli_usage_error("invalid %s '%s': give seconds from the start or a local time "
				   "(14:02, 14:02:30, 2026-11-22 14:02:30)", what, arg);
	return arg;
}

/* Seconds from the start to the local time s. */
static double clock_offset(const char *s, int64_t start_ns)
{
	struct tm tm, st;
	double sec;
	int has_date;
	time_t start = (time_t)(start_ns / 1000000000);
	if (ps_filter_parse_clock(s, &tm, &sec, &has_date))
		return 0; /* checked when parsed */
	if (!has_date && localtime_r(&start, &st)) {
		tm.tm_year = st.tm_year;
		tm.tm_mon = st.tm_mon;
		tm.tm_mday = st.tm_mday;
	}
	struct tm day = tm;
	time_t t = mktime(&day);
	/* without a date: the next such time after an hour before the start */
	if (!has_date && t + 3600 < start) {
		day = tm;
		day.tm_mday++;
		t = mktime(&day);
	}
	return (double)t + sec - (double)start_ns / 1e9;
}

void ps_filter_resolve_clock(struct ps_filter *f, int64_t wall_start_ns)
{
	if (f->from_clock) {
		f->from_s = clock_offset(f->from_clock, wall_start_ns);
		if (f->from_s < 0)
			f->from_s = 0;
		f->from_clock = NULL;
	}
	if (f->to_clock) {
		f->to_s = clock_offset(f->to_clock, wall_start_ns);
		if (f->to_s < 0)
			f->to_s = 0;
		f->to_clock = NULL;
	}
}

int ps_filter_option(struct ps_filter *f, int opt, const char *arg)
{
	switch (opt) {
	case PS_OPT_IDLE: f->idle = 1; return 1;
	case PS_OPT_GIL: f->gil_only = 1; return 1;
	case PS_OPT_TID: f->tid_set = 1; f->tid = id_arg(arg, "thread id"); return 1;
	case PS_OPT_PID_FILTER: f->pid_set = 1; f->pid = id_arg(arg, "pid"); return 1;
	case PS_OPT_FROM:
		f->from_set = 1;
		f->from_clock = clock_arg(arg, "--from");
		f->from_s = f->from_clock ? 0 : ps_cli_nonneg(arg, "--from");
		return 1;
	case PS_OPT_TO:
		f->to_set = 1;
		f->to_clock = clock_arg(arg, "--to");
		f->to_s = f->to_clock ? 0 : ps_cli_nonneg(arg, "--to");
		return 1;
	case PS_OPT_THREADS: f->threads = 1; return 1;
	case PS_OPT_PIDS: f->pids = 1; return 1;
	case PS_OPT_NO_LINES: f->no_lines = 1; return 1;
	}
	return 0;
}

void ps_filter_merge_longopts(const struct option *own, struct option *out, size_t cap)
{
	size_t n = 0;
	for (const struct option *o = own; o->name && n + 1 < cap; o++)
		out[n++] = *o;
	for (const struct option *o = ps_filter_longopts; o->name && n + 1 < cap; o++)
		out[n++] = *o;
	memset(&out[n], 0, sizeof(out[n]));
}

int ps_filter_accept(const struct ps_filter *f, const struct ps_sr_sample *s,
		     uint64_t origin_ns)
{
	if (!f->idle && (s->flags & PS_SAMPLE_IDLE))
		return 0;
	if (f->gil_only && !(s->flags & PS_SAMPLE_GIL))
		return 0;
	if (f->tid_set && (!s->thread || s->thread->tid != f->tid))
		return 0;
	if (f->pid_set && (!s->thread || s->thread->pid != f->pid))
		return 0;
	if (f->from_set || f->to_set) {
		double t = s->time_ns >= origin_ns ? (double)(s->time_ns - origin_ns) / 1e9 : 0;
		if ((f->from_set && t < f->from_s) || (f->to_set && t >= f->to_s))
			return 0;
	}
	return 1;
}
