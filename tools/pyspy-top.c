/* pyspy-top: a live, top-like view of where a Python program spends its time.
 *
 *   pyspy-top --pid 1234
 *   pyspy-top -- python app.py
 *   pyspy-top run.pss                 (replay a recording)
 *   pyspy-top --summary run.pss       (its final table, as text)
 *   pyspy-top --pid 1234 -d 5 | cat   (plain tables once a second)
 */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ps_cli.h"
#include "ps_input.h"
#include "ps_record.h"
#include "ps_sampler.h"
#include "ps_stream.h"
#include "ps_text.h"
#include "ps_top.h"

#define NS 1000000000ull
#define HEAD_LINES 5

struct opts {
	pid_t pid;
	char **cmd;
	const char *file;       /* replay: a stream, "-" for stdin */
	double rate, duration, speed;
	int nonblocking, gil, idle, lines, summary, force_scan, subprocesses, native;
	size_t rows;            /* plain output: at most this many rows, 0 all */
};

struct app {
	const struct opts *o;
	struct ps_top *m;
	struct ps_top_view v;
	double rate;            /* for times: samples / rate */
	char target[512];
	char version[32];
	uint64_t t0, now;       /* ns: start and latest sample, same clock */
	uint64_t last_draw;
	int curses, paused, help, quit, dirty, ended;
	size_t scroll;
	SCREEN *scr;
	FILE *ttyin;
	struct ps_stream_frame *fr;   /* live: the current stack, root first */
	const struct ps_stream_frame **frp;
	size_t frcap;
};

static volatile sig_atomic_t got_signal;
static SCREEN *active_screen;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* The last resort: whatever way we leave, the terminal is given back. */
static void restore_terminal(void)
{
	if (active_screen) {
		endwin();
		active_screen = NULL;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyspy-top [options] --pid PID\n"
		"       pyspy-top [options] -- COMMAND [ARGS...]\n"
		"       pyspy-top [options] [--summary] [FILE | -]\n"
		"A live view of the functions a Python program spends its time in, like top.\n\n"
		"  -p, --pid PID         sample a running process\n"
		"  -r, --rate HZ         samples per second (default 100)\n"
		"  -d, --duration SECS   stop after SECS seconds\n"
		"      --nonblocking     never pause the target\n"
		"  -s, --subprocesses    show the python processes it starts too\n"
		"      --native          include C frames (not with --nonblocking)\n"
		"      --gil             count only samples of threads holding the GIL\n"
		"      --idle            count idle samples (key I toggles)\n"
		"      --lines           one row per line, not per function (key L toggles)\n"
		"      --speed FACTOR    replay: this many times the recorded speed (0: at once)\n"
		"      --summary         replay: print the final table and exit\n"
		"  -n, --rows N          plain output: at most N rows per table\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"Keys: 1-4 sort by %%Own, %%Total, OwnTime, TotalTime; L lines/functions;\n"
		"T next thread (process, thread with --subprocesses); I idle; R reset; P pause; ? help; q quit; arrows and\n"
		"PageUp/PageDown scroll. When standard output is not a terminal, plain\n"
		"tables are printed once a second instead.\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	enum { NONBLOCKING = 256, GIL, IDLE, LINES, SPEED, SUMMARY, FORCE_SCAN, NATIVE };
	static const struct option longs[] = {
		{ "pid", required_argument, 0, 'p' },      { "rate", required_argument, 0, 'r' },
		{ "duration", required_argument, 0, 'd' }, { "nonblocking", no_argument, 0, NONBLOCKING },
		{ "gil", no_argument, 0, GIL },            { "idle", no_argument, 0, IDLE },
		{ "lines", no_argument, 0, LINES },        { "speed", required_argument, 0, SPEED },
		{ "summary", no_argument, 0, SUMMARY },    { "force-scan", no_argument, 0, FORCE_SCAN },
		{ "rows", required_argument, 0, 'n' },     { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },        { "subprocesses", no_argument, 0, 's' },
		{ "version", no_argument, 0, 'V' },        { "native", no_argument, 0, NATIVE },
		{ 0, 0, 0, 0 },
	};
	int c;
	o->rate = 100;
	o->speed = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:r:d:n:shV", longs, NULL)) != -1) {
		switch (c) {
		case 'p': o->pid = ps_cli_pid(optarg); break;
		case 'r': o->rate = ps_cli_positive(optarg, "rate"); break;
		case 'd': o->duration = ps_cli_positive(optarg, "duration"); break;
		case 'n': o->rows = (size_t)ps_cli_nonneg(optarg, "number of rows"); break;
		case NONBLOCKING: o->nonblocking = 1; break;
		case GIL: o->gil = 1; break;
		case IDLE: o->idle = 1; break;
		case LINES: o->lines = 1; break;
		case SPEED: o->speed = ps_cli_nonneg(optarg, "speed"); break;
		case SUMMARY: o->summary = 1; break;
		case 's': o->subprocesses = 1; break;
		case FORCE_SCAN: o->force_scan = 1; break;
		case NATIVE: o->native = 1; break;
		case 'h': usage(stdout); exit(PS_EXIT_OK);
		case 'V': ps_cli_version();
		default: ps_cli_bad_option(c, argv);
		}
	}
	/* "--" before the operands means a command; a lone operand is a file */
	if (optind < argc && strcmp(argv[optind - 1], "--") == 0)
		o->cmd = argv + optind;
	else if (optind < argc) {
		o->file = argv[optind++];
		if (optind < argc)
			ps_cli_usage_error("one stream FILE at most (a command goes after '--')");
	}
	if (o->pid && o->cmd)
		ps_cli_usage_error("give either --pid or a command, not both");
	if ((o->pid || o->cmd) && o->file)
		ps_cli_usage_error("give either a stream FILE or a process to sample, not both");
	if (!o->pid && !o->cmd && !o->file) {
		if (isatty(STDIN_FILENO))
			ps_cli_usage_error("what to show? give --pid PID, -- COMMAND or a stream FILE");
		o->file = "-";
	}
	if (o->summary && !o->file)
		ps_cli_usage_error("--summary is for a recorded stream");
	if (o->subprocesses && o->file)
		ps_cli_usage_error("--subprocesses is for a live process (a recording has its "
				   "processes already)");
	if (o->native && o->nonblocking)
		ps_cli_usage_error("--native needs the target paused: not with --nonblocking");
	if (o->native && o->file)
		ps_cli_usage_error("--native is for sampling a process (a stream has what was recorded)");
}

