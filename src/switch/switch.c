/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The switch: ports, their options, and the public API (netbe.h).
 *
 * Theory of operation
 *   A switch is a set of ports on one loop; forward.c moves the frames.
 *   A port is any backend: netbe_switch_add_port() opens a spec on the
 *   switch's loop, netbe_switch_attach() takes an open handle.  Either
 *   way the switch negotiates every offload the port has, with a 12-byte
 *   header, so frames cross whole (GSO, partial checksums) wherever both
 *   ends can carry them, and the core's engine finishes them for a port
 *   that cannot.  Each of the port's queues gets the switch's receive
 *   callback; the switch sends on queue 0.
 *
 *   Port keys ride in the spec ("tap0,id=vm1,vlan=10") and are taken out
 *   before the backend sees it, so every backend takes them without
 *   knowing them.  Ports live in slots; a removed port leaves an empty
 *   slot that the next port reuses, so indexes in the MAC table stay
 *   meaningful (a removed port's addresses are flushed).
 *
 *   A timer ages the MAC table in slices once a second, and flushes the
 *   capture files of quiet ports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switch/sw.h"

#define SW_AGE_TICK_MS 1000
#define SW_MACS_DEFAULT 4096
#define SW_AGING_DEFAULT_S 300

static const char *const port_keys[] = {
	"id", "vlan", "trunk", "vlans", "capture", "rx_rate", "tx_rate",
	"rx_pps", "tx_pps", "burst", NULL,
};

static bool is_port_key(const char *kv)
{
	size_t n = strcspn(kv, "=");

	for (int i = 0; port_keys[i]; i++)
		if (strlen(port_keys[i]) == n && !strncmp(kv, port_keys[i], n))
			return true;
	return false;
}

/* ---- options ------------------------------------------------------------- */

/* Splits @spec into the backend's part (@be) and the port keys (@cfg). */
static int split_spec(const char *spec, char **be, netbe_config_t *cfg)
{
	char *copy = strdup(spec), *tok, *save = NULL;
	size_t off = 0, cap = strlen(spec) + 1;
	int r = 0;

	*be = calloc(1, cap);
	if (!copy || !*be) {
		free(copy);
		return netbe__err(-ENOMEM, "switch: out of memory");
	}
	for (tok = strtok_r(copy, ",", &save); tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!is_port_key(tok)) {
			off += (size_t)snprintf(*be + off, cap - off, "%s%s",
						off ? "," : "", tok);
			continue;
		}
		if (eq)
			*eq = '\0';
		r = netbe_config_set(cfg, tok, eq ? eq + 1 : "true");
	}
	free(copy);
	return r;
}

static int bad(const char *key, const char *val, const char *valid)
{
	return netbe__err(-EINVAL, "switch: invalid value '%s' for '%s' "
			  "(valid: %s)", val, key, valid);
}

static int get_uint(const netbe_config_t *c, const char *key,
		    unsigned long max, unsigned long *out)
{
	const char *v = netbe_config_get(c, key);

	if (!v)
		return 0;
	if (netbe__parse_uint(v, max, out) < 0)
		return bad(key, v, "a decimal integer");
	return 1;
}

/* "10;20-30" into the allow-list. */
static int parse_vlans(struct sw_port *p, const char *v)
{
	const char *s = v;

	memset(p->allowed, 0, sizeof(p->allowed));
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s)
			return bad("vlans", v, "VLAN ids 1-4094 and ranges "
				   "A-B, separated by ';'");
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (a < 1 || b > 4094 || a > b || (*end && *end != ';'))
			return bad("vlans", v, "VLAN ids 1-4094 and ranges "
				   "A-B, separated by ';'");
		for (unsigned long i = a; i <= b; i++)
			p->allowed[i / 64] |= 1ULL << (i % 64);
		s = *end ? end + 1 : end;
	}
	return 0;
}

static void allow_all(struct sw_port *p)
{
	memset(p->allowed, 0xff, sizeof(p->allowed));
	p->allowed[0] &= ~1ULL;		     /* VID 0: priority tags */
	p->allowed[4095 / 64] &= ~(1ULL << 63); /* VID 4095: reserved */
}

