/* Native stacks: libunwind's remote unwinder with our own accessors.
 *
 * libunwind-ptrace's accessors read memory one word per PTRACE_PEEKDATA
 * and registers one per PTRACE_PEEKUSER. Ours read registers once per
 * thread (PTRACE_GETREGS) and memory a page at a time through ps_mem
 * (process_vm_readv: bounded, counted), keeping the pages for the rest of
 * the snapshot: unwinding reads the same stack and unwind-table pages over
 * and over. Finding the unwind tables of an address (which ELF file, its
 * .eh_frame_hdr) is left to libunwind-ptrace (_UPT_find_proc_info); with
 * the global caching policy libunwind remembers what it learnt per IP, so a
 * steady state mostly costs the stack reads. */
#include "ps_native.h"

#include <stdlib.h>
#include <string.h>

#include "ps_proc.h"
#include "ps_stack.h"
#include "ps_symbols.h"

#if defined(__x86_64__)
#include <elf.h>
#include <libunwind-ptrace.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#define HAVE_UNWIND 1

/* libunwind's search of a binary-search table of FDEs (.eh_frame_hdr),
 * exported for libunwind-ptrace but not declared in its headers. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);
#endif

#define PAGE 4096u
#define NPAGES 128u /* 512 KiB: a deep stack and the hot unwind tables */

struct page {
	uint64_t base;
	uint64_t gen;   /* valid when equal to the snapshot's generation */
	uint8_t data[PAGE];
};

struct ps_native {
	struct ps_proc *p;
	struct ps_symbols *syms;
	const char *python_objects[3];
	struct page *pages;
	uint64_t gen;
	struct ps_native_stats st;
#ifdef HAVE_UNWIND
	unw_addr_space_t as;
	void *upt;
	struct user_regs_struct regs;
	unsigned maps_gen;      /* ps_symbols' mappings libunwind's cache is for */
	int vdso_state;         /* 0 not looked at, 1 usable, -1 not */
	unw_dyn_info_t vdso;    /* the vdso's unwind table */
#endif
};

/* ---- classification and merging (pure) ---- */

static int is_eval(const char *sym, int major)
{
	const char *want = major == 2 ? "PyEval_EvalFrameEx" : "_PyEval_EvalFrameDefault";
	size_t n = strlen(want);
	/* GCC may split a function: "_PyEval_EvalFrameDefault.cold" is
	 * still the same C frame */
	return sym && strncmp(sym, want, n) == 0 && (sym[n] == '\0' || sym[n] == '.');
}

static int is_start(const char *sym)
{
	static const char *const names[] = { "_start", "__libc_start_main",
					     "__libc_start_call_main", "start_thread",
					     "clone", "clone3", "__clone", "__clone3", NULL };
	for (int i = 0; sym && names[i]; i++)
		if (strcmp(sym, names[i]) == 0)
			return 1;
	return 0;
}

static int is_libc(const char *obj)
{
	return obj && (strncmp(obj, "libc.so", 7) == 0 || strncmp(obj, "libc-", 5) == 0);
}

static int in_list(const char *obj, const char *const *list)
{
	for (size_t i = 0; obj && list && list[i]; i++)
		if (strcmp(obj, list[i]) == 0)
			return 1;
	return 0;
}

void ps_native_classify(struct ps_nframe *f, size_t n, const char *const *python_objects,
			int major)
{
	for (size_t i = 0; i < n; i++) {
		if (is_eval(f[i].symbol, major))
			f[i].kind = PS_NATIVE_EVAL;
		else if (in_list(f[i].object, python_objects) || is_start(f[i].symbol))
			f[i].kind = PS_NATIVE_DROP;
		else
			f[i].kind = PS_NATIVE_KEEP;
	}
	/* A stripped libc names neither start_thread nor clone: its unnamed
	 * frames below everything else are the thread's start all the same. */
	for (size_t i = n; i-- > 0;) {
		if (f[i].kind == PS_NATIVE_KEEP && !(f[i].symbol == NULL && is_libc(f[i].object)))
			break;
		if (f[i].kind == PS_NATIVE_EVAL)
			break;
		f[i].kind = PS_NATIVE_DROP;
	}
}

/* Eval calls on a Python stack: one per boundary, plus hidden ones. */
static size_t count_calls(const struct ps_frame *py, size_t np, unsigned hidden)
{
	size_t calls = hidden, open = 0;
	for (size_t i = 0; i < np; i++) {
		open = 1;
		if (py[i].entries) {
			calls += py[i].entries;
			open = 0;
		}
	}
	/* frames above the outermost boundary still belong to a call */
	return calls + open;
}

