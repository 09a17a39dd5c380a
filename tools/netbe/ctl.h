/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl.h - the control socket of a named switch, both sides.
 *
 * A switch started with "netbe switch --name NAME" listens on a unix
 * stream socket, DIR/NAME.ctl, where DIR is $XDG_RUNTIME_DIR/netbe, else
 * /run/netbe for root, else /tmp/netbe-UID; DIR is 0700 and the socket
 * 0600, both owned by the user.  With --user NAME, the switch claims
 * the name after dropping to that user, so DIR, the socket and the
 * published NAME.sock are that user's (DIR by that user's rules: /tmp/
 * netbe-UID without XDG_RUNTIME_DIR).  The protocol is one request line per
 * connection and one response, then the server closes:
 *
 *   port add SPEC   ->  "ok PORTNAME"  | "error MESSAGE"
 *   port del PORT   ->  "ok"           | "error MESSAGE"
 *   stats           ->  the table as text
 *   stats json      ->  one JSON object
 *   fdb             ->  lines "VLAN MAC PORT AGE_S"
 *
 * A response that starts with "error " is a failure.
 */
#ifndef NETBE_CTL_H
#define NETBE_CTL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Longest request line the server takes (the newline excluded). */
#define CTL_REQ_MAX 4096
#define CTL_REQ_MAX_TEXT "4096"
/* The longest switch name. */
#define CTL_NAME_MAX 63

/* What a switch name may be, for messages. */
#define CTL_NAME_RULE                                                       \
	"1-63 characters of A-Z a-z 0-9 . _ -, not starting with '.'"

/* Returns non-zero when @name follows CTL_NAME_RULE. */
int ctl_name_ok(const char *name);

/* Writes the directory of the sockets into @buf; 0 or -ENAMETOOLONG. */
int ctl_dir(char *buf, size_t len);

/* The same for user @uid (what ctl_dir() says when run as @uid). */
int ctl_dir_for(uid_t uid, char *buf, size_t len);

/* Writes DIR/NAME.ctl into @buf; 0 or -ENAMETOOLONG (too long for a unix
 * socket address). */
int ctl_path(const char *name, char *buf, size_t len);

/*
 * Creates the directory (0700) when missing; refuses one that is not a
 * directory, is a symlink or belongs to someone else, and tightens its
 * mode to 0700 when it is ours.  Prints why on failure.  0 or -errno.
 */
int ctl_make_dir(const char *dir);

/*
 * The server side: makes the directory, refuses when a live switch
 * answers on the name's socket, removes a stale one, and listens with
 * mode 0600 whatever the umask.  Stores the path (for unlink at exit).
 * Returns the listening fd (non-blocking, close-on-exec) or -errno with
 * the reason printed.
 */
int ctl_listen(const char *name, char *path, size_t pathlen);

/*
 * For "netbe switch --user": run as root before the ports open, so that
 * the switch can claim @name once it runs as @uid.  Makes @uid's
 * directory (ctl_dir_for) when missing and gives it to @uid and @gid (an
 * existing one must already be @uid's: never a shared /run/netbe), and
 * refuses when a live switch answers on the name's socket there.  0 or
 * -errno with the reason printed.
 */
int ctl_prepare_for(const char *name, uid_t uid, gid_t gid);

/*
 * The client side: sends @request to switch @name, copies the response
 * to @out (an "error ..." one to stderr as "netbe: NAME: ...").
 * Returns the exit status: 0, or 1 for an error response or no switch.
 */
int ctl_request(const char *name, const char *request, FILE *out);

/* Reports a bad switch @name as a usage error of @cmd (EXIT_USAGE), or
 * returns -1 when it is fine. */
int ctl_usage_name(const char *cmd, const char *name);

#endif /* NETBE_CTL_H */
