/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Software offloads (offload.c): Internet checksums, checksum completion
 * at csum_start/csum_offset, and segmentation of GSO frames (TSO4/6, UFO,
 * USO) into MTU-sized frames.  Pure functions over iovecs; no backend.
 */
#ifndef NETBE_OFFLOAD_H
#define NETBE_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "netbe.h"

/* HOST_* bits the engine can always provide in software. */
#define NETBE__OFFL_EMULATED                                                 \
	(NETBE_F_CSUM | NETBE_F_HOST_TSO4 |                        \
	 NETBE_F_HOST_TSO6 | NETBE_F_HOST_ECN |                    \
	 NETBE_F_HOST_UFO | NETBE_F_HOST_USO)
#define NETBE__OFFL_GUEST                                                    \
	(NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4 |                 \
	 NETBE_F_GUEST_TSO6 | NETBE_F_GUEST_ECN |                  \
	 NETBE_F_GUEST_UFO | NETBE_F_GUEST_USO4 |                  \
	 NETBE_F_GUEST_USO6)

/* Longest run of L2+L3+L4 headers segmentation handles. */
#define NETBE__OFFL_HDR_MAX 256
/* More segments than this from one frame is an attack, not traffic
 * (a 64 KiB frame at the smallest MSS Linux allows, 88, gives 745). */
#define NETBE__OFFL_MAX_SEGS 1024

/* Why a frame was refused; 0 is "fine".  netbe__offl_reason() names it. */
enum netbe__offl_err {
	NETBE__OFFL_OK = 0,
	NETBE__OFFL_E_GSO_TYPE,	  /* unknown gso_type, or ECN on UDP */
	NETBE__OFFL_E_GSO_SIZE,	  /* gso_size 0 (or < 8 for UFO) */
	NETBE__OFFL_E_HDR_LEN,	  /* hdr_len beyond the frame */
	NETBE__OFFL_E_CSUM_RANGE, /* csum_start/csum_offset out of the frame */
	NETBE__OFFL_E_L2,	  /* truncated Ethernet/VLAN, or not IP */
	NETBE__OFFL_E_L3,	  /* bad or truncated IP header */
	NETBE__OFFL_E_PROTO,	  /* gso_type does not match the frame */
	NETBE__OFFL_E_L4,	  /* bad or truncated TCP/UDP header */
	NETBE__OFFL_E_HDRS_LONG,  /* headers longer than NETBE__OFFL_HDR_MAX */
	NETBE__OFFL_E_EMPTY,	  /* GSO frame without payload */
	NETBE__OFFL_E_SEGS,	  /* more than NETBE__OFFL_MAX_SEGS segments */
	NETBE__OFFL_NREASONS
};

const char *netbe__offl_reason(int err);

enum netbe__offl_kind {
	NETBE__OFFL_CSUM = 0, /* only a checksum to complete */
	NETBE__OFFL_TCP,      /* TSO: TCP segmentation */
	NETBE__OFFL_UFO,      /* UDP datagram cut into IP fragments */
	NETBE__OFFL_USO,      /* UDP segmentation: one datagram per segment */
};

/* A parsed, validated frame: what netbe__offl_parse() found. */
struct netbe__offl_frame {
	size_t len;		/* frame bytes (no virtio-net header) */
	enum netbe__offl_kind kind;
	bool v6;
	uint16_t mss;		/* payload bytes per segment */
	uint16_t l3, l4;	/* offsets of the IP and TCP/UDP headers */
	uint16_t hlen;		/* bytes copied in front of each segment */
	uint32_t csum_pos;	/* CSUM: where the checksum goes */
	uint32_t csum_start;	/* CSUM: where summing starts */
	unsigned nsegs;
	uint8_t hdr[NETBE__OFFL_HDR_MAX]; /* the frame's first bytes */
};

/*
 * Checks the virtio-net header @h against the frame in @iov (@len bytes,
 * no virtio-net header) and fills @f.  A frame with neither NEEDS_CSUM nor
 * a gso_type is not for the engine: the caller does not ask.  Returns 0
 * or an enum netbe__offl_err.
 */
int netbe__offl_parse(const struct netbe_vnet_hdr *h, const struct iovec *iov,
		      int iovcnt, size_t len, struct netbe__offl_frame *f);

/* Where segments are built.  The caller provides the storage; emit()
 * hands over what is built whenever one of the three fills up and at the
 * end.  Each segment's iovec starts with @pre (e.g. a zeroed backend
 * header) when pre_len > 0. */
struct netbe__offl_out {
	const void *pre;
	size_t pre_len;
	uint8_t *arena; /* copied, fixed-up headers */
	size_t arena_cap, arena_used;
	struct netbe_msg *msgs;
	int msgs_cap, nmsgs;
	struct iovec *iov;
	int iov_cap, iov_used; /* iov_cap >= iovcnt + 4 always fits one */
};

/* Takes @n segments; returns how many the backend accepted (n when all),
 * or -errno when none.  Fewer than @n stops the engine. */
typedef int (*netbe__offl_emit_fn)(void *arg, struct netbe_msg *msgs, int n);

/*
 * Builds the segments of @f (payload read from @iov, which must be the
 * frame @f was parsed from) into @out and passes them to @emit.  Headers
 * are copied and fixed up; payload is referenced, not copied, and read
 * once for its checksum.  Returns the number of segments accepted
 * (f->nsegs when all), or what emit returned when it took none.
 */
int netbe__offl_emit(const struct netbe__offl_frame *f,
		     const struct iovec *iov, int iovcnt,
		     struct netbe__offl_out *out, netbe__offl_emit_fn emit,
		     void *arg);

/* Computes the checksum a CSUM-kind frame needs at f->csum_pos. */
uint16_t netbe__offl_csum_value(const struct netbe__offl_frame *f,
				const struct iovec *iov, int iovcnt);

/*
 * Internet checksum (RFC 1071) building blocks.  A partial sum is a
 * 64-bit ones'-complement accumulator over bytes in memory order; fold it
 * to 16 bits and complement it to get the field's value (store it with
 * memcpy, no byte swapping).
 */
uint64_t netbe__csum_add(uint64_t sum, const void *buf, size_t len);
/* As netbe__csum_add over @len bytes of @iov from @off. */
uint64_t netbe__csum_iov(uint64_t sum, const struct iovec *iov, int iovcnt,
			 size_t off, size_t len);
uint16_t netbe__csum_fold(uint64_t sum);

#endif
