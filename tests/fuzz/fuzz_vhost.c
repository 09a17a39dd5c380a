/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for the vhost-user message handler (src/vhost/proto.c):
 * what a VMM sends on the control socket, header, payload and fds.
 *
 * Theory of operation
 *   Input: a sequence of records, each one byte of "fds" (bits 0-2: how
 *   many to attach, 0-4; bit 3: memfds of 64 KiB instead of eventfds),
 *   a 12-byte message header and its payload (cut to what is left).
 *   Each record goes through netbe__vh_parse_hdr() and, when that
 *   accepts it, netbe__vh_handle() on a device of two queue pairs, as
 *   the backend does; a header parse refuses ends the input (the backend
 *   drops the connection there).  After each message every live ring is
 *   walked once (peek) over the memory the messages mapped.
 *
 *   Checked (abort on violation): a GET always gets a reply of its size,
 *   a reply is flagged as one and never larger than 8 bytes, a refusal
 *   always says why, and when the device is reset at the end every fd we
 *   passed in has been closed (none leaked, none closed twice: the count
 *   of open fds is back where it started).  ASan catches the rest.  The
 *   corpus in corpus_vhost/ is replayed by a normal test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEMFD_SIZE (64 * 1024)

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int make_fd(bool mem)
{
	int fd;

	if (!mem)
		return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	fd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, MEMFD_SIZE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void walk_live(struct netbe__vh_dev *d)
{
	struct iovec iov[16];
	struct netbe__vring_chain c;

	for (unsigned i = 0; i < 2 * d->npairs; i++) {
		struct netbe__vh_vq *q = &d->vq[i];

		pthread_mutex_lock(&q->lock);
		if (q->live)
			(void)netbe__vring_peek(&q->vr, !(i & 1), iov, 16, &c);
		pthread_mutex_unlock(&q->lock);
	}
}

static bool is_get(uint32_t req)
{
	return req == VHU_GET_FEATURES || req == VHU_GET_VRING_BASE ||
	       req == VHU_GET_PROTOCOL_FEATURES ||
	       req == VHU_GET_QUEUE_NUM || req == VHU_GET_MAX_MEM_SLOTS;
}

/* One record; false when the input ends there. */
static bool one(struct netbe__vh_dev *d, const uint8_t **data, size_t *size)
{
	struct netbe__vh_msg m, rep;
	const char *why;
	int fds[4];
	unsigned nfds, k = 0;
	int r;

	if (*size < 1 + VHU_HDR_SIZE)
		return false;
	nfds = (*data)[0] & 7;
	nfds = nfds > 4 ? 4 : nfds;
	if (netbe__vh_parse_hdr(*data + 1, &m, &why) < 0)
		return false;
	*data += 1 + VHU_HDR_SIZE;
	*size -= 1 + VHU_HDR_SIZE;
	if (m.size > *size)
		m.size = (uint32_t)*size;
	memcpy(m.payload, *data, m.size);
	*data += m.size;
	*size -= m.size;
	for (unsigned i = 0; i < nfds; i++) {
		int fd = make_fd((*data - m.size - VHU_HDR_SIZE - 1)[0] & 8);

		if (fd >= 0)
			fds[k++] = fd;
	}
	r = netbe__vh_handle(d, &m, fds, k, &rep, &why);
	if (r == 1 && (!(rep.flags & VHU_FLAG_REPLY) || rep.size > 8))
		abort();
	if (is_get(m.request) && (r != 1 || rep.size != 8))
		abort();
	if (r == 1 && !is_get(m.request) && rep.payload[0] && !why)
		abort();
	walk_live(d);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct netbe__vh_dev dev;
	int before = count_fds();

	if (netbe__vh_dev_init(&dev, 2, ~0ULL, NULL) < 0)
		abort();
	for (int i = 0; i < 64 && one(&dev, &data, &size); i++)
		;
	netbe__vh_dev_fini(&dev);
	if (count_fds() != before)
		abort();
	return 0;
}
