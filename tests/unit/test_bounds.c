/* The sampler's caches stay within their bounds on a target that makes new
 * code, threads and names forever (issue 9: a soak must not grow). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps_code.h"
#include "ps_names.h"
#include "ps_symbols.h"
#include "ps_tasks.h"

/* A decoded code object as ps_code_get would add it. */
static struct ps_code *code_at(uint64_t addr, uint64_t epoch, size_t table)
{
	struct ps_code *k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->addr = addr;
	k->epoch = epoch;
	k->nvarnames = -1;
	k->name = strdup("fresh");
	k->file = strdup("<churn>");
	k->table = calloc(1, table ? table : 1);
	k->table_len = table;
	assert_true(k->name && k->file && k->table);
	return k;
}

/* One new code object per snapshot (exec in a loop) and one used by every
 * snapshot: the cache never holds more than its bound, and the hot entry
 * stays (its pointer valid: ASan would see a use after free). */
static void test_code_cache_drops_code_not_seen_lately(void **state)
{
	(void)state;
	struct ps_code_cache *c = ps_code_cache_new();
	assert_non_null(c);
	ps_code_cache_limit(c, 200, (size_t)64 << 20);
	struct ps_code *hot = code_at(0x10, 1, 16);
	assert_int_equal(ps_code_cache_add(c, hot), PS_OK);
	size_t n, bytes, most = 0;
	for (uint64_t epoch = 1; epoch <= 5000; epoch++) {
		ps_code_cache_trim(c, epoch);
		hot->epoch = epoch;
		assert_int_equal(hot->table_len, 16);
		assert_int_equal(ps_code_cache_add(c, code_at(0x100000 + epoch * 0x100, epoch, 32)),
				 PS_OK);
		ps_code_cache_stats(c, &n, &bytes);
		if (n > most)
			most = n;
	}
	assert_true(most <= 201);   /* the bound, and the one added since */
	assert_true(ps_code_cache_evicted(c) >= 5000 - 201);
	assert_string_equal(hot->name, "fresh");
	ps_code_cache_free(c);
}

/* Few, big entries (long line tables): the byte bound holds too. */
static void test_code_cache_bounds_bytes(void **state)
{
	(void)state;
	struct ps_code_cache *c = ps_code_cache_new();
	assert_non_null(c);
	size_t limit = (size_t)1 << 20, n, bytes;
	ps_code_cache_limit(c, 100000, limit);
	for (uint64_t epoch = 1; epoch <= 300; epoch++) {
		ps_code_cache_trim(c, epoch);
		ps_code_cache_stats(c, &n, &bytes);
		assert_true(bytes <= limit);
		assert_int_equal(ps_code_cache_add(c, code_at(0x100000 + epoch * 0x100, epoch,
							       64 << 10)), PS_OK);
	}
	assert_true(ps_code_cache_evicted(c) > 0);
	ps_code_cache_free(c);
}

/* Everything used lately and still over the bound: all of it goes (a
 * snapshot's worth is read again), never more than the bound kept. */
