/* pyspy-sample: record a running Python program into a sample stream.
 *
 *   pyspy-sample [options] --pid PID > run.pss
 *   pyspy-sample [options] -o run.pss -- python app.py
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_cli.h"
#include "ps_record.h"
#include "ps_sampler.h"

struct opts {
	pid_t pid;
	char **cmd;             /* launch mode: argv after "--" */
	const char *output;     /* NULL: stdout */
	double rate, duration;
	int nonblocking, gil, idle, no_idle, quiet, force_scan, subprocesses, native;
	int sqlite;             /* write an indexed capture (pyspy-capture(5)) */
	int stats;              /* print what sampling cost */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy-sample [options] --pid PID\n"
		"       pyspy-sample [options] -- COMMAND [ARGS...]\n"
		"Record the Python stacks of a running program into a sample stream\n"
		"(see pyspy-stream(5)); analyse it with pyspy-fold and friends.\n\n"
		"  -p, --pid PID         sample a running process\n"
		"  -o, --output FILE     write the stream to FILE (default: standard output);\n"
		"                        FILE.db is an indexed capture (sqlite3, pyspy-capture(5))\n"
		"      --format FMT      stream (default) or sqlite, whatever FILE is called\n"
		"  -r, --rate HZ         samples per second (default 100)\n"
		"  -d, --duration SECS   stop after SECS seconds (default: until the target exits)\n"
		"      --nonblocking     never pause the target (samples may be inconsistent)\n"
		"      --native          include C frames (extensions, libraries) between the\n"
		"                        Python ones; pauses the target, so not with --nonblocking\n"
		"      --gil             record only threads holding the GIL\n"
		"      --idle            record idle threads too (the default: flagged idle)\n"
		"      --no-idle         leave idle threads out of the recording\n"
		"  -s, --subprocesses    sample the python processes the target starts, too\n"
		"  -q, --quiet           no status line, no summary\n"
		"      --stats           print what sampling cost: remote reads and bytes per\n"
		"                        thread-sample, thread listings, time paused\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"Stops on Ctrl-C, SIGTERM, --duration or the target's exit, always with a\n"
		"complete stream. In launch mode, exits with the command's exit status.\n");
}

/* Captures by extension: .db, .sqlite, .sqlite3. */
static int is_db_name(const char *path)
{
	static const char *const ext[] = { ".db", ".sqlite", ".sqlite3" };
	size_t n = path ? strlen(path) : 0;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t k = strlen(ext[i]);
		if (n > k && !strcmp(path + n - k, ext[i]))
			return 1;
	}
	return 0;
}

