/* pyspy-svg: an interactive flame graph (SVG) from a sample stream or a
 * live process.
 *
 *   pyspy-svg run.pss > run.svg
 *   pyspy-sample --pid 1234 -d 10 | pyspy-svg -o run.svg
 *   pyspy-svg --pid 1234 --duration 5 --threads > run.svg
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_cli.h"
#include "ps_filter.h"
#include "ps_input.h"
#include "ps_svg.h"

enum {
	OPT_TITLE = 0x1200,
	OPT_WIDTH,
	OPT_MIN_WIDTH,
	OPT_REVERSE,
	OPT_COLORS,
};

struct opts {
	struct ps_svg_opts svg;
	const char *output;     /* NULL: stdout */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy-svg [options] [FILE | -]\n"
		"       pyspy-svg [options] --pid PID [--duration SECS]\n"
		"Write an interactive flame graph (self-contained SVG: hover for details,\n"
		"click to zoom, Ctrl-F to search) of a sample stream or a live process.\n\n"
		"%s\n%s\n"
		"Drawing:\n"
		"  -o, --output FILE     write to FILE (default: standard output)\n"
		"      --title TEXT      the title (default \"" PS_SVG_DEFAULT_TITLE "\")\n"
		"      --width PX        image width (default 1200)\n"
		"      --min-width PX    leave out frames narrower than PX (default 0.2)\n"
		"      --reverse         icicle graph: the root at the top\n"
		"      --colors MODE     module (a hue per file or package, the default),\n"
		"                        hot (flamegraph.pl's colours) or mono\n"
		"  -q, --quiet           no status line while sampling live\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n",
		ps_input_help, ps_filter_help);
}

static void parse(int argc, char **argv, struct ps_input_opts *in, struct ps_filter *f,
		  struct opts *o)
{
	static const struct option own[] = {
		{ "output", required_argument, 0, 'o' },
		{ "title", required_argument, 0, OPT_TITLE },
		{ "width", required_argument, 0, OPT_WIDTH },
		{ "min-width", required_argument, 0, OPT_MIN_WIDTH },
		{ "minwidth", required_argument, 0, OPT_MIN_WIDTH }, /* flamegraph.pl's */
		{ "reverse", no_argument, 0, OPT_REVERSE },
		{ "colors", required_argument, 0, OPT_COLORS },
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = ps_input_getopt(argc, argv, ":p:d:r:o:qhV", own, in, f)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case OPT_TITLE: o->svg.title = optarg; break;
		case OPT_WIDTH:
			o->svg.width = ps_cli_positive(optarg, "width");
			if (o->svg.width < 100 || o->svg.width > 100000)
				ps_cli_usage_error("width '%s' is not between 100 and 100000", optarg);
			break;
		case OPT_MIN_WIDTH: o->svg.min_width = ps_cli_nonneg(optarg, "min-width"); break;
		case OPT_REVERSE: o->svg.reverse = 1; break;
		case OPT_COLORS:
			if (ps_svg_parse_colors(optarg, &o->svg.colors) != PS_OK)
				ps_cli_usage_error("unknown colors '%s' (module, hot or mono)", optarg);
			break;
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
	return ps_svg_tree_sample(ctx, r, s);
}

/* The recording's duration, or the span of the samples drawn when a time
 * window was chosen or the stream ended early. */
static uint64_t duration_ns(const struct ps_sr *r, const struct ps_filter *f,
			    const struct ps_svg_tree *t)
{
	const struct ps_stream_totals *tot = ps_sr_totals(r);
	if (tot && tot->duration_ns && !f->from_set && !f->to_set)
		return tot->duration_ns;
	return ps_svg_tree_span_ns(t);
}

static int render(const struct ps_svg_tree *t, struct opts *o, const struct ps_sr *r,
		  const struct ps_filter *f)
{
	char sub[1024];
	ps_svg_subtitle(sub, sizeof(sub), ps_sr_header(r), duration_ns(r, f, t),
			ps_svg_tree_total(t), (size_t)(o->svg.width / 12));
	o->svg.subtitle = sub;
	FILE *out = stdout;
	if (o->output && !(out = fopen(o->output, "w"))) {
		ps_cli_error("cannot open '%s': %s", o->output, strerror(errno));
		return PS_EXIT_FAIL;
	}
	int rc = ps_svg_write(t, &o->svg, out), ok = rc == PS_OK;
	if (rc == PS_ENOMEM) {
		ps_cli_error("out of memory");
	} else if (rc != PS_OK || fflush(out) != 0) {
		ps_cli_write_error(o->output ? o->output : "stdout");
		ok = 0;
	}
	if (o->output && fclose(out) != 0 && ok) {
		ps_cli_write_error(o->output);
		ok = 0;
	}
	return ok ? PS_EXIT_OK : PS_EXIT_FAIL;
}

int main(int argc, char **argv)
{
	struct ps_input_opts io = { 0 };
	struct ps_filter f = { 0 };
	struct opts o = { 0 };
	struct ps_input in;
	struct ps_errmsg e = { 0 };

	ps_cli_init("pyspy-svg");
	ps_svg_opts_init(&o.svg);
	parse(argc, argv, &io, &f, &o);
	if (ps_input_open(&io, &in, &e)) {
		ps_cli_error("%s", e.msg);
		return PS_EXIT_FAIL;
	}
	struct ps_svg_tree *t = ps_svg_tree_new(&f);
	if (!t) {
		ps_cli_error("out of memory");
		ps_input_close(&in);
		return PS_EXIT_FAIL;
	}
	int rc = ps_input_each(&in, &f, add, t, &e);
	int status = PS_EXIT_OK;
	if (rc) {
		ps_cli_error("%s", e.msg); /* still draw what was read */
		status = PS_EXIT_FAIL;
	}
	if (ps_svg_tree_resolve(t, in.r) != PS_OK) {
		ps_cli_error("cannot read the stacks of '%s'", in.name);
		status = PS_EXIT_FAIL;
	}
	if (!ps_svg_tree_total(t))
		ps_cli_error("no samples to draw%s", f.idle ? "" : " (idle samples need --idle)");
	if (render(t, &o, in.r, &f) != PS_EXIT_OK)
		status = PS_EXIT_FAIL;
	ps_svg_tree_free(t);
	ps_input_close(&in);
	return status;
}
