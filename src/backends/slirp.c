/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * slirp.c - user-mode NAT through libslirp ("slirp").
 *
 * Theory of operation
 *   libslirp is a TCP/IP stack in the process: it answers the guest's
 *   ARP, DHCP, DNS and ICMP echo to the virtual host, and turns the
 *   guest's TCP/UDP flows into ordinary host sockets (10.0.2.2 is the
 *   host's loopback).  hostfwd rules make it listen on host ports and
 *   open connections towards the guest.  No privileges are needed.
 *
 *   Guest to slirp: send() hands each frame to slirp_input().  Slirp to
 *   guest: libslirp calls send_packet() synchronously from whatever
 *   libslirp code is running; we copy the frame into a ring (dropping and
 *   counting when it is full) and keep an eventfd readable while the ring
 *   is non-empty.  That eventfd is the queue's readiness fd (open's
 *   out->fd[0]), so the core's receive watch fires the frontend's callback
 *   and peek/recv pull from the ring.
 *
 *   Driving libslirp from the epoll loop.  libslirp is poll-based:
 *   slirp_pollfds_fill() reports, per socket, the events it wants now, and
 *   slirp_pollfds_poll() consumes what happened and runs its TCP timers.
 *   Every time something happens - a socket watch fires, a timer expires,
 *   or the guest sent a frame - slirpbe_process() runs poll with the
 *   events the loop recorded, then fill, and brings one loop watch per
 *   socket in line with what fill asked for (a watch whose events change
 *   is deleted and re-added: two epoll_ctl calls, cheap next to libslirp's
 *   own work).  fill's timeout arms one "tick" timer.  libslirp's own
 *   timers (the IPv6 router advertisement) are loop timers too.  No thread
 *   of our own.
 *
 *   Only the loop thread touches watches.  The frontend sends from its own
 *   thread; that path only runs slirp_input() and then "kicks" the loop
 *   through an eventfd (once per loop pass, however many frames were
 *   sent), and the loop runs slirpbe_process().  This matters because
 *   deleting a watch waits for its callback, and our callbacks wait for
 *   the lock the sender holds.
 *
 *   Sockets are watched through a dup() of libslirp's fd.  libslirp tells
 *   us (unregister_poll_fd) just before it closes a socket, possibly on
 *   the sender's thread where we must not touch the loop; the entry is
 *   only marked stale and removed by the next slirpbe_process().  Watching
 *   our own dup means the fd number we remove from epoll is still ours
 *   then, never a number the kernel has meanwhile given to someone else's
 *   file.
 *
 *   Locking: libslirp is not thread-safe.  One mutex serialises every call
 *   into it (send, every loop callback) and guards the ring (peek/recv).
 *   libslirp's callbacks run with the mutex held and never take it.
 *
 *   SIGPIPE: libslirp writes to host sockets with a plain send(), so a
 *   host peer that closed its end raises SIGPIPE, whose default action
 *   kills the process (QEMU ignores SIGPIPE process-wide; a library must
 *   not change that).  Every entry into libslirp that can write runs with
 *   SIGPIPE blocked on the calling thread, and a SIGPIPE it raised is
 *   consumed before the mask is restored (three system calls per entry).
 *
 *   Defaults follow QEMU's user networking, what people running VMs
 *   expect: the guest may connect out (DNS and TCP/UDP/ICMP to the host's
 *   services work out of the box); "restrict=on" isolates it (no
 *   connections out, only hostfwd in and the built-in DHCP/TFTP).  bhyve,
 *   whose slirp is restricted unless "open" is given, still means what it
 *   says with "slirp,open,..."; a bhyve user relying on its restricted
 *   default must now write restrict=on.  Addresses follow QEMU: net
 *   10.0.2.0/24, host .2, DNS .3, DHCP from .15; IPv6 on (fec0::/64).
 *   The MTU is the generic "mtu" key (1500).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "util.h"

#define SLIRP_RING 1024	       /* frames queued towards the guest */
#define SLIRP_MTU_DEFAULT 1500
#define SLIRP_MTU_MAX 65521    /* libslirp's IF_MTU_MAX */
#define SLIRP_ETH_OVERHEAD 18  /* Ethernet header and a VLAN tag */
#define SLIRP_RULE_MAX 256
#define SLIRP_DNSSEARCH_MAX 8

struct slirpbe_frame {
	uint8_t *buf;
	size_t len, cap;
};

struct slirpbe_priv;

/* One socket libslirp asked us to poll. */
struct slirpbe_sock {
	struct slirpbe_priv *p;
	int sfd;	/* libslirp's fd number */
	int fd;		/* our dup of it: what the loop watches */
	int ev;		/* NETBE_EV_* of the current watch (0: none) */
	int want;	/* NETBE_EV_* the last fill asked for */
	int revents;	/* what the loop reported since the last poll */
	bool seen;	/* reported by the last fill */
	bool stale;	/* libslirp closed its fd */
	netbe_watch_t *w;
};

