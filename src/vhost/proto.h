/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proto.h - the vhost-user protocol, device side (proto.c): message
 * framing and the device state the messages change.  No sockets, no
 * loop: the backend (src/backends/vhost_user.c) reads messages and
 * passes them here, so the fuzzer can too.  Internal.
 */
#ifndef NETBE_VHOST_PROTO_H
#define NETBE_VHOST_PROTO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "vring.h"

/* Requests (vhost-user.rst). */
enum {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_SEND_RARP = 19,
	VHU_GET_MAX_MEM_SLOTS = 36,
};

#define VHU_HDR_SIZE 12
#define VHU_VERSION 0x1
#define VHU_FLAG_REPLY (1u << 2)
#define VHU_FLAG_NEED_REPLY (1u << 3)
#define VHU_PAYLOAD_MAX 512	/* largest we accept (SET_MEM_TABLE: 264) */
#define VHU_MAX_FDS 8		/* fds one message may carry */

/* Virtio and vhost-user feature bits, as masks. */
#define VHU_F_PROTOCOL_FEATURES (1ULL << 30)
#define VHU_F_EVENT_IDX (1ULL << 29)
#define VHU_F_INDIRECT_DESC (1ULL << 28)
#define VHU_F_VERSION_1 (1ULL << 32)
#define VHU_F_IN_ORDER (1ULL << 35)
#define VHU_F_LOG_ALL (1ULL << 26)	/* vhost: the VMM logs our writes */
#define VHU_F_GUEST_ANNOUNCE (1ULL << 21) /* virtio-net: the VMM has the
					     guest announce itself */
#define VHU_PF_MQ (1ULL << 0)
#define VHU_PF_LOG_SHMFD (1ULL << 1)
#define VHU_PF_RARP (1ULL << 2)
#define VHU_PF_REPLY_ACK (1ULL << 3)
#define VHU_VRING_F_LOG 1u		/* SET_VRING_ADDR: log the used ring */

#define VHU_MAX_PAIRS 64 /* queue pairs: rings 2i (guest rx), 2i+1 (tx) */
#define VHU_NO_FD (1ULL << 8) /* KICK/CALL/ERR: no fd passed */

struct netbe__vh_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	uint8_t payload[VHU_PAYLOAD_MAX];
};

/* One ring: what the VMM configured, and the live ring the data path
 * uses.  lock guards everything below it against the data thread. */
struct netbe__vh_vq {
	pthread_mutex_t lock;
	unsigned num;
	struct netbe__vring_addr addr;
	uint32_t addr_flags;	/* VHU_VRING_F_LOG */
	uint64_t log_addr;	/* where the used ring is logged */
	bool addr_set;
	uint16_t base;	/* SET_VRING_BASE */
	int kick, call, err;
	bool started;	/* kick received, not stopped by GET_VRING_BASE */
	bool enabled;	/* SET_VRING_ENABLE (on at start without
			   PROTOCOL_FEATURES) */
	bool live;	/* started, enabled and vr set up: data may move */
	bool told;	/* the data path logged why the ring broke */
	struct netbe__vring vr;
};

struct netbe__vh_dev;

/* What the backend wants to hear about; all optional. */
struct netbe__vh_hooks {
	/* Ring @i's kick fd goes from @old_fd to @new_fd (-1: none), with
	 * the ring's lock held; the old one is closed after. */
	void (*kick)(void *arg, unsigned i, int old_fd, int new_fd);
	/* Ring @i may have work now (it went live), lock held. */
	void (*wake)(void *arg, unsigned i);
	/* The negotiated features changed (SET_FEATURES, reset). */
	void (*features)(void *arg, uint64_t features);
	/* A migrated guest arrived (SEND_RARP): announce @mac (no lock
	 * held). */
	void (*rarp)(void *arg, const uint8_t mac[6]);
	void *arg;
};

struct netbe__vh_dev {
	unsigned npairs;	/* queue pairs offered (GET_QUEUE_NUM) */
	uint64_t offered;	/* GET_FEATURES */
	uint64_t features;	/* acked by SET_FEATURES */
	uint64_t protocol;	/* acked protocol features */
	unsigned guest_hdr;	/* header length in the rings: 10 or 12 */
	bool owner;
	struct netbe__vh_mem mem;
	struct netbe__vh_log log;	/* SET_LOG_BASE */
	struct netbe__vh_hooks hooks;
	struct netbe__vh_vq vq[2 * VHU_MAX_PAIRS];
};

/* Sets up @d for @npairs queue pairs offering @features.  0 or -errno. */
int netbe__vh_dev_init(struct netbe__vh_dev *d, unsigned npairs,
		       uint64_t features, const struct netbe__vh_hooks *h);
/* Forgets the VMM: stops every ring, closes its fds, unmaps memory. */
void netbe__vh_dev_reset(struct netbe__vh_dev *d);
/* reset, then frees what init made. */
void netbe__vh_dev_fini(struct netbe__vh_dev *d);

/*
 * Checks the 12-byte header at @buf: version 1, not a reply, payload
 * size at most VHU_PAYLOAD_MAX.  Fills @m's header.  0 or -EPROTO with
 * @why set (the connection cannot be resynchronised then).
 */
int netbe__vh_parse_hdr(const uint8_t *buf, struct netbe__vh_msg *m,
			const char **why);

/*
 * Handles message @m (payload read) with the @nfds fds that came with it,
 * which it owns from now on (keeps or closes).  Fills @reply and returns
 * 1 when a reply is due (a GET, or REPLY_ACK asked for), 0 when none;
 * *@why is set when the request failed or was refused (the reply, if
 * any, says so; the caller logs @why).  Never fails otherwise.
 */
int netbe__vh_handle(struct netbe__vh_dev *d, const struct netbe__vh_msg *m,
		     int *fds, unsigned nfds, struct netbe__vh_msg *reply,
		     const char **why);

/* The request's name for logs ("SET_MEM_TABLE"), or "unknown". */
const char *netbe__vh_req_name(uint32_t req);

#endif