int ps_native_merge(const struct ps_nframe *nat, size_t nn, const struct ps_frame *py, size_t np,
		    unsigned hidden_entries, struct ps_frame *out, size_t *nout)
{
	size_t evals = 0, k = 0, pi = 0;
	unsigned pending = hidden_entries; /* eval calls without frames, next */
	for (size_t i = 0; i < nn; i++)
		evals += nat[i].kind == PS_NATIVE_EVAL;
	*nout = 0;
	size_t calls = count_calls(py, np, hidden_entries);
	/* An eval call in its prologue or epilogue (its frame not linked yet,
	 * or unlinked already: the function just returned) runs no Python
	 * frame; only the innermost one can be there, all others are inside
	 * a call. So one EVAL frame more than calls is the innermost's. */
	if (evals == calls + 1)
		pending++;
	else if (evals != calls)
		return PS_EINVAL;
	for (size_t i = 0; i < nn; i++) {
		if (nat[i].kind == PS_NATIVE_KEEP) {
			out[k++] = (struct ps_frame){ .code = NULL, .line = 0, .addr = nat[i].ip,
						      .symbol = nat[i].symbol ? nat[i].symbol
									      : "<unknown>",
						      .object = nat[i].object };
		} else if (nat[i].kind == PS_NATIVE_EVAL) {
			if (pending) {
				pending--;
				continue;
			}
			while (pi < np) {
				out[k++] = py[pi];
				if (py[pi++].entries) {
					pending = py[pi - 1].entries - 1;
					break;
				}
			}
		}
	}
	*nout = k;
	return PS_OK;
}

/* ---- memory and registers ---- */

#ifdef HAVE_UNWIND

/* libunwind calls our accessors with the argument given to unw_init_remote,
 * but _UPT_find_proc_info calls them back with its own: the unwinder in
 * progress is found here instead. One unwind at a time per process. */
static struct ps_native *current;

static const uint8_t *page_get(struct ps_native *n, uint64_t base)
{
	struct page *pg = &n->pages[(base / PAGE) % NPAGES];
	if (pg->gen == n->gen && pg->base == base) {
		n->st.cache_hits++;
		return pg->data;
	}
	n->st.mem_reads++;
	if (ps_mem_read(&n->p->mem, base, pg->data, PAGE) != PS_OK) {
		pg->gen = 0;
		return NULL;
	}
	pg->base = base;
	pg->gen = n->gen;
	return pg->data;
}

static int acc_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	struct ps_native *n = current;
	(void)as;
	(void)arg;
	if (write || !n)
		return -UNW_EINVAL;
	uint64_t base = addr & ~(uint64_t)(PAGE - 1);
	if (addr - base <= PAGE - sizeof(*val)) {
		const uint8_t *d = page_get(n, base);
		if (!d)
			return -UNW_EINVAL;
		memcpy(val, d + (addr - base), sizeof(*val));
		return 0;
	}
	return ps_mem_read(&n->p->mem, addr, val, sizeof(*val)) == PS_OK ? 0 : -UNW_EINVAL;
}

static int acc_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	struct ps_native *n = current;
	(void)as;
	(void)arg;
	if (write)
		return -UNW_EREADONLYREG;
	const struct user_regs_struct *r = &n->regs;
	switch (reg) {
	case UNW_X86_64_RAX: *val = r->rax; break;
	case UNW_X86_64_RDX: *val = r->rdx; break;
	case UNW_X86_64_RCX: *val = r->rcx; break;
	case UNW_X86_64_RBX: *val = r->rbx; break;
	case UNW_X86_64_RSI: *val = r->rsi; break;
	case UNW_X86_64_RDI: *val = r->rdi; break;
	case UNW_X86_64_RBP: *val = r->rbp; break;
	case UNW_X86_64_RSP: *val = r->rsp; break;
	case UNW_X86_64_R8: *val = r->r8; break;
	case UNW_X86_64_R9: *val = r->r9; break;
	case UNW_X86_64_R10: *val = r->r10; break;
	case UNW_X86_64_R11: *val = r->r11; break;
	case UNW_X86_64_R12: *val = r->r12; break;
	case UNW_X86_64_R13: *val = r->r13; break;
	case UNW_X86_64_R14: *val = r->r14; break;
	case UNW_X86_64_R15: *val = r->r15; break;
	case UNW_X86_64_RIP: *val = r->rip; break;
	default: return -UNW_EBADREG;
	}
	return 0;
}