/* ---- drawing ------------------------------------------------------------ */

static const char *sort_names[] = { "%Own", "%Total", "OwnTime", "TotalTime" };

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* ", processes N" when the counts span several. */
static void processes_text(const struct ps_top_stats *st, const char *sep, char *buf,
			   size_t cap)
{
	buf[0] = '\0';
	if (st->processes > 1)
		snprintf(buf, cap, "%s%zu", sep, st->processes);
}

static void status_text(struct app *a, char *buf, size_t cap)
{
	struct ps_top_stats st;
	char procs[48];
	ps_top_stats(a->m, &a->v, &st);
	processes_text(&st, ", processes ", procs, sizeof(procs));
	snprintf(buf, cap,
		 "elapsed %.2f s, samples %llu, errors %llu, gil %.1f%%, active %.1f%%, threads %zu%s",
		 (double)(a->now - a->t0) / 1e9, (unsigned long long)st.samples,
		 (unsigned long long)st.errors, pct(st.gil, st.samples), pct(st.active, st.seen),
		 st.threads, procs);
}

static void put(int y, const char *s, int w, attr_t attr)
{
	attron(attr);
	mvaddnstr(y, 0, s, w);
	attroff(attr);
}

static void draw_help(int y, int w)
{
	static const char *help[] = {
		"Keys",
		"  1 2 3 4      sort by %Own, %Total, OwnTime, TotalTime",
		"  L            rows per line / per function",
		"  T            next thread (all, each thread, all again; by pid and tid",
		"               when there are several processes)",
		"  I            count idle samples on / off",
		"  R            reset the counts",
		"  P            pause / resume the display (sampling goes on)",
		"  arrows, PageUp, PageDown, Home   scroll",
		"  ?            this help (any key closes it)",
		"  q            quit",
	};
	for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
		put(y + (int)i, help[i], w, i ? A_NORMAL : A_BOLD);
}

