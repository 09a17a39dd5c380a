/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sockaddr.c - parsing "unix:/path | tcp:HOST:PORT | udp:HOST:PORT".
 *
 * Theory of operation
 *   The scheme picks the family and socket type; the port is always
 *   numeric (a service name lookup would read /etc/services for nothing);
 *   the host goes through getaddrinfo() so "localhost" works, and the
 *   first answer wins, as QEMU does.  IPv6 literals are bracketed because
 *   their colons would otherwise swallow the port.
 *
 *   Binding a unix socket fails with EADDRINUSE when the path exists,
 *   which after a crash is a stale socket file.  We remove it only when
 *   it is a socket *and* connecting to it is refused - so a live peer's
 *   socket, or a regular file the user mistyped, is never deleted.
 *
 *   Permissions.  bind() creates the socket file with a mode that follows
 *   the caller's umask (0777 & ~umask: world-writable under umask 000),
 *   and whoever may write the file may connect or send to it.  The umask
 *   is process-wide, so we never touch it.  Instead, on Linux the file
 *   takes the socket inode's mode masked by the umask, so fchmod(fd, 0600)
 *   before bind() makes the file at most 0600 from its first instant;
 *   then we chown it to group= and chmod it to the exact mode= (0600 by
 *   default) by path, after checking it is still a socket, before the
 *   caller lets anyone in: a stream listener calls listen() afterwards
 *   (connecting before listen() is refused), a datagram socket connects
 *   to its peer and discards what was queued meanwhile.  Should a kernel
 *   ignore the fchmod, those two rules still close the window.  (Binding
 *   in a private directory and renaming into place would also work, but
 *   the socket keeps the temporary name as its address, which peers see
 *   as the sender of every datagram.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "netbe_int.h"
#include "sockaddr.h"

static const struct {
	const char *scheme;
	enum netbe__sa_proto proto;
} schemes[] = {
	{ "unix:", NETBE__SA_UNIX },
	{ "tcp:", NETBE__SA_TCP },
	{ "udp:", NETBE__SA_UDP },
};

static int parse_unix(const char *path, const char *who,
		      struct netbe__sockaddr *out)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(un->sun_path))
		return netbe__err(-EINVAL, "%s %s: the path must have 1-%zu "
				  "bytes", who, out->text,
				  sizeof(un->sun_path) - 1);
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, n + 1);
	out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/* Splits "HOST:PORT" / "[V6]:PORT" into @host (may be "") and @port. */
static int split_host_port(const char *s, char *host, size_t hostlen,
			   const char **port)
{
	const char *colon;
	size_t n;

	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		s++;
		colon = end + 1;
		n = (size_t)(end - s);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s);
		if (memchr(s, ':', n))
			return -EINVAL; /* an unbracketed IPv6 address */
	}
	if (n >= hostlen)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

static int parse_port(const char *s, unsigned long *port)
{
	if (netbe__parse_uint(s, 65535, port) < 0 || *port == 0)
		return -EINVAL;
	return 0;
}

