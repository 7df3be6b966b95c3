/* ps_proc: the pure helpers (version strings, finding PY_VERSION in
 * .rodata, permission advice), and ps_proc_open on processes that are not
 * python or not there at all. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_error.h"
#include "ps_proc.h"

/* ---- ps_parse_version ---- */

static void check_version(const char *s, int maj, int min, int mic)
{
	int a = -7, b = -7, c = -7;
	int rc = ps_parse_version(s, &a, &b, &c);
	if (rc != PS_OK)
		print_error("'%s' did not parse\n", s);
	assert_int_equal(rc, PS_OK);
	assert_int_equal(a, maj);
	assert_int_equal(b, min);
	assert_int_equal(c, mic);
}

static void check_bad_version(const char *s)
{
	int a = -7, b = -7, c = -7;
	int rc = ps_parse_version(s, &a, &b, &c);
	if (rc != PS_EINVAL)
		print_error("'%s' parsed\n", s);
	assert_int_equal(rc, PS_EINVAL);
	/* nothing is written on failure */
	assert_int_equal(a, -7);
	assert_int_equal(b, -7);
	assert_int_equal(c, -7);
}

static void test_parse_version_valid(void **state)
{
	(void)state;
	check_version("3.11.7", 3, 11, 7);
	check_version("2.7.18", 2, 7, 18);
	check_version("3.13.0rc1", 3, 13, 0);
	check_version("3.10.13+", 3, 10, 13);
	check_version("3.12.0a7", 3, 12, 0);
	check_version("3.6.15", 3, 6, 15);
	check_version("3.0.0", 3, 0, 0);
}

static void test_parse_version_invalid(void **state)
{
	(void)state;
	check_bad_version("");
	check_bad_version("4.0.0");
	check_bad_version("3.x.1");
	check_bad_version("1.2.3");
	check_bad_version("3");
	check_bad_version("3.11");
	check_bad_version("3.11.");
	check_bad_version("python");
	check_bad_version("3.100.1");
	check_bad_version("3.9.100");
	check_bad_version("3.-1.2");
}

/* ---- ps_find_version_in_rodata ---- */

/* Buffers are written with the version as a separate literal so that "\0"
 * followed by a digit is not read as an octal escape. SZ includes the
 * literal's own final NUL; SZ_OPEN leaves it out. */
#define SZ(lit) (sizeof(lit))
#define SZ_OPEN(lit) (sizeof(lit) - 1)

static int find(const char *buf, size_t size, int hmaj, int hmin, char *out, size_t cap)
{
	return ps_find_version_in_rodata((const uint8_t *)buf, size, hmaj, hmin, out, cap);
}

static void check_found(const char *buf, size_t size, int hmaj, int hmin, const char *want)
{
	char out[32];
	memset(out, 'Z', sizeof(out));
	int rc = find(buf, size, hmaj, hmin, out, sizeof(out));
	if (rc != PS_OK)
		print_error("'%s' not found\n", want);
	assert_int_equal(rc, PS_OK);
	assert_string_equal(out, want);
}

static void check_not_found(const char *buf, size_t size, int hmaj, int hmin)
{
	char out[32] = "untouched";
	assert_int_equal(find(buf, size, hmaj, hmin, out, sizeof(out)), PS_EINVAL);
}

static void test_rodata_single_version(void **state)
{
	static const char b[] = "\0abc\0" "3.9.18\0";

	(void)state;
	check_found(b, SZ(b), -1, -1, "3.9.18");
	/* a hint that agrees changes nothing */
	check_found(b, SZ(b), 3, 9, "3.9.18");
}

static void test_rodata_version_at_start(void **state)
{
	static const char b[] = "3.11.7\0" "other\0strings\0";

	(void)state;
	check_found(b, SZ(b), -1, -1, "3.11.7");
}

static void test_rodata_prerelease_and_plus(void **state)
{
	static const char rc1[] = "\0x\0" "3.13.0rc1\0" "y\0";
	static const char plus[] = "\0x\0" "2.7.18+\0";
	static const char alpha[] = "\0" "3.12.0a7\0";

	(void)state;
	check_found(rc1, SZ(rc1), -1, -1, "3.13.0rc1");
	check_found(plus, SZ(plus), -1, -1, "2.7.18+");
	check_found(alpha, SZ(alpha), -1, -1, "3.12.0a7");
}

static void test_rodata_two_versions_need_a_hint(void **state)
{
	static const char b[] = "\0" "3.9.18\0" "libfoo\0" "3.10.2\0";

	(void)state;
	check_not_found(b, SZ(b), -1, -1);
	check_found(b, SZ(b), 3, 10, "3.10.2");
	check_found(b, SZ(b), 3, 9, "3.9.18");
	/* a hint that matches neither */
	check_not_found(b, SZ(b), 3, 11);
	check_not_found(b, SZ(b), 2, 9);
}

