/* pyspy-fold: collapsed stacks from a sample stream or a live process.
 *
 *   pyspy-fold run.pss > run.folded
 *   pyspy-sample --pid 1234 | pyspy-fold
 *   pyspy-fold --pid 1234 --duration 10
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_cli.h"
#include "ps_filter.h"
#include "ps_fold.h"
#include "ps_input.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy-fold [options] [FILE | -]\n"
		"       pyspy-fold [options] --pid PID [--duration SECS]\n"
		"Write collapsed stacks (\"frame;frame;... count\", root first, one line per\n"
		"distinct stack, sorted) for flamegraph.pl, inferno or pyspy-svg.\n\n"
		"%s\n%s\n"
		"  -q, --quiet           no status line while sampling live\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n",
		ps_input_help, ps_filter_help);
}

static void parse(int argc, char **argv, struct ps_input_opts *in, struct ps_filter *f)
{
	static const struct option own[] = {
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = ps_input_getopt(argc, argv, ":p:d:r:qhV", own, in, f)) != -1) {
		switch (c) {
		case 'q': in->quiet = 1; break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	ps_input_operands(argc, argv, in, f);
}

static int add(void *ctx, const struct ps_sr *r, const struct ps_sr_sample *s)
{
	return ps_fold_add(ctx, r, s);
}

int main(int argc, char **argv)
{
	struct ps_input_opts io = { 0 };
	struct ps_filter f = { 0 };
	struct ps_input in;
	struct ps_errmsg e = { 0 };

	ps_cli_init("pyspy-fold");
	parse(argc, argv, &io, &f);
	if (ps_input_open(&io, &in, &e)) {
		ps_cli_error("%s", e.msg);
		return PS_EXIT_FAIL;
	}
	struct ps_fold *fo = ps_fold_new(&f);
	if (!fo) {
		ps_cli_error("out of memory");
		return PS_EXIT_FAIL;
	}
	int rc = ps_input_each(&in, &f, add, fo, &e);
	int status = PS_EXIT_OK;
	if (rc) {
		ps_cli_error("%s", e.msg); /* still print what was read */
		status = PS_EXIT_FAIL;
	}
	errno = 0;
	if (ps_fold_write(fo, in.r, stdout) != PS_OK || fflush(stdout) != 0) {
		ps_cli_write_error("stdout");
		status = PS_EXIT_FAIL;
	}
	ps_fold_free(fo);
	ps_input_close(&in);
	return status;
}
