/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uring.c - batches of readv/writev on one fd through io_uring.
 *
 * Theory of operation
 *   A tap moves one frame per read() or write(), and on these machines a
 *   system call is dear: in a PVM guest every one traps to the hypervisor
 *   (`pvm_irq_enable` was 26 % of netbe's cycles under a 64-byte flood,
 *   the syscall instructions in libc 19 % more).  Writing 64-byte frames
 *   into a tap took 1 533 ns each with write() and 250 ns each as
 *   batches of 64 writev operations in one io_uring_enter() (1 M frames,
 *   quiet machine, 2026-12-03).  So a backend queues one operation per
 *   frame and enters the kernel once per batch.
 *
 *   Synchronous on purpose: every operation completes before
 *   netbe__uring_rw() returns, so the caller's buffers are never used by
 *   the kernel after it, and the library's send/receive contract stays as
 *   it is.  Reads carry RWF_NOWAIT, so an empty queue answers -EAGAIN at
 *   once instead of parking a read in the ring; tun writes never wait.
 *
 *   Least privilege: the ring is created disabled, the fd is registered
 *   as its only (fixed) file, and a restriction set lets it do READV and
 *   WRITEV on that fixed file (linked or not) and nothing else - no other
 *   opcode, no registration but the one close does - before it is
 *   enabled.  A process under seccomp gains no way around its filter
 *   through the ring.  Close unregisters the file first: the ring's own
 *   teardown runs later in a kernel worker, and its reference would keep
 *   a closed tap alive meanwhile (the name busy, tests/integration/
 *   tap_errors saw it).  Where io_uring is missing or forbidden
 *   (kernel.io_uring_disabled, a container's filter), open fails and the
 *   backend keeps its one call per frame.
 */
#include <errno.h>
#include <stdlib.h>

#include <liburing.h>

#include "uring.h"

struct netbe__uring {
	struct io_uring ring;
};

/* Debian 12's liburing 2.3 does not export the helpers for these two. */
static int uring_restrict(struct netbe__uring *u)
{
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP,
		  .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP,
		  .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED,
		  .sqe_flags = IOSQE_FIXED_FILE },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
		  .sqe_flags = IOSQE_IO_LINK },
		{ .opcode = IORING_RESTRICTION_REGISTER_OP,
		  .register_op = IORING_UNREGISTER_FILES },
	};
	int fd = u->ring.ring_fd, r;

	r = io_uring_register((unsigned)fd, IORING_REGISTER_RESTRICTIONS, res,
			      sizeof(res) / sizeof(res[0]));
	if (r < 0)
		return r;
	return io_uring_register((unsigned)fd, IORING_REGISTER_ENABLE_RINGS,
				 NULL, 0);
}

int netbe__uring_open(struct netbe__uring **out, int fd)
{
	struct netbe__uring *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	r = io_uring_queue_init(NETBE__URING_BATCH, &u->ring,
				IORING_SETUP_R_DISABLED);
	if (r < 0) {
		free(u);
		return r;
	}
	r = io_uring_register_files(&u->ring, &fd, 1);
	if (r == 0)
		r = uring_restrict(u);
	if (r < 0) {
		netbe__uring_close(u);
		return r;
	}
	*out = u;
	return 0;
}

void netbe__uring_close(struct netbe__uring *u)
{
	if (!u)
		return;
	/* The ring's own teardown runs later in a kernel worker; its
	 * reference to the fd must not keep the tap alive that long. */
	io_uring_unregister_files(&u->ring);
	io_uring_queue_exit(&u->ring);
	free(u);
}

static void uring_prep(struct io_uring_sqe *s, bool write,
		       const struct netbe_msg *m, int i, bool link)
{
	/* Offset -1: the fd's own position, which a tap does not have. */
	if (write) {
		io_uring_prep_writev(s, 0, m->iov, (unsigned)m->iovcnt,
				     (uint64_t)-1);
	} else {
		io_uring_prep_readv(s, 0, m->iov, (unsigned)m->iovcnt,
				    (uint64_t)-1);
		s->rw_flags = RWF_NOWAIT;
	}
	s->flags = IOSQE_FIXED_FILE | (link ? IOSQE_IO_LINK : 0);
	s->user_data = (uint64_t)i;
}

int netbe__uring_rw(struct netbe__uring *u, int how,
		    const struct netbe_msg *m, int n, int32_t *res)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int r;

	if (n <= 0 || n > NETBE__URING_BATCH)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		uring_prep(io_uring_get_sqe(&u->ring), how != NETBE__URING_READ,
			   &m[i], i, how == NETBE__URING_WRITE_LINKED &&
					     i < n - 1);
	do
		r = io_uring_submit_and_wait(&u->ring, (unsigned)n);
	while (r == -EINTR);
	if (r < 0)
		return r;
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		if (cqe->user_data < (uint64_t)n)
			res[cqe->user_data] = cqe->res;
		seen++;
	}
	io_uring_cq_advance(&u->ring, seen);
	return seen == (unsigned)n ? 0 : -EIO;
}