static int port_vlans(struct sw_port *p, const netbe_config_t *c)
{
	const char *trunk = netbe_config_get(c, "trunk");
	const char *vlans = netbe_config_get(c, "vlans");
	unsigned long vid = 1;
	bool on = false;
	int r;

	if ((r = get_uint(c, "vlan", 4094, &vid)) < 0)
		return r;
	if (vid < 1)
		return bad("vlan", netbe_config_get(c, "vlan"), "1-4094");
	if (trunk && netbe__parse_bool(trunk, &on) < 0)
		return bad("trunk", trunk, "on, off");
	if (on && r)
		return netbe__err(-EINVAL, "switch: 'vlan' and 'trunk' "
				  "exclude each other");
	p->mode = on ? SW_TRUNK : r ? SW_ACCESS : SW_PLAIN;
	p->pvid = on ? 0 : (uint16_t)vid;
	allow_all(p);
	if (p->mode == SW_ACCESS) {
		memset(p->allowed, 0, sizeof(p->allowed));
		p->allowed[vid / 64] = 1ULL << (vid % 64);
	}
	if (vlans && p->mode != SW_TRUNK)
		return netbe__err(-EINVAL, "switch: 'vlans' needs 'trunk=on'");
	return vlans ? parse_vlans(p, vlans) : 0;
}

static int port_limits(struct sw_port *p, const netbe_config_t *c)
{
	static const char *const keys[2][2] = { { "rx_rate", "rx_pps" },
						{ "tx_rate", "tx_pps" } };
	unsigned long rate, pps, burst = 0;
	uint64_t now = netbe__now_ns();
	int r;

	if ((r = get_uint(c, "burst", ~0UL, &burst)) < 0)
		return r;
	for (int d = 0; d < 2; d++) {
		rate = pps = 0;
		if ((r = get_uint(c, keys[d][0], ~0UL, &rate)) < 0 ||
		    (r = get_uint(c, keys[d][1], ~0UL, &pps)) < 0)
			return r;
		netbe__bucket_init(&p->lim[d].bytes, rate, burst, now);
		netbe__bucket_init(&p->lim[d].frames, pps, 0, now);
	}
	return 0;
}

static int port_options(struct sw_port *p, const netbe_config_t *c)
{
	const char *cap = netbe_config_get(c, "capture");
	int r;

	if ((r = port_vlans(p, c)) < 0 || (r = port_limits(p, c)) < 0)
		return r;
	if (cap && (r = netbe__capture_open(&p->cap, cap)) < 0)
		return r;
	return 0;
}

/* ---- ports ----------------------------------------------------------------- */

static struct sw_port *find(const struct netbe_switch *sw, const char *name)
{
	for (unsigned i = 0; i < sw->nslots; i++)
		if (sw->ports[i] && !strcmp(sw->ports[i]->name, name))
			return sw->ports[i];
	return NULL;
}

/* The port's name: id=, else the spec's first token, made unique. */
static int port_name(struct sw_port *p, const char *id, const char *spec)
{
	char base[48];
	size_t n;

	if (id) {
		if (!*id || strlen(id) >= SW_NAME_MAX || strpbrk(id, " \t\n"))
			return bad("id", id, "1-63 characters, no spaces");
		if (find(p->sw, id))
			return netbe__err(-EEXIST, "switch: a port named '%s' "
					  "exists", id);
		snprintf(p->name, sizeof(p->name), "%s", id);
		return 0;
	}
	n = strcspn(spec, ", \t\n"); /* a label's first word: "A (pipe:x)" */
	snprintf(base, sizeof(base), "%.*s", (int)(n < 40 ? n : 40), spec);
	snprintf(p->name, sizeof(p->name), "%s", base);
	for (unsigned k = 2; find(p->sw, p->name); k++)
		snprintf(p->name, sizeof(p->name), "%s-%u", base, k);
	return 0;
}

