/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The registry: one explicit list of backends (no constructor tricks), and
 * how a config picks one.  "type=NAME" picks by name; otherwise the longest
 * registered prefix of the "backend" token wins, as bhyve's prefix match
 * does ("tap0" -> tap, "vmnet1" -> vmnet, "pipe:x" -> pipe).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

static const struct netbe__ops *const backends[] = {
	&netbe__tap_ops,
	&netbe__vmnet_ops,
	&netbe__pipe_ops,
	&netbe__packet_ops,
	&netbe__dlpi_ops,
	&netbe__stream_ops,
	&netbe__dgram_ops,
	&netbe__xdp_ops,
	&netbe__slirp_ops,
	&netbe__vde_ops,
	&netbe__vale_ops,
	&netbe__vxlan_ops,
	&netbe__geneve_ops,
	&netbe__vhost_user_ops,
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Length of the longest prefix in @ops->prefixes that starts @token. */
static size_t prefix_match(const struct netbe__ops *ops, const char *token)
{
	const char *p = ops->prefixes;
	size_t best = 0;

	while (p && *p) {
		size_t n = strcspn(p, " ");

		if (n > best && !strncmp(token, p, n))
			best = n;
		p += n;
		p += strspn(p, " ");
	}
	return best;
}

static void backend_names(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NBACKENDS && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? ", " : "", backends[i]->name);
}

static const struct netbe__ops *by_name(const char *type)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (!strcmp(backends[i]->name, type))
			return backends[i];
	return NULL;
}

static const struct netbe__ops *by_prefix(const char *token, size_t *plen)
{
	const struct netbe__ops *best = NULL;

	*plen = 0;
	for (size_t i = 0; i < NBACKENDS; i++) {
		size_t n = prefix_match(backends[i], token);

		if (n > *plen) {
			*plen = n;
			best = backends[i];
		}
	}
	return best;
}

const struct netbe__ops *netbe__backend_select(const netbe_config_t *cfg,
					       const char **suffix)
{
	const char *type = netbe_config_get(cfg, "type");
	const char *token = netbe_config_get(cfg, "backend");
	const struct netbe__ops *ops;
	char names[256];
	size_t plen = 0;

	*suffix = token;
	if (type) {
		ops = by_name(type);
		if (ops && token && prefix_match(ops, token))
			*suffix = token + prefix_match(ops, token);
	} else if (token) {
		ops = by_prefix(token, &plen);
		*suffix = token + plen;
	} else {
		backend_names(names, sizeof(names));
		netbe__err(-EINVAL, "config: no backend given; valid backends: %s",
			   names);
		return NULL;
	}
	if (!ops) {
		backend_names(names, sizeof(names));
		netbe__err(-EINVAL, "config: unknown %s '%s'; valid backends: %s",
			   type ? "type" : "backend", type ? type : token, names);
	}
	return ops;
}

#define MAX_OPTIONS 48

static struct netbe_backend_info infos[NBACKENDS];
/* Each backend's keys followed by the generic ones, as config.c accepts. */
static struct netbe_option all_options[NBACKENDS][MAX_OPTIONS];
static pthread_once_t infos_once = PTHREAD_ONCE_INIT;

static void options_merge(struct netbe_option *out,
			  const struct netbe_option *own)
{
	const struct netbe_option *tabs[] = { own, netbe__generic_options };
	size_t n = 0;

	for (int t = 0; t < 2; t++)
		for (const struct netbe_option *o = tabs[t];
		     o && o->key && n < MAX_OPTIONS - 1; o++)
			out[n++] = *o;
	out[n] = (struct netbe_option){ 0 };
}

static void infos_fill(void)
{
	for (size_t i = 0; i < NBACKENDS; i++) {
		options_merge(all_options[i], backends[i]->options);
		infos[i].name = backends[i]->name;
		infos[i].prefixes = backends[i]->prefixes;
		infos[i].description = backends[i]->description;
		infos[i].options = all_options[i];
	}
}

NETBE__EXPORT size_t netbe_backend_count(void)
{
	return NBACKENDS;
}

NETBE__EXPORT const struct netbe_backend_info *netbe_backend_get(size_t i)
{
	if (i >= NBACKENDS)
		return NULL;
	pthread_once(&infos_once, infos_fill);
	return &infos[i];
}
