/* Converting a stream: pyspy-index. */
#include "ps_db.h"

#include <stdlib.h>
#include <string.h>

/* Stream ids -> capture ids. A stream of pyspy's writer maps each id to
 * itself; another writer's may repeat a string, which the capture's
 * interning folds into one. */
struct idmap {
	uint32_t *v;
	size_t n, cap;
};

static int idmap_set(struct idmap *m, uint32_t id, uint32_t to)
{
	if (id >= m->cap) {
		size_t cap = m->cap ? m->cap : 1024;
		while (cap <= id)
			cap *= 2;
		uint32_t *p = realloc(m->v, cap * sizeof(*p));
		if (!p)
			return PS_ENOMEM;
		memset(p + m->cap, 0, (cap - m->cap) * sizeof(*p));
		m->v = p;
		m->cap = cap;
	}
	m->v[id] = to;
	return 0;
}

static uint32_t idmap_get(const struct idmap *m, uint32_t id)
{
	return id < m->cap ? m->v[id] : 0;
}

struct conv {
	struct ps_sw *w;
	struct idmap frames, stacks, threads;
};

static int copy_record(struct conv *c, const struct ps_sr_record *rec, struct ps_errmsg *e)
{
	uint32_t id = 0;
	int rc = 0;
	switch (rec->type) {
	case PS_REC_STRING:
		return ps_sw_string(c->w, rec->string, &id, e);
	case PS_REC_FRAME:
		rc = ps_sw_frame(c->w, rec->frame, &id, e);
		return rc ? rc : idmap_set(&c->frames, rec->id, id);
	case PS_REC_STACK:
		rc = ps_sw_stack(c->w, idmap_get(&c->stacks, rec->stack.parent),
				 idmap_get(&c->frames, rec->stack.frame), &id, e);
		return rc ? rc : idmap_set(&c->stacks, rec->id, id);
	case PS_REC_THREAD:
		rc = ps_sw_thread(c->w, rec->thread->pid, rec->thread->tid, rec->thread->name, &id, e);
		return rc ? rc : idmap_set(&c->threads, rec->id, id);
	case PS_REC_PROCESS:
		return ps_sw_process(c->w, rec->process->pid, rec->process->ppid, rec->process->argc,
				     rec->process->argv, e);
	case PS_REC_SAMPLE:
		return ps_sw_sample(c->w, rec->sample.time_ns,
				    idmap_get(&c->threads, rec->sample.thread_id),
				    idmap_get(&c->stacks, rec->sample.stack_id), rec->sample.flags, e);
	case PS_REC_EVENT:
		return ps_sw_event(c->w, &rec->event, e);
	default:
		return 0;
	}
}

int ps_db_copy(struct ps_sr *r, struct ps_sw *w, struct ps_errmsg *re, struct ps_errmsg *e)
{
	struct ps_sr_record rec;
	struct conv c = { .w = w };
	int rc, wrc = 0;
	ps_sr_resolve_frames(r, 0);
	while ((rc = ps_sr_next(r, &rec, re)) == PS_OK)
		if ((wrc = copy_record(&c, &rec, e)))
			break;
	free(c.frames.v);
	free(c.stacks.v);
	free(c.threads.v);
	if (wrc) {
		ps_sw_free(w);
		return wrc;
	}
	if (rc == PS_STREAM_EOF)
		return ps_sw_close(w, ps_sr_totals(r), e);
	/* keep what came before the cut: committed, and not marked complete */
	wrc = ps_sw_flush(w, 0, e);
	ps_sw_free(w);
	return wrc ? wrc : rc == PS_STREAM_TRUNCATED ? rc : PS_DB_COPY_READ;
}
