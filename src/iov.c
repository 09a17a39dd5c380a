/* SPDX-License-Identifier: BSD-2-Clause */
/* Scatter-gather helpers shared by the core and the backends. */
#include <errno.h>
#include <string.h>

#include "netbe_int.h"

size_t netbe__iov_len(const struct iovec *iov, int iovcnt)
{
	size_t len = 0;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	return len;
}

size_t netbe__iov_walk(const struct iovec *iov, int iovcnt, size_t off,
		       size_t len, netbe__iov_fn fn, void *arg)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len - done)
			n = len - done;
		fn(arg, (char *)iov[i].iov_base + off, n, done);
		done += n;
		off = 0;
	}
	return done;
}

static void copy_out(void *buf, void *p, size_t n, size_t done)
{
	memcpy((char *)buf + done, p, n);
}

static void copy_in(void *buf, void *p, size_t n, size_t done)
{
	memcpy(p, (const char *)buf + done, n);
}

size_t netbe__iov_to_buf_walk(const struct iovec *iov, int iovcnt,
			      size_t off, void *buf, size_t len)
{
	return netbe__iov_walk(iov, iovcnt, off, len, copy_out, buf);
}

size_t netbe__buf_to_iov(const void *buf, size_t len,
			 const struct iovec *iov, int iovcnt, size_t off)
{
	return netbe__iov_walk(iov, iovcnt, off, len, copy_in, (void *)buf);
}

int netbe__iov_skip(const struct iovec *iov, int iovcnt, size_t skip,
		    struct iovec *out, int max)
{
	int i = 0, n = 0;

	while (i < iovcnt && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	if (i == iovcnt && skip > 0)
		return -EINVAL;
	if (iovcnt - i > max)
		return -E2BIG;
	for (; i < iovcnt; i++, n++) {
		out[n].iov_base = (char *)iov[i].iov_base + skip;
		out[n].iov_len = iov[i].iov_len - skip;
		skip = 0;
	}
	return n;
}
