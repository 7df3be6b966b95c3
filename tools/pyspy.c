/* pyspy: a front command with py-spy's habits, over the pyspy-* tools.
 *
 *   pyspy record [-o FILE] [--format flamegraph|speedscope|raw|pss|sqlite] ... (--pid N | -- cmd...)
 *   pyspy top ...     (pyspy-top)
 *   pyspy dump ...    (pyspy-dump)
 *
 * record runs pyspy-sample into a temporary stream, then the converter for
 * the format: two processes, never one per sample (an sqlite capture is
 * written by pyspy-sample itself). The tools are looked for
 * beside this program first, then on PATH. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_cli.h"

#define MAX_ARGS 64

struct format {
	const char *name, *tool, *suffix;
	int direct;     /* pyspy-sample writes it (--format sqlite) */
};

static const struct format formats[] = {
	{ "flamegraph", "pyspy-svg", "svg", 0 },
	{ "speedscope", "pyspy-speedscope", "speedscope.json", 0 },
	{ "raw", "pyspy-fold", "txt", 0 },
	{ "pss", NULL, "pss", 0 },
	{ "sqlite", NULL, "db", 1 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy record [options] (--pid PID | -- COMMAND [ARGS...])\n"
		"       pyspy top [pyspy-top options]\n"
		"       pyspy dump [pyspy-dump options]\n"
		"A front command with py-spy's habits over pyspy-sample, pyspy-svg,\n"
		"pyspy-speedscope, pyspy-fold, pyspy-top and pyspy-dump.\n\n"
		"record options:\n"
		"  -o, --output FILE     where to write (default profile.svg, profile.speedscope.json,\n"
		"                        profile.txt, profile.pss or profile.db by format)\n"
		"  -f, --format FMT      flamegraph (default), speedscope, raw (collapsed stacks),\n"
		"                        pss (the sample stream), sqlite (an indexed capture)\n"
		"  -p, --pid PID         record a running process\n"
		"  -r, --rate HZ         samples per second (default 100)\n"
		"  -d, --duration SECS   stop after SECS seconds (default: until exit or Ctrl-C)\n"
		"  -g, --gil             only threads holding the GIL\n"
		"  -i, --idle            include idle samples\n"
		"      --nonblocking     never pause the target\n"
		"  -t, --threads         a root frame per thread\n"
		"      --nolineno        aggregate by function, without line numbers\n"
		"  -n, --native          native frames too (C extensions between Python calls)\n"
		"  -s, --subprocesses    also record the target's Python child processes\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n");
}

/* A tool beside this program (build/bin, or the install prefix), else
 * its bare name for execvp to find on PATH. */
static const char *tool_path(const char *tool, char *buf, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, cap, "%s/%s", self, tool);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return tool;
}