/* A libslirp timer (timer_new_opaque). */
struct slirpbe_timer {
	struct slirpbe_priv *p;
	SlirpTimerId id;
	void *cb_opaque;
	netbe_watch_t *w;
	struct slirpbe_timer *next;
};

struct slirpbe_priv {
	pthread_mutex_t lock;
	bool lock_ok;
	Slirp *slirp;
	netbe_loop_t *loop;
	struct netbe__queue *bq;
	bool closing;
	/* towards the guest */
	struct netbe__evflag rx; /* readable while the ring holds frames */
	struct slirpbe_frame ring[SLIRP_RING];
	unsigned head, count;
	/* driving libslirp */
	int kickfd;
	int kicked; /* atomic: a kick is pending */
	netbe_watch_t *kick_w, *tick_w;
	struct slirpbe_sock **socks;
	size_t nsocks;
	struct slirpbe_timer *timers;
	/* from the guest */
	uint8_t *txbuf;
	size_t max_frame;
};

static const struct netbe_option slirpbe_options[] = {
	{ .key = "net", .type = NETBE_OPT_STRING,
	  .help = "guest IPv4 network A.B.C.D/N (default 10.0.2.0/24)" },
	{ .key = "host", .type = NETBE_OPT_STRING,
	  .help = "address of the host (gateway) in net (default .2)" },
	{ .key = "dhcpstart", .type = NETBE_OPT_STRING,
	  .help = "first address DHCP hands out (default .15)" },
	{ .key = "dns", .type = NETBE_OPT_STRING,
	  .help = "address of the DNS forwarder in net (default .3)" },
	{ .key = "hostfwd", .type = NETBE_OPT_STRING,
	  .help = "forward host ports to the guest: "
		  "tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport, "
		  "several separated by ';'" },
	{ .key = "restrict", .type = NETBE_OPT_BOOL,
	  .help = "isolate the guest: no connections out (default off)" },
	{ .key = "open", .type = NETBE_OPT_BOOL,
	  .help = "bhyve's spelling of restrict=off" },
	{ .key = "ipv4", .type = NETBE_OPT_BOOL,
	  .help = "offer IPv4 (default on)" },
	{ .key = "ipv6", .type = NETBE_OPT_BOOL,
	  .help = "offer IPv6 on fec0::/64 (default on)" },
	{ .key = "hostname", .type = NETBE_OPT_STRING,
	  .help = "host name DHCP gives the guest" },
	{ .key = "domainname", .type = NETBE_OPT_STRING,
	  .help = "domain name DHCP gives the guest" },
	{ .key = "dnssearch", .type = NETBE_OPT_STRING,
	  .help = "DNS search domains DHCP gives the guest, separated by ';'" },
	{ .key = "tftp", .type = NETBE_OPT_STRING,
	  .help = "directory the built-in TFTP server serves" },
	{ .key = "bootfile", .type = NETBE_OPT_STRING,
	  .help = "boot file name DHCP announces (with tftp)" },
	{ .key = NULL },
};

/* ---- configuration ------------------------------------------------------ */

/* What slirp_new() needs, with the storage its pointers point into. */
struct slirpbe_cfg {
	SlirpConfig c;
	char *dnsbuf;
	const char *dnssearch[SLIRP_DNSSEARCH_MAX + 1];
};

static int slirpbe_bad_value(const char *key, const char *val, const char *why)
{
	return netbe__err(-EINVAL, "slirp: invalid value '%s' for '%s': %s",
			  val, key, why);
}

static int slirpbe_parse_net(const char *s, struct in_addr *net,
			     struct in_addr *mask)
{
	char buf[64], *slash;
	unsigned long bits;
	uint32_t m;

	if (strlen(s) >= sizeof(buf) || !(slash = strchr(strcpy(buf, s), '/')))
		return slirpbe_bad_value("net", s, "expected A.B.C.D/N");
	*slash = '\0';
	if (inet_pton(AF_INET, buf, net) != 1)
		return slirpbe_bad_value("net", s, "not an IPv4 address");
	if (netbe__parse_uint(slash + 1, 30, &bits) < 0 || bits < 1)
		return slirpbe_bad_value("net", s,
					 "the prefix length must be 1-30");
	m = bits ? 0xffffffffu << (32 - bits) : 0;
	mask->s_addr = htonl(m);
	if (net->s_addr & ~mask->s_addr)
		return slirpbe_bad_value("net", s, "host bits are set");
	return 0;
}

/* Reads address @key, default net + @dflt_host, and checks it is a host
 * address inside the net. */
