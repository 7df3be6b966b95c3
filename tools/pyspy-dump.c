/* pyspy-dump: print the Python stack of every thread of a running process,
 * or of a recording at a given time.
 *
 *   pyspy-dump --pid 1234 [--locals] [--json] [--nonblocking | --native] [--subprocesses]
 *   pyspy-dump --at 14:02:30 run.db [--json]
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ps_cli.h"
#include "ps_filter.h"
#include "ps_input.h"
#include "ps_proc.h"
#include "ps_ptree.h"
#include "ps_pyobj.h"
#include "ps_stack.h"
#include "ps_tasks.h"
#include "ps_text.h"

#define MAX_LOCALS 256
#define REPR_MAX 1024

struct opts {
	pid_t pid;
	int json, locals, nonblocking, force_scan, subprocesses, native;
	const char *at;         /* --at TIME: from a recording */
	const char *file;       /* the recording (a stream or a capture) */
};

/* Locals are rendered while the target is paused, printed after. */
struct local_text {
	const char *name;
	int is_arg;
	char repr[REPR_MAX];
};

struct frame_locals {
	struct local_text *v;
	size_t n;
	int error;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy-dump --pid PID [options]\n"
		"       pyspy-dump --at TIME [--json] FILE\n"
		"Print the Python stack of every thread of a running process, or of a\n"
		"recording (a stream or a capture) at its first sample at or after TIME.\n\n"
		"  -p, --pid PID      process to read\n"
		"  -a, --at TIME      FILE: seconds from the start, or a local time\n"
		"                     (14:02, 14:02:30, 2026-11-22 14:02:30)\n"
		"  -l, --locals       show each frame's arguments and local variables\n"
		"  -j, --json         print JSON instead of text\n"
		"  -n, --nonblocking  do not pause the process (stacks may be inconsistent)\n"
		"  -s, --subprocesses also every python process it started (children,\n"
		"                     their children...), each under its own heading\n"
		"      --native       include C frames (extensions, libraries) between the\n"
		"                     Python ones (not with --nonblocking)\n"
		"      --force-scan   find the interpreter by scanning memory, not by symbols\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "pid", required_argument, 0, 'p' },   { "locals", no_argument, 0, 'l' },
		{ "json", no_argument, 0, 'j' },        { "nonblocking", no_argument, 0, 'n' },
		{ "force-scan", no_argument, 0, 'S' },  { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },     { "at", required_argument, 0, 'a' },
		{ "subprocesses", no_argument, 0, 's' }, { "native", no_argument, 0, 'N' },
		{ 0, 0, 0, 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:a:ljnshV", longs, NULL)) != -1) {
		switch (c) {
		case 'p': o->pid = ps_cli_pid(optarg); break;
		case 'a': o->at = optarg; break;
		case 'l': o->locals = 1; break;
		case 'j': o->json = 1; break;
		case 'n': o->nonblocking = 1; break;
		case 'S': o->force_scan = 1; break;
		case 's': o->subprocesses = 1; break;
		case 'N': o->native = 1; break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	if (o->at && optind < argc)
		o->file = argv[optind++];
	if (o->at) {
		struct tm tm;
		double sec;
		int has_date;
		if (!strchr(o->at, ':'))
			ps_cli_nonneg(o->at, "--at");
		else if (ps_filter_parse_clock(o->at, &tm, &sec, &has_date))
			ps_cli_usage_error("invalid --at '%s': give seconds from the start or a local "
					   "time (14:02, 14:02:30, 2026-11-22 14:02:30)", o->at);
	}
	if (optind < argc)
		ps_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->at && o->pid)
		ps_cli_usage_error("give either --pid PID or --at TIME FILE, not both");
	if (o->at && !o->file)
		ps_cli_usage_error("--at needs a recording: --at TIME FILE");
	if (o->at && (o->locals || o->nonblocking || o->subprocesses || o->native))
		ps_cli_usage_error("--locals, --nonblocking, --subprocesses and --native are for a live "
				   "process");
	if (!o->pid && !o->at)
		ps_cli_usage_error("which process? give --pid PID (or --at TIME FILE)");
	if (o->native && o->nonblocking)
		ps_cli_usage_error("--native needs the process paused: not with --nonblocking");
}

static void collect_locals(struct ps_proc *p, const struct ps_frame *f, struct frame_locals *fl)
{
	struct ps_local loc[MAX_LOCALS];
	size_t n;
	fl->error = ps_frame_locals(p, f, loc, MAX_LOCALS, &n);
	if (fl->error)
		return;
	fl->v = calloc(n ? n : 1, sizeof(*fl->v));
	if (!fl->v) {
		fl->error = PS_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fl->v[i].name = loc[i].name;
		fl->v[i].is_arg = loc[i].is_arg;
		ps_py_repr(p, loc[i].value, fl->v[i].repr, REPR_MAX);
	}
	fl->n = n;
}

/* Per thread, per frame locals (NULL when not asked). */
static struct frame_locals **collect_all_locals(struct ps_proc *p, const struct ps_snapshot *s)
{
	struct frame_locals **all = calloc(s->n ? s->n : 1, sizeof(*all));
	for (size_t i = 0; all && i < s->n; i++) {
		all[i] = calloc(s->threads[i].nframes + 1, sizeof(**all));
		for (size_t j = 0; all[i] && j < s->threads[i].nframes; j++)
			if (s->threads[i].frames[j].code)
				collect_locals(p, &s->threads[i].frames[j], &all[i][j]);
	}
	return all;
}

static void free_locals(struct frame_locals **all, const struct ps_snapshot *s)
{
	for (size_t i = 0; all && i < s->n; i++) {
		for (size_t j = 0; all[i] && j < s->threads[i].nframes; j++)
			free(all[i][j].v);
		free(all[i]);
	}
	free(all);
}

/* Text output, a line at a time: names, file names and command lines are
 * the target's, so each line is scrubbed of terminal controls (a function
 * named "\x1b[2J" must not clear the user's screen) before it is written.
 * Lines are built in a memory stream: they have no length limit. */
struct line {
	FILE *f;
	char *buf;
	size_t len;
};

static FILE *line_start(struct line *l)
{
	l->buf = NULL;
	l->f = open_memstream(&l->buf, &l->len);
	return l->f ? l->f : stdout;   /* out of memory: unscrubbed, not lost */
}

static void line_end(struct line *l)
{
	if (!l->f) {
		putchar('\n');
		return;
	}
	if (fclose(l->f) == 0 && l->buf) {
		ps_text_scrub(l->buf);
		puts(l->buf);
	}
	free(l->buf);
}

static void __attribute__((format(printf, 1, 2))) line(const char *fmt, ...)
{
	struct line l;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(line_start(&l), fmt, ap);
	va_end(ap);
	line_end(&l);
}

static const char *frame_name(const struct ps_frame *f)
{
	return f->code->qualname ? f->code->qualname : f->code->name;
}

static void print_text_locals(const struct frame_locals *fl)
{
	if (fl->error) {
		line("        (locals unreadable: %s)", ps_strerror(fl->error));
		return;
	}
	for (int args = 1; args >= 0; args--) {
		int header = 0;
		for (size_t k = 0; k < fl->n; k++) {
			if (fl->v[k].is_arg != args)
				continue;
			if (!header++)
				line("        %s:", args ? "Arguments" : "Locals");
			line("            %s: %s", fl->v[k].name, fl->v[k].repr);
		}
	}
}

/* A C frame: its function and shared object; the address when the object
 * has no symbol there. */
static void print_text_native(const struct ps_frame *f)
{
	struct line l;
	FILE *o = line_start(&l);
	fprintf(o, "    %s", f->symbol);
	if (strcmp(f->symbol, "<unknown>") == 0)
		fprintf(o, " 0x%llx", (unsigned long long)f->addr);
	fprintf(o, " (%s)", f->object ? f->object : "?");
	line_end(&l);
}

static void print_text(const struct ps_proc *p, const struct ps_snapshot *s,
		       struct frame_locals **loc)
{
	line("Process %d: %s", (int)p->pid, p->cmdline);
	line("Python v%s (%s)", p->version, p->exe);
	for (size_t i = 0; i < s->n; i++) {
		const struct ps_thread *t = &s->threads[i];
		putchar('\n');
		line("Thread %d (%s%s)%s%s%s", (int)t->tid,
		     t->flags & PS_THREAD_IDLE ? "idle" : "active",
		     t->flags & PS_THREAD_GIL ? "+gil" : "", t->name[0] ? ": \"" : "", t->name,
		     t->name[0] ? "\"" : "");
		for (size_t j = 0; j < t->nframes; j++) {
			const struct ps_frame *f = &t->frames[j];
			if (!f->code) {
				print_text_native(f);
				continue;
			}
			line("    %s (%s:%d)", frame_name(f), f->code->file, f->line);
			if (loc)
				print_text_locals(&loc[i][j]);
		}
		if (t->flags & PS_THREAD_NO_NATIVE)
			printf("    (native frames left out: they did not match the Python stack)\n");
		if (t->error)
			printf("    (stack incomplete: %s)\n", ps_strerror(t->error));
		else if (t->flags & PS_THREAD_TRUNCATED)
			printf("    (stack cut at %d frames)\n", PS_MAX_FRAMES);
	}
	if (s->errors)
		fprintf(stderr, "%s: %llu read errors while walking stacks (the process changed under us?)\n",
			ps_cli_name(), (unsigned long long)s->errors);
}

static void json_str(const char *s)
{
	if (s)
		ps_json_string(stdout, s, strlen(s));
	else
		fputs("null", stdout);
}

static void print_json_locals(const struct frame_locals *fl)
{
	fputs(", \"locals\": [", stdout);
	for (size_t k = 0; !fl->error && k < fl->n; k++) {
		fputs(k ? ", {\"name\": " : "{\"name\": ", stdout);
		json_str(fl->v[k].name);
		printf(", \"arg\": %s, \"repr\": ", fl->v[k].is_arg ? "true" : "false");
		json_str(fl->v[k].repr);
		fputs("}", stdout);
	}
	fputs("]", stdout);
}

/* The rest of a C frame's object, after "function": */
static void print_json_native(const struct ps_frame *f)
{
	json_str(f->symbol);
	fputs(", \"object\": ", stdout);
	json_str(f->object);
	printf(", \"address\": %llu, \"kind\": \"native\"}", (unsigned long long)f->addr);
}

static void print_json_thread(const struct ps_thread *t, struct frame_locals *loc)
{
	printf("{\"tid\": %d, \"thread_id\": %llu, \"name\": ", (int)t->tid,
	       (unsigned long long)t->thread_id);
	json_str(t->name[0] ? t->name : NULL);
	printf(", \"gil\": %s, \"idle\": %s, \"frames\": [",
	       t->flags & PS_THREAD_GIL ? "true" : "false",
	       t->flags & PS_THREAD_IDLE ? "true" : "false");
	for (size_t j = 0; j < t->nframes; j++) {
		const struct ps_frame *f = &t->frames[j];
		fputs(j ? ",\n    {\"function\": " : "\n    {\"function\": ", stdout);
		if (!f->code) {
			print_json_native(f);
			continue;
		}
		json_str(f->code->name);
		fputs(", \"qualname\": ", stdout);
		json_str(f->code->qualname);
		fputs(", \"file\": ", stdout);
		json_str(f->code->file);
		printf(", \"line\": %d, \"kind\": \"python\"", f->line);
		if (loc)
			print_json_locals(&loc[j]);
		fputs("}", stdout);
	}
	printf("]%s%s}", t->flags & PS_THREAD_TRUNCATED ? ", \"truncated\": true" : "",
	       t->flags & PS_THREAD_NO_NATIVE ? ", \"native_merged\": false" : "");
}

static void print_json(const struct ps_proc *p, const struct ps_snapshot *s,
		       struct frame_locals **loc)
{
	printf("{\"pid\": %d, \"command\": ", (int)p->pid);
	json_str(p->cmdline);
	fputs(", \"python\": {\"version\": ", stdout);
	json_str(p->version);
	fputs(", \"executable\": ", stdout);
	json_str(p->exe);
	fputs(", \"libpython\": ", stdout);
	json_str(p->libpython);
	printf(", \"debug_offsets\": %s, \"found_by\": \"%s\"},\n \"threads\": [",
	       p->debug_offsets ? "true" : "false",
	       p->found_by == PS_FOUND_SCAN ? "scan" : "symbols");
	for (size_t i = 0; i < s->n; i++) {
		fputs(i ? ",\n  " : "\n  ", stdout);
		print_json_thread(&s->threads[i], loc ? loc[i] : NULL);
	}
	printf("],\n \"errors\": %llu}\n", (unsigned long long)s->errors);
}

/* Pause (unless nonblocking), read everything we will print, resume. No
 * return between ps_pause and ps_resume. */
static int take(struct ps_proc *p, const struct opts *o, struct ps_snapshot *s,
		struct frame_locals ***loc, struct ps_errmsg *e)
{
	struct ps_tasks tasks = { 0 };
	struct ps_pause pz = { 0 };
	ps_tasks_read(p->pid, &tasks); /* states before we stop anyone */
	int rc = o->nonblocking ? PS_OK : ps_pause(p->pid, &pz, 1000, e);
	if (rc == PS_OK) {
		rc = ps_snapshot_take(p, s, PS_SNAP_NAMES | (o->native ? PS_SNAP_NATIVE : 0), &tasks, e);
		if (rc == PS_OK && o->locals)
			*loc = collect_all_locals(p, s);
		ps_resume(&pz);
	}
	ps_tasks_release(&tasks);
	return rc;
}

/* ---- --at: a recording ------------------------------------------------- */

/* One thread of the round: what the sample said, frames copied (the
 * reader reuses its array). */
struct at_thread {
	const struct ps_sr_thread *t;
	unsigned flags;
	uint32_t depth;
	const struct ps_stream_frame **frames;  /* root first */
};

struct at_round {
	uint64_t time_ns;
	struct at_thread *v;
	size_t n;
};

static void at_frame_text(const struct ps_stream_frame *f)
{
	const char *name = f->qualname ? f->qualname : f->function;
	if (f->file)
		line("    %s (%s:%u)", name, f->file, f->line);
	else
		line("    %s", name);
}

static void at_when(const struct ps_stream_header *h, uint64_t t_ns, char *buf, size_t cap)
{
	int64_t ns = h->wall_start_ns + (int64_t)(t_ns - h->mono_origin_ns);
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char day[32] = "?";
	if (localtime_r(&sec, &tm))
		strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%03d", day, (int)(ns % 1000000000 / 1000000));
}

static void at_text(const struct ps_stream_header *h, const char *name, const struct at_round *r)
{
	char when[64];
	at_when(h, r->time_ns, when, sizeof(when));
	struct line l;
	FILE *o = line_start(&l);
	fprintf(o, "Process %u:", h->pid);
	for (uint32_t i = 0; i < h->argc; i++)
		fprintf(o, " %s", h->argv[i]);
	line_end(&l);
	line("Python v%s (recorded in %s: sample at %.3f s, %s)",
	     h->python_version[0] ? h->python_version : "?", name,
	     (double)(r->time_ns - h->mono_origin_ns) / 1e9, when);
	for (size_t i = 0; i < r->n; i++) {
		const struct at_thread *t = &r->v[i];
		putchar('\n');
		o = line_start(&l);
		fprintf(o, "Thread %u (%s%s)", t->t->tid,
			t->flags & PS_SAMPLE_IDLE ? "idle" : "active",
			t->flags & PS_SAMPLE_GIL ? "+gil" : "");
		if (t->t->pid != h->pid)
			fprintf(o, " of process %u", t->t->pid);
		if (t->t->name)
			fprintf(o, ": \"%s\"", t->t->name);
		line_end(&l);
		for (uint32_t j = t->depth; j-- > 0;)
			at_frame_text(t->frames[j]);
	}
}

static void at_json(const struct ps_stream_header *h, const char *name, const struct at_round *r)
{
	char when[64];
	at_when(h, r->time_ns, when, sizeof(when));
	printf("{\"pid\": %u, \"command\": [", h->pid);
	for (uint32_t i = 0; i < h->argc; i++) {
		fputs(i ? ", " : "", stdout);
		json_str(h->argv[i]);
	}
	fputs("], \"python\": {\"version\": ", stdout);
	json_str(h->python_version);
	fputs("}, \"recording\": ", stdout);
	json_str(name);
	printf(", \"time\": %.6f, \"wall\": ", (double)(r->time_ns - h->mono_origin_ns) / 1e9);
	json_str(when);
	fputs(",\n \"threads\": [", stdout);
	for (size_t i = 0; i < r->n; i++) {
		const struct at_thread *t = &r->v[i];
		printf("%s{\"pid\": %u, \"tid\": %u, \"name\": ", i ? ",\n  " : "\n  ", t->t->pid,
		       t->t->tid);
		json_str(t->t->name);
		printf(", \"gil\": %s, \"idle\": %s, \"frames\": [",
		       t->flags & PS_SAMPLE_GIL ? "true" : "false",
		       t->flags & PS_SAMPLE_IDLE ? "true" : "false");
		for (uint32_t j = t->depth, k = 0; j-- > 0; k++) {
			const struct ps_stream_frame *f = t->frames[j];
			fputs(k ? ",\n    {\"function\": " : "\n    {\"function\": ", stdout);
			json_str(f->function);
			fputs(", \"qualname\": ", stdout);
			json_str(f->qualname);
			fputs(", \"file\": ", stdout);
			json_str(f->file);
			printf(", \"line\": %u}", f->line);
		}
		fputs("]}", stdout);
	}
	fputs("]}\n", stdout);
}

static int at_add(struct at_round *r, const struct ps_sr_sample *s)
{
	struct at_thread *v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (!v)
		return PS_ENOMEM;
	r->v = v;
	struct at_thread *t = &v[r->n++];
	t->t = s->thread;
	t->flags = s->flags;
	t->depth = s->depth;
	t->frames = malloc((s->depth ? s->depth : 1) * sizeof(*t->frames));
	if (!t->frames)
		return PS_ENOMEM;
	memcpy(t->frames, s->frames, s->depth * sizeof(*t->frames));
	return 0;
}

/* The first round of samples the filter accepts: all samples at its time. */
static int at_read(struct ps_input *in, const struct ps_filter *f, struct at_round *r,
		   struct ps_errmsg *e)
{
	struct ps_sr_record rec;
	uint64_t origin = ps_sr_header(in->r)->mono_origin_ns;
	int rc;
	while ((rc = ps_sr_next(in->r, &rec, e)) == PS_OK) {
		if (rec.type != PS_REC_SAMPLE || !ps_filter_accept(f, &rec.sample, origin))
			continue;
		if (r->n && rec.sample.time_ns != r->time_ns)
			return PS_OK;
		r->time_ns = rec.sample.time_ns;
		if (at_add(r, &rec.sample))
			return ps_error(e, PS_ENOMEM, "out of memory");
	}
	return rc == PS_STREAM_EOF ? PS_OK : rc;
}

/* Open at the window [TIME, TIME + span) (a capture then re-reads just
 * that); span 0: to the end. A wall-clock TIME needs the recording's start,
 * so it is resolved by a first open of an empty window. */
static int at_open(const struct opts *o, double span, struct ps_input *in, struct ps_filter *f,
		   struct ps_errmsg *e)
{
	struct ps_input_opts io = { .path = o->file, .filter = f };
	memset(f, 0, sizeof(*f));
	f->idle = 1; /* every thread, idle or not */
	ps_filter_option(f, PS_OPT_FROM, o->at);
	if (span > 0)
		ps_filter_option(f, PS_OPT_TO, o->at);
	int rc = ps_input_open(&io, in, e);
	if (rc || span <= 0)
		return rc;
	double from = f->from_s;
	ps_input_close(in);
	memset(f, 0, sizeof(*f));
	*f = (struct ps_filter){ .idle = 1, .from_set = 1, .from_s = from, .to_set = 1,
				 .to_s = from + span };
	return ps_input_open(&io, in, e);
}

static void at_free(struct at_round *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].frames);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int at_print(const struct opts *o, struct ps_input *in, const struct at_round *r, int rc,
		    const struct ps_errmsg *e)
{
	int status = rc && rc != PS_STREAM_TRUNCATED ? PS_EXIT_FAIL : PS_EXIT_OK;
	if (rc == PS_STREAM_TRUNCATED)
		ps_cli_error("'%s' is truncated (%s); looked at the samples before the cut", in->name,
			     e->msg);
	else if (rc)
		ps_cli_error("'%s': %s", in->name, e->msg);
	if (status == PS_EXIT_OK && !r->n) {
		ps_cli_error("no sample at or after %s in '%s'", o->at, in->name);
		status = PS_EXIT_FAIL;
	} else if (status == PS_EXIT_OK && o->json) {
		at_json(ps_sr_header(in->r), in->name, r);
	} else if (status == PS_EXIT_OK) {
		at_text(ps_sr_header(in->r), in->name, r);
	}
	ps_input_note(in);
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ps_cli_write_error("stdout");
		status = PS_EXIT_FAIL;
	}
	return status;
}