static void draw(struct app *a)
{
	char buf[1024], thr[200] = "all", procs[48];
	int h, w;
	struct ps_top_stats st;
	struct ps_top_row *rows = NULL;
	size_t n = 0;

	getmaxyx(stdscr, h, w);
	erase();
	ps_top_stats(a->m, &a->v, &st);
	processes_text(&st, "   Processes: ", procs, sizeof(procs));
	if (a->v.thread >= 0) {
		struct ps_top_thread t = ps_top_thread(a->m, (size_t)a->v.thread);
		if (st.processes > 1)
			snprintf(thr, sizeof(thr), "%u %s (pid %u)", t.tid, t.name, t.pid);
		else
			snprintf(thr, sizeof(thr), "%u %s", t.tid, t.name);
		ps_text_scrub(thr);
	}
	snprintf(buf, sizeof(buf), "pyspy-top: %s", a->target);
	put(0, buf, w, A_BOLD);
	snprintf(buf, sizeof(buf),
		 "Python %s   Samples: %llu   Errors: %llu   GIL: %.1f%%   Active: %.1f%%   Threads: %zu%s",
		 a->version[0] ? a->version : "?", (unsigned long long)st.samples,
		 (unsigned long long)st.errors, pct(st.gil, st.samples), pct(st.active, st.seen),
		 st.threads, procs);
	put(1, buf, w, A_NORMAL);
	snprintf(buf, sizeof(buf), "Rows: %s   Thread: %s   Idle: %s   Sort: %s   Elapsed: %.0f s%s%s",
		 a->v.by_line ? "lines" : "functions", thr, a->v.idle ? "on" : "off",
		 sort_names[a->v.sort], (double)(a->now - a->t0) / 1e9,
		 a->paused ? "   [paused]" : "", a->ended ? "   [ended: q quits]" : "   (? help)");
	put(2, buf, w, A_NORMAL);
	if (a->help) {
		draw_help(4, w);
		refresh();
		return;
	}
	ps_top_heading(buf, sizeof(buf));
	put(4, buf, w, A_REVERSE);
	if (ps_top_rows(a->m, &a->v, &rows, &n) == PS_OK) {
		size_t vis = h > HEAD_LINES ? (size_t)(h - HEAD_LINES) : 0;
		if (a->scroll + vis > n)
			a->scroll = n > vis ? n - vis : 0;
		for (size_t i = a->scroll; i < n && i - a->scroll < vis; i++) {
			ps_top_format_row(&rows[i], st.samples, a->rate, buf, sizeof(buf));
			put(HEAD_LINES + (int)(i - a->scroll), buf, w, A_NORMAL);
		}
		free(rows);
	}
	refresh();
}

/* One key; 1 when it asks to quit. */
static int key(struct app *a, int ch)
{
	int page = LINES > HEAD_LINES + 1 ? LINES - HEAD_LINES - 1 : 1;
	if (a->help && ch != KEY_RESIZE && ch != 'q') {
		a->help = 0;
		return 0;
	}
	switch (ch) {
	case 'q': case 'Q': return 1;
	case '1': case '2': case '3': case '4': a->v.sort = (enum ps_top_sort)(ch - '1'); break;
	case 'l': case 'L': a->v.by_line = !a->v.by_line; break;
	case 'i': case 'I': a->v.idle = !a->v.idle; break;
	case 'r': case 'R': ps_top_reset(a->m); a->v.thread = -1; a->t0 = a->now; break;
	case 'p': case 'P': a->paused = !a->paused; break;
	case '?': case 'h': a->help = 1; break;
	case 't': case 'T':
		a->v.thread++;
		if ((size_t)a->v.thread >= ps_top_nthreads(a->m))
			a->v.thread = -1;
		a->scroll = 0;
		break;
	case KEY_UP: if (a->scroll) a->scroll--; break;
	case KEY_DOWN: a->scroll++; break;
	case KEY_PPAGE: a->scroll = a->scroll > (size_t)page ? a->scroll - (size_t)page : 0; break;
	case KEY_NPAGE: a->scroll += (size_t)page; break;
	case KEY_HOME: a->scroll = 0; break;
	case KEY_RESIZE: break;
	default: return 0;
	}
	a->dirty = 1;
	return 0;
}

