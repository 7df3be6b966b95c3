/* pyspy-dump: print the Python stack of every thread of a running process.
 *
 *   pyspy-dump --pid 1234 [--locals] [--json] [--nonblocking | --native]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_cli.h"
#include "ps_proc.h"
#include "ps_pyobj.h"
#include "ps_stack.h"
#include "ps_tasks.h"
#include "ps_text.h"

#define MAX_LOCALS 256
#define REPR_MAX 1024

struct opts {
	pid_t pid;
	int json, locals, nonblocking, force_scan, native;
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
		"Print the Python stack of every thread of a running process.\n\n"
		"  -p, --pid PID      process to read\n"
		"  -l, --locals       show each frame's arguments and local variables\n"
		"  -j, --json         print JSON instead of text\n"
		"  -n, --nonblocking  do not pause the process (stacks may be inconsistent)\n"
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
		{ "version", no_argument, 0, 'V' },     { "native", no_argument, 0, 'N' },
		{ 0, 0, 0, 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:ljnhV", longs, NULL)) != -1) {
		switch (c) {
		case 'p': o->pid = ps_cli_pid(optarg); break;
		case 'l': o->locals = 1; break;
		case 'j': o->json = 1; break;
		case 'n': o->nonblocking = 1; break;
		case 'S': o->force_scan = 1; break;
		case 'N': o->native = 1; break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	if (optind < argc)
		ps_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->pid)
		ps_cli_usage_error("which process? give --pid PID");
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

static const char *frame_name(const struct ps_frame *f)
{
	return f->code->qualname ? f->code->qualname : f->code->name;
}

static void print_text_locals(const struct frame_locals *fl)
{
	if (fl->error) {
		printf("        (locals unreadable: %s)\n", ps_strerror(fl->error));
		return;
	}
	for (int args = 1; args >= 0; args--) {
		int header = 0;
		for (size_t k = 0; k < fl->n; k++) {
			if (fl->v[k].is_arg != args)
				continue;
			if (!header++)
				printf("        %s:\n", args ? "Arguments" : "Locals");
			printf("            %s: %s\n", fl->v[k].name, fl->v[k].repr);
		}
	}
}

/* A C frame: its function and shared object; the address when the object
 * has no symbol there. */
static void print_text_native(const struct ps_frame *f)
{
	printf("    %s", f->symbol);
	if (strcmp(f->symbol, "<unknown>") == 0)
		printf(" 0x%llx", (unsigned long long)f->addr);
	printf(" (%s)\n", f->object ? f->object : "?");
}

static void print_text(const struct ps_proc *p, const struct ps_snapshot *s,
		       struct frame_locals **loc)
{
	printf("Process %d: %s\n", (int)p->pid, p->cmdline);
	printf("Python v%s (%s)\n", p->version, p->exe);
	for (size_t i = 0; i < s->n; i++) {
		const struct ps_thread *t = &s->threads[i];
		printf("\nThread %d (%s%s)", (int)t->tid,
		       t->flags & PS_THREAD_IDLE ? "idle" : "active",
		       t->flags & PS_THREAD_GIL ? "+gil" : "");
		if (t->name[0])
			printf(": \"%s\"", t->name);
		printf("\n");
		for (size_t j = 0; j < t->nframes; j++) {
			const struct ps_frame *f = &t->frames[j];
			if (!f->code) {
				print_text_native(f);
				continue;
			}
			printf("    %s (%s:%d)\n", frame_name(f), f->code->file, f->line);
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

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct ps_errmsg e = { 0 };
	struct ps_proc *p;
	struct ps_snapshot s = { 0 };
	struct frame_locals **loc = NULL;

	ps_cli_init("pyspy-dump");
	parse(argc, argv, &o);
	int rc = ps_proc_open(&p, o.pid, o.force_scan ? PS_OPEN_FORCE_SCAN : 0, &e);
	if (rc) {
		ps_cli_error("%s", e.msg);
		return PS_EXIT_FAIL;
	}
	rc = take(p, &o, &s, &loc, &e);
	if (rc) {
		if (rc == PS_EPERM)
			ps_cli_error("%s; %s", e.msg, ps_perm_advice());
		else
			ps_cli_error("%s", e.msg);
		ps_proc_free(p);
		return PS_EXIT_FAIL;
	}
	if (o.json)
		print_json(p, &s, loc);
	else
		print_text(p, &s, loc);
	free_locals(loc, &s);
	ps_snapshot_release(&s);
	ps_proc_free(p);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ps_cli_error("cannot write output");
		return PS_EXIT_FAIL;
	}
	return PS_EXIT_OK;
}
