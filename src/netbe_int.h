/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netbe_int.h - helpers every part of the library shares: typed options,
 * errors and logs, counters, iovecs.  Not installed.  The backend
 * interface is src/backend.h; the handle's layout is src/core.h, the
 * core's alone.
 */
#ifndef NETBE_INT_H
#define NETBE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "netbe.h"

#define NETBE__EXPORT __attribute__((visibility("default")))

/* Typed access to a checked config (see config.c). */
struct netbe__opts {
	const netbe_config_t *cfg;
	const char *be_name; /* what followed the backend's prefix: "0" */
	const char *token;   /* the whole first token: "tap0", or NULL */
	const char *type;    /* the selected backend's name: "tap" */
	netbe_loop_t *loop;  /* the handle's loop, for a backend's own watches */
	unsigned mtu;	     /* the generic "mtu" key, 0 when unset */
};

const char *netbe__opt_str(const struct netbe__opts *o, const char *key,
			   const char *dflt);
bool netbe__opt_bool(const struct netbe__opts *o, const char *key,
		     bool dflt);
/* The value must already be checked; returns @dflt when unset. */
unsigned long netbe__opt_uint(const struct netbe__opts *o, const char *key,
			      unsigned long dflt);
bool netbe__opt_isset(const struct netbe__opts *o, const char *key);
/* What the backend works on: the @key option, else what followed the
 * prefix and an optional ':' ("pipe:lab", "xdp:veth0"), else "". */
const char *netbe__opt_target(const struct netbe__opts *o, const char *key);

/* "key=value,key,..." (no backend token; a bare key is key=true) into
 * @cfg: 0 or -errno. */
int netbe__config_parse_kv(netbe_config_t *cfg, const char *opts);
/* 0 when every key of @cfg is in @valid (", "-separated), else -EINVAL
 * with "@who: unknown key 'k'; valid keys: @valid". */
int netbe__config_only(const netbe_config_t *cfg, const char *who,
		       const char *valid);

/* Value parsers shared with config checking; 0 or -EINVAL. */
int netbe__parse_bool(const char *s, bool *out);
int netbe__parse_uint(const char *s, unsigned long max, unsigned long *out);
int netbe__parse_mac(const char *s, uint8_t mac[6]);

/* Generic keys every backend accepts (config.c). */
extern const struct netbe_option netbe__generic_options[];

/* Errors and logs (error.c). */
int netbe__err(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void netbe__log(enum netbe_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool netbe__log_enabled(enum netbe_log_level lvl);

/* Copies @s into @buf (@cap bytes), control characters and non-ASCII
 * escaped as \xNN, cut with "..." when too long; returns the length. */
size_t netbe__escape(char *buf, size_t cap, const char *s);

/* Counters: an atomic add, so any thread may count. */
static inline void netbe__count(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* CLOCK_MONOTONIC in nanoseconds (loop.c). */
uint64_t netbe__now_ns(void);

/* iovec helpers (iov.c). */
size_t netbe__iov_len(const struct iovec *iov, int iovcnt);
/* Calls @fn on each piece of bytes [@off, @off + @len) of @iov, with the
 * number of bytes before it (@done); returns the bytes visited. */
typedef void (*netbe__iov_fn)(void *arg, void *p, size_t n, size_t done);
size_t netbe__iov_walk(const struct iovec *iov, int iovcnt, size_t off,
		       size_t len, netbe__iov_fn fn, void *arg);
/* Copies up to @len bytes from @iov starting at @off into @buf; returns
 * the bytes copied.  Bytes within the first piece (a header, mostly) are
 * one memcpy the compiler sees, of a length the caller often fixes: no
 * call, and stores a following load of @buf can be forwarded from (a
 * vhost-user tx profile stalled on that load behind the generic walk). */
size_t netbe__iov_to_buf_walk(const struct iovec *iov, int iovcnt,
			      size_t off, void *buf, size_t len);
static inline size_t netbe__iov_to_buf(const struct iovec *iov, int iovcnt,
				       size_t off, void *buf, size_t len)
{
	if (iovcnt > 0 && off <= iov[0].iov_len &&
	    len <= iov[0].iov_len - off) {
		memcpy(buf, (const uint8_t *)iov[0].iov_base + off, len);
		return len;
	}
	return netbe__iov_to_buf_walk(iov, iovcnt, off, buf, len);
}
size_t netbe__buf_to_iov(const void *buf, size_t len,
			 const struct iovec *iov, int iovcnt, size_t off);
/* Fills @out (room for @max entries) with @iov minus its first @skip
 * bytes; returns the entry count, or -EINVAL when @skip is past the end
 * and -E2BIG when @max is too small. */
int netbe__iov_skip(const struct iovec *iov, int iovcnt, size_t skip,
		    struct iovec *out, int max);

#endif /* NETBE_INT_H */
