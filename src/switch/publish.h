/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * publish.h - switches known by name (publish.c): what the vale backend
 * uses to find, create and join them, and how the pipe backend tells
 * that the far end of a port is gone.  Not installed.
 */
#ifndef NETBE_SWITCH_PUBLISH_H
#define NETBE_SWITCH_PUBLISH_H

#include <stddef.h>

#include "netbe_int.h"
#include "sockaddr.h"

/* Longest switch or port name, plus its NUL. */
#define NETBE__VALE_NAME_MAX 64

struct sw_publish; /* a switch known by name in this process */
struct sw_conn;	   /* a port publish.c attached over a seqpacket link */

/*
 * Checks a switch name (1-63 of A-Z a-z 0-9 . _ -, not starting with
 * '.') or a port name (1-63 printable characters, no space, no ',').
 * 0 or -EINVAL with the message naming @who and the name.
 */
int netbe__vale_check_switch(const char *who, const char *name);
int netbe__vale_check_port(const char *who, const char *name);

/* The socket address of switch @name, $XDG_RUNTIME_DIR/netbe/NAME.sock
 * (see netbe_switch_publish): 0, or -EINVAL (too long) with the
 * message set, naming @who. */
int netbe__vale_addr(const char *who, const char *name,
		     struct netbe__sockaddr *out);

/* Switch @name of this process, held until netbe__vale_put(), or NULL
 * when there is none. */
struct sw_publish *netbe__vale_get(const char *name);

/* As netbe__vale_get(), creating the switch on @loop when there is none:
 * known in this process only (no socket), freed with its last user.
 * 0 or -errno. */
int netbe__vale_get_or_create(const char *name, netbe_loop_t *loop,
			      struct sw_publish **out);

/* Drops what netbe__vale_get*() took. */
void netbe__vale_put(struct sw_publish *pub);

/*
 * Adds port @port to @pub's switch, over @fd: a connected SOCK_SEQPACKET
 * socket whose other end carries 12-byte headers.  @fd stays the
 * caller's.  Call on the switch's loop thread or while it is not
 * running.  0 and the port in *@out, or -errno.
 */
int netbe__vale_attach(struct sw_publish *pub, const char *port, int fd,
		       struct sw_conn **out);

/* Removes port @c from its switch (when the switch still exists) and
 * frees it.  Same thread rule as netbe__vale_attach(). */
void netbe__vale_detach(struct sw_conn *c);

/* An adopted pipe end ("fd=N") read the end of file on its @fd: when
 * it is a port publish.c accepted, the port is removed soon after, on
 * the switch's loop.  Any thread. */
void netbe__sw_conn_eof(int fd);

#endif