static int run_at(const struct opts *o)
{
	struct ps_errmsg e = { 0 };
	struct ps_filter f;
	struct ps_input in;
	struct at_round r = { 0 };
	/* the next minute first; past a longer gap, the rest */
	int whole = !strcmp(o->file, "-");
	int rc = at_open(o, whole ? 0 : 60, &in, &f, &e);
	if (!rc)
		rc = at_read(&in, &f, &r, &e);
	if (!rc && !r.n && !whole) {
		ps_input_close(&in);
		rc = at_open(o, 0, &in, &f, &e);
		if (!rc)
			rc = at_read(&in, &f, &r, &e);
	}
	if (rc && !in.r) {
		ps_cli_error("%s", e.msg);
		return PS_EXIT_FAIL;
	}
	int status = at_print(o, &in, &r, rc, &e);
	at_free(&r);
	ps_input_close(&in);
	return status;
}

/* Read and print one process. PS_ENOTPY (and the like) for a descendant
 * that is not a python we can read: skipped without a word. */
static int dump_one(const struct opts *o, pid_t pid, int is_root, int *printed)
{
	struct ps_errmsg e = { 0 };
	struct ps_proc *p;
	struct ps_snapshot s = { 0 };
	struct frame_locals **loc = NULL;
	int rc = ps_proc_open(&p, pid, o->force_scan ? PS_OPEN_FORCE_SCAN : 0, &e);
	if (rc == PS_OK) {
		rc = take(p, o, &s, &loc, &e);
		if (rc)
			ps_proc_free(p);
	}
	if (rc) {
		int quiet = !is_root && (rc == PS_ENOTPY || rc == PS_ENOTREADY || rc == PS_ENOPROC);
		if (quiet)
			return rc;
		if (rc == PS_EPERM)
			ps_cli_error("%s; %s", e.msg, ps_perm_advice());
		else
			ps_cli_error("%s", e.msg);
		return rc;
	}
	if (o->json) {
		fputs(!o->subprocesses ? "" : *printed ? ",\n" : "[\n", stdout);
		print_json(p, &s, loc);
	} else {
		fputs(*printed ? "\n" : "", stdout);
		print_text(p, &s, loc);
	}
	++*printed;
	free_locals(loc, &s);
	ps_snapshot_release(&s);
	ps_proc_free(p);
	return PS_OK;
}

