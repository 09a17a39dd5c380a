/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Plumbing the backends share: one copy of each, so a fix lands once
 * (util.h says what each does, and why an interface needs watching).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "util.h"

void netbe__ifreq(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

int netbe__ifioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr) < 0)
		r = -errno;
	close(s);
	return r;
}

/* ioctl @req (named @what in the message) on interface @ifname into
 * @ifr: 0 or -errno with the error set. */
static int if_query(const char *who, const char *ifname, unsigned long req,
		    const char *what, struct ifreq *ifr)
{
	int r;

	netbe__ifreq(ifr, ifname);
	r = netbe__ifioctl(req, ifr);
	if (r < 0)
		return netbe__err(r, "%s: %s %s: %s", who, what, ifname,
				  strerror(-r));
	return 0;
}

int netbe__if_mtu(const char *who, const char *ifname)
{
	struct ifreq ifr;
	int r = if_query(who, ifname, SIOCGIFMTU, "SIOCGIFMTU", &ifr);

	return r < 0 ? r : ifr.ifr_mtu;
}

int netbe__if_set_mtu(const char *who, const char *ifname, unsigned mtu)
{
	struct ifreq ifr;
	int r;

	netbe__ifreq(&ifr, ifname);
	ifr.ifr_mtu = (int)mtu;
	r = netbe__ifioctl(SIOCSIFMTU, &ifr);
	if (r < 0)
		return netbe__err(r, "%s: SIOCSIFMTU %s %u: %s", who, ifname,
				  mtu, strerror(-r));
	return 0;
}

int netbe__if_set_up(const char *who, const char *ifname)
{
	struct ifreq ifr;
	int r = if_query(who, ifname, SIOCGIFFLAGS, "SIOCGIFFLAGS", &ifr);

	if (r < 0)
		return r;
	ifr.ifr_flags |= IFF_UP;
	r = netbe__ifioctl(SIOCSIFFLAGS, &ifr);
	if (r < 0)
		return netbe__err(r, "%s: bringing %s up: %s", who, ifname,
				  strerror(-r));
	return 0;
}

int netbe__if_mac(const char *who, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int r = if_query(who, ifname, SIOCGIFHWADDR, "SIOCGIFHWADDR", &ifr);

	if (r < 0)
		return r;
	if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */)
		return netbe__err(-ENOTSUP, "%s: %s has no Ethernet address",
				  who, ifname);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

bool netbe__if_running(const char *ifname)
{
	struct ifreq ifr;

	netbe__ifreq(&ifr, ifname);
	return netbe__ifioctl(SIOCGIFFLAGS, &ifr) == 0 &&
	       (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

/* ---- an interface that may go away ---------------------------------------- */

/* Is the interface gone (deleted, or its name now another's)? */
static bool ifwatch_check(struct netbe__ifwatch *iw)
{
	if (!__atomic_load_n(&iw->gone, __ATOMIC_ACQUIRE) &&
	    if_nametoindex(iw->ifname) == iw->ifindex)
		return false;
	__atomic_store_n(&iw->gone, true, __ATOMIC_RELEASE);
	return true;
}

/* Says the interface is gone, once, whoever found out first.  Last in
 * its caller: a host may close the port from its log callback. */
static void ifwatch_tell(struct netbe__ifwatch *iw)
{
	if (!__atomic_exchange_n(&iw->told, true, __ATOMIC_ACQ_REL))
		netbe__q_log(iw->bq, NETBE_LOG_ERR, "interface %s is gone "
			     "(deleted); reopen the port to use it again",
			     iw->ifname);
}

/* Drains the netlink socket: true when a link was deleted, or when
 * messages were lost (ENOBUFS) and one may have been. */
static bool ifwatch_drain(int fd)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool del = false;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		size_t off = 0, len = n > 0 ? (size_t)n : 0;

		if (n < 0 && errno != ENOBUFS)
			break;
		del |= n < 0;
		/* NLMSG_OK/NEXT by hand: the macros mix signs. */
		while (off + sizeof(struct nlmsghdr) <= len) {
			const struct nlmsghdr *h = (void *)(buf + off);

			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len - off)
				break;
			del |= h->nlmsg_type == RTM_DELLINK;
			off += NLMSG_ALIGN(h->nlmsg_len);
		}
	}
	return del;
}

