/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * How messages name a handle.  A user with two taps needs to know which
 * one failed, so every message and log line of a handle starts with its
 * label: the option string it was opened from ("tap,ifname=rlA"), after
 * the name its owner gave it ("A (tap,ifname=rlA)").  Everything in a
 * label came from a user, so control characters and non-ASCII bytes are
 * escaped (\xNN) and the whole is bounded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define SPEC_MAX 120
#define LABEL_MAX 200

/* Appends @s to @buf (of @cap, used @*off), escaping; false when full. */
static bool esc_append(char *buf, size_t cap, size_t *off, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[5];
		size_t n;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else
			n = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		if (*off + n + 4 >= cap) {
			memcpy(buf + *off, "...", 4);
			*off += 3;
			return false;
		}
		memcpy(buf + *off, tmp, n + 1);
		*off += n;
	}
	return true;
}

size_t netbe__escape(char *buf, size_t cap, const char *s)
{
	size_t off = 0;

	buf[0] = '\0';
	esc_append(buf, cap, &off, s);
	return off;
}

struct spec_build {
	char *buf;
	size_t off;
	bool full;
};

static int spec_key(const char *key, const char *value, void *arg)
{
	struct spec_build *b = arg;

	if (b->full || !strcmp(key, "backend"))
		return 0;
	if (b->off)
		b->full = !esc_append(b->buf, SPEC_MAX, &b->off, ",");
	if (!b->full)
		b->full = !esc_append(b->buf, SPEC_MAX, &b->off, key);
	if (!b->full && strcmp(value, "true"))
		b->full = !esc_append(b->buf, SPEC_MAX, &b->off, "=") ||
			  !esc_append(b->buf, SPEC_MAX, &b->off, value);
	return 0;
}

/* "tap0,mtu=9000" back from the config, escaped and bounded. */
static char *spec_string(netbe_t *be, const netbe_config_t *cfg)
{
	struct spec_build b = { .buf = calloc(1, SPEC_MAX) };
	const char *tok = netbe_config_get(cfg, "backend");

	if (!b.buf)
		return NULL;
	b.full = !esc_append(b.buf, SPEC_MAX, &b.off,
			     tok ? tok : be->ops->name);
	netbe_config_foreach(cfg, spec_key, &b);
	return b.buf;
}

int netbe__label_init(netbe_t *be, const netbe_config_t *cfg)
{
	be->spec = spec_string(be, cfg);
	be->label = be->spec ? strdup(be->spec) : NULL;
	if (!be->label)
		return netbe__err(-ENOMEM, "%s: out of memory", be->ops->name);
	return 0;
}

NETBE__EXPORT int netbe_set_name(netbe_t *be, const char *name)
{
	char esc[LABEL_MAX], *label;

	if (!name)
		return netbe__err(-EINVAL, "netbe_set_name: NULL name");
	be = netbe__root(be);
	netbe__escape(esc, sizeof(esc) - SPEC_MAX, name);
	if (asprintf(&label, "%s (%s)", esc, be->spec) < 0)
		return netbe__err(-ENOMEM, "netbe_set_name: out of memory");
	free(be->label);
	be->label = label;
	return 0;
}

NETBE__EXPORT const char *netbe_get_label(const netbe_t *be)
{
	return netbe__root(be)->label;
}

const char *netbe__q_label(const struct netbe__queue *q)
{
	return netbe_get_label(netbe__from_bq(q));
}

void netbe__q_log(const struct netbe__queue *q, enum netbe_log_level lvl,
		  const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!netbe__log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	netbe__log(lvl, "%s: %s", netbe__q_label(q), msg);
}
