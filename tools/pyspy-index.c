/* pyspy-index: turn a sample stream into an indexed capture (sqlite3), or
 * summarise either.
 *
 *   pyspy-index run.pss -o run.db
 *   pyspy-sample --pid 1234 | pyspy-index -o run.db
 *   pyspy-index --info run.db
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps_cli.h"
#include "ps_db.h"
#include "ps_stream.h"

struct opts {
	const char *input;      /* NULL or "-": stdin */
	const char *output;
	int info, quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy-index [options] [STREAM | -] -o CAPTURE.db\n"
		"       pyspy-index --info FILE\n"
		"Write a sample stream (a file, or standard input) into an indexed capture:\n"
		"an sqlite3 database that pyspy-fold, pyspy-svg, pyspy-speedscope, pyspy-top\n"
		"and pyspy-dump --at read like a stream, answering --from/--to, --tid and\n"
		"--only-pid through its indexes (see pyspy-capture(5)).\n\n"
		"  -o, --output FILE     the capture to write (replaced if it exists)\n"
		"  -i, --info            summarise FILE (a capture or a stream): duration,\n"
		"                        samples, threads, processes, errors, samples per minute\n"
		"  -q, --quiet           no summary line after indexing\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "output", required_argument, 0, 'o' }, { "info", no_argument, 0, 'i' },
		{ "quiet", no_argument, 0, 'q' },        { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },      { 0, 0, 0, 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:iqhV", longs, NULL)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case 'i': o->info = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	if (optind < argc)
		o->input = argv[optind++];
	if (optind < argc)
		ps_cli_usage_error("one input at a time ('%s' is extra)", argv[optind]);
	if (o->info && o->output)
		ps_cli_usage_error("--info prints a summary; it takes no --output");
	if (o->info && (!o->input || !strcmp(o->input, "-")))
		ps_cli_usage_error("--info needs a FILE (a capture or a stream)");
	if (!o->info && (!o->output || !*o->output))
		ps_cli_usage_error("where to? give -o CAPTURE.db");
}

static int open_input(const struct opts *o, int *fd, const char **name)
{
	*fd = STDIN_FILENO;
	*name = "stdin";
	if (o->input && strcmp(o->input, "-") != 0) {
		*name = o->input;
		*fd = open(o->input, O_RDONLY | O_CLOEXEC);
		if (*fd < 0) {
			ps_cli_error("cannot open '%s': %s", o->input, strerror(errno));
			return PS_EXIT_FAIL;
		}
	} else if (isatty(STDIN_FILENO)) {
		ps_cli_usage_error("no input: give a stream FILE or pipe one in");
	}
	return 0;
}

static int run_index(const struct opts *o)
{
	struct ps_errmsg e = { 0 };
	struct ps_sr *r;
	struct ps_sw *w;
	const char *name;
	int fd, rc;
	if (open_input(o, &fd, &name))
		return PS_EXIT_FAIL;
	if (ps_sr_open_fd(fd, &r, &e)) {
		ps_cli_error("'%s': %s", name, e.msg);
		return PS_EXIT_FAIL;
	}
	ps_sr_resolve_frames(r, 0);
	/* commit every minute of stream time: a conversion has no reader waiting */
	struct ps_sw_opts wo = { .flush_ms = 60000 };
	if (ps_db_create(o->output, ps_sr_header(r), &wo, &w, &e)) {
		ps_cli_error("%s", e.msg);
		ps_sr_free(r);
		return PS_EXIT_FAIL;
	}
	struct ps_errmsg re = { 0 };
	int status = PS_EXIT_OK;
	rc = ps_db_copy(r, w, &re, &e);
	if (rc == PS_STREAM_TRUNCATED)
		ps_cli_error("'%s' is truncated (%s); indexed the samples before the cut", name,
			     re.msg);
	else if (rc == PS_DB_COPY_READ)
		ps_cli_error("'%s': %s", name, re.msg);
	else if (rc)
		ps_cli_error("%s", e.msg);
	if (rc)
		status = PS_EXIT_FAIL;
	if (!o->quiet && status == PS_EXIT_OK) {
		struct ps_sr_stats st;
		ps_sr_stats(r, &st);
		fprintf(stderr, "%s: %llu samples from '%s' into '%s'\n", ps_cli_name(),
			(unsigned long long)st.samples, name, o->output);
	}
	ps_sr_free(r);
	if (fd != STDIN_FILENO)
		close(fd);
	return status;
}

static int run_info(const struct opts *o)
{
	struct ps_errmsg e = { 0 };
	struct ps_info info;
	unsigned char magic[PS_DB_MAGIC_LEN];
	const char *name;
	int fd, rc;
	if (open_input(o, &fd, &name))
		return PS_EXIT_FAIL;
	ssize_t n = pread(fd, magic, sizeof(magic), 0);
	if (n > 0 && ps_db_sniff(magic, (size_t)n)) {
		struct ps_db *db;
		close(fd);
		if ((rc = ps_db_open(o->input, &db, &e)) == PS_OK) {
			rc = ps_info_db(db, &info, &e);
			ps_db_close(db);
		}
		if (rc) {
			ps_cli_error("%s", e.msg);
			return PS_EXIT_FAIL;
		}
	} else {
		struct ps_sr *r;
		if (ps_sr_open_fd(fd, &r, &e)) {
			ps_cli_error("'%s': %s", name, e.msg);
			close(fd);
			return PS_EXIT_FAIL;
		}
		rc = ps_info_stream(r, &info, &e);
		ps_sr_free(r);
		close(fd);
		if (rc < 0) {
			ps_cli_error("'%s': %s", name, e.msg);
			ps_info_release(&info);
			return PS_EXIT_FAIL;
		}
	}
	int status = PS_EXIT_OK;
	errno = 0;
	if (ps_info_write(&info, name, stdout) || fflush(stdout) != 0) {
		ps_cli_write_error("stdout");
		status = PS_EXIT_FAIL;
	}
	ps_info_release(&info);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	ps_cli_init("pyspy-index");
	parse(argc, argv, &o);
	return o.info ? run_info(&o) : run_index(&o);
}