static int slirpbe_parse_in_net(const struct netbe__opts *o, const char *key,
				uint32_t dflt_host, const SlirpConfig *c,
				struct in_addr *out)
{
	const char *s = netbe__opt_str(o, key, NULL);
	const char *net_s = netbe__opt_str(o, "net", "10.0.2.0/24");
	uint32_t net = ntohl(c->vnetwork.s_addr), m = ntohl(c->vnetmask.s_addr);
	uint32_t a = net | dflt_host;
	char why[96];

	if (s && inet_pton(AF_INET, s, out) != 1)
		return slirpbe_bad_value(key, s, "not an IPv4 address");
	if (s)
		a = ntohl(out->s_addr);
	out->s_addr = htonl(a);
	if ((a & m) == net && (a & ~m) != 0 && (a & ~m) != ~m)
		return 0;
	if (!s)
		return netbe__err(-EINVAL, "slirp: invalid value '%s' for "
				  "'net': no room for the default '%s' "
				  "address", net_s, key);
	snprintf(why, sizeof(why), "not a host address in net %s", net_s);
	return slirpbe_bad_value(key, s, why);
}

static int slirpbe_cfg_ipv4(const struct netbe__opts *o, SlirpConfig *c)
{
	const char *net = netbe__opt_str(o, "net", NULL);
	int r;

	c->vnetwork.s_addr = htonl(0x0a000200); /* 10.0.2.0/24 */
	c->vnetmask.s_addr = htonl(0xffffff00);
	if (net && (r = slirpbe_parse_net(net, &c->vnetwork, &c->vnetmask)) < 0)
		return r;
	if ((r = slirpbe_parse_in_net(o, "host", 2, c, &c->vhost)) < 0 ||
	    (r = slirpbe_parse_in_net(o, "dhcpstart", 15, c,
				      &c->vdhcp_start)) < 0 ||
	    (r = slirpbe_parse_in_net(o, "dns", 3, c, &c->vnameserver)) < 0)
		return r;
	if (c->vhost.s_addr == c->vdhcp_start.s_addr ||
	    c->vhost.s_addr == c->vnameserver.s_addr)
		return netbe__err(-EINVAL, "slirp: 'host' must differ from "
				  "'dhcpstart' and 'dns'");
	/* Else the guest's own DHCP address would be its nameserver. */
	if (c->vdhcp_start.s_addr == c->vnameserver.s_addr)
		return netbe__err(-EINVAL, "slirp: 'dhcpstart' must differ "
				  "from 'dns'");
	return 0;
}

static void slirpbe_cfg_ipv6(SlirpConfig *c)
{
	inet_pton(AF_INET6, "fec0::", &c->vprefix_addr6);
	c->vprefix_len = 64;
	inet_pton(AF_INET6, "fec0::2", &c->vhost6);
	inet_pton(AF_INET6, "fec0::3", &c->vnameserver6);
}

/* restrict and bhyve's open are one setting; both given must agree. */
static int slirpbe_cfg_restrict(const struct netbe__opts *o, SlirpConfig *c)
{
	bool restricted = netbe__opt_bool(o, "restrict", false);

	if (netbe__opt_isset(o, "open")) {
		bool open = netbe__opt_bool(o, "open", false);

		if (netbe__opt_isset(o, "restrict") && open == restricted)
			return netbe__err(-EINVAL, "slirp: 'open=%s' and "
					  "'restrict=%s' contradict each other",
					  open ? "on" : "off",
					  restricted ? "on" : "off");
		restricted = !open;
	}
	c->restricted = restricted;
	return 0;
}

static int slirpbe_cfg_dnssearch(const struct netbe__opts *o,
				 struct slirpbe_cfg *sc)
{
	const char *v = netbe__opt_str(o, "dnssearch", NULL);
	char *s, *tok;
	int n = 0;

	if (!v)
		return 0;
	if (!(sc->dnsbuf = strdup(v)))
		return netbe__err(-ENOMEM, "slirp: out of memory");
	for (s = sc->dnsbuf; (tok = strsep(&s, ";")) != NULL;) {
		if (!*tok)
			continue;
		if (n == SLIRP_DNSSEARCH_MAX)
			return slirpbe_bad_value("dnssearch", v,
						 "more than 8 domains");
		sc->dnssearch[n++] = tok;
	}
	sc->c.vdnssearch = n ? sc->dnssearch : NULL;
	return 0;
}

static void slirpbe_cfg_strings(const struct netbe__opts *o, SlirpConfig *c)
{
	c->vhostname = netbe__opt_str(o, "hostname", NULL);
	c->vdomainname = netbe__opt_str(o, "domainname", NULL);
	c->tftp_path = netbe__opt_str(o, "tftp", NULL);
	c->bootfile = netbe__opt_str(o, "bootfile", NULL);
}

