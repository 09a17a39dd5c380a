/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * privs.c - dropping root for good after the ports are open (see
 * privs.h).  No libcap: the few capability calls are prctl() and the raw
 * capset(2), and the check reads /proc/self/status.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmd.h"
#include "privs.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* The bits of CapEff that changing the uid and gid need. */
#define CAP_BIT(c) (1ULL << (c))

/* ---- /proc/self/status ------------------------------------------------------- */

/*
 * Reads the value of line "@key:\t..." of /proc/self/status as hex
 * (@hex) or decimal into *@out.  0, or -errno (-ENOENT: no such line).
 */
static int status_value(const char *key, int hex, unsigned long long *out)
{
	char line[256];
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/self/status", "re");
	int r = -ENOENT;

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *end;

		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		errno = 0;
		*out = strtoull(line + klen + 1, &end, hex ? 16 : 10);
		r = errno != 0 || end == line + klen + 1 ? -EINVAL : 0;
		break;
	}
	fclose(f);
	return r;
}

/* ---- resolving ------------------------------------------------------------------ */

/* A buffer for getpwnam_r and friends: @what's size hint, or 16 KiB. */
static char *nss_buf(int what, size_t *len)
{
	long n = sysconf(what);

	*len = n > 0 && n < (1L << 20) ? (size_t)n : 16384;
	return malloc(*len);
}

/* Parses @s as a decimal id; 0 or -1 when it is not one. */
static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' || *out >= (unsigned long)(uid_t)-1
		       ? -1
		       : 0;
}

/*
 * The passwd entry of @user (a name, or a numeric uid) into *@uid and
 * *@gid.  1: found; 0: a numeric uid without an entry (*@gid untouched);
 * -1 with the reason printed.
 */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	unsigned long id;
	int numeric = parse_id(user, &id) == 0, r;
	size_t len;
	char *buf = nss_buf(_SC_GETPW_R_SIZE_MAX, &len);

	for (;;) {
		if (buf == NULL) {
			cli_err("--user %s: out of memory", cli_esc(user));
			return -1;
		}
		r = numeric ? getpwuid_r((uid_t)id, &pw, buf, len, &res)
			    : getpwnam_r(user, &pw, buf, len, &res);
		if (r != ERANGE || len >= (1U << 24))
			break;
		free(buf);
		len *= 2;
		buf = malloc(len);
	}
	if (r == 0 && res != NULL) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	}
	free(buf);
	if (r != 0) {
		cli_err("--user %s: %s: %s", cli_esc(user),
			numeric ? "getpwuid_r" : "getpwnam_r", strerror(r));
		return -1;
	}
	if (res != NULL)
		return 1;
	if (numeric) {
		*uid = (uid_t)id;
		return 0;
	}
	cli_err("--user %s: no such user (getpwnam_r found no entry)",
		cli_esc(user));
	return -1;
}

/* @group (a name or a numeric gid) into *@gid; 0 or -1 printed. */
static int lookup_group(const char *group, gid_t *gid)
{
	struct group gr, *res = NULL;
	unsigned long id;
	size_t len;
	char *buf;
	int r;

	if (parse_id(group, &id) == 0) {
		*gid = (gid_t)id;
		return 0;
	}
	buf = nss_buf(_SC_GETGR_R_SIZE_MAX, &len);
	for (;;) {
		if (buf == NULL) {
			cli_err("--group %s: out of memory", cli_esc(group));
			return -1;
		}
		r = getgrnam_r(group, &gr, buf, len, &res);
		if (r != ERANGE || len >= (1U << 24))
			break;
		free(buf);
		len *= 2;
		buf = malloc(len);
	}
	if (r == 0 && res != NULL)
		*gid = gr.gr_gid;
	free(buf);
	if (r != 0) {
		cli_err("--group %s: getgrnam_r: %s", cli_esc(group),
			strerror(r));
		return -1;
	}
	if (res == NULL) {
		cli_err("--group %s: no such group (getgrnam_r found no "
			"entry)", cli_esc(group));
		return -1;
	}
	return 0;
}

/* Whether we may become @p: the same ids, or CAP_SETUID and CAP_SETGID. */
static int may_become(const struct cli_privs *p)
{
	unsigned long long eff;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	const unsigned long long need = CAP_BIT(CAP_SETUID) |
					CAP_BIT(CAP_SETGID);

	if (getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 &&
	    ru == p->uid && eu == p->uid && su == p->uid && rg == p->gid &&
	    eg == p->gid && sg == p->gid)
		return 0;
	if (status_value("CapEff", 1, &eff) < 0 || (eff & need) == need)
		return 0; /* no /proc: let setresuid tell */
	cli_err("--user %s: becoming uid %u gid %u needs root (CAP_SETUID and "
		"CAP_SETGID)", p->user, (unsigned)p->uid, (unsigned)p->gid);
	return -1;
}