/* Keys waiting, then a redraw when one changed the view or a second went
 * by (not while paused). 1 when the user quits. */
static int ui_tick(struct app *a, uint64_t wall)
{
	int ch;
	while ((ch = getch()) != ERR) {
		if (key(a, ch)) {
			a->quit = 1;
			return 1;
		}
	}
	if (a->dirty || (!a->paused && wall - a->last_draw >= NS)) {
		draw(a);
		a->dirty = 0;
		a->last_draw = wall;
	}
	return 0;
}

static int ui_open(struct app *a)
{
	if (!isatty(STDIN_FILENO)) {
		a->ttyin = fopen("/dev/tty", "r");
		if (!a->ttyin) {
			ps_cli_error("cannot open '/dev/tty' for keys: %s", strerror(errno));
			return PS_EIO;
		}
	}
	a->scr = newterm(NULL, stdout, a->ttyin ? a->ttyin : stdin);
	if (!a->scr) {
		ps_cli_error("cannot use the terminal (TERM=%s)",
			     getenv("TERM") ? getenv("TERM") : "");
		return PS_EIO;
	}
	active_screen = a->scr;
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	a->curses = 1;
	a->dirty = 1;
	return PS_OK;
}

static void ui_close(struct app *a)
{
	if (a->curses) {
		restore_terminal();
		delscreen(a->scr);
		a->curses = 0;
	}
	if (a->ttyin)
		fclose(a->ttyin);
	a->ttyin = NULL;
}

/* Plain text: a header line, the table, a blank line. */
static int print_table(struct app *a, FILE *f, size_t max_rows)
{
	char status[256], *table;
	status_text(a, status, sizeof(status));
	ps_text_scrub(status);
	if (ps_top_render(a->m, &a->v, a->rate, max_rows, &table))
		return PS_ENOMEM;
	fprintf(f, "== %s ==\n%s\n", status, table);
	free(table);
	return fflush(f) ? PS_EIO : PS_OK;
}

/* ---- live --------------------------------------------------------------- */

static void join_args(char *buf, size_t cap, int argc, const char *const *argv)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; i < argc && len + 1 < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", argv[i]);
}

static int live_start(void *ctx, struct ps_proc *p, uint64_t t0)
{
	struct app *a = ctx;
	char cmd[440];
	join_args(cmd, sizeof(cmd), p->argc, (const char *const *)p->argv);
	snprintf(a->target, sizeof(a->target), "process %d: %s%s", (int)p->pid, cmd,
		 a->o->subprocesses ? " (and its python subprocesses)" : "");
	ps_text_scrub(a->target);
	snprintf(a->version, sizeof(a->version), "%s", p->version);
	a->t0 = a->now = t0;
	if (isatty(STDOUT_FILENO))
		return ui_open(a);
	a->last_draw = t0;
	return PS_OK;
}

static int add_thread(struct app *a, pid_t pid, const struct ps_thread *th)
{
	unsigned flags = (th->flags & PS_THREAD_GIL ? PS_SAMPLE_GIL : 0) |
			 (th->flags & PS_THREAD_IDLE ? PS_SAMPLE_IDLE : 0);
	if (a->o->gil && !(flags & PS_SAMPLE_GIL))
		return PS_OK;
	if (th->nframes > a->frcap) {
		size_t nc = th->nframes * 2;
		struct ps_stream_frame *nf = realloc(a->fr, nc * sizeof(*nf));
		if (nf)
			a->fr = nf;
		const struct ps_stream_frame **np = realloc(a->frp, nc * sizeof(*np));
		if (np)
			a->frp = np;
		if (!nf || !np)
			return PS_ENOMEM;
		a->frcap = nc;
	}
	size_t n = th->nframes;
	for (size_t i = 0; i < n; i++) {
		a->fr[i] = ps_record_frame(&th->frames[n - 1 - i]);
		a->frp[i] = &a->fr[i];
	}
	return ps_top_add_pid(a->m, (uint32_t)pid, (uint32_t)th->tid, th->name, flags, a->frp,
			      n);
}

