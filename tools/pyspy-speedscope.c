/* pyspy-speedscope: a speedscope file (https://www.speedscope.app) from a
 * sample stream or a live process, one profile per thread.
 *
 *   pyspy-speedscope run.pss > run.speedscope.json
 *   pyspy-sample --pid 1234 | pyspy-speedscope -o run.speedscope.json
 *   pyspy-speedscope --pid 1234 --duration 10 -o run.speedscope.json
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps_cli.h"
#include "ps_filter.h"
#include "ps_input.h"
#include "ps_speedscope.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy-speedscope [options] [FILE | -]\n"
		"       pyspy-speedscope [options] --pid PID [--duration SECS]\n"
		"Write a speedscope file (JSON, https://www.speedscope.app): a profile per\n"
		"thread, each sample weighing the time to its thread's next sample.\n\n"
		"%s\n%s"
		"      (--threads and --pids do not apply: profiles are per thread)\n\n"
		"  -o, --output FILE     write to FILE instead of standard output\n"
		"  -q, --quiet           no status line while sampling live\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n",
		ps_input_help, ps_filter_help);
}

static void parse(int argc, char **argv, struct ps_input_opts *in, struct ps_filter *f,
		  const char **output)
{
	static const struct option own[] = {
		{ "output", required_argument, 0, 'o' },
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = ps_input_getopt(argc, argv, ":p:d:r:o:qhV", own, in, f)) != -1) {
		switch (c) {
		case 'o': *output = optarg; break;
		case 'q': in->quiet = 1; break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	if (f->threads || f->pids)
		ps_cli_usage_error("'--%s' does not apply: there is a profile per thread",
				   f->threads ? "threads" : "pids");
	ps_input_operands(argc, argv, in, f);
	if (*output && !**output)
		ps_cli_usage_error("empty output file name");
}

int main(int argc, char **argv)
{
	struct ps_input_opts io = { 0 };
	struct ps_filter f = { 0 };
	struct ps_input in;
	struct ps_errmsg e = { 0 };
	const char *output = NULL;
	FILE *out = stdout;

	ps_cli_init("pyspy-speedscope");
	parse(argc, argv, &io, &f, &output);
	if (output && strcmp(output, "-") != 0) {
		/* opened first, so that a bad path fails before a long live run */
		int existed = access(output, F_OK) == 0;
		if (!(out = fopen(output, "w"))) {
			ps_cli_error("cannot open '%s': %s", output, strerror(errno));
			return PS_EXIT_FAIL;
		}
		if (ps_input_open(&io, &in, &e)) {
			ps_cli_error("%s", e.msg);
			fclose(out);
			if (!existed)
				unlink(output);
			return PS_EXIT_FAIL;
		}
	} else if (ps_input_open(&io, &in, &e)) {
		ps_cli_error("%s", e.msg);
		return PS_EXIT_FAIL;
	}
	struct ps_speedscope *ss = ps_speedscope_new(&f);
	if (!ss) {
		ps_cli_error("out of memory");
		return PS_EXIT_FAIL;
	}
	int rc = ps_speedscope_read(ss, &in, &e);
	int status = PS_EXIT_OK;
	if (rc) {
		ps_cli_error("%s", e.msg); /* still write what was read */
		status = PS_EXIT_FAIL;
	}
	struct ps_speedscope_stats st;
	ps_speedscope_stats(ss, &st);
	if (!st.samples && status == PS_EXIT_OK)
		ps_cli_error("no samples selected%s",
			     f.idle ? "" : " (idle ones are left out without --idle)");
	rc = ps_speedscope_write(ss, in.r, out);
	int werr = rc == PS_EIO || fflush(out) != 0 || ferror(out);
	int err = errno;
	if (out != stdout && fclose(out) != 0 && !werr) {
		werr = 1;
		err = errno;
	}
	if (rc == PS_ENOMEM) {
		ps_cli_error("out of memory");
		status = PS_EXIT_FAIL;
	} else if (werr) {
		errno = err;
		ps_cli_write_error(out != stdout ? output : "stdout");
		status = PS_EXIT_FAIL;
	}
	ps_speedscope_free(ss);
	ps_input_close(&in);
	return status;
}
