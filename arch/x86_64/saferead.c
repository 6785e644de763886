/* process_vm_readv on ourselves.  Its documented partial reads stop at an
 * iovec boundary, so the remote side is split where pages end: the copy
 * goes up to the first unreadable page and no further. */
#include "arch/x86_64/saferead.h"

#include <sys/uio.h>

#include "arch/x86_64/rawsys.h"

size_t safe_read(void *dst, uintptr_t src, size_t n)
{
	struct iovec local = { dst, n }, remote[SAFE_READ_MAX / 4096 + 2];
	int k = 0;
	long r;

	if (n > SAFE_READ_MAX)
		n = local.iov_len = SAFE_READ_MAX;
	for (uintptr_t at = src, end = src + n; at < end; k++) {
		uintptr_t next = (at | 4095) + 1;

		remote[k] = (struct iovec){ (void *)at, (next < end ? next : end) - at };
		at = next < end ? next : end;
	}
	r = k ? raw_syscall6(SYS_process_vm_readv, raw_getpid(), (long)&local, 1, (long)remote, k, 0) : 0;
	return r > 0 ? (size_t)r : 0;
}

uintptr_t safe_mapped_end(uintptr_t from, uintptr_t limit)
{
	enum { BATCH = 256 };
	char sink[BATCH];
	struct iovec local = { sink, BATCH }, remote[BATCH];
	uintptr_t end = from & ~(uintptr_t)4095;

	while (end < limit) {
		int k = 0;
		long r;

		for (uintptr_t at = end; k < BATCH && at < limit; k++, at += 4096)
			remote[k] = (struct iovec){ (void *)at, 1 };
		local.iov_len = (size_t)k;
		/* stops at the first page it cannot read */
		r = raw_syscall6(SYS_process_vm_readv, raw_getpid(), (long)&local, 1, (long)remote, k, 0);
		if (r <= 0)
			break;
		end += 4096u * (unsigned long)r;
		if (r < k)
			break;
	}
	return end;
}