static int slot_for(struct netbe_switch *sw)
{
	struct sw_port **np;

	for (unsigned i = 0; i < sw->nslots; i++)
		if (!sw->ports[i])
			return (int)i;
	if (sw->nslots == SW_MAX_PORTS)
		return netbe__err(-ENOSPC, "switch: %d ports at most",
				  SW_MAX_PORTS);
	np = realloc(sw->ports, (sw->nslots + 1) * sizeof(*np));
	if (!np)
		return netbe__err(-ENOMEM, "switch: out of memory");
	sw->ports = np;
	sw->ports[sw->nslots] = NULL;
	return (int)sw->nslots++;
}

static void port_free(struct sw_port *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nrxq; i++) {
		netbe_rx_disable(p->rxq[i].q);
		netbe_set_rx_cb(p->rxq[i].q, netbe__sw_rx_cb, NULL);
	}
	if (p->be)
		netbe_tx_wait(p->be, NULL, NULL);
	netbe_watch_del(p->rate_timer);
	netbe_watch_del(p->tx_timer);
	if (p->q)
		netbe__sw_queue_free(p);
	netbe__capture_close(p->cap);
	if (p->owned)
		netbe_cleanup(p->be);
	free(p->rxq);
	free(p->q);
	free(p);
}

/* Every offload the port has, with the 12-byte header. */
static int port_negotiate(struct sw_port *p)
{
	uint64_t f = netbe_get_cap(p->be) & NETBE_OFFLOAD_MASK;
	int r = netbe_set_cap(p->be, f, SW_HDR);

	if (r < 0)
		return netbe__err(r, "switch: %s: %s", p->name,
				  netbe_last_error());
	return 0;
}

static int port_queues(struct sw_port *p)
{
	p->nrxq = netbe_get_nqueues(p->be);
	p->rxq = calloc(p->nrxq, sizeof(*p->rxq));
	p->q = calloc(p->sw->queue_max, sizeof(*p->q));
	if (!p->rxq || !p->q)
		return netbe__err(-ENOMEM, "switch: out of memory");
	for (unsigned i = 0; i < p->nrxq; i++) {
		p->rxq[i] = (struct sw_rxq){ p, netbe_get_queue(p->be, i) };
		netbe_set_rx_cb(p->rxq[i].q, netbe__sw_rx_cb, &p->rxq[i]);
	}
	return 0;
}

/* Adds @p (backend open, options parsed) in a free slot and starts it. */
static int port_start(struct netbe_switch *sw, struct sw_port *p)
{
	int r, slot = slot_for(sw);

	if (slot < 0)
		return slot;
	p->idx = (unsigned)slot;
	if ((r = port_negotiate(p)) < 0 || (r = port_queues(p)) < 0)
		return r;
	sw->ports[slot] = p;
	sw->nports++;
	for (unsigned i = 0; i < p->nrxq; i++)
		netbe_rx_enable(p->rxq[i].q);
	return slot;
}

static struct sw_port *port_new(struct netbe_switch *sw)
{
	struct sw_port *p = calloc(1, sizeof(*p));

	if (!p)
		netbe__err(-ENOMEM, "switch: out of memory");
	else
		p->sw = sw;
	return p;
}

/* Builds a port from its keys @c; @be_spec names it when id= is unset. */
static int port_add(struct netbe_switch *sw, struct sw_port *p,
		    const netbe_config_t *c, const char *be_spec)
{
	int r = port_name(p, netbe_config_get(c, "id"), be_spec);

	if (r == 0)
		r = port_options(p, c);
	if (r == 0)
		r = port_start(sw, p);
	return r;
}

