/* The thread-name cache of the sampler. */
#include "ps_names.h"

#include <stdlib.h>
#include <string.h>

#define NS 1000000000ull

/* Thread names by thread id and OS tid, per process. Looking names up walks
 * sys.modules, so it is done only when a thread we have not named appears,
 * and every few seconds (a thread may be renamed); other snapshots take
 * names from here. The key has the tid too: glibc reuses a finished
 * thread's pthread_t for the next thread, which must not inherit its name. */
#define NAMES_REFRESH_NS (5 * NS)

void ps_names_release(struct ps_names *nm)
{
	free(nm->id);
	free(nm->name);
	memset(nm, 0, sizeof(*nm));
}

static uint64_t names_key(const struct ps_thread *t)
{
	return t->thread_id << 32 ^ t->thread_id >> 32 ^ (uint64_t)(uint32_t)t->tid;
}

/* The name of thread t, the i-th of its snapshot: threads keep their order
 * from one snapshot to the next, so position i is tried first (a process
 * with a thousand threads would otherwise cost a million compares). */
static const char *names_get(const struct ps_names *nm, const struct ps_thread *t, size_t i)
{
	uint64_t key = names_key(t);
	if (i < nm->n && nm->id[i] == key)
		return nm->name[i];
	for (size_t j = 0; j < nm->n; j++)
		if (nm->id[j] == key)
			return nm->name[j];
	return NULL;
}

/* Whether to look names up now: a thread we have not seen; a thread
 * still without a name ten times a second (threading may not have been
 * imported yet when we first saw it, and a new thread enters
 * threading._active only once it runs: short-lived threads would otherwise
 * never be named); everything every few seconds (renames). */
int ps_names_due(const struct ps_names *nm, const struct ps_snapshot *s, uint64_t now)
{
	uint64_t age = now - nm->refreshed;
	for (size_t i = 0; i < s->n; i++) {
		const char *n = names_get(nm, &s->threads[i], i);
		/* nothing named at all: threading is not imported (a
		 * look-up walks sys.modules: not ten times a second) */
		if (!n || (!n[0] && age >= (nm->any ? NS / 10 : NS)))
			return 1;
	}
	return age >= NAMES_REFRESH_NS;
}

/* Remember the names just looked up (forgetting threads that are gone).
 * Out of memory, names are simply looked up again next time. */
void ps_names_store(struct ps_names *nm, const struct ps_snapshot *s, uint64_t now)
{
	size_t want = s->n < PS_NAMES_MAX ? s->n : PS_NAMES_MAX;
	if (want > nm->cap) {
		uint64_t *id = realloc(nm->id, want * sizeof(*id));
		if (id)
			nm->id = id;
		ps_thread_name *name = realloc(nm->name, want * sizeof(*name));
		if (name)
			nm->name = name;
		if (id && name)
			nm->cap = want;
	}
	nm->n = 0;
	nm->any = 0;
	for (size_t i = 0; i < s->n; i++)
		nm->any |= s->threads[i].name[0] != '\0';
	for (size_t i = 0; i < s->n && nm->n < nm->cap; i++) {
		nm->id[nm->n] = names_key(&s->threads[i]);
		memcpy(nm->name[nm->n++], s->threads[i].name, sizeof(s->threads[i].name));
	}
	nm->refreshed = now;
}

void ps_names_fill(const struct ps_names *nm, struct ps_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *n = names_get(nm, &s->threads[i], i);
		if (n)
			memcpy(s->threads[i].name, n, sizeof(s->threads[i].name));
	}
}