/* Loop thread: the link group spoke. */
static void ifwatch_cb(int fd, int events, void *arg)
{
	struct netbe__ifwatch *iw = arg;

	(void)events;
	if (!ifwatch_drain(fd) || __atomic_load_n(&iw->gone, __ATOMIC_ACQUIRE)
	    || !ifwatch_check(iw))
		return;
	netbe__q_hangup_all(iw->bq);
	ifwatch_tell(iw);
}

/* A netlink socket on the link group, or -errno. */
static int ifwatch_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_ROUTE), r;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	r = -errno;
	close(fd);
	return r;
}

int netbe__ifwatch_open(struct netbe__ifwatch *iw, struct netbe__queue *bq,
			netbe_loop_t *loop, const char *who,
			const char *ifname, unsigned ifindex)
{
	int fd = ifwatch_socket(), r;

	if (fd < 0)
		return netbe__err(fd, "%s: a netlink socket to watch %s: %s",
				  who, ifname, strerror(-fd));
	memset(iw, 0, sizeof(*iw));
	iw->bq = bq;
	snprintf(iw->ifname, sizeof(iw->ifname), "%s", ifname);
	iw->ifindex = ifindex;
	iw->fd = fd;
	r = netbe_loop_add_fd(loop, fd, NETBE_EV_READ, 1, ifwatch_cb, iw,
			      &iw->w);
	if (r == 0)
		return 0;
	close(fd);
	iw->fd = -1;
	return netbe__err(r, "%s: watching %s: %s", who, ifname,
			  strerror(-r));
}

void netbe__ifwatch_close(struct netbe__ifwatch *iw)
{
	if (!iw->w)
		return;
	netbe_watch_del(iw->w);
	iw->w = NULL;
	close(iw->fd);
	iw->fd = -1;
}

bool netbe__ifwatch_gone(const struct netbe__ifwatch *iw)
{
	return __atomic_load_n(&iw->gone, __ATOMIC_ACQUIRE);
}

int netbe__if_rx_error(struct netbe__ifwatch *iw, struct netbe__queue *bq,
		       int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (ifwatch_check(iw)) {
		ifwatch_tell(iw);
		return -ENODEV;
	}
	if (err)
		netbe__q_log(bq, NETBE_LOG_WARN, "interface %s: %s%s",
			     iw->ifname, strerror(err), err == ENETDOWN ?
			     " (link down; receiving resumes when it is up)"
			     : "");
	return 0;
}

int netbe__set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int netbe__evflag_init(struct netbe__evflag *f)
{
	f->up = false;
	f->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return f->fd < 0 ? -errno : 0;
}

void netbe__evflag_set(struct netbe__evflag *f, bool up)
{
	uint64_t v = 1;

	if (up == f->up)
		return;
	if (up ? write(f->fd, &v, sizeof(v)) < 0
	       : read(f->fd, &v, sizeof(v)) < 0)
		return; /* cannot fail on an eventfd we own; state unchanged */
	f->up = up;
}

void netbe__evflag_close(struct netbe__evflag *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->up = false;
}

bool netbe__msg_move(struct netbe_msg *dst, const struct netbe_msg *src,
		     size_t len)
{
	uint8_t chunk[2048];

	if (netbe__iov_len(dst->iov, dst->iovcnt) < len)
		return false;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof(chunk) ? len - off
						     : sizeof(chunk);

		n = netbe__iov_to_buf(src->iov, src->iovcnt, off, chunk, n);
		if (n == 0)
			return false;
		netbe__buf_to_iov(chunk, n, dst->iov, dst->iovcnt, off);
		off += n;
	}
	return true;
}