static void test_code_cache_over_bound_with_all_hot_is_cleared(void **state)
{
	(void)state;
	struct ps_code_cache *c = ps_code_cache_new();
	assert_non_null(c);
	size_t n, bytes;
	ps_code_cache_limit(c, 50, (size_t)64 << 20);
	for (uint64_t i = 0; i < 80; i++)
		assert_int_equal(ps_code_cache_add(c, code_at(0x1000 + i * 0x100, 7, 8)), PS_OK);
	ps_code_cache_trim(c, 8);
	ps_code_cache_stats(c, &n, &bytes);
	assert_int_equal(n, 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(ps_code_cache_evicted(c), 80);
	/* within the bound nothing is dropped, however old */
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(ps_code_cache_add(c, code_at(0x1000 + i * 0x100, 1, 8)), PS_OK);
	ps_code_cache_trim(c, 100000);
	ps_code_cache_stats(c, &n, &bytes);
	assert_int_equal(n, 10);
	ps_code_cache_free(c);
}

/* ---- thread names ---- */

static void named_threads(struct ps_snapshot *s, size_t n, unsigned gen)
{
	memset(s, 0, sizeof(*s));
	s->threads = calloc(n, sizeof(*s->threads));
	assert_non_null(s->threads);
	s->n = s->cap = n;
	for (size_t i = 0; i < n; i++) {
		s->threads[i].thread_id = 0x7f0000000000ull + (gen * 100000ull + i) * 0x1000;
		s->threads[i].tid = (pid_t)(1000 + gen * 100000 + i);
		snprintf(s->threads[i].name, sizeof(s->threads[i].name), "t-%u-%zu", gen, i);
	}
}

/* A process that starts threads for ever: the names remembered never
 * exceed PS_NAMES_MAX, and threads gone are forgotten at the next store. */
static void test_thread_names_are_bounded(void **state)
{
	(void)state;
	struct ps_names nm = { 0 };
	struct ps_snapshot s;
	for (unsigned gen = 0; gen < 3; gen++) {
		named_threads(&s, 3 * PS_NAMES_MAX, gen);
		ps_names_store(&nm, &s, 1000 + gen);
		assert_true(nm.n <= PS_NAMES_MAX && nm.cap <= PS_NAMES_MAX);
		ps_snapshot_release(&s);
	}
	/* the first threads of the last round are remembered, by name */
	named_threads(&s, 2, 2);
	memset(s.threads[0].name, 0, sizeof(s.threads[0].name));
	memset(s.threads[1].name, 0, sizeof(s.threads[1].name));
	ps_names_fill(&nm, &s);
	assert_string_equal(s.threads[0].name, "t-2-0");
	assert_string_equal(s.threads[1].name, "t-2-1");
	ps_names_store(&nm, &s, 2000);
	assert_int_equal(nm.n, 2);
	ps_snapshot_release(&s);
	ps_names_release(&nm);
}

/* ---- watched thread states ---- */

static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int hold_released;

static void *hold(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hold_lock);
	while (!hold_released)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
	return NULL;
}

static size_t open_fds(void)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* More threads than PS_WATCH_FDS: every state is read, but no more than
 * PS_WATCH_FDS files stay open (the open-file limit is shared). */
static void test_task_watch_keeps_at_most_watch_fds_open(void **state)
{
	(void)state;
	enum { N = PS_WATCH_FDS + 60 };
	static pthread_t th[N];
	struct ps_task_watch w;
	size_t fds0 = open_fds();
	hold_released = 0;
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hold, NULL), 0);
	ps_task_watch_init(&w, getpid());
	assert_int_equal(ps_task_watch_update(&w, 1), PS_OK);
	assert_int_equal(ps_task_watch_update(&w, 2), PS_OK); /* by pread now */
	assert_true(w.list.n >= N + 1);
	assert_true(w.nfd <= PS_WATCH_FDS);
	assert_true(open_fds() <= fds0 + PS_WATCH_FDS);
	size_t known = 0;
	for (size_t i = 0; i < w.list.n; i++)
		known += w.list.state[i] != '?';
	assert_int_equal(known, w.list.n);
	ps_task_watch_release(&w);
	assert_int_equal(open_fds(), fds0);
	pthread_mutex_lock(&hold_lock);
	hold_released = 1;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
}

/* ---- native symbols ---- */

static void *libc_function(const char *name)
{
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	assert_non_null(h);
	void *f = dlsym(h, name);
	dlclose(h);
	assert_non_null(f);
	return f;
}

/* Beyond the byte bound, an object's frames get its name but no symbols
 * (its table is not loaded); what was loaded before still answers. */
static void test_symbols_bound_bytes_loaded(void **state)
{
	(void)state;
	struct ps_symbols *s;
	struct ps_symbol sym;
	assert_int_equal(ps_symbols_new(getpid(), &s), PS_OK);
	ps_symbols_limit(s, 4096, 1); /* the first table only */
	ps_symbols_begin(s);
	uint64_t in_libc = (uint64_t)(uintptr_t)libc_function("qsort");
	assert_int_equal(ps_symbols_lookup(s, in_libc, &sym), PS_OK);
	assert_non_null(sym.name);
	assert_int_equal(ps_symbols_objects_loaded(s), 1);
	uint64_t in_exe = (uint64_t)(uintptr_t)&test_symbols_bound_bytes_loaded;
	assert_int_equal(ps_symbols_lookup(s, in_exe, &sym), PS_OK);
	assert_null(sym.name);
	assert_non_null(sym.object);
	assert_string_equal(sym.object, "test_bounds");
	assert_int_equal(ps_symbols_objects_loaded(s), 1);
	assert_int_equal(ps_symbols_lookup(s, in_libc, &sym), PS_OK);
	assert_non_null(sym.name);
	ps_symbols_free(s);
}