static int live_sample(void *ctx, struct ps_proc *p, uint64_t t, const struct ps_snapshot *s)
{
	struct app *a = ctx;
	a->now = t;
	for (size_t i = 0; i < s->n; i++) {
		int rc = add_thread(a, p->pid, &s->threads[i]);
		if (rc)
			return rc;
	}
	if (a->curses)
		return ui_tick(a, t);
	if (t - a->last_draw >= NS) {
		a->last_draw += NS;
		return print_table(a, stdout, a->o->rows);
	}
	return PS_OK;
}

static int live_event(void *ctx, struct ps_proc *p, uint64_t t, enum ps_event_kind kind,
		      uint64_t count, int64_t value)
{
	struct app *a = ctx;
	(void)p, (void)t, (void)value;
	if (kind == PS_EVENT_ERRORS)
		ps_top_add_errors(a->m, count);
	return PS_OK;
}

static int run_live(struct app *a)
{
	const struct opts *o = a->o;
	struct ps_errmsg e = { 0 };
	struct ps_sampler_stats st;
	pid_t pid = o->pid;
	if (o->cmd && ps_launch(o->cmd, &pid, &e)) {
		ps_cli_error("%s", e.msg);
		return 127;
	}
	struct ps_sampler_opts so = {
		.rate_hz = o->rate, .duration_s = o->duration, .nonblocking = o->nonblocking,
		.native = o->native, .open_flags = o->force_scan ? PS_OPEN_FORCE_SCAN : 0,
		.subprocesses = o->subprocesses,
	};
	struct ps_sample_sink sink = { a, live_start, live_sample, live_event };
	a->rate = o->rate;
	int rc = ps_sampler_run(&so, pid, o->cmd != NULL, &sink, &st, &e);
	int was_curses = a->curses;
	ui_close(a);
	if (!st.started) {
		ps_cli_error("%s%s", e.msg, o->cmd && !st.target_exited ? "; stopped the command" : "");
		if (o->cmd)
			ps_launch_stop(pid);
		return PS_EXIT_FAIL;
	}
	if (rc && !a->quit) {
		ps_cli_error("%s", e.msg);
		return PS_EXIT_FAIL;
	}
	if (was_curses && st.target_exited) {
		/* the last picture stays on the screen after the view closes */
		printf("pyspy-top: the target exited after %.1f s\n", (double)st.elapsed_ns / 1e9);
		print_table(a, stdout, a->o->rows ? a->o->rows : 20);
	} else if (!was_curses && !a->quit && a->now > a->last_draw) {
		print_table(a, stdout, a->o->rows);     /* the final, partial interval */
	}
	if (o->cmd && a->quit) {
		ps_launch_stop(pid);
		return PS_EXIT_OK;
	}
	/* launch mode: exit like the command did, as pyspy-sample does */
	return o->cmd ? ps_launch_exit_code(&st, pid) : PS_EXIT_OK;
}

/* ---- replay ------------------------------------------------------------- */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NS), (long)(ns % NS) };
	nanosleep(&ts, NULL);
}

/* Wait until stream time t is due at the replay speed, keeping the UI
 * alive. 1 when the user quits or a signal came. */
static int pace(struct app *a, uint64_t t, uint64_t wall0)
{
	for (;;) {
		uint64_t wall = ps_now_ns();
		if (got_signal)
			return 1;
		if (a->curses && ui_tick(a, wall))
			return 1;
		if (a->o->speed <= 0)
			return 0;
		uint64_t due = wall0 + (uint64_t)((double)(t - a->t0) / a->o->speed);
		if (wall >= due)
			return 0;
		sleep_ns(due - wall < NS / 20 ? due - wall : NS / 20);
	}
}