NETBE__EXPORT int netbe_switch_add_port(netbe_switch_t *sw, const char *spec)
{
	netbe_config_t *c = netbe_config_new();
	struct sw_port *p = port_new(sw);
	char *be_spec = NULL;
	int r = c && p ? 0 : -ENOMEM;

	if (r == 0 && !spec)
		r = netbe__err(-EINVAL, "switch: no port spec");
	if (r == 0)
		r = split_spec(spec, &be_spec, c);
	if (r == 0 && (r = netbe_open(&p->be, be_spec, sw->loop,
				     netbe__sw_rx_cb, NULL)) == 0)
		p->owned = true;
	if (r == 0)
		r = port_add(sw, p, c, be_spec);
	if (r < 0)
		port_free(p);
	free(be_spec);
	netbe_config_free(c);
	return r;
}

NETBE__EXPORT int netbe_switch_attach(netbe_switch_t *sw, netbe_t *be,
				      const char *opts)
{
	netbe_config_t *c = netbe_config_new();
	struct sw_port *p = port_new(sw);
	char *rest = NULL;
	int r = c && p ? 0 : -ENOMEM;

	if (r == 0 && opts && *opts && (r = split_spec(opts, &rest, c)) == 0 &&
	    *rest)
		r = netbe__err(-EINVAL, "switch: unknown port key in '%s' "
			       "(valid: id, vlan, trunk, vlans, capture, "
			       "rx_rate, tx_rate, rx_pps, tx_pps, burst)", rest);
	if (r == 0) {
		p->be = be;
		r = port_add(sw, p, c, netbe_get_label(be));
	}
	if (r < 0)
		port_free(p);
	free(rest);
	netbe_config_free(c);
	return r;
}

NETBE__EXPORT int netbe_switch_del_port(netbe_switch_t *sw, const char *name)
{
	struct sw_port *p = name ? find(sw, name) : NULL;

	if (!p)
		return netbe__err(-ENOENT, "switch: no port '%s'",
				  name ? name : "");
	netbe__sw_resume(p);
	netbe__fdb_flush_port(sw->fdb, p->idx);
	sw->ports[p->idx] = NULL;
	sw->nports--;
	/* Ports it held back for nothing read again. */
	for (unsigned i = 0; i < sw->nslots; i++)
		if (sw->ports[i])
			sw->ports[i]->blocked[p->idx / 64] &=
				~(1ULL << (p->idx % 64));
	port_free(p);
	return 0;
}

/* ---- the switch ------------------------------------------------------------ */

static void age_tick(int fd, int events, void *arg)
{
	struct netbe_switch *sw = arg;

	(void)fd;
	(void)events;
	netbe__fdb_age(sw->fdb, netbe__now_ns() / 1000000);
	for (unsigned i = 0; i < sw->nslots; i++) {
		if (!sw->ports[i])
			continue;
		netbe__capture_flush(sw->ports[i]->cap);
		netbe__sw_stall_check(sw->ports[i]);
	}
}

static int sw_options(netbe_config_t *c, const char *opts, unsigned long *macs,
		      unsigned long *aging, unsigned long *queue, int *lossless)
{
	const char *l;
	bool on;
	int r;

	if (opts && *opts && (r = netbe__config_parse_kv(c, opts)) < 0)
		return r;
	if ((r = get_uint(c, "max_macs", 1UL << 24, macs)) < 0 ||
	    (r = get_uint(c, "aging", 1000000, aging)) < 0 ||
	    (r = get_uint(c, "queue", 65536, queue)) < 0)
		return r;
	if (*macs < 1 || *queue < SW_BATCH)
		return netbe__err(-EINVAL, "switch: max_macs must be >= 1 and "
				  "queue >= %d", SW_BATCH);
	l = netbe_config_get(c, "lossless");
	if (l && netbe__parse_bool(l, &on) < 0)
		return bad("lossless", l, "on, off");
	*lossless = l ? on : -1;
	return netbe__config_only(c, "switch", "max_macs, aging, queue, "
				  "lossless");
}

static int sw_buffers(struct netbe_switch *sw)
{
	for (int i = 0; i < SW_BATCH; i++) {
		if (!(sw->slot[i] = malloc(SW_BUF)))
			return netbe__err(-ENOMEM, "switch: out of memory");
		sw->rx_iov[i] = (struct iovec){ sw->slot[i], SW_BUF };
		sw->rx_msgs[i] = (struct netbe_msg){ &sw->rx_iov[i], 1, 0 };
	}
	return 0;
}

