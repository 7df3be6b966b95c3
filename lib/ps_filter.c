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
	"      --from SECS       only samples at or after SECS from the start\n"
	"      --to SECS         only samples before SECS from the start\n"
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

int ps_filter_option(struct ps_filter *f, int opt, const char *arg)
{
	switch (opt) {
	case PS_OPT_IDLE: f->idle = 1; return 1;
	case PS_OPT_GIL: f->gil_only = 1; return 1;
	case PS_OPT_TID: f->tid_set = 1; f->tid = id_arg(arg, "thread id"); return 1;
	case PS_OPT_PID_FILTER: f->pid_set = 1; f->pid = id_arg(arg, "pid"); return 1;
	case PS_OPT_FROM: f->from_set = 1; f->from_s = ps_cli_nonneg(arg, "--from"); return 1;
	case PS_OPT_TO: f->to_set = 1; f->to_s = ps_cli_nonneg(arg, "--to"); return 1;
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
