/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * swctl.h - the server side of a named switch's control socket (the
 * protocol is in ctl.h): requests are served on the switch's own loop, so
 * they touch the switch from the thread that forwards its frames.
 */
#ifndef NETBE_SWCTL_H
#define NETBE_SWCTL_H

#include "netbe.h"
#include "swstats.h"

struct swctl;

/*
 * Claims switch name @name (see ctl_listen) and serves requests for @sw
 * on @loop; "stats" answers from @view, which the caller samples.
 * Returns 0 or -errno with the reason printed.
 */
int swctl_start(struct swctl **out, netbe_loop_t *loop, netbe_switch_t *sw,
		const struct swview *view, const char *name);

/*
 * Adds port @spec to @sw and names its backend after the port, so the
 * library's messages say "vm1 (tap0)"; copies the port's name to @name.
 * Returns the port's index or -errno (netbe_last_error() says why).
 */
int swctl_add_port(netbe_switch_t *sw, const char *spec, char *name,
		   size_t len);

/* The socket's path. */
const char *swctl_path(const struct swctl *c);

/* Drops every connection, closes and removes the socket.  NULL is
 * allowed. */
void swctl_stop(struct swctl *c);

#endif /* NETBE_SWCTL_H */