static void parse(int argc, char **argv, struct opts *o)
{
	enum { NONBLOCKING = 256, GIL, IDLE, NO_IDLE, FORCE_SCAN, FORMAT, NATIVE, STATS };
	const char *format = NULL;
	static const struct option longs[] = {
		{ "pid", required_argument, 0, 'p' },      { "output", required_argument, 0, 'o' },
		{ "rate", required_argument, 0, 'r' },     { "duration", required_argument, 0, 'd' },
		{ "nonblocking", no_argument, 0, NONBLOCKING }, { "gil", no_argument, 0, GIL },
		{ "idle", no_argument, 0, IDLE },          { "no-idle", no_argument, 0, NO_IDLE },
		{ "force-scan", no_argument, 0, FORCE_SCAN }, { "quiet", no_argument, 0, 'q' },
		{ "format", required_argument, 0, FORMAT },
		{ "subprocesses", no_argument, 0, 's' },
		{ "native", no_argument, 0, NATIVE },
		{ "stats", no_argument, 0, STATS },
		{ "help", no_argument, 0, 'h' },           { "version", no_argument, 0, 'V' },
		{ 0, 0, 0, 0 },
	};
	int c;
	o->rate = 100;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:o:r:d:sqhV", longs, NULL)) != -1) {
		switch (c) {
		case 'p': o->pid = ps_cli_pid(optarg); break;
		case 'o': o->output = optarg; break;
		case 'r': o->rate = ps_cli_positive(optarg, "rate"); break;
		case 'd': o->duration = ps_cli_positive(optarg, "duration"); break;
		case NONBLOCKING: o->nonblocking = 1; break;
		case GIL: o->gil = 1; break;
		case IDLE: o->idle = 1; break;
		case NO_IDLE: o->no_idle = 1; break;
		case FORCE_SCAN: o->force_scan = 1; break;
		case FORMAT: format = optarg; break;
		case 's': o->subprocesses = 1; break;
		case NATIVE: o->native = 1; break;
		case STATS: o->stats = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (o->pid && o->cmd)
		ps_cli_usage_error("give either --pid or a command, not both");
	if (!o->pid && !o->cmd)
		ps_cli_usage_error("what to sample? give --pid PID or -- COMMAND");
	if (o->idle && o->no_idle)
		ps_cli_usage_error("--idle and --no-idle contradict each other");
	if (format && strcmp(format, "sqlite") && strcmp(format, "stream"))
		ps_cli_usage_error("unknown --format '%s' (stream or sqlite)", format);
	o->sqlite = format ? !strcmp(format, "sqlite") : is_db_name(o->output);
	if (o->sqlite && (!o->output || !strcmp(o->output, "-")))
		ps_cli_usage_error("a capture (sqlite) needs a file: give -o FILE.db");
	if (o->native && o->nonblocking)
		ps_cli_usage_error("--native needs the target paused: not with --nonblocking");
}

static int output_created;

static int open_output(const struct opts *o)
{
	if (o->sqlite)
		return -1; /* created when the target opens (ps_db_create) */
	if (!o->output || strcmp(o->output, "-") == 0) {
		if (isatty(STDOUT_FILENO)) {
			ps_cli_error("refusing to write a binary stream to a terminal; "
				     "use -o FILE or a pipe (pyspy-sample ... | pyspy-fold)");
			exit(PS_EXIT_USAGE);
		}
		return STDOUT_FILENO;
	}
	/* created here, not there before: the only file we may remove again */
	int fd = open(o->output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0)
		output_created = 1;
	else if (errno == EEXIST)
		fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ps_cli_error("cannot open '%s': %s", o->output, strerror(errno));
		exit(PS_EXIT_FAIL);
	}
	return fd;
}

static void summary(const struct ps_sampler_stats *st, const struct ps_record *r)
{
	double secs = (double)st->elapsed_ns / 1e9;
	fprintf(stderr, "%s: %llu samples in %.1f s (%.1f Hz), %llu errors", ps_cli_name(),
		(unsigned long long)st->samples, secs, secs > 0 ? (double)st->samples / secs : 0.0,
		(unsigned long long)st->errors);
	if (st->processes > 1)
		fprintf(stderr, ", %u processes", st->processes);
	if (st->late)
		fprintf(stderr, "; fell behind: %llu samples late (worst %.1f ms) — lower --rate?",
			(unsigned long long)st->late, (double)r->worst_late_ns / 1e6);
	fputc('\n', stderr);
}

/* What sampling cost, per thread-sample (one thread in one snapshot: the
 * unit that compares across workloads) and per sample. */
