#include "ps_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "ps_error.h"

void ps_mem_init(struct ps_mem *m, pid_t pid)
{
	memset(m, 0, sizeof(*m));
	m->pid = pid;
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
	m->reads++;
	ssize_t got = process_vm_readv(m->pid, local, n, remote, n, 0);
	if (got < 0) {
		int code = ps_err_from_errno(errno);
		return fail(m, code == PS_EIO ? PS_EREAD : code);
	}
	m->bytes += (uint64_t)got;
	if ((size_t)got != total)
		return fail(m, PS_EREAD);
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
