/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Configuration: a small ordered key/value map, bhyve's legacy option
 * strings, and checking against the backends' option tables.
 *
 * Theory of operation
 *   A config is what bhyve keeps in an nvlist for one NIC: "backend" holds
 *   the first token the user typed ("tap0"), "type" may force a backend by
 *   name, every other key belongs to the backend or is one of the generic
 *   keys below.  Parsing is purely syntactic; netbe_config_check() then
 *   selects the backend (registry.c) and validates every key and value
 *   against the one table that `netbe list` prints, so an error can always
 *   name the key, the value, and the valid choices.  Backends read values
 *   through netbe__opt_*() only after the check passed, so they never see
 *   an unparseable value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct netbe__kv {
	char *key;
	char *value;
};

struct netbe_config {
	struct netbe__kv *kv;
	size_t n, cap;
};

const struct netbe_option netbe__generic_options[] = {
	{ "backend", NETBE_OPT_STRING, "the backend token (bhyve's first token)", 0, 0 },
	{ "type", NETBE_OPT_STRING, "force the backend by name", 0, 0 },
	{ "mac", NETBE_OPT_MAC, "MAC address suggested to the guest", 0, 0 },
	{ "mtu", NETBE_OPT_UINT, "MTU of the link", 68, 65535 },
	{ NULL, 0, NULL, 0, 0 },
};

NETBE__EXPORT netbe_config_t *netbe_config_new(void)
{
	return calloc(1, sizeof(netbe_config_t));
}

NETBE__EXPORT void netbe_config_free(netbe_config_t *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->kv[i].key);
		free(cfg->kv[i].value);
	}
	free(cfg->kv);
	free(cfg);
}

static struct netbe__kv *config_find(const netbe_config_t *cfg,
				     const char *key)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->kv[i].key, key))
			return &cfg->kv[i];
	return NULL;
}

static int config_grow(netbe_config_t *cfg)
{
	size_t cap = cfg->cap ? cfg->cap * 2 : 8;
	struct netbe__kv *kv = realloc(cfg->kv, cap * sizeof(*kv));

	if (!kv)
		return -ENOMEM;
	cfg->kv = kv;
	cfg->cap = cap;
	return 0;
}

NETBE__EXPORT int netbe_config_set(netbe_config_t *cfg, const char *key,
				   const char *value)
{
	struct netbe__kv *kv;
	char *v;

	if (!cfg || !key || !*key || strpbrk(key, "=,") || !value)
		return netbe__err(-EINVAL, "config: invalid key '%s'",
				  key ? key : "(null)");
	v = strdup(value);
	if (!v)
		return -ENOMEM;
	kv = config_find(cfg, key);
	if (kv) {
		free(kv->value);
		kv->value = v;
		return 0;
	}
	if (cfg->n == cfg->cap && config_grow(cfg) < 0)
		goto nomem;
	kv = &cfg->kv[cfg->n];
	kv->key = strdup(key);
	if (!kv->key)
		goto nomem;
	kv->value = v;
	cfg->n++;
	return 0;
nomem:
	free(v);
	return netbe__err(-ENOMEM, "config: out of memory");
}

NETBE__EXPORT const char *netbe_config_get(const netbe_config_t *cfg,
					   const char *key)
{
	const struct netbe__kv *kv = cfg && key ? config_find(cfg, key) : NULL;

	return kv ? kv->value : NULL;
}

NETBE__EXPORT int netbe_config_unset(netbe_config_t *cfg, const char *key)
{
	struct netbe__kv *kv = cfg && key ? config_find(cfg, key) : NULL;

	if (!kv)
		return -ENOENT;
	free(kv->key);
	free(kv->value);
	memmove(kv, kv + 1, (size_t)(&cfg->kv[cfg->n] - (kv + 1)) * sizeof(*kv));
	cfg->n--;
	return 0;
}

NETBE__EXPORT int netbe_config_foreach(const netbe_config_t *cfg,
				       int (*fn)(const char *, const char *,
						 void *),
				       void *arg)
{
	for (size_t i = 0; cfg && i < cfg->n; i++) {
		int r = fn(cfg->kv[i].key, cfg->kv[i].value, arg);

		if (r)
			return r;
	}
	return 0;
}

/* ---- legacy option strings ------------------------------------------ */

/* One "key=value" or bare token; @bare_key names what a bare token sets
 * (NULL: a bare token is key=true, as FreeBSD's bhyve does). */
