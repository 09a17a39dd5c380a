/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rate.h - token buckets for per-port rate limits (rate.c), as
 * Firecracker's limiter: one bucket for bytes and one for frames, per
 * direction, each with a rate and a burst.  Pure: callers pass the time.
 * Not installed.
 */
#ifndef NETBE_SWITCH_RATE_H
#define NETBE_SWITCH_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct netbe__bucket {
	uint64_t rate;	  /* tokens per second; 0: unlimited */
	uint64_t burst;	  /* most tokens held (also the starting amount) */
	uint64_t tokens;  /* held now, in 1/1e9 token units */
	uint64_t last_ns; /* when tokens was last brought up to date */
};

/* Sets a bucket to @rate per second with @burst (0: one second's worth,
 * at least 1), full, as of @now_ns. */
void netbe__bucket_init(struct netbe__bucket *b, uint64_t rate,
			uint64_t burst, uint64_t now_ns);

/* Takes @n tokens if there are that many (an unlimited bucket always
 * has them); false, taking none, when there are not.  A request larger
 * than the burst is allowed once the bucket is full, leaving it empty,
 * so a 64 KiB GSO frame still passes a small byte burst. */
bool netbe__bucket_take(struct netbe__bucket *b, uint64_t n, uint64_t now_ns);

/* Nanoseconds until @n tokens can be taken (0: now). */
uint64_t netbe__bucket_wait_ns(const struct netbe__bucket *b, uint64_t n,
			       uint64_t now_ns);

/* Whole tokens that can be taken now (UINT64_MAX: unlimited). */
uint64_t netbe__bucket_avail(const struct netbe__bucket *b, uint64_t now_ns);

/* One direction of a port: bytes and frames. */
struct netbe__limit {
	struct netbe__bucket bytes, frames;
};

/* Both buckets, or neither: true when a frame of @len bytes may pass. */
bool netbe__limit_take(struct netbe__limit *l, uint64_t len, uint64_t now_ns);
uint64_t netbe__limit_wait_ns(const struct netbe__limit *l, uint64_t len,
			      uint64_t now_ns);
bool netbe__limit_active(const struct netbe__limit *l);

#endif