static int slirpbe_cfg_build(const struct netbe__opts *o,
			     struct slirpbe_cfg *sc)
{
	SlirpConfig *c = &sc->c;
	unsigned mtu = o->mtu ? o->mtu : SLIRP_MTU_DEFAULT;
	int r;

	c->version = 4;
	c->in_enabled = netbe__opt_bool(o, "ipv4", true);
	c->in6_enabled = netbe__opt_bool(o, "ipv6", true);
	if (!c->in_enabled && !c->in6_enabled)
		return netbe__err(-EINVAL, "slirp: 'ipv4' and 'ipv6' are both "
					   "off: nothing to offer");
	if (mtu > SLIRP_MTU_MAX)
		return netbe__err(-EINVAL, "slirp: invalid value '%u' for "
				  "'mtu': libslirp takes at most %u", mtu,
				  SLIRP_MTU_MAX);
	c->if_mtu = c->if_mru = mtu;
	if ((r = slirpbe_cfg_ipv4(o, c)) < 0 ||
	    (r = slirpbe_cfg_restrict(o, c)) < 0 ||
	    (r = slirpbe_cfg_dnssearch(o, sc)) < 0)
		return r;
	if (c->in6_enabled)
		slirpbe_cfg_ipv6(c);
	slirpbe_cfg_strings(o, c);
	return 0;
}

/* ---- hostfwd rules ------------------------------------------------------ */

struct slirpbe_fwd {
	int is_udp;
	struct in_addr haddr, gaddr;
	int hport, gport;
};

static int slirpbe_fwd_err(const char *rule, const char *why, const char *what)
{
	return netbe__err(-EINVAL, "slirp: invalid value for 'hostfwd': rule "
			  "'%s': %s%s%s%s", rule, why, what ? " '" : "",
			  what ? what : "", what ? "'" : "");
}

static int slirpbe_fwd_addr(const char *rule, const char *s, struct in_addr *a)
{
	if (!*s) {
		a->s_addr = INADDR_ANY; /* host: any; guest: dhcpstart */
		return 0;
	}
	if (inet_pton(AF_INET, s, a) != 1)
		return slirpbe_fwd_err(rule, "not an IPv4 address:", s);
	return 0;
}

static int slirpbe_fwd_port(const char *rule, const char *s, int *port)
{
	unsigned long v;

	if (netbe__parse_uint(s, 65535, &v) < 0 || v == 0)
		return slirpbe_fwd_err(rule, "not a port (1-65535):", s);
	*port = (int)v;
	return 0;
}

/* "tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport", as QEMU. */
static int slirpbe_fwd_parse(const char *rule, struct slirpbe_fwd *f)
{
	char buf[SLIRP_RULE_MAX], *p = buf, *proto, *ha, *hp, *ga;
	int r;

	if (strlen(rule) >= sizeof(buf))
		return slirpbe_fwd_err(rule, "too long", NULL);
	strcpy(buf, rule);
	proto = strsep(&p, ":");
	ha = p ? strsep(&p, ":") : NULL;
	hp = p ? strsep(&p, "-") : NULL;
	ga = p ? strsep(&p, ":") : NULL;
	if (!p)
		return slirpbe_fwd_err(rule,
				       "expected tcp|udp:[hostaddr]:hostport-"
				       "[guestaddr]:guestport", NULL);
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && *proto)
		return slirpbe_fwd_err(rule, "unknown protocol (tcp or udp):",
				       proto);
	f->is_udp = !strcmp(proto, "udp");
	if ((r = slirpbe_fwd_addr(rule, ha, &f->haddr)) < 0 ||
	    (r = slirpbe_fwd_port(rule, hp, &f->hport)) < 0 ||
	    (r = slirpbe_fwd_addr(rule, ga, &f->gaddr)) < 0 ||
	    (r = slirpbe_fwd_port(rule, p, &f->gport)) < 0)
		return r;
	return 0;
}

static int slirpbe_fwd_apply(Slirp *slirp, const char *rule,
			     const struct slirpbe_fwd *f)
{
	char ha[INET_ADDRSTRLEN];

	errno = 0;
	if (slirp_add_hostfwd(slirp, f->is_udp, f->haddr, f->hport, f->gaddr,
			      f->gport) == 0)
		return 0;
	inet_ntop(AF_INET, &f->haddr, ha, sizeof(ha));
	return netbe__err(errno ? -errno : -EADDRINUSE,
			  "slirp: hostfwd rule '%s': cannot listen on %s "
			  "%s:%d: %s", rule, f->is_udp ? "udp" : "tcp", ha,
			  f->hport, strerror(errno ? errno : EADDRINUSE));
}

