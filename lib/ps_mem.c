#include "ps_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "ps_error.h"

void ps_mem_init(struct ps_mem *m, pid_t pid)
{
	memset(m, 0, sizeof(*m));
	m->pid = pid;
}

/* ---- prefetching ---- */

#define PF_MAX_SPANS 256          /* ranges read by one prefetch */
#define PF_MAX_BYTES ((size_t)1 << 20)
#define PF_MAX_WANT 4096          /* ranges remembered per snapshot */
#define PF_SLACK 512              /* a range grows by this much, within its page */
/* Two ranges are read as one when the second starts in the page after the
 * last page of the first, or sooner: the bytes between them then lie in
 * those two pages, both read anyway (so mapped, too). Each range costs the
 * kernel a page walk of its own (about 0.55 us here, measured with one to
 * 46 iovecs over the same bytes), against about 0.08 us a KB of copying:
 * the up to 8 KB between costs less than a range more. */
static int same_or_next_page(uint64_t end, uint64_t addr)
{
	return addr >> 12 <= ((end - 1) >> 12) + 1;
}
/* A range read in one of the last PF_KEEP snapshots is prefetched too: a
 * walk cut short by a stack that changed under it (a frame freed while it
 * was read) reads only the top of the stack, and without these the next
 * snapshot would chase the rest one read a frame, tearing more. Ranges
 * kept only so add at most PF_KEEP_SPANS spans (each costs the kernel a
 * page walk), and are dropped when a prefetch fails. */
#define PF_KEEP PS_MEM_PREFETCH_KEEP
#define PF_KEEP_SPANS 8

struct span {
	uint64_t addr;
	size_t len;
	size_t off;               /* into data (prefetched spans) */
	size_t rank;              /* when it was first read in the last snapshot */
	size_t age;               /* snapshots since it was last read */
};

struct ps_mem_prefetch {
	int active;
	struct span *want;        /* read since begin: prefetched at the next */
	size_t nwant, capwant;
	size_t nfresh;            /* want[nfresh..] are kept ranges (sorted) */
	struct span *kept;        /* read in the last PF_KEEP snapshots, by address */
	size_t nkept, capkept;
	struct span *tmp;         /* where sort_wants merges */
	size_t captmp;
	struct span have[PF_MAX_SPANS]; /* prefetched now, sorted, disjoint */
	size_t nhave;
	/* the last plan and the ranges it was made of: a snapshot that read
	 * the same ranges as the one before (the steady state) reuses it
	 * instead of sorting again */
	struct span *last;
	size_t nlast, caplast;
	struct span plan[PF_MAX_SPANS];
	size_t nplan, plantotal;
	/* have (and plan) in the order of their first read: the order the
	 * prefetch copies them in (see ps_mem_prefetch_begin) */
	uint16_t order[PF_MAX_SPANS], planorder[PF_MAX_SPANS];
	uint8_t *data;
	size_t datacap;
};

void ps_mem_release(struct ps_mem *m)
{
	if (m->pf) {
		free(m->pf->want);
		free(m->pf->kept);
		free(m->pf->tmp);
		free(m->pf->last);
		free(m->pf->data);
		free(m->pf);
		m->pf = NULL;
	}
}

