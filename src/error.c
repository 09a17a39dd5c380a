/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Errors and logging.
 *
 * The library never prints.  A failing call stores a message in a
 * thread-local buffer (netbe_last_error) and returns -errno; events worth
 * telling an operator about (a peer gone, a frame dropped for a reason) go
 * to the log callback the host installed, if any.  Formatting is skipped
 * entirely when nobody listens, so logging on a hot path costs one branch.
 *
 * Messages carry what users typed and peers sent (interface names, paths,
 * option values), so control characters are escaped (\xNN) in every
 * message before anyone sees it: a name with an escape sequence cannot
 * repaint an operator's terminal or forge a log line.
 */
#include <stdio.h>
#include <string.h>

#include "netbe_int.h"

#define NETBE_ERRMSG_MAX 256

static __thread char errmsg[NETBE_ERRMSG_MAX];

static netbe_log_fn log_fn;
static void *log_opaque;
static enum netbe_log_level log_max = NETBE_LOG_ERR;

NETBE__EXPORT const char *netbe_last_error(void)
{
	return errmsg;
}

NETBE__EXPORT const char *netbe_version(void)
{
	return NETBE_VERSION_STRING;
}

/* Formats into @out (@cap bytes), control characters escaped. */
__attribute__((format(printf, 3, 0)))
static void format_safe(char *out, size_t cap, const char *fmt, va_list ap)
{
	char raw[NETBE_ERRMSG_MAX];
	size_t o = 0;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	for (const char *p = raw; *p && o + 5 < cap; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

int netbe__err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	format_safe(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	netbe__log(NETBE_LOG_DEBUG, "%s", errmsg);
	return err;
}

NETBE__EXPORT void netbe_set_log_fn(netbe_log_fn fn,
				    enum netbe_log_level max_level,
				    void *opaque)
{
	log_fn = fn;
	log_opaque = opaque;
	log_max = max_level;
}

bool netbe__log_enabled(enum netbe_log_level lvl)
{
	return log_fn && lvl <= log_max;
}

void netbe__log(enum netbe_log_level lvl, const char *fmt, ...)
{
	char msg[NETBE_ERRMSG_MAX];
	va_list ap;

	if (!netbe__log_enabled(lvl))
		return;
	va_start(ap, fmt);
	format_safe(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(lvl, msg, log_opaque);
}