/* Parses every rule of @v; with @slirp, applies them too. */
static int slirpbe_fwd_each(Slirp *slirp, const char *v)
{
	char *copy, *s, *rule;
	struct slirpbe_fwd f;
	int r = 0;

	if (!v)
		return 0;
	if (!(copy = strdup(v)))
		return netbe__err(-ENOMEM, "slirp: out of memory");
	for (s = copy; r == 0 && (rule = strsep(&s, ";")) != NULL;) {
		if (!*rule)
			continue; /* "a;;b" or a trailing ';' */
		r = slirpbe_fwd_parse(rule, &f);
		if (r == 0 && slirp)
			r = slirpbe_fwd_apply(slirp, rule, &f);
	}
	free(copy);
	return r;
}

/* ---- the ring towards the guest (lock held) ----------------------------- */

static void slirpbe_ring_push(struct slirpbe_priv *p, const void *buf,
			      size_t len)
{
	struct slirpbe_frame *f;

	if (p->count == SLIRP_RING) {
		netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_RING, 1);
		return;
	}
	f = &p->ring[(p->head + p->count) % SLIRP_RING];
	if (f->cap < len) {
		uint8_t *nb = realloc(f->buf, len);

		if (!nb) {
			netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_RING, 1);
			return;
		}
		f->buf = nb;
		f->cap = len;
	}
	memcpy(f->buf, buf, len);
	f->len = len;
	if (p->count++ == 0)
		netbe__evflag_set(&p->rx, true);
}

static void slirpbe_ring_pop(struct slirpbe_priv *p)
{
	p->head = (p->head + 1) % SLIRP_RING;
	if (--p->count == 0)
		netbe__evflag_set(&p->rx, false);
}

/* ---- libslirp callbacks (lock held) ------------------------------------- */

static ssize_t slirpbe_cb_send_packet(const void *buf, size_t len, void *opaque)
{
	slirpbe_ring_push(opaque, buf, len);
	return (ssize_t)len; /* a dropped frame is TCP's to retransmit */
}

static void slirpbe_cb_guest_error(const char *msg, void *opaque)
{
	struct slirpbe_priv *p = opaque;

	netbe__q_log(p->bq, NETBE_LOG_WARN, "slirp: guest error: %s", msg);
}

static int64_t slirpbe_cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)netbe__now_ns();
}

static void slirpbe_kick(struct slirpbe_priv *p)
{
	uint64_t one = 1;

	if (__atomic_exchange_n(&p->kicked, 1, __ATOMIC_ACQ_REL))
		return; /* the loop has not run the last kick yet */
	if (write(p->kickfd, &one, sizeof(one)) < 0)
		(void)0; /* counter full: the loop is woken anyway */
}

static void slirpbe_timer_cb(int fd, int events, void *arg);

static void *slirpbe_cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque,
					 void *opaque)
{
	struct slirpbe_priv *p = opaque;
	struct slirpbe_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct slirpbe_timer){ .p = p, .id = id, .cb_opaque = cb_opaque };
	if (netbe_loop_add_timer(p->loop, 0, 0, slirpbe_timer_cb, t,
				 &t->w) < 0) {
		free(t);
		return NULL; /* libslirp copes: the timer never fires */
	}
	t->next = p->timers;
	p->timers = t;
	return t;
}

static void slirpbe_cb_timer_free(void *timer, void *opaque)
{
	struct slirpbe_priv *p = opaque;
	struct slirpbe_timer **pp = &p->timers, *t = timer;

	if (!t)
		return;
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	netbe_watch_del(t->w);
	free(t);
}

static void slirpbe_cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirpbe_timer *t = timer;
	int64_t d = expire_ms - slirpbe_cb_clock_get_ns(opaque) / 1000000;

	if (!t || !t->w)
		return;
	if (d < 1)
		d = 1; /* 0 would disarm it */
	if (d > 86400000)
		d = 86400000;
	netbe_timer_set(t->w, (unsigned)d, 0);
}

static void slirpbe_cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque; /* the next fill reports it */
}

/* libslirp is about to close @fd; maybe on the sender's thread. */
static void slirpbe_cb_unregister_poll_fd(int fd, void *opaque)
{
	struct slirpbe_priv *p = opaque;

	for (size_t i = 0; i < p->nsocks; i++)
		if (p->socks[i] && p->socks[i]->sfd == fd)
			p->socks[i]->stale = true;
}

static void slirpbe_cb_notify(void *opaque)
{
	slirpbe_kick(opaque);
}

static const SlirpCb slirpbe_cbs = {
	.send_packet = slirpbe_cb_send_packet,
	.guest_error = slirpbe_cb_guest_error,
	.clock_get_ns = slirpbe_cb_clock_get_ns,
	.timer_free = slirpbe_cb_timer_free,
	.timer_mod = slirpbe_cb_timer_mod,
	.register_poll_fd = slirpbe_cb_register_poll_fd,
	.unregister_poll_fd = slirpbe_cb_unregister_poll_fd,
	.notify = slirpbe_cb_notify,
	.timer_new_opaque = slirpbe_cb_timer_new_opaque,
};

