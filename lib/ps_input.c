#include "ps_input.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ps_cli.h"
#include "ps_db.h"
#include "ps_record.h"
#include "ps_sampler.h"

const struct option ps_input_longopts[] = {
	{ "pid", required_argument, 0, PS_OPT_LIVE_PID },
	{ "duration", required_argument, 0, PS_OPT_DURATION },
	{ "rate", required_argument, 0, PS_OPT_RATE },
	{ "nonblocking", no_argument, 0, PS_OPT_NONBLOCKING },
	{ "subprocesses", no_argument, 0, PS_OPT_SUBPROCESSES },
	{ 0, 0, 0, 0 },
};

const char ps_input_help[] =
	"Input (a stream FILE, '-' or standard input by default):\n"
	"  -p, --pid PID         without FILE: sample process PID live (with FILE: only PID)\n"
	"  -d, --duration SECS   live: sample for SECS seconds (default: until Ctrl-C)\n"
	"  -r, --rate HZ         live: samples per second (default 100)\n"
	"      --nonblocking     live: never pause the process\n"
	"      --subprocesses    live: sample its python subprocesses too\n";

int ps_input_option(struct ps_input_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'p':
	case PS_OPT_LIVE_PID: o->pid = ps_cli_pid(arg); return 1;
	case 'd':
	case PS_OPT_DURATION: o->duration_s = ps_cli_positive(arg, "duration"); return 1;
	case 'r':
	case PS_OPT_RATE: o->rate_hz = ps_cli_positive(arg, "rate"); return 1;
	case PS_OPT_NONBLOCKING: o->nonblocking = 1; return 1;
	case PS_OPT_SUBPROCESSES: o->subprocesses = 1; return 1;
	}
	return 0;
}

void ps_input_resolve(struct ps_input_opts *o, struct ps_filter *f)
{
	o->filter = f;
	if (o->subprocesses && (o->path || !o->pid))
		ps_cli_usage_error("--subprocesses is for a live process (a recording has its "
				   "processes already)");
	if (o->path && o->pid) {
		f->pid_set = 1;
		f->pid = (uint32_t)o->pid;
		o->pid = 0;
	}
}

/* own's entries, then the filters', then the input's, into out (cap entries) */
static void tool_longopts(const struct option *own, struct option *out, size_t cap)
{
	size_t n = 0;
	ps_filter_merge_longopts(own, out, cap);
	while (out[n].name)
		n++;
	for (const struct option *o = ps_input_longopts; o->name && n + 1 < cap; o++)
		out[n++] = *o;
	memset(&out[n], 0, sizeof(out[n]));
}

int ps_input_getopt(int argc, char **argv, const char *shortopts, const struct option *own,
		    struct ps_input_opts *in, struct ps_filter *f)
{
	/* a tool parses one command line, with one table */
	static struct option all[64];
	static const struct option *built;
	int c;
	if (built != own) {
		tool_longopts(own, all, sizeof(all) / sizeof(*all));
		built = own;
		opterr = 0;
	}
	while ((c = getopt_long(argc, argv, shortopts, all, NULL)) != -1)
		if (!ps_filter_option(f, c, optarg) && !ps_input_option(in, c, optarg))
			return c;
	return -1;
}

void ps_input_operands(int argc, char **argv, struct ps_input_opts *o, struct ps_filter *f)
{
	if (optind < argc)
		o->path = argv[optind++];
	if (optind < argc)
		ps_cli_usage_error("one input at a time ('%s' is extra)", argv[optind]);
	ps_input_resolve(o, f);
}

/* Sample pid into an in-memory stream, then read that back. */
static int open_live(const struct ps_input_opts *o, struct ps_input *in, struct ps_errmsg *e)
{
	struct ps_sampler_stats st;
	struct ps_record rec;
	struct ps_errmsg fe = { 0 };
	int fd = memfd_create("pyspy-live", MFD_CLOEXEC);
	if (fd < 0)
		return ps_error(e, PS_EIO, "cannot create a buffer: %s", strerror(errno));
	struct ps_record_opts ro = { .rate_hz = (uint32_t)(o->rate_hz > 0 ? o->rate_hz : 100),
				     .sampler = "pyspy " PS_VERSION " (live)" };
	ps_record_init(&rec, fd, &ro);
	struct ps_sampler_opts so = { .rate_hz = o->rate_hz > 0 ? o->rate_hz : 100,
				      .duration_s = o->duration_s, .nonblocking = o->nonblocking,
				      .status = !o->quiet && isatty(STDERR_FILENO),
				      .subprocesses = o->subprocesses };
	struct ps_sample_sink sink = ps_record_sink(&rec);
	int rc = ps_sampler_run(&so, o->pid, 0, &sink, &st, e);
	/* finished on every path: it frees the writer */
	int frc = ps_record_finish(&rec, &st, &fe);
	if (rc == PS_OK && frc != PS_OK)
		rc = ps_error(e, PS_EIO, "%s", fe.msg);
	if (rc == PS_OK && lseek(fd, 0, SEEK_SET) != 0)
		rc = ps_error(e, PS_EIO, "cannot rewind the buffer: %s", strerror(errno));
	if (rc) {
		close(fd);
		return rc;
	}
	in->fd = fd;
	snprintf(in->name, sizeof(in->name), "process %d", (int)o->pid);
	rc = ps_sr_open_fd(fd, &in->r, e);
	if (rc == PS_OK && o->filter)
		ps_filter_resolve_clock(o->filter, ps_sr_header(in->r)->wall_start_ns);
	return rc;
}

