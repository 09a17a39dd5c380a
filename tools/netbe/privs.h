/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * privs.h - "--user NAME [--group NAME]" of netbe switch and connect:
 * open every port as root, then become that user with no capability
 * left, before the loop runs.
 *
 * What the backends need after their open: nothing.  A tap's fd, a
 * packet socket (AF_PACKET) and an AF_XDP socket with its UMEM and rings
 * keep working without CAP_NET_ADMIN/CAP_NET_RAW once open; stream,
 * dgram, vde, pipe, slirp and vale never needed a capability.  What
 * would need one later is reopening a port whose interface was deleted
 * (TUNSETIFF again, a new packet or XDP socket, loading an XDP program),
 * and netbe does not do that: such a port stays dead.  So nothing is
 * kept: no capability in any set (effective, permitted, inheritable,
 * ambient; the bounding set is emptied too where CAP_SETPCAP allows) and
 * no_new_privs set, so no later execve gains any either.  A port added
 * later ("netbe port add") opens with the dropped user's rights: a tap,
 * packet or xdp port then fails with "operation not permitted".
 */
#ifndef NETBE_PRIVS_H
#define NETBE_PRIVS_H

#include <sys/types.h>

/* Whom to become, resolved before any port opens. */
struct cli_privs {
	int set;         /* non-zero: --user was given */
	uid_t uid;
	gid_t gid;
	char user[64];   /* as given, for messages */
	char group[64];
};

/*
 * Resolves @user (a name, or a numeric uid) and @group (a name or a
 * numeric gid; NULL: the user's primary group) into @p, and checks that
 * we may become them (uid 0 is refused: dropping to root drops nothing).
 * @user NULL: @p->set stays 0 and nothing is checked.  Returns 0, or -1
 * with the reason printed (naming the user or group and the call).
 */
int cli_privs_resolve(struct cli_privs *p, const char *user,
		      const char *group);

/*
 * Becomes @p's user for good: clears the ambient and the bounding sets,
 * setgroups(0), setresgid, setresuid, clears every capability set left
 * and sets no_new_privs; then verifies that the real, effective and
 * saved uid and gid are the target's, that no supplementary group is
 * left and that /proc/self/status shows CapInh, CapPrm, CapEff and
 * CapAmb 0.  @p->set 0: does nothing.  Returns 0, or -1 with the reason
 * printed (then the caller must stop: some privileges may be left).
 */
int cli_privs_drop(const struct cli_privs *p);

/* cli_privs_resolve() then cli_privs_drop(): 0 or -1 with the reason
 * printed. */
int cli_drop_privs(const char *user, const char *group);

/*
 * Gives @path (a file we created as root: a socket for a guest) to @p's
 * user and group, so that it stays theirs after the drop.  Does not
 * follow a symlink.  @p->set 0: does nothing.  0 or -1 with the reason
 * printed.
 */
int cli_privs_chown(const struct cli_privs *p, const char *path);

#endif /* NETBE_PRIVS_H */