/* ---- socket watches (loop thread, lock held) ---------------------------- */

static void slirpbe_sock_cb(int fd, int events, void *arg);

static int slirpbe_ev_from_slirp(int ev)
{
	int out = 0;

	if (ev & (SLIRP_POLL_IN | SLIRP_POLL_PRI))
		out |= NETBE_EV_READ;
	if (ev & SLIRP_POLL_OUT)
		out |= NETBE_EV_WRITE;
	/* The loop needs an event; errors and hangups come with either. */
	return out ? out : NETBE_EV_READ;
}

static int slirpbe_ev_to_slirp(int ev)
{
	return (ev & NETBE_EV_READ ? SLIRP_POLL_IN : 0) |
	       (ev & NETBE_EV_WRITE ? SLIRP_POLL_OUT : 0);
}

static void slirpbe_sock_free(struct slirpbe_priv *p, size_t i)
{
	struct slirpbe_sock *s = p->socks[i];

	netbe_watch_del(s->w);
	close(s->fd);
	free(s);
	p->socks[i] = NULL;
}

static ssize_t slirpbe_sock_slot(struct slirpbe_priv *p)
{
	struct slirpbe_sock **ns;
	size_t old = p->nsocks, n = old ? old * 2 : 16;

	for (size_t i = 0; i < old; i++)
		if (!p->socks[i])
			return (ssize_t)i;
	/* Grows, never shrinks: indices handed to libslirp stay valid. */
	ns = realloc(p->socks, n * sizeof(*ns));
	if (!ns)
		return -1;
	memset(ns + old, 0, (n - old) * sizeof(*ns));
	p->socks = ns;
	p->nsocks = n;
	return (ssize_t)old;
}

/* Finds the live entry for libslirp's @sfd or makes one; its index. */
static ssize_t slirpbe_sock_get(struct slirpbe_priv *p, int sfd)
{
	struct slirpbe_sock *s;
	ssize_t i;

	for (size_t j = 0; j < p->nsocks; j++)
		if (p->socks[j] && p->socks[j]->sfd == sfd &&
		    !p->socks[j]->stale)
			return (ssize_t)j;
	if ((i = slirpbe_sock_slot(p)) < 0 || !(s = calloc(1, sizeof(*s))))
		return -1;
	*s = (struct slirpbe_sock){ .p = p, .sfd = sfd };
	s->fd = fcntl(sfd, F_DUPFD_CLOEXEC, 0);
	if (s->fd < 0) {
		free(s);
		return -1;
	}
	p->socks[i] = s;
	return i;
}

static int slirpbe_add_poll_cb(int sfd, int events, void *opaque)
{
	struct slirpbe_priv *p = opaque;
	ssize_t i = slirpbe_sock_get(p, sfd);

	if (i < 0)
		return -1; /* out of fds or memory: not polled this round */
	p->socks[i]->want |= slirpbe_ev_from_slirp(events);
	p->socks[i]->seen = true;
	return (int)i;
}

static int slirpbe_get_revents_cb(int idx, void *opaque)
{
	struct slirpbe_priv *p = opaque;
	struct slirpbe_sock *s;

	if (idx < 0 || (size_t)idx >= p->nsocks || !(s = p->socks[idx]) ||
	    s->stale)
		return 0;
	return slirpbe_ev_to_slirp(s->revents);
}

static void slirpbe_sock_rewatch(struct slirpbe_sock *s)
{
	netbe_watch_del(s->w);
	s->w = NULL;
	s->ev = 0;
	if (netbe_loop_add_fd(s->p->loop, s->fd, s->want, 1, slirpbe_sock_cb, s,
			      &s->w) == 0)
		s->ev = s->want;
	else
		netbe__q_log(s->p->bq, NETBE_LOG_ERR,
			     "slirp: cannot watch a socket: %s",
			     netbe_last_error());
}

/* After fill: drop what libslirp closed or no longer polls, rewatch
 * what changed, and clear the marks for the next round. */
static void slirpbe_socks_sync(struct slirpbe_priv *p)
{
	for (size_t i = 0; i < p->nsocks; i++) {
		struct slirpbe_sock *s = p->socks[i];

		if (!s)
			continue;
		if (s->stale || !s->seen) {
			slirpbe_sock_free(p, i);
			continue;
		}
		if (s->ev != s->want)
			slirpbe_sock_rewatch(s);
	}
}

static void slirpbe_socks_begin_fill(struct slirpbe_priv *p)
{
	for (size_t i = 0; i < p->nsocks; i++) {
		struct slirpbe_sock *s = p->socks[i];

		if (s) {
			s->want = s->revents = 0;
			s->seen = false;
		}
	}
}