static int resolve(const char *host, unsigned long port, int socktype,
		   const char *who, struct netbe__sockaddr *out)
{
	struct addrinfo hints = { .ai_socktype = socktype,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	char portstr[24];
	int r;

	snprintf(portstr, sizeof(portstr), "%lu", port);
	r = getaddrinfo(*host ? host : NULL, portstr, &hints, &res);
	if (r != 0 || !res)
		return netbe__err(-ENOENT, "%s %s: cannot resolve '%s': %s",
				  who, out->text, host,
				  r ? gai_strerror(r) : "no address");
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int parse_inet(const char *rest, const char *who,
		      struct netbe__sockaddr *out)
{
	char host[NI_MAXHOST];
	const char *portstr;
	unsigned long port;

	if (split_host_port(rest, host, sizeof(host), &portstr) < 0 ||
	    parse_port(portstr, &port) < 0)
		return netbe__err(-EINVAL, "%s %s: expected HOST:PORT or "
				  "[IPV6]:PORT with a port of 1-65535",
				  who, out->text);
	return resolve(host, port,
		       out->proto == NETBE__SA_TCP ? SOCK_STREAM : SOCK_DGRAM,
		       who, out);
}

static void allowed_list(unsigned allowed, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if ((allowed & schemes[i].proto) && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s...",
						off ? ", " : "",
						schemes[i].scheme);
}

int netbe__sockaddr_parse(const char *s, unsigned allowed, const char *who,
			  struct netbe__sockaddr *out)
{
	char valid[64];

	memset(out, 0, sizeof(*out));
	snprintf(out->text, sizeof(out->text), "%s", s ? s : "");
	for (size_t i = 0; s && i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);

		if (strncmp(s, schemes[i].scheme, n) ||
		    !(allowed & schemes[i].proto))
			continue;
		out->proto = schemes[i].proto;
		if (out->proto == NETBE__SA_UNIX)
			return parse_unix(s + n, who, out);
		return parse_inet(s + n, who, out);
	}
	allowed_list(allowed, valid, sizeof(valid));
	return netbe__err(-EINVAL, "%s '%s': expected %s", who, out->text,
			  valid);
}

int netbe__sockaddr_family(const struct netbe__sockaddr *a)
{
	return a->ss.ss_family;
}

bool netbe__sockaddr_is_mcast(const struct netbe__sockaddr *a)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return IN_MULTICAST(ntohl(in->sin_addr.s_addr));
	if (a->ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_MULTICAST(&in6->sin6_addr);
	return false;
}

const char *netbe__sockaddr_path(const struct netbe__sockaddr *a)
{
	if (a->ss.ss_family != AF_UNIX)
		return "";
	return ((const struct sockaddr_un *)&a->ss)->sun_path;
}

/* True when the socket file at @a is left over: nobody accepts on it. */
static bool unix_is_stale(const struct netbe__sockaddr *a, int type)
{
	struct stat st;
	int fd, r;

	if (stat(netbe__sockaddr_path(a), &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	r = connect(fd, (const struct sockaddr *)&a->ss, a->len);
	r = r < 0 && errno == ECONNREFUSED;
	close(fd);
	return r;
}

int netbe__sockaddr_bind_unix(int fd, const struct netbe__sockaddr *a,
			      const char *who)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
	int type = 0, err;
	socklen_t tl = sizeof(type);

	if (bind(fd, sa, a->len) == 0)
		return 0;
	err = errno;
	if (err == EADDRINUSE &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
	    unix_is_stale(a, type) && unlink(netbe__sockaddr_path(a)) == 0) {
		if (bind(fd, sa, a->len) == 0)
			return 0;
		err = errno;
	}
	if (err == EADDRINUSE)
		return netbe__err(-err, "%s %s: the path exists and is not a "
				  "stale socket (in use, or not a socket)",
				  who, a->text);
	return netbe__err(-err, "%s %s: bind: %s", who, a->text,
			  strerror(err));
}

static int parse_mode(const char *s, const char *who, unsigned *mode)
{
	unsigned long v;
	char *end;

	*mode = NETBE__UNIX_MODE_DEFAULT;
	if (!s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (*s < '0' || *s > '7' || *end || errno || v > 0777 ||
	    (v & 0600) != 0600)
		return netbe__err(-EINVAL, "%s: mode=%s: expected octal "
				  "permission bits 600-777 that keep the "
				  "owner's rw (600 default, 660: the group "
				  "too, 666: everyone)", who, s);
	*mode = (unsigned)v;
	return 0;
}

/* A group name, or a GID when @s is all digits. */
static int parse_group(const char *s, const char *who, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];
	unsigned long v;

	*gid = (gid_t)-1;
	if (!s)
		return 0;
	if (netbe__parse_uint(s, (gid_t)-2, &v) == 0) {
		*gid = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(s, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*gid = res->gr_gid;
		return 0;
	}
	return netbe__err(-EINVAL, "%s: group=%s: no such group; expected "
			  "a group name or a numeric GID", who, s);
}

int netbe__unix_perms_parse(const char *mode, const char *group,
			    const char *who, struct netbe__unix_perms *out)
{
	int r = parse_mode(mode, who, &out->mode);

	return r < 0 ? r : parse_group(group, who, &out->gid);
}

/* Gives the socket file at @a its group and exact mode. */
static int unix_set_perms(const struct netbe__sockaddr *a,
			  const struct netbe__unix_perms *perms,
			  const char *who)
{
	const char *path = netbe__sockaddr_path(a);
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return netbe__err(-EEXIST, "%s %s: the socket file was "
				  "replaced right after bind", who, a->text);
	if (perms->gid != (gid_t)-1 &&
	    lchown(path, (uid_t)-1, perms->gid) < 0)
		return netbe__err(-errno, "%s %s: group=%u: chown: %s (the "
				  "owner must be a member of the group)", who,
				  a->text, (unsigned)perms->gid,
				  strerror(errno));
	if (chmod(path, perms->mode) < 0)
		return netbe__err(-errno, "%s %s: mode=%o: chmod: %s", who,
				  a->text, perms->mode, strerror(errno));
	return 0;
}

int netbe__sockaddr_bind_unix_perms(int fd, const struct netbe__sockaddr *a,
				    const struct netbe__unix_perms *perms,
				    const char *who)
{
	int r;

	/* Linux: the file gets this mode & ~umask at bind (see above). */
	(void)fchmod(fd, NETBE__UNIX_MODE_DEFAULT);
	r = netbe__sockaddr_bind_unix(fd, a, who);
	if (r < 0)
		return r;
	r = unix_set_perms(a, perms, who);
	if (r < 0 && r != -EEXIST)
		unlink(netbe__sockaddr_path(a));
	return r;
}

void netbe__sockaddr_format(const struct sockaddr *sa, socklen_t len,
			    char *buf, size_t buflen)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (sa->sa_family == AF_UNIX) {
		snprintf(buf, buflen, "unix peer");
		return;
	}
	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, buflen, "unknown peer");
		return;
	}
	snprintf(buf, buflen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, serv);
}
