/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forward.h - a bidirectional frame forwarder between two open backends,
 * shared by "netbe connect" and "netbe demo".
 *
 * Usage: open both backends on one loop (receive disabled, as netbe_open
 * leaves them), fwd_setup_caps(), fwd_new(), fwd_start(), run the loop;
 * then fwd_free() before closing the backends.  Everything runs on the
 * loop's thread; the forwarder holds one set of buffers for all queues.
 */
#ifndef NETBE_FORWARD_H
#define NETBE_FORWARD_H

#include <stdint.h>
#include <stdio.h>

#include "netbe.h"

#define FWD_BATCH_DEFAULT 64
#define FWD_BATCH_MAX 1024

struct fwd;

/* What the forwarder did in one direction. */
struct fwd_counters {
	uint64_t frames; /* received and accepted by the other side */
	uint64_t bytes;	 /* bytes of those, header included */
	uint64_t drops;	 /* received, refused by the other side */
	uint64_t errors; /* failed receive or send calls */
};

/*
 * Computes the offloads each end may enable so that every frame one end
 * delivers is acceptable to the other: GUEST_x on A only when B has the
 * matching HOST_x (GUEST_CSUM <-> CSUM, GUEST_TSO4 <-> HOST_TSO4, ...,
 * GUEST_USO4/6 <-> HOST_USO) and vice versa, closed under virtio's
 * dependencies (TSO/UFO/USO need checksum offload, ECN needs TSO).
 */
void fwd_negotiate(uint64_t cap_a, uint64_t cap_b, uint64_t *feat_a,
		   uint64_t *feat_b);

/*
 * Negotiates (fwd_negotiate on netbe_get_cap of both) and applies the
 * result with netbe_set_cap: a 12-byte header on both ends when any
 * offload is on, no header otherwise.  Stores the features when @feat_a /
 * @feat_b are not NULL.  Returns 0, or -errno with the error printed.
 */
int fwd_setup_caps(netbe_t *a, netbe_t *b, uint64_t *feat_a,
		   uint64_t *feat_b);

/*
 * Creates a forwarder between @a and @b (every queue of each forwards to
 * the other's queue 0), receiving up to @batch frames per call.  Installs
 * its receive callbacks; receive stays disabled until fwd_start().
 * Returns 0 or -errno (-ENOMEM, -EINVAL).
 */
int fwd_new(struct fwd **out, netbe_t *a, netbe_t *b, unsigned batch);

/*
 * When a queue's receive keeps failing (the interface is gone), the
 * forwarder disables it, marks itself failed and, if set, stops @loop.
 */
void fwd_set_stop_loop(struct fwd *f, netbe_loop_t *loop);

/* Returns non-zero once a queue failed for good. */
int fwd_failed(const struct fwd *f);

/* Enables / disables receive on every queue of both ends. */
void fwd_start(struct fwd *f);
void fwd_stop(struct fwd *f);

/* Stops and frees @f (NULL is allowed); the backends stay open. */
void fwd_free(struct fwd *f);

/* Counters of direction @dir: 0 is a -> b, 1 is b -> a. */
void fwd_get_counters(const struct fwd *f, int dir, struct fwd_counters *c);

/* Prints both directions' counters, naming the ends @name_a / @name_b. */
void fwd_print_counters(FILE *out, const struct fwd *f, const char *name_a,
			const char *name_b);

#endif /* NETBE_FORWARD_H */