static void slirpbe_tick_arm(struct slirpbe_priv *p, uint32_t timeout)
{
	if (timeout == UINT32_MAX)
		netbe_timer_set(p->tick_w, 0, 0);
	else
		netbe_timer_set(p->tick_w, timeout ? timeout : 1, 0);
}

/* Lets libslirp act on what happened, then asks what to wait for. */
static void slirpbe_process(struct slirpbe_priv *p)
{
	uint32_t timeout = UINT32_MAX;

	if (p->closing)
		return;
	slirp_pollfds_poll(p->slirp, 0, slirpbe_get_revents_cb, p);
	slirpbe_socks_begin_fill(p);
	slirp_pollfds_fill(p->slirp, &timeout, slirpbe_add_poll_cb, p);
	slirpbe_socks_sync(p);
	slirpbe_tick_arm(p, timeout);
}

/* ---- entering libslirp ----------------------------------------------------- */

struct slirpbe_entry {
	sigset_t old;
	bool pipe_was_pending;
};

/* Takes the lock with SIGPIPE blocked on this thread (see the top). */
static void slirpbe_enter(struct slirpbe_priv *p, struct slirpbe_entry *e)
{
	sigset_t s, pend;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, &e->old);
	e->pipe_was_pending = sigpending(&pend) == 0 &&
			      sigismember(&pend, SIGPIPE);
	pthread_mutex_lock(&p->lock);
}

/* Drops the lock, consumes a SIGPIPE libslirp raised, restores the mask. */
static void slirpbe_leave(struct slirpbe_priv *p, struct slirpbe_entry *e)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t s, pend;

	pthread_mutex_unlock(&p->lock);
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	if (!e->pipe_was_pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGPIPE))
		while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &e->old, NULL);
}

/* ---- loop callbacks ------------------------------------------------------ */

static void slirpbe_sock_cb(int fd, int events, void *arg)
{
	struct slirpbe_sock *s = arg;
	struct slirpbe_priv *p = s->p;
	struct slirpbe_entry e;

	(void)fd;
	slirpbe_enter(p, &e);
	s->revents |= events;
	slirpbe_process(p);
	slirpbe_leave(p, &e);
}

static void slirpbe_timer_cb(int fd, int events, void *arg)
{
	struct slirpbe_timer *t = arg;
	struct slirpbe_priv *p = t->p;
	struct slirpbe_entry e;

	(void)fd;
	(void)events;
	slirpbe_enter(p, &e);
	if (!p->closing) {
		slirp_handle_timer(p->slirp, t->id, t->cb_opaque);
		slirpbe_process(p);
	}
	slirpbe_leave(p, &e);
}

static void slirpbe_tick_cb(int fd, int events, void *arg)
{
	struct slirpbe_priv *p = arg;
	struct slirpbe_entry e;

	(void)fd;
	(void)events;
	slirpbe_enter(p, &e);
	slirpbe_process(p);
	slirpbe_leave(p, &e);
}

static void slirpbe_kick_cb(int fd, int events, void *arg)
{
	struct slirpbe_priv *p = arg;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0)
		(void)0; /* spurious: nothing pending */
	/* Cleared before taking the lock, so a sender that finds it set
	 * knows its frame is seen by the slirpbe_process() below. */
	__atomic_store_n(&p->kicked, 0, __ATOMIC_RELEASE);
	slirpbe_tick_cb(fd, events, arg);
}

/* ---- open / close -------------------------------------------------------- */

/* Everything open() may have taken; safe on a half-opened priv. */
static void slirpbe_release(struct slirpbe_priv *p)
{
	if (p->lock_ok) {
		pthread_mutex_lock(&p->lock);
		p->closing = true; /* callbacks already queued do nothing */
		pthread_mutex_unlock(&p->lock);
	}
	netbe_watch_del(p->kick_w);
	netbe_watch_del(p->tick_w);
	for (struct slirpbe_timer *t = p->timers; t; t = t->next) {
		netbe_watch_del(t->w);
		t->w = NULL;
	}
	if (p->slirp)
		slirp_cleanup(p->slirp); /* frees the timers */
	for (size_t i = 0; i < p->nsocks; i++)
		if (p->socks[i])
			slirpbe_sock_free(p, i);
	free(p->socks);
	for (unsigned i = 0; i < SLIRP_RING; i++)
		free(p->ring[i].buf);
	netbe__evflag_close(&p->rx);
	if (p->kickfd >= 0)
		close(p->kickfd);
	free(p->txbuf);
	if (p->lock_ok)
		pthread_mutex_destroy(&p->lock);
}

static int slirpbe_resources(struct slirpbe_priv *p)
{
	p->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (netbe__evflag_init(&p->rx) < 0 || p->kickfd < 0)
		return netbe__err(-errno, "slirp: eventfd: %s",
				  strerror(errno));
	if (!(p->txbuf = malloc(p->max_frame)))
		return netbe__err(-ENOMEM, "slirp: out of memory");
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		return netbe__err(-ENOMEM, "slirp: cannot create a mutex");
	p->lock_ok = true;
	return 0;
}