static _Noreturn void exec_tool(const char *tool, int argc, char **argv)
{
	char buf[PATH_MAX + 64];
	char *args[MAX_ARGS + 2];
	int n = 0;
	args[n++] = (char *)tool;
	for (int i = 0; i < argc && n < MAX_ARGS; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	const char *path = tool_path(tool, buf, sizeof(buf));
	execvp(path, args);
	ps_cli_error("cannot run '%s': %s", path, strerror(errno));
	exit(127);
}

/* Run a tool with stdout to out_fd (-1: ours); returns its wait status. */
static int run_tool(const char *tool, char **args, int out_fd)
{
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		signal(SIGINT, SIG_DFL); /* the parent may ignore it while it waits */
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			_exit(127);
		int argc = 0;
		while (args[argc])
			argc++;
		exec_tool(tool, argc, args);
	}
	int status;
	while (waitpid(c, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

struct record_opts {
	const struct format *fmt;
	const char *output;
	char *sample_args[MAX_ARGS];   /* for pyspy-sample, after -o TMP */
	int nsample;
	char *convert_args[8];         /* for the converter, before TMP */
	int nconvert;
	char **cmd;                    /* launch mode */
};

static void push(char **v, int *n, int cap, char *a)
{
	if (*n + 1 >= cap)
		ps_cli_usage_error("too many options");
	v[(*n)++] = a;
	v[*n] = NULL;
}

static const struct format *find_format(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	ps_cli_usage_error("unknown format '%s' (flamegraph, speedscope, raw, pss or sqlite)", name);
}

static void parse_record(int argc, char **argv, struct record_opts *o)
{
	enum { GIL = 256, IDLE, NONBLOCKING, THREADS, NOLINENO, NATIVE, SUBPROC };
	static const struct option longs[] = {
		{ "output", required_argument, 0, 'o' },   { "format", required_argument, 0, 'f' },
		{ "pid", required_argument, 0, 'p' },      { "rate", required_argument, 0, 'r' },
		{ "duration", required_argument, 0, 'd' }, { "gil", no_argument, 0, GIL },
		{ "idle", no_argument, 0, IDLE },          { "nonblocking", no_argument, 0, NONBLOCKING },
		{ "threads", no_argument, 0, THREADS },    { "nolineno", no_argument, 0, NOLINENO },
		{ "native", no_argument, 0, NATIVE },      { "subprocesses", no_argument, 0, SUBPROC },
		{ "help", no_argument, 0, 'h' },           { "version", no_argument, 0, 'V' },
		{ 0, 0, 0, 0 },
	};
	int c;
	o->fmt = &formats[0];
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:o:f:p:r:d:nsgithV", longs, NULL)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case 'f': o->fmt = find_format(optarg); break;
		/* values checked here too, so that a usage error is ours */
		case 'p': ps_cli_pid(optarg);
			  push(o->sample_args, &o->nsample, MAX_ARGS, "--pid");
			  push(o->sample_args, &o->nsample, MAX_ARGS, optarg); break;
		case 'r': ps_cli_positive(optarg, "rate");
			  push(o->sample_args, &o->nsample, MAX_ARGS, "--rate");
			  push(o->sample_args, &o->nsample, MAX_ARGS, optarg); break;
		case 'd': ps_cli_positive(optarg, "duration");
			  push(o->sample_args, &o->nsample, MAX_ARGS, "--duration");
			  push(o->sample_args, &o->nsample, MAX_ARGS, optarg); break;
		case 'g':
		case GIL: push(o->sample_args, &o->nsample, MAX_ARGS, "--gil"); break;
		case NONBLOCKING: push(o->sample_args, &o->nsample, MAX_ARGS, "--nonblocking"); break;
		case 'i':
		case IDLE: push(o->convert_args, &o->nconvert, 8, "--idle"); break;
		case 't':
		case THREADS: push(o->convert_args, &o->nconvert, 8, "--threads"); break;
		case NOLINENO: push(o->convert_args, &o->nconvert, 8, "--no-lines"); break;
		case 'n':
		case NATIVE: push(o->sample_args, &o->nsample, MAX_ARGS, "--native"); break;
		case 's':
		case SUBPROC: push(o->sample_args, &o->nsample, MAX_ARGS, "--subprocesses"); break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (!o->cmd && !o->nsample)
		ps_cli_usage_error("what to record? give --pid PID or -- COMMAND");
}

/* pyspy-sample into path; its wait status. Ctrl-C reaches the sampler (and a
 * launched command) through the terminal; we wait for the clean end. */
static int record_sample(struct record_opts *o, char *path)
{
	char *args[MAX_ARGS + 10];
	int n = 0;
	args[n++] = "-o";
	args[n++] = path;
	if (o->fmt->direct) {
		args[n++] = "--format";
		args[n++] = (char *)o->fmt->name;
	}
	for (int i = 0; i < o->nsample; i++)
		args[n++] = o->sample_args[i];
	if (o->cmd) {
		args[n++] = "--";
		for (int i = 0; o->cmd[i] && n < MAX_ARGS + 6; i++)
			args[n++] = o->cmd[i];
	}
	args[n] = NULL;
	signal(SIGINT, SIG_IGN); /* ours only: run_tool restores it in the child */
	int status = run_tool("pyspy-sample", args, -1);
	signal(SIGINT, SIG_DFL);
	return status;
}

static void default_output(struct record_opts *o, char *buf, size_t cap)
{
	if (!o->output) {
		snprintf(buf, cap, "profile.%s", o->fmt->suffix);
		o->output = buf;
	}
}

/* All n bytes of buf to fd; -1 with errno set */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* from's bytes into to (created or truncated); -1 with errno set */
static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n = 0;
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, err = 0;
	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, (size_t)n) < 0) {
			n = -1;
			break;
		}
	err = in < 0 || out < 0 || n < 0 ? errno : 0;
	if (out >= 0 && close(out) != 0 && !err)
		err = errno;
	if (in >= 0)
		close(in);
	errno = err;
	return err ? -1 : 0;
}