static int replay_record(struct app *a, const struct ps_sr_record *rec, uint64_t wall0,
			 int plain)
{
	if (rec->type == PS_REC_EVENT && rec->event.kind == PS_STREAM_EV_ERRORS)
		ps_top_add_errors(a->m, rec->event.count);
	if (rec->type != PS_REC_SAMPLE)
		return PS_OK;
	const struct ps_sr_sample *s = &rec->sample;
	if (a->o->gil && !(s->flags & PS_SAMPLE_GIL))
		return PS_OK;
	if (!a->o->summary) {
		if (pace(a, s->time_ns, wall0))
			return 1;
		if (plain && s->time_ns - a->last_draw >= NS) {
			a->now = a->last_draw + NS;
			a->last_draw += NS;
			int rc = print_table(a, stdout, a->o->rows);
			if (rc)
				return rc;
		}
	}
	a->now = s->time_ns;
	return ps_top_add_pid(a->m, s->thread ? s->thread->pid : 0, s->thread ? s->thread->tid : 0,
			      s->thread ? s->thread->name : NULL, s->flags, s->frames, s->depth);
}

static int run_replay(struct app *a)
{
	const struct opts *o = a->o;
	struct ps_errmsg e = { 0 };
	struct ps_sr_record rec;
	/* a stream or a capture (.db), read alike */
	struct ps_input_opts io = { .path = o->file };
	struct ps_input in;
	if (ps_input_open(&io, &in, &e)) {
		ps_cli_error("%s", e.msg);
		return PS_EXIT_FAIL;
	}
	struct ps_sr *r = in.r;
	const char *name = in.name;
	const struct ps_stream_header *h = ps_sr_header(r);
	char cmd[480];
	join_args(cmd, sizeof(cmd), (int)h->argc, h->argv);
	snprintf(a->target, sizeof(a->target), "%.200s (process %u: %.280s)", name, h->pid, cmd);
	ps_text_scrub(a->target);
	snprintf(a->version, sizeof(a->version), "%s", h->python_version);
	a->rate = h->rate_hz ? h->rate_hz : 100;
	a->t0 = a->now = a->last_draw = h->mono_origin_ns;
	int plain = !o->summary && !isatty(STDOUT_FILENO);
	if (!o->summary && !plain && ui_open(a)) {
		ps_input_close(&in);
		return PS_EXIT_FAIL;
	}
	uint64_t wall0 = ps_now_ns();
	int rc, status = PS_EXIT_OK;
	while ((rc = ps_sr_next(r, &rec, &e)) == PS_OK) {
		rc = replay_record(a, &rec, wall0, plain);
		if (rc)
			break;
	}
	if (rc < 0 || rc == PS_STREAM_TRUNCATED) {
		int was = a->curses;
		ui_close(a);
		ps_cli_error("'%s': %s", name, rc == PS_ENOMEM ? "out of memory" : e.msg);
		if (rc < 0)
			status = PS_EXIT_FAIL;
		if (was)
			print_table(a, stdout, a->o->rows ? a->o->rows : 20);
	} else if (rc == PS_STREAM_EOF && a->curses) {
		/* the end: keep the last picture until q */
		a->ended = a->dirty = 1;
		while (!got_signal && !ui_tick(a, ps_now_ns()))
			sleep_ns(NS / 20);
	}
	ui_close(a);
	if ((o->summary || plain) && rc == PS_STREAM_EOF && print_table(a, stdout, a->o->rows)) {
		ps_cli_write_error("stdout");
		status = PS_EXIT_FAIL;
	}
	if (rc == PS_STREAM_EOF)
		ps_input_note(&in);
	ps_input_close(&in);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct app a = { 0 };
	struct sigaction sa;

	ps_cli_init("pyspy-top");
	parse(argc, argv, &o);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(restore_terminal);
	a.o = &o;
	a.v = (struct ps_top_view){ .by_line = o.lines, .idle = o.idle, .thread = -1 };
	a.m = ps_top_new();
	if (!a.m) {
		ps_cli_error("out of memory");
		return PS_EXIT_FAIL;
	}
	int status = o.file ? run_replay(&a) : run_live(&a);
	ui_close(&a);
	ps_top_free(a.m);
	free(a.fr);
	free(a.frp);
	return status;
}
