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
#include <sys/types.h>

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

/* Who may use a unix socket file netbe creates (mode=, group=). */
struct netbe__unix_perms {
	unsigned mode;	/* permission bits: 0600 unless mode= widens them */
	gid_t gid;	/* group= to give the file; (gid_t)-1 keeps ours */
};

#define NETBE__UNIX_MODE_DEFAULT 0600

/*
 * Parses the values of mode= (octal bits 600-777 that keep the owner's
 * read and write) and group= (a name or a numeric GID); either may be
 * NULL for the default.  Returns 0 or -EINVAL with the error set, naming
 * @who and the valid choices.
 */
int netbe__unix_perms_parse(const char *mode, const char *group,
			    const char *who, struct netbe__unix_perms *out);

/*
 * netbe__sockaddr_bind_unix(), then gives the socket file @perms (group
 * first, then the exact mode) whatever the umask.  The file is never
 * wider than 0600 in between.  No one can connect to a stream socket
 * before listen(), so a caller that listens afterwards has no window;
 * a datagram socket must throw away what was queued before this returned
 * (see dgram.c).  On failure the file is removed.  Returns 0 or -errno
 * with the error set.
 */
int netbe__sockaddr_bind_unix_perms(int fd, const struct netbe__sockaddr *a,
				    const struct netbe__unix_perms *perms,
				    const char *who);

/* The unix path of @a ("" for other families). */
const char *netbe__sockaddr_path(const struct netbe__sockaddr *a);

/* Formats a peer address (from accept/recvfrom) for logs. */
void netbe__sockaddr_format(const struct sockaddr *sa, socklen_t len,
			    char *buf, size_t buflen);

#endif /* NETBE_SOCKADDR_H */