/* The stream in tmp converted to o->output (or moved there for pss). */
static int record_convert(struct record_opts *o, const char *tmp)
{
	if (!o->fmt->tool) {
		/* moved when it can be; copied onto what rename would replace
		 * (/dev/null, a FIFO) or across file systems */
		struct stat sb;
		int special = stat(o->output, &sb) == 0 && !S_ISREG(sb.st_mode);
		if (!special && rename(tmp, o->output) == 0)
			return PS_EXIT_OK;
		if ((special || errno == EXDEV) && copy_file(tmp, o->output) == 0)
			return PS_EXIT_OK;
		ps_cli_error("cannot write '%s': %s", o->output, strerror(errno));
		return PS_EXIT_FAIL;
	}
	int fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ps_cli_error("cannot write '%s': %s", o->output, strerror(errno));
		return PS_EXIT_FAIL;
	}
	char *args[12];
	int n = 0;
	for (int i = 0; i < o->nconvert; i++)
		args[n++] = o->convert_args[i];
	args[n++] = (char *)tmp;
	args[n] = NULL;
	int status = run_tool(o->fmt->tool, args, fd);
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : PS_EXIT_FAIL;
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status)
	     : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : PS_EXIT_FAIL;
}

/* A format pyspy-sample writes itself, straight to the output. */
static int record_direct(struct record_opts *o)
{
	int code = exit_code(record_sample(o, (char *)o->output));
	if (access(o->output, F_OK) == 0)   /* else pyspy-sample said why */
		fprintf(stderr, "pyspy: wrote %s\n", o->output);
	else if (!code)
		code = PS_EXIT_FAIL;
	return code;
}

static int record(int argc, char **argv)
{
	struct record_opts o = { 0 };
	char outbuf[64], tmp[] = "/tmp/pyspy-record-XXXXXX";
	parse_record(argc, argv, &o);
	default_output(&o, outbuf, sizeof(outbuf));
	if (o.fmt->direct)
		return record_direct(&o);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		ps_cli_error("cannot create a temporary file: %s", strerror(errno));
		return PS_EXIT_FAIL;
	}
	close(fd);
	int code = exit_code(record_sample(&o, tmp));
	FILE *f = fopen(tmp, "rb");
	int empty = !f || fgetc(f) == EOF;
	if (f)
		fclose(f);
	if (empty) { /* pyspy-sample said why */
		unlink(tmp);
		return code ? code : PS_EXIT_FAIL;
	}
	int crc = record_convert(&o, tmp);
	unlink(tmp);
	if (crc == PS_EXIT_OK)
		fprintf(stderr, "pyspy: wrote %s\n", o.output);
	/* launch mode: the command's status, as pyspy-sample gave it */
	return crc ? crc : code;
}

int main(int argc, char **argv)
{
	ps_cli_init("pyspy");
	if (argc < 2)
		ps_cli_usage_error("which command? record, top or dump");
	const char *cmd = argv[1];
	if (strcmp(cmd, "record") == 0)
		return record(argc - 1, argv + 1);
	if (strcmp(cmd, "top") == 0)
		exec_tool("pyspy-top", argc - 2, argv + 2);
	if (strcmp(cmd, "dump") == 0)
		exec_tool("pyspy-dump", argc - 2, argv + 2);
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return PS_EXIT_OK;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0)
		ps_cli_version();
	ps_cli_usage_error("unknown command '%s' (record, top or dump)", cmd);
}