static void test_rodata_version_inside_longer_string(void **state)
{
	static const char in_text[] = "\0Python 3.9.18\0";
	static const char with_tail[] = "\0" "3.9.18 (main, Jan 1 2024)\0";
	static const char decoys_then_real[] = "\0Python 3.10.2\0" "3.9.18\0";
	/* strings that are not a PY_VERSION by themselves */
	static const char *const decoys[] = {
		"v3.9.18", "3.9.18.1", "3.9.18x", "3.9.18 ", "3.9.18++",
		"3.9.18rcx", "33.9.1", "1.2.3", "4.0.0", "3.9", "3.9.", "3..9", "3.9.x",
	};
	char buf[64];

	(void)state;
	check_not_found(in_text, SZ(in_text), -1, -1);
	check_not_found(in_text, SZ(in_text), 3, 9);
	check_not_found(with_tail, SZ(with_tail), -1, -1);
	/* the embedded one is not a second candidate */
	check_found(decoys_then_real, SZ(decoys_then_real), -1, -1, "3.9.18");
	for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++) {
		size_t len = strlen(decoys[i]);
		buf[0] = '\0';
		memcpy(buf + 1, decoys[i], len + 1);
		check_not_found(buf, len + 2, -1, -1);
		/* nor a second candidate next to a real one */
		memcpy(buf + len + 2, "3.10.2", 7);
		check_found(buf, len + 9, -1, -1, "3.10.2");
	}
}

static void test_rodata_not_ending_with_nul(void **state)
{
	/* an unterminated version at the very end is not a string */
	static const char open_end[] = "\0abc\0" "3.9.18";
	/* a terminated one before unterminated bytes is */
	static const char open_tail[] = "\0" "3.9.18\0" "zzz";

	(void)state;
	assert_int_not_equal(open_end[SZ_OPEN(open_end) - 1], '\0');
	check_not_found(open_end, SZ_OPEN(open_end), -1, -1);
	check_found(open_tail, SZ_OPEN(open_tail), -1, -1, "3.9.18");
	/* cut short inside the version */
	check_not_found(open_tail, 5, -1, -1);
}

static void test_rodata_empty_and_small_cap(void **state)
{
	static const char b[] = "\0" "3.9.18\0";
	char out[8];

	(void)state;
	check_not_found(b, 0, -1, -1);
	check_not_found("", 1, -1, -1);
	/* no room for "3.9.18" and its NUL: not found, nothing written */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(find(b, SZ(b), -1, -1, out, 6), PS_EINVAL);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 'Z');
	/* exactly enough room */
	assert_int_equal(find(b, SZ(b), -1, -1, out, 7), PS_OK);
	assert_string_equal(out, "3.9.18");
	assert_int_equal(out[7], 'Z');
}

/* ---- ps_perm_advice ---- */

static void test_perm_advice_says_what_to_do(void **state)
{
	(void)state;
	const char *a = ps_perm_advice();
	assert_non_null(a);
	assert_true(strlen(a) > 10);
	/* every variant names the capability that would allow it */
	assert_non_null(strstr(a, "CAP_SYS_PTRACE"));
	/* a message fragment: lowercase start, no trailing full stop */
	assert_true(a[0] >= 'a' && a[0] <= 'z');
	assert_int_not_equal(a[strlen(a) - 1], '.');
	assert_int_not_equal(a[strlen(a) - 1], '\n');
}

/* ---- ps_proc_open on processes that are not python ---- */

static pid_t g_child = -1;
static char g_tmp[64]; /* a file to remove in teardown */

static void kill_child(void)
{
	if (g_child > 0) {
		int status;
		kill(g_child, SIGKILL);
		while (waitpid(g_child, &status, 0) < 0 && errno == EINTR)
			;
		g_child = -1;
	}
}

static int child_teardown(void **state)
{
	(void)state;
	kill_child();
	if (g_tmp[0])
		unlink(g_tmp);
	g_tmp[0] = '\0';
	return 0;
}

/* Whether the command line of pid starts with argv0: the kernel sets it up
 * after mapping the new program, late in execve. */
static int cmdline_is(pid_t pid, const char *argv0)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, argv0) == 0;
}

/* Fork and exec argv; return once the exec has happened (the close-on-exec
 * pipe reads EOF) and completed (the new command line is in place), so that
 * /proc/PID/exe and maps are those of the new program. */
static pid_t spawn(char *const argv[])
{
	int p[2];
	char c;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		(void)!write(p[1], "x", 1);
		_exit(127);
	}
	g_child = pid;
	close(p[1]);
	ssize_t n;
	while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(p[0]);
	assert_int_equal(n, 0); /* EOF: exec succeeded */
	for (int i = 0; i < 2000 && !cmdline_is(pid, argv[0]); i++)
		usleep(1000);
	assert_true(cmdline_is(pid, argv[0]));
	return pid;
}