static int sw_init(struct netbe_switch *sw, const char *opts)
{
	unsigned long macs = SW_MACS_DEFAULT, aging = SW_AGING_DEFAULT_S;
	unsigned long queue = SW_QUEUE_DEFAULT;
	netbe_config_t *c = netbe_config_new();
	int r = c ? 0 : netbe__err(-ENOMEM, "switch: out of memory");

	if (r == 0)
		r = sw_options(c, opts, &macs, &aging, &queue, &sw->lossless);
	netbe_config_free(c);
	if (r < 0)
		return r;
	sw->queue_max = (unsigned)queue;
	if ((r = sw_buffers(sw)) < 0 ||
	    (r = netbe__fdb_new(&sw->fdb, (unsigned)macs, aging * 1000)) < 0)
		return r < 0 ? r : -ENOMEM;
	return netbe_loop_add_timer(sw->loop, SW_AGE_TICK_MS, 1, age_tick, sw,
				    &sw->age_timer);
}

NETBE__EXPORT int netbe_switch_new(netbe_switch_t **out, netbe_loop_t *loop,
				   const char *opts)
{
	struct netbe_switch *sw = calloc(1, sizeof(*sw));
	int r;

	*out = NULL;
	if (!sw)
		return netbe__err(-ENOMEM, "switch: out of memory");
	sw->loop = loop ? loop : netbe_loop_default();
	r = sw->loop ? sw_init(sw, opts) : -ENOMEM;
	if (r < 0) {
		netbe_switch_free(sw);
		return r;
	}
	*out = sw;
	return 0;
}

NETBE__EXPORT void netbe_switch_free(netbe_switch_t *sw)
{
	if (!sw)
		return;
	netbe__sw_unpublish(sw);
	for (unsigned i = 0; i < sw->nslots; i++)
		port_free(sw->ports[i]);
	netbe_watch_del(sw->age_timer);
	netbe__fdb_free(sw->fdb);
	for (int i = 0; i < SW_BATCH; i++)
		free(sw->slot[i]);
	free(sw->ports);
	free(sw);
}

/* ---- queries ---------------------------------------------------------------- */

NETBE__EXPORT unsigned netbe_switch_port_slots(const netbe_switch_t *sw)
{
	return sw->nslots;
}

NETBE__EXPORT int netbe_switch_port_info(const netbe_switch_t *sw,
					 unsigned idx, char *name, size_t len,
					 netbe_t **be,
					 struct netbe_switch_port_stats *st)
{
	const struct sw_port *p = idx < sw->nslots ? sw->ports[idx] : NULL;

	if (!p)
		return -ENOENT;
	if (name && len)
		snprintf(name, len, "%s", p->name);
	if (be)
		*be = p->be;
	if (st)
		*st = p->st;
	return 0;
}

struct fdb_visit {
	const struct netbe_switch *sw;
	netbe_fdb_fn fn;
	void *arg;
};

static int fdb_visit(uint16_t vlan, const uint8_t mac[6], uint32_t port,
		     uint64_t age_ms, void *arg)
{
	struct fdb_visit *v = arg;

	return v->fn(vlan, mac, port, (unsigned)(age_ms / 1000), v->arg);
}

NETBE__EXPORT int netbe_switch_fdb(const netbe_switch_t *sw, netbe_fdb_fn fn,
				   void *arg)
{
	struct fdb_visit v = { sw, fn, arg };

	return netbe__fdb_foreach(sw->fdb, netbe__now_ns() / 1000000,
				  fdb_visit, &v);
}

NETBE__EXPORT void netbe_switch_fdb_stats(const netbe_switch_t *sw,
					  struct netbe_fdb_stats *st)
{
	struct netbe__fdb_stats f;

	netbe__fdb_get_stats(sw->fdb, &f);
	*st = (struct netbe_fdb_stats){ f.entries, f.learned, f.moved,
					f.refused, f.aged };
}
