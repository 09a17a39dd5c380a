/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockaddr.h - the socket addresses users type for the stream and dgram
 * backends: "unix:/path", "tcp:HOST:PORT", "udp:HOST:PORT", with HOST a
 * name, an IPv4 address or a bracketed IPv6 one ("tcp:[::1]:5555").
 * Internal, not installed.
 */
#ifndef NETBE_SOCKADDR_H
#define NETBE_SOCKADDR_H

#include <stdbool.h>
#include <sys/socket.h>

enum netbe__sa_proto {
	NETBE__SA_UNIX = 1,
	NETBE__SA_TCP = 2,
	NETBE__SA_UDP = 4,
};

struct netbe__sockaddr {
	enum netbe__sa_proto proto;
	socklen_t len;
	struct sockaddr_storage ss;
	char text[160]; /* as typed, for messages */
};

/*
 * Parses @s, accepting only the protocols in @allowed (a mask of
 * NETBE__SA_*).  @who prefixes the error message ("stream: connect").
 * An empty HOST means the wildcard address (for listening).
 * Returns 0 or -EINVAL / -ENOENT (no such host) with the error set.
 */
int netbe__sockaddr_parse(const char *s, unsigned allowed, const char *who,
			  struct netbe__sockaddr *out);

/* The socket family (AF_UNIX, AF_INET, AF_INET6). */
int netbe__sockaddr_family(const struct netbe__sockaddr *a);

/* True when @a is an IPv4 or IPv6 multicast address. */
bool netbe__sockaddr_is_mcast(const struct netbe__sockaddr *a);

/*
 * Binds @fd to unix address @a, first removing a stale socket file at
 * that path (a socket nobody listens on any more), never another file.
 * Returns 0 or -errno with the error set, naming @who.
 */
int netbe__sockaddr_bind_unix(int fd, const struct netbe__sockaddr *a,
			      const char *who);

/* The unix path of @a ("" for other families). */
const char *netbe__sockaddr_path(const struct netbe__sockaddr *a);

/* Formats a peer address (from accept/recvfrom) for logs. */
void netbe__sockaddr_format(const struct sockaddr *sa, socklen_t len,
			    char *buf, size_t buflen);

#endif /* NETBE_SOCKADDR_H */