/* --subprocesses: the target, then its descendants in the order found
 * (breadth first). A target that is not python itself is fine (a shell
 * running python); one python in the whole tree is needed. */
static int dump_tree(const struct opts *o)
{
	pid_t *kids = NULL;
	size_t n = 0;
	int printed = 0, failed = 0;
	int rc = ps_ptree_descendants(&o->pid, 1, PS_PTREE_AUTO, &kids, &n);
	if (rc) {
		ps_cli_error("cannot list the children of process %d: %s", (int)o->pid,
			     ps_strerror(rc));
		return PS_EXIT_FAIL;
	}
	rc = dump_one(o, o->pid, !n, &printed);
	failed |= rc && rc != PS_ENOTPY && rc != PS_ENOTREADY;
	for (size_t i = 0; i < n; i++) {
		rc = dump_one(o, kids[i], 0, &printed);
		failed |= rc && rc != PS_ENOTPY && rc != PS_ENOTREADY && rc != PS_ENOPROC;
	}
	free(kids);
	if (o->json && printed)
		fputs("]\n", stdout);
	if (!printed && !failed)
		ps_cli_error("no python in process %d or its descendants", (int)o->pid);
	return printed && !failed ? PS_EXIT_OK : PS_EXIT_FAIL;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int printed = 0;

	ps_cli_init("pyspy-dump");
	parse(argc, argv, &o);
	if (o.at)
		return run_at(&o);
	int status = o.subprocesses ? dump_tree(&o)
		     : dump_one(&o, o.pid, 1, &printed) ? PS_EXIT_FAIL : PS_EXIT_OK;
	if (status != PS_EXIT_OK)
		return status;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ps_cli_write_error("stdout");
		return PS_EXIT_FAIL;
	}
	return PS_EXIT_OK;
}