static void cost(const struct ps_sampler_stats *st)
{
	double ts = st->thread_samples ? (double)st->thread_samples : 1;
	double ss = st->samples ? (double)st->samples : 1;
	fprintf(stderr, "%s: stats: %.2f reads, %.0f bytes per thread-sample (%llu thread-samples); "
		"%.2f reads per sample; %.4f thread listings per sample", ps_cli_name(),
		(double)st->reads / ts, (double)st->bytes / ts,
		(unsigned long long)st->thread_samples, (double)st->reads / ss,
		(double)st->listings / ss);
	if (st->paused)
		fprintf(stderr, "; paused per sample: median %.1f us, max %.1f us",
			(double)ps_pause_median_ns(st) / 1e3, (double)st->pause_max_ns / 1e3);
	fputc('\n', stderr);
	/* a line of its own: scripts parse the one above as it is */
	fprintf(stderr, "%s: ", ps_cli_name());
	if (st->retried)
		fprintf(stderr, "%llu snapshots read again, torn by the running target (%llu walks "
			"more); ", (unsigned long long)st->retried, (unsigned long long)st->retries);
	if (st->paused_each)
		fprintf(stderr, "%llu of %llu pauses thread by thread (for those, the pause is "
			"the longest stop of one thread); ", (unsigned long long)st->paused_each,
			(unsigned long long)st->paused);
	fprintf(stderr, "code cache at the end: %llu entries, %llu bytes, %llu evicted\n",
		(unsigned long long)st->code_entries, (unsigned long long)st->code_bytes,
		(unsigned long long)st->code_evicted);
}

static int run(const struct opts *o, int fd)
{
	struct ps_errmsg e = { 0 }, fe = { 0 };
	struct ps_sampler_stats st;
	struct ps_record rec;
	pid_t pid = o->pid;
	struct ps_record_opts ro = { .gil_only = o->gil, .drop_idle = o->no_idle,
				     .rate_hz = (uint32_t)(o->rate + 0.5),
				     .sampler = "pyspy-sample " PS_VERSION,
				     .db_path = o->sqlite ? o->output : NULL };
	ps_record_init(&rec, fd, &ro);
	if (o->cmd && ps_launch(o->cmd, &pid, &e)) {
		ps_cli_error("%s", e.msg);
		return 127;
	}
	struct ps_sampler_opts so = {
		.rate_hz = o->rate, .duration_s = o->duration, .nonblocking = o->nonblocking,
		.native = o->native,
		.status = !o->quiet && isatty(STDERR_FILENO),
		.open_flags = o->force_scan ? PS_OPEN_FORCE_SCAN : 0,
		.subprocesses = o->subprocesses,
	};
	struct ps_sample_sink sink = ps_record_sink(&rec);
	int rc = ps_sampler_run(&so, pid, o->cmd != NULL, &sink, &st, &e);
	int frc = ps_record_finish(&rec, &st, &fe);
	if (!st.started) {
		ps_cli_error("%s%s", e.msg, o->cmd && !st.target_exited ? "; stopped the command" : "");
		if (o->cmd)
			ps_launch_stop(pid);
		return PS_EXIT_FAIL;
	}
	if (rc || frc) {
		/* the writer's own message names the cause (the sampler only
		 * knows that its sink failed); a closed pipe downstream ends us
		 * quietly, as Unix tools do */
		const char *msg = frc ? fe.msg : e.msg;
		if (!strstr(msg, "Broken pipe"))
			ps_cli_error("%s", msg);
		return PS_EXIT_FAIL;
	}
	if (!o->quiet)
		summary(&st, &rec);
	if (o->stats)
		cost(&st);
	return o->cmd ? ps_launch_exit_code(&st, pid) : PS_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };

	ps_cli_init("pyspy-sample");
	parse(argc, argv, &o);
	int fd = open_output(&o);
	int status = run(&o, fd);
	if (fd >= 0 && fd != STDOUT_FILENO) {
		struct stat sb;
		if (close(fd) != 0 && status == PS_EXIT_OK) {
			ps_cli_error("cannot write '%s': %s", o.output, strerror(errno));
			status = PS_EXIT_FAIL;
		}
		/* nothing was recorded: leave no empty file behind, if it is one
		 * we made (never /dev/null or a file that was there before) */
		if (status == PS_EXIT_FAIL && output_created && lstat(o.output, &sb) == 0 &&
		    S_ISREG(sb.st_mode) && sb.st_size == 0)
			unlink(o.output);
	}
	return status;
}
