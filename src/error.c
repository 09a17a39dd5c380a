/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Errors and logging.
 *
 * The library never prints.  A failing call stores a message in a
 * thread-local buffer (netbe_last_error) and returns -errno; events worth
 * telling an operator about (a peer gone, a frame dropped for a reason) go
 * to the log callback the host installed, if any.  Formatting is skipped
 * entirely when nobody listens, so logging on a hot path costs one branch.
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

int netbe__err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
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
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(lvl, msg, log_opaque);
}