static int acc_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
		     void *arg)
{
	(void)as, (void)reg, (void)val, (void)write, (void)arg;
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as, (void)c, (void)arg;
	return -UNW_EINVAL; /* we only look */
}

/* The vdso is in no file, so libunwind-ptrace can not find its unwind
 * table (it opens the mapped file). Its .eh_frame_hdr is in memory, found
 * through the program headers of the image the kernel mapped. */
static int vdso_table(struct ps_native *n, const struct ps_map *m)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t load = UINT64_MAX, hdr = 0;
	uint8_t h[12];
	uint32_t count;
	struct ps_mem *mem = &n->p->mem;
	if (ps_mem_read(mem, m->start, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph) || eh.e_phnum > 64 ||
	    eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(ph) > m->end - m->start)
		return PS_EINVAL;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ps_mem_read(mem, m->start + eh.e_phoff + i * sizeof(ph), &ph, sizeof(ph)))
			return PS_EINVAL;
		if (ph.p_type == PT_LOAD && load == UINT64_MAX)
			load = ph.p_vaddr & ~(uint64_t)(PAGE - 1);
		if (ph.p_type == PT_GNU_EH_FRAME)
			hdr = ph.p_vaddr;
	}
	if (load == UINT64_MAX || !hdr || hdr < load)
		return PS_EINVAL;
	hdr = hdr - load + m->start;
	/* version 1; eh_frame_ptr pc-relative sdata4; fde_count udata4;
	 * table of (initial location, fde) pairs, datarel sdata4 */
	if (ps_mem_read(mem, hdr, h, sizeof(h)) || h[0] != 1 || h[1] != 0x1b || h[2] != 0x03 ||
	    h[3] != 0x3b)
		return PS_EINVAL;
	memcpy(&count, h + 8, 4);
	n->vdso = (unw_dyn_info_t){ .start_ip = m->start, .end_ip = m->end,
				    .format = UNW_INFO_FORMAT_REMOTE_TABLE };
	n->vdso.u.rti.segbase = hdr;
	n->vdso.u.rti.table_data = hdr + sizeof(h);
	n->vdso.u.rti.table_len = (uint64_t)count * 8 / sizeof(unw_word_t);
	return PS_OK;
}

static int in_vdso(struct ps_native *n, uint64_t ip)
{
	if (!n->vdso_state) {
		n->vdso_state = -1; /* it never moves: one look */
		for (size_t i = 0; i < n->p->maps.n; i++)
			if (strcmp(n->p->maps.v[i].path, "[vdso]") == 0 &&
			    vdso_table(n, &n->p->maps.v[i]) == PS_OK)
				n->vdso_state = 1;
	}
	return n->vdso_state == 1 && ip >= n->vdso.start_ip && ip < n->vdso.end_ip;
}

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			      int need, void *arg)
{
	(void)arg;
	current->st.lookups++;
	if (in_vdso(current, ip))
		return _Ux86_64_dwarf_search_unwind_table(as, ip, &current->vdso, pi, need,
							  current);
	return _UPT_find_proc_info(as, ip, pi, need, current->upt);
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	(void)arg;
	_UPT_put_unwind_info(as, pi, current->upt);
}

/* libunwind's registry of run-time generated code (_U_dyn_register):
 * nothing in a Python process registers there, so the answer is "none"
 * without asking libunwind-ptrace to look. */
static int acc_dyn_info_list(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as, (void)addr, (void)arg;
	return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = acc_find_proc_info,
	.put_unwind_info = acc_put_unwind_info,
	.get_dyn_info_list_addr = acc_dyn_info_list,
	.access_mem = acc_mem,
	.access_reg = acc_reg,
	.access_fpreg = acc_fpreg,
	.resume = acc_resume,
	.get_proc_name = NULL,
};

static void symbolize(struct ps_native *n, struct ps_nframe *f, int exact)
{
	struct ps_symbol sym;
	/* a return address is the instruction after the call, which may
	 * already belong to the next function */
	ps_symbols_lookup(n->syms, exact ? f->ip : f->ip - 1, &sym);
	f->symbol = sym.name;
	f->object = sym.object;
}