/* A copy of libm under a fresh name, loaded here: an object the process
 * maps and then unmaps (dlclose), as one that loads plugins for ever. */
static char *copy_of_libm(int k)
{
	static const char *const libm[] = { "/lib/x86_64-linux-gnu/libm.so.6",
					    "/usr/lib/x86_64-linux-gnu/libm.so.6",
					    "/lib64/libm.so.6", NULL };
	const char *t = getenv("TMPDIR");
	char *path = malloc(4096);
	assert_non_null(path);
	snprintf(path, 4096, "%s/ps-bounds-%d-%d.so", t && *t ? t : "/tmp", (int)getpid(), k);
	int in = -1;
	for (int i = 0; libm[i] && in < 0; i++)
		in = open(libm[i], O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		free(path);
		return NULL;
	}
	struct stat st;
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(out >= 0 && fstat(in, &st) == 0);
	off_t off = 0;
	assert_int_equal(sendfile(out, in, &off, (size_t)st.st_size), st.st_size);
	close(in);
	close(out);
	return path;
}

/* Make s read the mappings again: look up an address they did not have
 * (a new mapping, kept until the test ends so that the next one is
 * elsewhere; shared, so never merged into one s already knows). */
static void *reread_maps(struct ps_symbols *s)
{
	struct ps_symbol sym;
	void *fresh = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(fresh != MAP_FAILED);
	ps_symbols_begin(s);
	ps_symbols_lookup(s, (uint64_t)(uintptr_t)fresh, &sym);
	return fresh;
}

/* Objects unmapped since they were loaded are forgotten once the bounds
 * are half used; what is still mapped stays. */
static void test_symbols_forget_unmapped_objects(void **state)
{
	(void)state;
	struct ps_symbols *s;
	struct ps_symbol sym;
	assert_int_equal(ps_symbols_new(getpid(), &s), PS_OK);
	ps_symbols_begin(s);
	uint64_t in_libc = (uint64_t)(uintptr_t)libc_function("qsort");
	assert_int_equal(ps_symbols_lookup(s, in_libc, &sym), PS_OK);
	size_t base = ps_symbols_objects_held(s);
	void *pages[4];
	for (int k = 0; k < 3; k++) {
		char *path = copy_of_libm(k);
		if (!path)
			skip();
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		assert_non_null(h);
		void *cosine = dlsym(h, "cos");
		assert_non_null(cosine);
		pages[k] = reread_maps(s); /* it may sit where the last copy was */
		assert_int_equal(ps_symbols_lookup(s, (uint64_t)(uintptr_t)cosine, &sym), PS_OK);
		assert_non_null(sym.object);
		assert_int_equal(strncmp(sym.object, "ps-bounds-", 10), 0);
		dlclose(h);
		unlink(path);
		free(path);
	}
	assert_true(ps_symbols_objects_held(s) >= base + 3);
	/* the mappings are read again (an address they did not have), then
	 * the bound (half used now) makes the next snapshot forget */
	pages[3] = reread_maps(s);
	size_t before = ps_symbols_objects_held(s);
	assert_int_equal(ps_symbols_evicted(s), 0); /* not while within bounds */
	ps_symbols_limit(s, 2 * base, (size_t)256 << 20);
	ps_symbols_begin(s);
	assert_true(ps_symbols_evicted(s) >= 3); /* the three copies */
	assert_int_equal(ps_symbols_objects_held(s), before - ps_symbols_evicted(s));
	assert_int_equal(ps_symbols_lookup(s, in_libc, &sym), PS_OK);
	assert_non_null(sym.name);
	for (int k = 0; k < 4; k++)
		munmap(pages[k], 4096);
	ps_symbols_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_cache_drops_code_not_seen_lately),
		cmocka_unit_test(test_code_cache_bounds_bytes),
		cmocka_unit_test(test_code_cache_over_bound_with_all_hot_is_cleared),
		cmocka_unit_test(test_thread_names_are_bounded),
		cmocka_unit_test(test_task_watch_keeps_at_most_watch_fds_open),
		cmocka_unit_test(test_symbols_bound_bytes_loaded),
		cmocka_unit_test(test_symbols_forget_unmapped_objects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
