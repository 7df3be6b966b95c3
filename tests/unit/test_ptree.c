/* ps_ptree: /proc/PID/stat parsing, and the descendants of a process on a
 * fork tree made here (child, grandchild), by the /proc scan and, where the
 * kernel has them, by the children files. The tree's processes wait on a
 * pipe; the fixture's teardown kills and reaps them whatever the test did. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_error.h"
#include "ps_ptree.h"

/* ---- parsing ---- */

/* A stat line: fields 4.. as given, after "PID (COMM) STATE". */
static void stat_line(char *buf, size_t cap, const char *comm, char state, const char *rest)
{
	snprintf(buf, cap, "1234 (%s) %c %s", comm, state, rest);
}

/* Fields 4..52 of a real line: ppid 77, flags 0x400040, start time 98765,
 * rsslim 2^64-1 (field 25), startstack 140000 (28), arg_start/arg_end
 * 5000/5100 (48, 49). */
static const char *rest_of(char *buf, size_t cap, unsigned flags, unsigned long startstack)
{
	snprintf(buf, cap,
		 "77 1234 1234 0 -1 %u 100 0 0 0 5 3 0 0 20 0 1 0 98765 1000 200 "
		 "18446744073709551615 4000 5000 %lu 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
		 "6000 6100 7000 5000 5100 5100 5200 0",
		 flags, startstack);
	return buf;
}

static void test_pstat_parse_fields(void **state)
{
	(void)state;
	char line[1024], rest[700];
	struct ps_pstat st;
	stat_line(line, sizeof(line), "python", 'S', rest_of(rest, sizeof(rest), 0x400040, 140000));
	assert_int_equal(ps_pstat_parse(line, &st), PS_OK);
	assert_int_equal(st.ppid, 77);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.start, 98765);
	assert_false(st.exiting);
	assert_true(st.image != 0); /* read past rsslim = 2^64-1 */
}

static void test_pstat_parse_odd_command_name(void **state)
{
	(void)state;
	char line[1024], rest[700];
	struct ps_pstat st;
	stat_line(line, sizeof(line), "a) S 1 (b", 'R', rest_of(rest, sizeof(rest), 0, 140000));
	assert_int_equal(ps_pstat_parse(line, &st), PS_OK);
	assert_int_equal(st.ppid, 77);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.start, 98765);
}

static void test_pstat_parse_exiting_flag(void **state)
{
	(void)state;
	char line[1024], rest[700];
	struct ps_pstat st;
	stat_line(line, sizeof(line), "python", 'R', rest_of(rest, sizeof(rest), 0x4, 140000));
	assert_int_equal(ps_pstat_parse(line, &st), PS_OK);
	assert_true(st.exiting);
}

static void test_pstat_image_follows_stack(void **state)
{
	(void)state;
	char line[1024], rest[700];
	struct ps_pstat a, b;
	stat_line(line, sizeof(line), "python", 'S', rest_of(rest, sizeof(rest), 0, 140000));
	assert_int_equal(ps_pstat_parse(line, &a), PS_OK);
	stat_line(line, sizeof(line), "python", 'S', rest_of(rest, sizeof(rest), 0, 150000));
	assert_int_equal(ps_pstat_parse(line, &b), PS_OK);
	assert_true(a.image != b.image);
	assert_int_equal(a.start, b.start);
}

static void test_pstat_parse_rejects_garbage(void **state)
{
	(void)state;
	struct ps_pstat st;
	assert_int_equal(ps_pstat_parse("", &st), PS_EINVAL);
	assert_int_equal(ps_pstat_parse("12 (x", &st), PS_EINVAL);
	assert_int_equal(ps_pstat_parse("12 (x) S 1 2 3", &st), PS_EINVAL); /* no start time */
}

static void test_pstat_read_self_and_gone(void **state)
{
	(void)state;
	struct ps_pstat st;
	int status;
	assert_int_equal(ps_pstat_read(getpid(), &st), PS_OK);
	assert_int_equal(st.ppid, getppid());
	assert_true(st.image != 0);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0)
		_exit(0);
	assert_int_equal(waitpid(c, &status, 0), c);
	assert_int_equal(ps_pstat_read(c, &st), PS_ENOPROC);
}

/* ---- a fork tree: us -> child -> grandchild ---- */

struct tree {
	pid_t child, grandchild;
	int hold[2];     /* the tree waits for EOF here */
	int report[2];   /* the child writes the grandchild's pid here */
};