static int parse_token(netbe_config_t *cfg, char *tok, const char *bare_key)
{
	char *eq = strchr(tok, '=');

	if (!*tok)
		return netbe__err(-EINVAL, "config: empty option (stray ',')");
	if (!eq)
		return bare_key ? netbe_config_set(cfg, bare_key, tok)
				: netbe_config_set(cfg, tok, "true");
	*eq = '\0';
	if (!*tok)
		return netbe__err(-EINVAL, "config: option '=%s' has no key",
				  eq + 1);
	return netbe_config_set(cfg, tok, eq + 1);
}

static int parse_tokens(netbe_config_t *cfg, char *s,
			enum netbe_flavour flavour)
{
	const char *bare = flavour == NETBE_FLAVOUR_ILLUMOS ? "vnic" : NULL;
	bool first = true;
	char *tok;
	int r = 0;

	if (flavour == NETBE_FLAVOUR_ILLUMOS)
		r = netbe_config_set(cfg, "backend", "dlpi");
	while (r == 0 && (tok = strsep(&s, ",")) != NULL) {
		if (first && flavour == NETBE_FLAVOUR_FREEBSD && *tok &&
		    !strchr(tok, '='))
			r = netbe_config_set(cfg, "backend", tok);
		else
			r = parse_token(cfg, tok, bare);
		first = false;
	}
	return r;
}

NETBE__EXPORT int netbe_legacy_config_flavour(netbe_config_t *cfg,
					      const char *opts,
					      enum netbe_flavour flavour)
{
	char *copy;
	int r;

	if (!cfg)
		return netbe__err(-EINVAL, "config: NULL config");
	if (!opts)
		return 0;
	if (flavour != NETBE_FLAVOUR_FREEBSD && flavour != NETBE_FLAVOUR_ILLUMOS)
		return netbe__err(-EINVAL, "config: unknown flavour %d",
				  (int)flavour);
	if (!*opts)
		return netbe__err(-EINVAL, "config: empty backend string");
	copy = strdup(opts);
	if (!copy)
		return netbe__err(-ENOMEM, "config: out of memory");
	r = parse_tokens(cfg, copy, flavour);
	free(copy);
	return r < 0 ? r : netbe_config_check(cfg);
}

int netbe__config_parse_kv(netbe_config_t *cfg, const char *opts)
{
	char *copy = strdup(opts), *s = copy, *tok;
	int r = 0;

	if (!copy)
		return netbe__err(-ENOMEM, "config: out of memory");
	while (r == 0 && (tok = strsep(&s, ",")) != NULL)
		r = parse_token(cfg, tok, NULL);
	free(copy);
	return r;
}

struct only {
	const char *who, *valid;
};

/* Is @key one of the ", "-separated names in @valid? */
static bool in_list(const char *key, const char *valid)
{
	size_t n = strlen(key);

	for (const char *p = valid; *p; p += strspn(p, ", ")) {
		size_t k = strcspn(p, ", ");

		if (k == n && !strncmp(p, key, n))
			return true;
		p += k;
	}
	return false;
}

static int only_key(const char *key, const char *value, void *arg)
{
	const struct only *o = arg;

	(void)value;
	if (in_list(key, o->valid))
		return 0;
	return netbe__err(-EINVAL, "%s: unknown key '%s'; valid keys: %s",
			  o->who, key, o->valid);
}

int netbe__config_only(const netbe_config_t *cfg, const char *who,
		       const char *valid)
{
	struct only o = { who, valid };

	return netbe_config_foreach(cfg, only_key, &o);
}

NETBE__EXPORT int netbe_legacy_config(netbe_config_t *cfg, const char *opts)
{
	return netbe_legacy_config_flavour(cfg, opts, NETBE_FLAVOUR_FREEBSD);
}

/* ---- values ----------------------------------------------------------- */

int netbe__parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

int netbe__parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	int base = 10;
	unsigned long v;
	char *end;

	/* Decimal unless 0x: "mtu=01500" means 1500, not octal 832. */
	if (!strncasecmp(s, "0x", 2)) {
		base = 16;
		s += 2;
	}
	if (!isxdigit((unsigned char)*s) ||
	    (base == 10 && !isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || (max && v > max))
		return -EINVAL;
	*out = v;
	return 0;
}

