/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_util.h - what the fault tests share (fault_util.c): a backend on
 * a private loop run by a thread of its own, whose receive callback
 * records the test frames it drains; a peer that injects frames with a
 * raw AF_PACKET socket; the library's log, recorded; interfaces taken
 * down, up and away; and the CPU time this process spends meanwhile.
 * Public API (netbe.h) only.  Tests run inside a netns faults.sh made.
 */
#ifndef FAULT_UTIL_H
#define FAULT_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netbe.h"

#define FU_SKIP 77
#define FU_ETHERTYPE 0x88b5 /* IEEE local experimental */
#define FU_BUF (NETBE_MAX_FRAME + NETBE_VNET_HDR_MRG_LEN)

void fu_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						  noreturn));
void fu_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						  noreturn));
#define FU_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond))                                                 \
			fu_fail(__VA_ARGS__);                                \
	} while (0)

/* ---- the library's log ----------------------------------------------------- */

/* Installs a callback that records (and prints) every message. */
void fu_log_start(void);
/* The same up to @max (DEBUG lines are recorded, not printed). */
void fu_log_start_level(enum netbe_log_level max);
/* True when a recorded line contains @a and @b (NULL: anything). */
bool fu_log_has(const char *a, const char *b);
/* Waits up to @ms for such a line. */
bool fu_log_wait(const char *a, const char *b, int ms);
/* Copies the first recorded line that contains @a into @out; false when
 * there is none. */
bool fu_log_get(const char *a, char *out, size_t cap);

/* ---- a backend on its own loop and thread ---------------------------------- */

struct fu_port {
	netbe_t *be;
	netbe_loop_t *loop;
	pthread_t thread;
	uint32_t last_seq;  /* seq of the last test frame drained (atomic) */
	uint32_t last_len;  /* its length (atomic) */
	uint64_t ours;	    /* test frames drained (atomic) */
	uint64_t others;    /* other frames drained (atomic) */
	uint64_t calls;	    /* receive callbacks run (atomic) */
	uint8_t buf[FU_BUF]; /* the loop thread's receive buffer */
};

/* Opens @spec on a new loop run by a new thread, receive enabled on
 * every queue.  Returns 0 or the open's -errno (netbe_last_error() says
 * why). */
int fu_port_open(struct fu_port *p, const char *spec);
/* The same, named @name (netbe_set_name) before its thread starts, so
 * its log lines read "NAME (SPEC): ...". */
int fu_port_open_named(struct fu_port *p, const char *spec,
		       const char *name);
/* Closes the backend while its loop still runs, then stops the loop. */
void fu_port_close(struct fu_port *p);

/* ---- frames and counters --------------------------------------------------- */

/* Writes test frame @seq of @len bytes (>= 60) into @f: broadcast,
 * EtherType FU_ETHERTYPE, @seq, then a pattern of @seq. */
void fu_frame_fill(uint8_t *f, size_t len, uint32_t seq);
/* True when @f (@len bytes) is a test frame whose pattern is intact. */
bool fu_frame_ok(const uint8_t *f, size_t len);
/* netbe_send() of test frame @seq, @len bytes. */
ssize_t fu_send(netbe_t *be, uint32_t seq, size_t len);
/* tx_frames + tx_drops + tx_errors: every frame offered, once. */
uint64_t fu_tx_offered(netbe_t *be);
/* The drop counter of @why in direction @dir. */
uint64_t fu_drops(netbe_t *be, int dir, int why);
/* Waits up to @ms until @p drained test frame @seq. */
bool fu_wait_seq(struct fu_port *p, uint32_t seq, int ms);

/* ---- the peer: a raw socket on an interface -------------------------------- */

struct fu_peer {
	int fd;
	int ifindex;
	const char *ifname;
};

void fu_peer_open(struct fu_peer *pe, const char *ifname);
void fu_peer_close(struct fu_peer *pe);
/* Sends test frame @seq of @len bytes (>= 60); the send's errno or 0. */
int fu_peer_send(struct fu_peer *pe, uint32_t seq, size_t len);
/* Sends frame @seq (again every 100 ms) until @p drained it; true when
 * it did within @ms. */
bool fu_flow(struct fu_port *p, struct fu_peer *pe, uint32_t seq,
	     size_t len, int ms);

/* ---- interfaces ------------------------------------------------------------ */

void fu_if_set_up(const char *ifname, bool up);
void fu_if_set_mtu(const char *ifname, int mtu);
/* `ip link del @ifname`. */
void fu_if_del(const char *ifname);

/* ---- time ------------------------------------------------------------------ */

/* Sleeps @ms; returns the CPU time this process (every thread) used
 * meanwhile, in percent of one core. */
double fu_cpu_over(int ms);
/* Runs @loop on this thread for @ms; the same measure. */
double fu_cpu_run(netbe_loop_t *loop, int ms);
void fu_sleep_ms(int ms);

#endif
