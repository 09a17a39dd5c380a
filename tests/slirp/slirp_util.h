/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * slirp_util.h - the hand-played guest shared by the slirp tests
 * (frame building with real checksums, a receive log, DHCP).
 */
#ifndef SLIRP_UTIL_H
#define SLIRP_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netbe.h"

#define MAXF 2048
#define FRAME_MAX 2048
#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define GUEST IP(10, 0, 2, 15)
#define HOST IP(10, 0, 2, 2)

extern const uint8_t gmac[6];  /* the guest's MAC */
extern const uint8_t bcast[6];
extern int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
			failures++;                                          \
		}                                                            \
	} while (0)

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	bool taken;
};

struct ctx {
	netbe_loop_t *loop;
	netbe_t *be;
	struct frame *f;
	int n;
	uint8_t hmac[6]; /* libslirp's MAC, learned from its answers */
	pthread_mutex_t lock;
};

struct pkt {
	uint16_t type;
	const uint8_t *l3, *l4, *pay;
	uint8_t proto, flags;
	uint32_t src, dst, seq, ack;
	uint16_t sport, dport;
	size_t paylen;
};

typedef bool (*match_fn)(const struct pkt *p, const void *arg);

void put16(uint8_t *p, unsigned v);
void put32(uint8_t *p, uint32_t v);
unsigned get16(const uint8_t *p);
uint32_t get32(const uint8_t *p);
uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t csum_fold(uint32_t sum);
/* Fills in the TCP (6), UDP (17) or ICMP (1) checksum of @l4. */
void l4_csum(uint8_t *ip, uint8_t *l4, size_t len, uint8_t proto);
/* An Ethernet + IPv4 frame from the guest's MAC; returns its length. */
size_t ip_frame(uint8_t *f, const uint8_t dmac[6], uint32_t src,
		uint32_t dst, uint8_t proto, const uint8_t *l4, size_t l4len);
void send_frame(struct ctx *c, const uint8_t *f, size_t len);
void send_udp(struct ctx *c, uint32_t src, uint16_t sport, uint32_t dst,
	      uint16_t dport, const uint8_t *dmac, const void *data,
	      size_t dl);
void send_dhcp_discover(struct ctx *c, uint32_t xid);
void rx_cb(int fd, int events, void *arg);
bool parse(const struct frame *fr, struct pkt *p);
/* Runs the loop until a frame matches (and takes it), or @ms pass. */
bool wait_frame(struct ctx *c, int ms, match_fn m, const void *arg,
		struct frame *out);
int ctx_open(struct ctx *c, const char *spec);
void ctx_close(struct ctx *c);
/* @arg: the uint32_t xid. */
bool is_offer(const struct pkt *p, const void *arg);
/* Finds DHCP option @code in an OFFER; NULL when absent. */
const uint8_t *dhcp_opt(const struct pkt *p, uint8_t code);

#endif