static int mem_write(void *ctx, const void *buf, size_t len, struct ps_errmsg *e)
{
	struct ps_input *in = ctx;
	if (in->mem_len + len > in->mem_cap) {
		size_t cap = in->mem_cap ? in->mem_cap : 1 << 16;
		while (cap < in->mem_len + len)
			cap *= 2;
		unsigned char *p = realloc(in->mem, cap);
		if (!p)
			return ps_error(e, PS_ENOMEM, "out of memory for the selection");
		in->mem = p;
		in->mem_cap = cap;
	}
	memcpy(in->mem + in->mem_len, buf, len);
	in->mem_len += len;
	return 0;
}

/* The filter's window, thread and process as a capture query. The window
 * is widened by a microsecond each way: ps_filter_accept then cuts it
 * exactly as it cuts a stream's. */
static void db_query(const struct ps_filter *f, struct ps_db_query *q)
{
	memset(q, 0, sizeof(*q));
	q->idle = 1;
	if (!f)
		return;
	q->idle = f->idle;
	q->gil_only = f->gil_only;
	q->tid_set = f->tid_set;
	q->tid = f->tid;
	q->pid_set = f->pid_set;
	q->pid = f->pid;
	if ((q->from_set = f->from_set)) {
		double us = f->from_s * 1e6 - 1;
		q->from_us = us > 0 ? (uint64_t)us : 0;
	}
	if ((q->to_set = f->to_set))
		q->to_us = (uint64_t)(f->to_s * 1e6) + 2;
}

/* Select from the capture at in->name into a stream in memory, and open
 * that: consumers read a capture with the code they read streams with. */
static int open_db(const struct ps_input_opts *o, struct ps_input *in, struct ps_errmsg *e)
{
	struct ps_db *db;
	struct ps_db_query q;
	struct ps_stream_totals tot;
	struct ps_sw *w;
	struct ps_sw_opts wo = { .level = 1, .flush_ms = UINT32_MAX };
	int rc = ps_db_open(in->name, &db, e);
	if (rc)
		return rc;
	if (o->filter)
		ps_filter_resolve_clock(o->filter, ps_db_header(db)->wall_start_ns);
	db_query(o->filter, &q);
	in->incomplete = !ps_db_complete(db);
	rc = ps_sw_open_cb(mem_write, in, ps_db_header(db), &wo, &w, e);
	if (!rc) {
		rc = ps_db_select(db, &q, w, &tot, e);
		if (rc)
			ps_sw_free(w);
		else
			rc = ps_sw_close(w, &tot, e);
	}
	ps_db_close(db);
	if (!rc)
		rc = ps_sr_open_mem(in->mem, in->mem_len, &in->r, e);
	return rc;
}

static int is_db(int fd)
{
	unsigned char buf[PS_DB_MAGIC_LEN];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	return n > 0 && ps_db_sniff(buf, (size_t)n);
}

int ps_input_open(const struct ps_input_opts *o, struct ps_input *in, struct ps_errmsg *e)
{
	memset(in, 0, sizeof(*in));
	in->fd = -1;
	if (!o->path && o->pid)
		return open_live(o, in, e);
	int fd = STDIN_FILENO;
	if (o->path && strcmp(o->path, "-") != 0) {
		fd = open(o->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ps_error(e, PS_EIO, "cannot open '%s': %s", o->path, strerror(errno));
		in->fd = fd;
		snprintf(in->name, sizeof(in->name), "%s", o->path);
		if (is_db(fd))
			return open_db(o, in, e);
	} else {
		if (isatty(STDIN_FILENO))
			return ps_error(e, PS_EUSAGE,
					"no input: give a stream FILE, pipe one in, or --pid PID");
		snprintf(in->name, sizeof(in->name), "stdin");
	}
	struct ps_errmsg re = { 0 };
	int rc = ps_sr_open_fd(fd, &in->r, &re);
	if (rc)
		return ps_error(e, rc, "'%s': %s", in->name, re.msg);
	if (o->filter)
		ps_filter_resolve_clock(o->filter, ps_sr_header(in->r)->wall_start_ns);
	return PS_OK;
}

void ps_input_close(struct ps_input *in)
{
	ps_sr_free(in->r);
	in->r = NULL;
	free(in->mem);
	in->mem = NULL;
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}

int ps_input_each(struct ps_input *in, const struct ps_filter *f, ps_input_sample_fn fn,
		  void *ctx, struct ps_errmsg *e)
{
	struct ps_sr_record rec;
	struct ps_errmsg re = { 0 };
	uint64_t origin = ps_sr_header(in->r)->mono_origin_ns;
	ps_sr_resolve_frames(in->r, 0); /* aggregators resolve per distinct stack */
	for (;;) {
		int rc = ps_sr_next(in->r, &rec, &re);
		if (rc == PS_STREAM_EOF) {
			ps_input_note(in);
			return PS_OK;
		}
		if (rc == PS_STREAM_TRUNCATED) {
			ps_error(e, rc, "'%s' is truncated (%s); using the samples before the cut",
				 in->name, re.msg);
			return rc;
		}
		if (rc < 0)
			return ps_error(e, rc, "'%s': %s", in->name, re.msg);
		if (rec.type != PS_REC_SAMPLE || !ps_filter_accept(f, &rec.sample, origin))
			continue;
		rc = fn(ctx, in->r, &rec.sample);
		if (rc)
			return ps_error(e, rc, "%s", ps_strerror(rc));
	}
}

void ps_input_note(const struct ps_input *in)
{
	if (in->incomplete)
		ps_cli_error("note: capture '%s' is incomplete (still being written, or its "
			     "sampler was stopped): read the samples committed so far", in->name);
}