static int slirpbe_watches(struct slirpbe_priv *p)
{
	int r = netbe_loop_add_fd(p->loop, p->kickfd, NETBE_EV_READ, 1,
				  slirpbe_kick_cb, p, &p->kick_w);

	if (r == 0)
		r = netbe_loop_add_timer(p->loop, 0, 0, slirpbe_tick_cb, p,
					 &p->tick_w);
	return r;
}

static int slirpbe_open(struct netbe__queue *bq, const struct netbe__opts *o,
			struct netbe__opened *out)
{
	struct slirpbe_priv *p = bq->priv;
	const char *fwd = netbe__opt_str(o, "hostfwd", NULL);
	struct slirpbe_cfg sc = { 0 };
	int r;

	p->rx.fd = p->kickfd = -1;
	p->loop = o->loop;
	p->bq = bq;
	if ((r = slirpbe_cfg_build(o, &sc)) < 0 ||
	    (r = slirpbe_fwd_each(NULL, fwd)) < 0)
		goto fail;
	p->max_frame = sc.c.if_mtu + SLIRP_ETH_OVERHEAD;
	if ((r = slirpbe_resources(p)) < 0)
		goto fail;
	p->slirp = slirp_new(&sc.c, &slirpbe_cbs, p);
	if (!p->slirp) {
		r = netbe__err(-EINVAL, "slirp: libslirp refused the "
					"configuration");
		goto fail;
	}
	if ((r = slirpbe_fwd_each(p->slirp, fwd)) < 0 ||
	    (r = slirpbe_watches(p)) < 0)
		goto fail;
	free(sc.dnsbuf); /* libslirp copied what it keeps */
	out->fd[0] = p->rx.fd;
	slirpbe_kick(p); /* the first fill, on the loop thread */
	return 0;
fail:
	free(sc.dnsbuf);
	slirpbe_release(p);
	return r;
}

static void slirpbe_close(struct netbe__queue *bq)
{
	slirpbe_release(bq->priv);
}

/* ---- data path ------------------------------------------------------------ */

static ssize_t slirpbe_send(struct netbe__queue *bq, const struct iovec *iov,
			    int iovcnt)
{
	struct slirpbe_priv *p = bq->priv;
	size_t len = netbe__iov_len(iov, iovcnt);
	const uint8_t *pkt = iov[0].iov_base;
	struct slirpbe_entry e;

	if (len > p->max_frame)
		return -EMSGSIZE;
	slirpbe_enter(p, &e);
	if (iovcnt != 1) {
		netbe__iov_to_buf(iov, iovcnt, 0, p->txbuf, len);
		pkt = p->txbuf;
	}
	slirp_input(p->slirp, pkt, (int)len);
	slirpbe_leave(p, &e);
	slirpbe_kick(p); /* new sockets, new wants, delayed ACK timers */
	return (ssize_t)len;
}

static ssize_t slirpbe_peek(struct netbe__queue *bq)
{
	struct slirpbe_priv *p = bq->priv;
	ssize_t n;

	pthread_mutex_lock(&p->lock);
	n = p->count ? (ssize_t)p->ring[p->head].len : 0;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static ssize_t slirpbe_recv(struct netbe__queue *bq, const struct iovec *iov,
			    int iovcnt)
{
	struct slirpbe_priv *p = bq->priv;
	struct slirpbe_frame *f;
	ssize_t n = 0;

	pthread_mutex_lock(&p->lock);
	if (p->count) {
		f = &p->ring[p->head];
		if (f->len > netbe__iov_len(iov, iovcnt))
			n = -ENOSPC;
		else
			n = (ssize_t)netbe__buf_to_iov(f->buf, f->len, iov,
						       iovcnt, 0);
		slirpbe_ring_pop(p);
	}
	pthread_mutex_unlock(&p->lock);
	return n;
}

static int slirpbe_get_mtu(struct netbe__queue *bq)
{
	struct slirpbe_priv *p = bq->priv;

	return (int)(p->max_frame - SLIRP_ETH_OVERHEAD);
}

const struct netbe__ops netbe__slirp_ops = {
	.name = "slirp",
	.prefixes = "slirp",
	.description = "user-mode NAT through libslirp: DHCP, DNS, outbound "
		       "TCP/UDP, hostfwd (no privileges)",
	.options = slirpbe_options,
	.priv_size = sizeof(struct slirpbe_priv),
	.open = slirpbe_open,
	.close = slirpbe_close,
	.send = slirpbe_send,
	.peek_recvlen = slirpbe_peek,
	.recv = slirpbe_recv,
	.get_mtu = slirpbe_get_mtu,
};