static int by_addr(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Append a wanted range (bounded: past PF_MAX_WANT it is not kept). */
static int want_push(struct ps_mem_prefetch *pf, struct span w)
{
	if (pf->nwant == pf->capwant) {
		size_t nc = pf->capwant ? pf->capwant * 2 : 64;
		struct span *p = nc <= PF_MAX_WANT ? realloc(pf->want, nc * sizeof(*p)) : NULL;
		if (!p)
			return 0;
		pf->want = p;
		pf->capwant = nc;
	}
	pf->want[pf->nwant++] = w;
	return 1;
}

/* The kept ranges join those of the last snapshot, a snapshot older, and
 * ranked after them (copied last). */
static void add_kept(struct ps_mem_prefetch *pf)
{
	pf->nfresh = pf->nwant;
	for (size_t i = 0; i < pf->nkept; i++) {
		struct span k = pf->kept[i];
		if (++k.age >= PF_KEEP)
			continue;
		k.rank = pf->nwant;
		if (!want_push(pf, k))
			break;
	}
}

/* The wanted ranges by address: the last snapshot's sorted, then merged
 * with the kept ones (sorted already, and most of them). */
static void sort_wants(struct ps_mem_prefetch *pf)
{
	size_t nf = pf->nfresh, n = pf->nwant;
	if (pf->captmp < pf->capwant) { /* as large: the two swap */
		struct span *t = realloc(pf->tmp, pf->capwant * sizeof(*t));
		if (!t) {
			qsort(pf->want, n, sizeof(*pf->want), by_addr);
			return;
		}
		pf->tmp = t;
		pf->captmp = pf->capwant;
	}
	qsort(pf->want, nf, sizeof(*pf->want), by_addr);
	size_t i = 0, j = nf, k = 0;
	while (i < nf || j < n)
		pf->tmp[k++] = j == n || (i < nf && by_addr(&pf->want[i], &pf->want[j]) <= 0)
				       ? pf->want[i++] : pf->want[j++];
	struct span *w = pf->want;
	size_t cap = pf->capwant;
	pf->want = pf->tmp;
	pf->capwant = pf->captmp;
	pf->tmp = w;
	pf->captmp = cap;
}

/* The wanted ranges (sorted) once each, the youngest age and first rank of
 * a range wanted twice; they are the kept ranges from now on. */
static void dedupe_and_keep(struct ps_mem_prefetch *pf)
{
	size_t n = 0;
	for (size_t i = 0; i < pf->nwant; i++) {
		struct span w = pf->want[i], *prev = n ? &pf->want[n - 1] : NULL;
		if (prev && prev->addr == w.addr && prev->len == w.len) {
			if (w.age < prev->age)
				prev->age = w.age;
			if (w.rank < prev->rank)
				prev->rank = w.rank;
			continue;
		}
		pf->want[n++] = w;
	}
	pf->nwant = n;
	pf->nkept = 0;
	if (!n)
		return;
	if (n > pf->capkept) {
		struct span *k = realloc(pf->kept, n * sizeof(*k));
		if (!k)
			return;
		pf->kept = k;
		pf->capkept = n;
	}
	memcpy(pf->kept, pf->want, n * sizeof(*pf->kept));
	pf->nkept = n;
}

/* A failed prefetch drops the ranges only kept: they may be what failed. */
static void drop_kept(struct ps_mem_prefetch *pf)
{
	size_t n = 0;
	for (size_t i = 0; i < pf->nkept; i++)
		if (!pf->kept[i].age)
			pf->kept[n++] = pf->kept[i];
	pf->nkept = n;
}

/* pf->order: the spans of have by rank (insertion sort: spans are few,
 * and mostly in order already). */
static void order_by_rank(struct ps_mem_prefetch *pf)
{
	for (size_t i = 0; i < pf->nhave; i++) {
		size_t j = i;
		for (; j > 0 && pf->have[pf->order[j - 1]].rank > pf->have[i].rank; j--)
			pf->order[j] = pf->order[j - 1];
		pf->order[j] = (uint16_t)i;
	}
}

/* Sort and merge the wanted ranges into have (bounded), keeping them as the
 * kept ranges (dedupe_and_keep); the bytes they need. */
static size_t plan(struct ps_mem_prefetch *pf)
{
	size_t total = 0, kept_spans = 0;
	if (pf->nwant)
		sort_wants(pf);
	dedupe_and_keep(pf);
	pf->nhave = 0;
	for (size_t i = 0; i < pf->nwant; i++) {
		struct span w = pf->want[i];
		struct span *last = pf->nhave ? &pf->have[pf->nhave - 1] : NULL;
		if (last && same_or_next_page(last->addr + last->len, w.addr)) {
			uint64_t end = w.addr + w.len;
			if (w.rank < last->rank)
				last->rank = w.rank;
			if (end > last->addr + last->len) {
				size_t grow = (size_t)(end - (last->addr + last->len));
				if (total + grow > PF_MAX_BYTES)
					break;
				last->len += grow;
				total += grow;
			}
			continue;
		}
		if (w.age && kept_spans == PF_KEEP_SPANS)
			continue;
		if (pf->nhave == PF_MAX_SPANS || total + w.len > PF_MAX_BYTES)
			break;
		kept_spans += w.age != 0;
		w.off = total;
		pf->have[pf->nhave++] = w;
		total += w.len;
	}
	for (size_t i = 0; i < pf->nhave; i++) /* offsets after merging */
		pf->have[i].off = i ? pf->have[i - 1].off + pf->have[i - 1].len : 0;
	order_by_rank(pf);
	return total;
}

/* plan(), or the last plan when the ranges wanted are those of last time. */
static size_t plan_again(struct ps_mem_prefetch *pf)
{
	size_t bytes = pf->nwant * sizeof(*pf->want);
	if (pf->nwant && pf->nwant == pf->nlast && !memcmp(pf->want, pf->last, bytes)) {
		memcpy(pf->have, pf->plan, pf->nplan * sizeof(*pf->plan));
		memcpy(pf->order, pf->planorder, pf->nplan * sizeof(*pf->order));
		pf->nhave = pf->nplan;
		return pf->plantotal;
	}
	pf->nlast = 0;
	if (pf->nwant > pf->caplast) {
		struct span *l = realloc(pf->last, bytes);
		if (l) {
			pf->last = l;
			pf->caplast = pf->nwant;
		}
	}
	if (pf->nwant && pf->nwant <= pf->caplast) {
		memcpy(pf->last, pf->want, bytes);
		pf->nlast = pf->nwant;
	}
	size_t total = plan(pf);
	memcpy(pf->plan, pf->have, pf->nhave * sizeof(*pf->have));
	memcpy(pf->planorder, pf->order, pf->nhave * sizeof(*pf->order));
	pf->nplan = pf->nhave;
	pf->plantotal = total;
	return total;
}

/* After a prefetch that copied got bytes: keep the spans read whole. The
 * copy stops at the first span that fails, so those after it (in copy
 * order) were not read either. */
static void keep_read(struct ps_mem_prefetch *pf, size_t got)
{
	size_t done = 0, k = 0;
	for (; k < pf->nhave; k++) {
		size_t len = pf->have[pf->order[k]].len;
		if (done + len > got)
			break;
		done += len;
	}
	for (; k < pf->nhave; k++)
		pf->have[pf->order[k]].len = 0; /* marks it unread */
	size_t n = 0;
	for (size_t i = 0; i < pf->nhave; i++)
		if (pf->have[i].len)
			pf->have[n++] = pf->have[i];
	pf->nhave = n;
}

void ps_mem_prefetch_begin(struct ps_mem *m)
{
	if (!m->pf && !(m->pf = calloc(1, sizeof(*m->pf))))
		return;
	struct ps_mem_prefetch *pf = m->pf;
	add_kept(pf);
	size_t total = plan_again(pf);
	pf->nwant = 0;
	pf->active = 1;
	if (!pf->nhave)
		return;
	if (total > pf->datacap) {
		uint8_t *d = realloc(pf->data, total);
		if (!d) {
			pf->nhave = 0;
			return;
		}
		pf->data = d;
		pf->datacap = total;
	}
	/* copied in the order the last walk first read them, not by address:
	 * the thread state comes first and the frames it leads to right after,
	 * so the parts of a stack that change fastest (its top) are copied
	 * closest together in time */
	struct iovec local[PF_MAX_SPANS], remote[PF_MAX_SPANS];
	for (size_t k = 0; k < pf->nhave; k++) {
		const struct span *sp = &pf->have[pf->order[k]];
		local[k] = (struct iovec){ pf->data + sp->off, sp->len };
		remote[k] = (struct iovec){ (void *)(uintptr_t)sp->addr, sp->len };
	}
	m->reads++;
	ssize_t got = process_vm_readv(m->pid, local, pf->nhave, remote, pf->nhave, 0);
	if (got > 0)
		m->bytes += (uint64_t)got;
	if (got < (ssize_t)total)
		drop_kept(pf);
	keep_read(pf, got > 0 ? (size_t)got : 0);
}

void ps_mem_prefetch_end(struct ps_mem *m)
{
	if (m->pf) {
		m->pf->active = 0;
		m->pf->nhave = 0;
	}
}

/* The prefetched copy of [addr, addr+len), or NULL. */
static const uint8_t *prefetched(const struct ps_mem_prefetch *pf, uint64_t addr, size_t len)
{
	size_t lo = 0, hi = pf->nhave;
	while (lo < hi) { /* the last span starting at or before addr */
		size_t mid = (lo + hi) / 2;
		if (pf->have[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct span *sp = &pf->have[lo - 1];
	if (addr + len > sp->addr + sp->len)
		return NULL;
	return pf->data + sp->off + (addr - sp->addr);
}

/* Remember a range read, grown a little: never past the end of the page
 * of its last byte (a page readable then is a page readable now). */
static void remember(struct ps_mem_prefetch *pf, uint64_t addr, size_t len)
{
	uint64_t end = addr + len, page_end = ((end - 1) | 4095) + 1;
	if (end + PF_SLACK < page_end)
		page_end = end + PF_SLACK;
	want_push(pf, (struct span){ addr, (size_t)(page_end - addr), 0, pf->nwant, 0 });
}

/* Serve ranges from the prefetch if they are all there. */
static int serve(struct ps_mem *m, const struct ps_mem_range *r, size_t n)
{
	const uint8_t *src[PS_MEM_MAX_RANGES];
	for (size_t i = 0; i < n; i++)
		if (!(src[i] = prefetched(m->pf, r[i].addr, r[i].len)))
			return 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(r[i].buf, src[i], r[i].len);
		remember(m->pf, r[i].addr, r[i].len);
	}
	m->served++;
	return 1;
}

static int fail(struct ps_mem *m, int code)
{
	m->errors++;
	return code;
}

int ps_mem_readv(struct ps_mem *m, const struct ps_mem_range *r, size_t n)
{
	struct iovec local[PS_MEM_MAX_RANGES], remote[PS_MEM_MAX_RANGES];
	size_t total = 0;

	if (n == 0)
		return PS_OK;
	if (n > PS_MEM_MAX_RANGES)
		return fail(m, PS_EUSAGE);
	for (size_t i = 0; i < n; i++) {
		if (r[i].len > PS_MEM_MAX_READ)
			return fail(m, PS_ENOMEM);
		if (!ps_mem_plausible(r[i].addr) ||
		    r[i].addr + r[i].len > ((uint64_t)1 << 47))
			return fail(m, PS_EREAD);
		local[i] = (struct iovec){ r[i].buf, r[i].len };
		remote[i] = (struct iovec){ (void *)(uintptr_t)r[i].addr, r[i].len };
		total += r[i].len;
	}
	int pf = m->pf && m->pf->active;
	if (pf && serve(m, r, n))
		return PS_OK;
	m->reads++;
	ssize_t got = process_vm_readv(m->pid, local, n, remote, n, 0);
	if (got < 0) {
		int code = ps_err_from_errno(errno);
		return fail(m, code == PS_EIO ? PS_EREAD : code);
	}
	m->bytes += (uint64_t)got;
	if ((size_t)got != total)
		return fail(m, PS_EREAD);
	for (size_t i = 0; pf && i < n; i++)
		remember(m->pf, r[i].addr, r[i].len);
	return PS_OK;
}

int ps_mem_read(struct ps_mem *m, uint64_t addr, void *buf, size_t len)
{
	struct ps_mem_range r = { addr, buf, len };
	return ps_mem_readv(m, &r, 1);
}

int ps_mem_read_ptr(struct ps_mem *m, uint64_t addr, uint64_t *out)
{
	return ps_mem_read(m, addr, out, sizeof(*out));
}

int ps_mem_read_cstr(struct ps_mem *m, uint64_t addr, char *out, size_t cap)
{
	size_t have = 0;

	if (cap == 0)
		return PS_EUSAGE;
	out[0] = '\0';
	while (have + 1 < cap) {
		/* never cross a page boundary in one read: the string may end
		 * just before an unmapped page */
		size_t page_left = 4096 - ((addr + have) & 4095);
		size_t want = cap - 1 - have;
		if (want > page_left)
			want = page_left;
		int rc = ps_mem_read(m, addr + have, out + have, want);
		if (rc) {
			out[have] = '\0'; /* what was read before, terminated */
			return rc;
		}
		void *nul = memchr(out + have, '\0', want);
		if (nul)
			return PS_OK;
		have += want;
	}
	out[cap - 1] = '\0';
	return PS_OK;
}