static void wait_eof(int fd)
{
	char c;
	while (read(fd, &c, 1) > 0)
		;
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	if (!t || pipe(t->hold) || pipe(t->report))
		return -1;
	t->child = fork();
	if (t->child < 0)
		return -1;
	if (t->child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(t->hold[1]);
		pid_t g = fork();
		if (g == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			wait_eof(t->hold[0]);
			_exit(0);
		}
		if (write(t->report[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
			_exit(1);
		wait_eof(t->hold[0]);
		_exit(0);
	}
	close(t->hold[0]);
	close(t->report[1]);
	if (read(t->report[0], &t->grandchild, sizeof(t->grandchild)) !=
	    (ssize_t)sizeof(t->grandchild))
		return -1;
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	int status;
	kill(t->grandchild, SIGKILL);
	kill(t->child, SIGKILL);
	close(t->hold[1]);
	close(t->report[0]);
	waitpid(t->child, &status, 0);
	free(t);
	return 0;
}

static int count_of(const pid_t *v, size_t n, pid_t pid)
{
	int k = 0;
	for (size_t i = 0; i < n; i++)
		k += v[i] == pid;
	return k;
}

static void check_tree(struct tree *t, int method)
{
	pid_t me = getpid(), *v;
	size_t n;
	assert_int_equal(ps_ptree_descendants(&me, 1, method, &v, &n), PS_OK);
	assert_int_equal(count_of(v, n, t->child), 1);
	assert_int_equal(count_of(v, n, t->grandchild), 1);
	assert_int_equal(count_of(v, n, me), 0); /* not the root itself */
	free(v);
	assert_int_equal(ps_ptree_descendants(&t->child, 1, method, &v, &n), PS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], t->grandchild);
	free(v);
	assert_int_equal(ps_ptree_descendants(&t->grandchild, 1, method, &v, &n), PS_OK);
	assert_int_equal(n, 0);
	free(v);
	/* a root below another root is a root, not listed again */
	pid_t roots[2] = { me, t->child };
	assert_int_equal(ps_ptree_descendants(roots, 2, method, &v, &n), PS_OK);
	assert_int_equal(count_of(v, n, t->child), 0);
	assert_int_equal(count_of(v, n, t->grandchild), 1);
	free(v);
}

static void test_descendants_by_scan(void **state)
{
	check_tree(*state, PS_PTREE_SCAN);
}

static void test_descendants_by_children_files(void **state)
{
	if (!ps_ptree_have_children_files())
		skip(); /* a kernel without CONFIG_PROC_CHILDREN */
	check_tree(*state, PS_PTREE_CHILDREN);
}

static void test_descendants_auto(void **state)
{
	check_tree(*state, PS_PTREE_AUTO);
}

static void test_descendants_leave_zombies_out(void **state)
{
	struct tree *t = *state;
	pid_t *v;
	size_t n;
	/* the child does not reap it: the grandchild stays a zombie */
	kill(t->grandchild, SIGKILL);
	for (int i = 0; i < 200; i++) {
		struct ps_pstat st;
		if (ps_pstat_read(t->grandchild, &st) == PS_OK && st.state == 'Z')
			break;
		usleep(5000);
	}
	assert_int_equal(ps_ptree_descendants(&t->child, 1, PS_PTREE_SCAN, &v, &n), PS_OK);
	assert_int_equal(n, 0);
	free(v);
}

static void test_descendants_of_gone_process(void **state)
{
	(void)state;
	int status;
	pid_t c = fork(), *v;
	size_t n;
	assert_true(c >= 0);
	if (c == 0)
		_exit(0);
	assert_int_equal(waitpid(c, &status, 0), c);
	assert_int_equal(ps_ptree_descendants(&c, 1, PS_PTREE_AUTO, &v, &n), PS_OK);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(ps_ptree_descendants(NULL, 0, PS_PTREE_AUTO, &v, &n), PS_OK);
	assert_int_equal(n, 0);
	assert_null(v);
}

/* A fork has its parent's image; the same process after exec does not. */
static void test_exec_changes_image(void **state)
{
	(void)state;
	int go[2], status;
	struct ps_pstat me, before, after;
	assert_int_equal(pipe(go), 0);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		close(go[1]);
		wait_eof(go[0]);
		execlp("sleep", "sleep", "5", (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	assert_int_equal(ps_pstat_read(getpid(), &me), PS_OK);
	assert_int_equal(ps_pstat_read(c, &before), PS_OK);
	assert_true(before.image == me.image);
	close(go[1]);
	int changed = 0;
	for (int i = 0; i < 400 && !changed; i++) {
		usleep(5000);
		changed = ps_pstat_read(c, &after) == PS_OK && after.image != before.image;
	}
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	assert_true(changed);
	assert_int_equal(after.start, before.start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pstat_parse_fields),
		cmocka_unit_test(test_pstat_parse_odd_command_name),
		cmocka_unit_test(test_pstat_parse_exiting_flag),
		cmocka_unit_test(test_pstat_image_follows_stack),
		cmocka_unit_test(test_pstat_parse_rejects_garbage),
		cmocka_unit_test(test_pstat_read_self_and_gone),
		cmocka_unit_test_setup_teardown(test_descendants_by_scan, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_descendants_by_children_files, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_descendants_auto, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_descendants_leave_zombies_out, tree_setup,
						tree_teardown),
		cmocka_unit_test(test_descendants_of_gone_process),
		cmocka_unit_test(test_exec_changes_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