static int walk(struct ps_native *n, struct ps_nframe *out, size_t cap, size_t *nout,
		int *truncated)
{
	unw_cursor_t c;
	size_t k = 0;
	int step = 1, exact = 1;
	unw_word_t last_sp = 0;
	if (unw_init_remote(&c, n->as, n) < 0)
		return PS_EINVAL;
	while (step > 0 && k < cap) {
		unw_word_t ip = 0, sp = 0;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0 ||
		    unw_get_reg(&c, UNW_REG_SP, &sp) < 0)
			break;
		/* callers' frames are above their callees': a stack pointer
		 * that goes back down is a garbage stack going round in
		 * circles (a signal frame may switch stacks: let it pass) */
		if (k && sp <= last_sp && !exact) {
			step = -1;
			break;
		}
		last_sp = sp;
		out[k] = (struct ps_nframe){ .ip = ip };
		symbolize(n, &out[k++], exact);
		exact = unw_is_signal_frame(&c) > 0; /* the next one was interrupted */
		step = unw_step(&c);
	}
	if (step < 0)
		n->st.errors++;
	*truncated = step > 0 && k == cap;
	*nout = k;
	return PS_OK;
}

int ps_native_unwind(struct ps_native *n, pid_t tid, struct ps_nframe *out, size_t cap,
		     size_t *nout, int *truncated)
{
	*nout = 0;
	*truncated = 0;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &n->regs) != 0) {
		n->st.errors++;
		return PS_EREAD;
	}
	/* An object unloaded and another loaded at its addresses would make
	 * libunwind's per-IP cache lie: start over when the mappings change. */
	if (ps_symbols_maps_generation(n->syms) != n->maps_gen) {
		unw_flush_cache(n->as, 0, 0);
		n->maps_gen = ps_symbols_maps_generation(n->syms);
	}
	current = n;
	int rc = walk(n, out, cap, nout, truncated);
	current = NULL;
	n->st.unwinds++;
	n->st.frames += *nout;
	ps_native_classify(out, *nout, n->python_objects, n->p->major);
	return rc;
}

static int create_unwinder(struct ps_native *n, struct ps_errmsg *e)
{
	n->as = unw_create_addr_space(&accessors, 0);
	n->upt = _UPT_create(n->p->pid);
	if (!n->as || !n->upt)
		return ps_error(e, PS_ENOMEM, "cannot set up native unwinding");
	unw_set_caching_policy(n->as, UNW_CACHE_GLOBAL);
	return PS_OK;
}

static void destroy_unwinder(struct ps_native *n)
{
	if (n->as)
		unw_destroy_addr_space(n->as);
	if (n->upt)
		_UPT_destroy(n->upt);
}

#else /* no libunwind support for this architecture */

int ps_native_unwind(struct ps_native *n, pid_t tid, struct ps_nframe *out, size_t cap,
		     size_t *nout, int *truncated)
{
	(void)n, (void)tid, (void)out, (void)cap;
	*nout = 0;
	*truncated = 0;
	return PS_EUNSUPPORTED;
}

static int create_unwinder(struct ps_native *n, struct ps_errmsg *e)
{
	(void)n;
	return ps_error(e, PS_EUNSUPPORTED, "native stacks are not supported on this machine");
}

static void destroy_unwinder(struct ps_native *n)
{
	(void)n;
}

#endif

/* ---- lifetime ---- */

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path;
}

int ps_native_new(struct ps_proc *p, struct ps_native **out, struct ps_errmsg *e)
{
	struct ps_native *n = calloc(1, sizeof(*n));
	*out = NULL;
	if (!n)
		return ps_error(e, PS_ENOMEM, "out of memory");
	n->p = p;
	n->gen = 1;
	n->python_objects[0] = base_name(p->exe);
	n->python_objects[1] = base_name(p->libpython); /* NULL ends the list */
	n->pages = calloc(NPAGES, sizeof(*n->pages));
	int rc = n->pages ? ps_symbols_new(p->pid, &n->syms) : PS_ENOMEM;
	if (rc)
		rc = ps_error(e, rc, "out of memory");
	else
		rc = create_unwinder(n, e);
	if (rc) {
		ps_native_free(n);
		return rc;
	}
	*out = n;
	return PS_OK;
}

void ps_native_free(struct ps_native *n)
{
	if (!n)
		return;
	destroy_unwinder(n);
	ps_symbols_free(n->syms);
	free(n->pages);
	free(n);
}

void ps_native_begin(struct ps_native *n)
{
	n->gen++;
	ps_symbols_begin(n->syms);
}

void ps_native_stats(const struct ps_native *n, struct ps_native_stats *out)
{
	*out = n->st;
}