int cli_privs_resolve(struct cli_privs *p, const char *user,
		      const char *group)
{
	gid_t gid = 0;
	int r;

	memset(p, 0, sizeof(*p));
	if (user == NULL)
		return 0;
	snprintf(p->user, sizeof(p->user), "%s", cli_esc(user));
	r = lookup_user(user, &p->uid, &gid);
	if (r < 0)
		return -1;
	if (group != NULL) {
		snprintf(p->group, sizeof(p->group), "%s", cli_esc(group));
		if (lookup_group(group, &gid) < 0)
			return -1;
	} else if (r == 0) {
		cli_err("--user %s: uid %u has no passwd entry, so no primary "
			"group: give --group", p->user, (unsigned)p->uid);
		return -1;
	} else {
		snprintf(p->group, sizeof(p->group), "%u", (unsigned)gid);
	}
	p->gid = gid;
	if (p->uid == 0) {
		cli_err("--user %s: that is uid 0 (root): dropping to it drops "
			"nothing", p->user);
		return -1;
	}
	if (may_become(p) < 0)
		return -1;
	p->set = 1;
	return 0;
}

/* ---- dropping -------------------------------------------------------------------- */

/* Empties the bounding set where we may (CAP_SETPCAP); a set we cannot
 * shrink is left, which no_new_privs makes harmless. */
static void clear_bounding(void)
{
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    (errno == EINVAL || errno == EPERM))
			break; /* past the last capability, or not allowed */
}

/* Clears the effective, permitted and inheritable sets (setresuid
 * cleared the first two already; the inheritable one it leaves). */
static int clear_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Prints why the drop to @p failed at @call. */
static int drop_err(const struct cli_privs *p, const char *call, int err)
{
	cli_err("--user %s --group %s: %s: %s; stopping", p->user, p->group,
		call, strerror(err));
	return -1;
}

/* Checks that the ids are @p's and no capability or group is left. */
static int verify(const struct cli_privs *p)
{
	static const char *const sets[] = { "CapInh", "CapPrm", "CapEff",
					     "CapAmb" };
	unsigned long long v;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int r;

	if (getresuid(&ru, &eu, &su) < 0)
		return drop_err(p, "getresuid", errno);
	if (getresgid(&rg, &eg, &sg) < 0)
		return drop_err(p, "getresgid", errno);
	if (ru != p->uid || eu != p->uid || su != p->uid || rg != p->gid ||
	    eg != p->gid || sg != p->gid) {
		cli_err("--user %s: after the drop uid %u/%u/%u gid %u/%u/%u, "
			"not %u and %u; stopping", p->user, (unsigned)ru,
			(unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg,
			(unsigned)sg, (unsigned)p->uid, (unsigned)p->gid);
		return -1;
	}
	if (getgroups(0, NULL) != 0) {
		cli_err("--user %s: supplementary groups left after "
			"setgroups; stopping", p->user);
		return -1;
	}
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		r = status_value(sets[i], 1, &v);
		if (r == -ENOENT && strcmp(sets[i], "CapAmb") == 0)
			continue; /* a kernel before ambient capabilities */
		if (r < 0) {
			cli_err("--user %s: cannot check %s in "
				"/proc/self/status: %s; stopping", p->user,
				sets[i], strerror(-r));
			return -1;
		}
		if (v != 0) {
			cli_err("--user %s: %s is %016llx after the drop, not "
				"0; stopping", p->user, sets[i], v);
			return -1;
		}
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		cli_err("--user %s: no_new_privs is not set; stopping",
			p->user);
		return -1;
	}
	return 0;
}

int cli_privs_drop(const struct cli_privs *p)
{
	if (!p->set)
		return 0;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL) /* EINVAL: a kernel without ambient sets */
		return drop_err(p, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno);
	clear_bounding();
	if (setgroups(0, NULL) < 0)
		return drop_err(p, "setgroups", errno);
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return drop_err(p, "setresgid", errno);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return drop_err(p, "setresuid", errno);
	if (clear_caps() < 0)
		return drop_err(p, "capset", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return drop_err(p, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
	return verify(p);
}

int cli_drop_privs(const char *user, const char *group)
{
	struct cli_privs p;

	if (cli_privs_resolve(&p, user, group) < 0)
		return -1;
	return cli_privs_drop(&p);
}

int cli_privs_chown(const struct cli_privs *p, const char *path)
{
	if (!p->set)
		return 0;
	if (lchown(path, p->uid, p->gid) < 0) {
		cli_err("--user %s: chown %s: %s", p->user, path,
			strerror(errno));
		return -1;
	}
	return 0;
}