static void test_open_missing_pid_is_enoproc(void **state)
{
	struct ps_proc *p = (struct ps_proc *)&p; /* not NULL before */
	struct ps_errmsg e = { 0 };
	char want[32];
	int status;

	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);

	snprintf(want, sizeof(want), " %d", (int)pid);
	assert_int_equal(ps_proc_open(&p, pid, 0, &e), PS_ENOPROC);
	assert_null(p);
	assert_int_equal(e.code, PS_ENOPROC);
	if (!strstr(e.msg, want))
		print_error("message: %s\n", e.msg);
	assert_non_null(strstr(e.msg, want));
	/* no message wanted is fine too */
	assert_int_equal(ps_proc_open(&p, pid, 0, NULL), PS_ENOPROC);
	assert_null(p);
}

static void test_open_self_is_not_python(void **state)
{
	struct ps_proc *p = NULL;
	struct ps_errmsg e = { 0 };
	char want[32];

	(void)state;
	snprintf(want, sizeof(want), "%d", (int)getpid());
	assert_int_equal(ps_proc_open(&p, getpid(), 0, &e), PS_ENOTPY);
	assert_null(p);
	assert_int_equal(e.code, PS_ENOTPY);
	if (!strstr(e.msg, "not python"))
		print_error("message: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "not python"));
	assert_non_null(strstr(e.msg, want));
	/* the same with symbols ignored */
	assert_int_equal(ps_proc_open(&p, getpid(), PS_OPEN_FORCE_SCAN, &e), PS_ENOTPY);
	assert_null(p);
	ps_proc_free(NULL); /* a no-op */
}

static void test_open_sleep_is_not_python(void **state)
{
	char *argv[] = { "/bin/sleep", "5", NULL };
	struct ps_proc *p = NULL;
	struct ps_errmsg e = { 0 };
	char want[32];

	(void)state;
	pid_t pid = spawn(argv);
	snprintf(want, sizeof(want), "%d", (int)pid);
	int rc = ps_proc_open(&p, pid, 0, &e);
	if (rc != PS_ENOTPY || !strstr(e.msg, "not python"))
		print_error("rc %d, message: %s\n", rc, e.msg);
	assert_int_equal(rc, PS_ENOTPY);
	assert_null(p);
	assert_non_null(strstr(e.msg, "not python"));
	assert_non_null(strstr(e.msg, want));
	assert_non_null(strstr(e.msg, "sleep 5")); /* its command line */
	kill_child();
}

/* A running program whose file was deleted (an upgrade under a running
 * process): the executable can not be opened, which is still "not python",
 * with a readable message. */
static void test_open_deleted_executable_is_not_python(void **state)
{
	char *path = g_tmp;
	char *argv[] = { path, "5", NULL };
	struct ps_proc *p = NULL;
	struct ps_errmsg e = { 0 };
	char want[32], buf[65536];
	ssize_t n;

	(void)state;
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/ps-test-proc-XXXXXX");
	int out = mkostemp(path, O_CLOEXEC);
	assert_true(out >= 0);
	int in = open("/bin/sleep", O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	fchmod(out, 0755);
	close(out);
	pid_t pid = spawn(argv);
	unlink(path);
	g_tmp[0] = '\0';

	snprintf(want, sizeof(want), "%d", (int)pid);
	int rc = ps_proc_open(&p, pid, 0, &e);
	kill_child();
	assert_int_equal(rc, PS_ENOTPY);
	assert_null(p);
	assert_non_null(strstr(e.msg, want));
	assert_non_null(strstr(e.msg, "ps-test-proc-"));
	/* said once: the reason is not the message itself printed again */
	const char *once = strstr(e.msg, "is not python");
	if (!once || strstr(once + 1, "is not python"))
		print_error("message: %s\n", e.msg);
	assert_non_null(once);
	assert_null(strstr(once + 1, "is not python"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_version_valid),
		cmocka_unit_test(test_parse_version_invalid),
		cmocka_unit_test(test_rodata_single_version),
		cmocka_unit_test(test_rodata_version_at_start),
		cmocka_unit_test(test_rodata_prerelease_and_plus),
		cmocka_unit_test(test_rodata_two_versions_need_a_hint),
		cmocka_unit_test(test_rodata_version_inside_longer_string),
		cmocka_unit_test(test_rodata_not_ending_with_nul),
		cmocka_unit_test(test_rodata_empty_and_small_cap),
		cmocka_unit_test(test_perm_advice_says_what_to_do),
		cmocka_unit_test(test_open_missing_pid_is_enoproc),
		cmocka_unit_test(test_open_self_is_not_python),
		cmocka_unit_test_teardown(test_open_sleep_is_not_python, child_teardown),
		cmocka_unit_test_teardown(test_open_deleted_executable_is_not_python,
					  child_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