int netbe__parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) ||
		    !isxdigit((unsigned char)s[i * 3 + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	/* A guest cannot own a multicast or all-zero address. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

/* ---- checking ---------------------------------------------------------- */

static const struct netbe_option *opt_find(const struct netbe_option *tab,
					   const char *key)
{
	for (; tab && tab->key; tab++)
		if (!strcmp(tab->key, key))
			return tab;
	return NULL;
}

static const struct netbe_option *opt_lookup(const struct netbe__ops *ops,
					     const char *key)
{
	const struct netbe_option *o = opt_find(ops->options, key);

	return o ? o : opt_find(netbe__generic_options, key);
}

/* "ifname, fd, queues, ..., type, backend, mac, mtu" */
static void opt_list(const struct netbe__ops *ops, char *buf, size_t len)
{
	const struct netbe_option *tabs[] = { ops->options,
					      netbe__generic_options };
	size_t off = 0;

	buf[0] = '\0';
	for (int t = 0; t < 2; t++)
		for (const struct netbe_option *o = tabs[t]; o && o->key; o++)
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off,
							"%s%s", off ? ", " : "",
							o->key);
}

static int check_uint(const char *be, const struct netbe_option *opt,
		      const char *v)
{
	unsigned long n;

	if (netbe__parse_uint(v, 0, &n) < 0)
		return netbe__err(-EINVAL,
				  "%s: invalid value '%s' for '%s': expected "
				  "an unsigned integer",
				  be, v, opt->key);
	if ((opt->min || opt->max) && (n < opt->min || n > opt->max))
		return netbe__err(-EINVAL,
				  "%s: invalid value '%s' for '%s': must be "
				  "%lu-%lu",
				  be, v, opt->key, opt->min, opt->max);
	return 0;
}

static int check_value(const char *be, const struct netbe_option *opt,
		       const char *v)
{
	uint8_t mac[6];
	bool b;

	switch (opt->type) {
	case NETBE_OPT_BOOL:
		if (netbe__parse_bool(v, &b) < 0)
			return netbe__err(-EINVAL,
					  "%s: invalid value '%s' for '%s': "
					  "expected on/off, true/false, "
					  "yes/no or 1/0",
					  be, v, opt->key);
		return 0;
	case NETBE_OPT_UINT:
		return check_uint(be, opt, v);
	case NETBE_OPT_MAC:
		if (netbe__parse_mac(v, mac) < 0)
			return netbe__err(-EINVAL,
					  "%s: invalid value '%s' for '%s': "
					  "expected a unicast MAC "
					  "xx:xx:xx:xx:xx:xx",
					  be, v, opt->key);
		return 0;
	case NETBE_OPT_STRING:
		return 0;
	}
	return -EINVAL;
}

struct check_ctx {
	const struct netbe__ops *ops;
};

static int check_kv(const char *key, const char *value, void *arg)
{
	const struct netbe__ops *ops = ((struct check_ctx *)arg)->ops;
	const struct netbe_option *opt = opt_lookup(ops, key);
	char valid[512];

	if (!opt) {
		opt_list(ops, valid, sizeof(valid));
		return netbe__err(-EINVAL,
				  "%s: unknown key '%s'; valid keys: %s",
				  ops->name, key, valid);
	}
	return check_value(ops->name, opt, value);
}

NETBE__EXPORT int netbe_config_check(const netbe_config_t *cfg)
{
	struct check_ctx ctx;
	const char *suffix;

	if (!cfg)
		return netbe__err(-EINVAL, "config: NULL config");
	ctx.ops = netbe__backend_select(cfg, &suffix);
	if (!ctx.ops)
		return netbe_config_get(cfg, "type") ||
				       netbe_config_get(cfg, "backend")
			       ? -ENOENT
			       : -EINVAL;
	return netbe_config_foreach(cfg, check_kv, &ctx);
}

/* ---- typed access for backends ------------------------------------------ */

bool netbe__opt_isset(const struct netbe__opts *o, const char *key)
{
	return netbe_config_get(o->cfg, key) != NULL;
}

const char *netbe__opt_str(const struct netbe__opts *o, const char *key,
			   const char *dflt)
{
	const char *v = netbe_config_get(o->cfg, key);

	return v ? v : dflt;
}

const char *netbe__opt_target(const struct netbe__opts *o, const char *key)
{
	const char *n = netbe__opt_str(o, key, NULL);

	if (n)
		return n;
	n = o->be_name ? o->be_name : "";
	return *n == ':' ? n + 1 : n;
}

bool netbe__opt_bool(const struct netbe__opts *o, const char *key, bool dflt)
{
	const char *v = netbe_config_get(o->cfg, key);
	bool b;

	return v && netbe__parse_bool(v, &b) == 0 ? b : dflt;
}

unsigned long netbe__opt_uint(const struct netbe__opts *o, const char *key,
			      unsigned long dflt)
{
	const char *v = netbe_config_get(o->cfg, key);
	unsigned long n;

	return v && netbe__parse_uint(v, 0, &n) == 0 ? n : dflt;
}
