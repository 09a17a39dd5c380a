/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl.c - where a named switch's control socket lives, how the switch
 * claims it (one live switch per name, nobody else's directory, mode 0600
 * whatever the umask) and how the client subcommands (port, stats, fdb)
 * send it one request.  The protocol is in ctl.h; the server's requests
 * are served by swctl.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"

/* How long a client waits for the switch's answer. */
#define CTL_CLIENT_TIMEOUT_S 10

int ctl_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CTL_NAME_MAX || name[0] == '.')
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789._-") == n;
}

int ctl_usage_name(const char *cmd, const char *name)
{
	if (ctl_name_ok(name))
		return -1;
	return cli_usage_err(cmd, "invalid switch name '%s' (%s)",
			     cli_esc(name), CTL_NAME_RULE);
}

int ctl_dir_for(uid_t uid, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/netbe", xdg);
	else if (uid == 0)
		n = snprintf(buf, len, "/run/netbe");
	else
		n = snprintf(buf, len, "/tmp/netbe-%u", (unsigned)uid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ctl_dir(char *buf, size_t len)
{
	return ctl_dir_for(geteuid(), buf, len);
}

/* DIR/NAME.ctl of @uid's directory. */
static int path_for(uid_t uid, const char *name, char *buf, size_t len)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	int n;

	if (ctl_dir_for(uid, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s/%s.ctl", dir, name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int ctl_path(const char *name, char *buf, size_t len)
{
	return path_for(geteuid(), name, buf, len);
}

/* Gives @dir, which we have just created, to @uid and @gid (not
 * following a symlink put there meanwhile).  0 or -errno printed. */
static int hand_over(const char *dir, uid_t uid, gid_t gid)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err = 0;

	if (fd < 0 || fchown(fd, uid, gid) < 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err != 0)
		cli_err("cannot give the directory %s to uid %u: %s", dir,
			(unsigned)uid, strerror(err));
	return -err;
}

/* ctl_make_dir() for a directory that must belong to @uid: one we create
 * goes to @uid and @gid when @give. */
static int make_dir_owned(const char *dir, uid_t uid, gid_t gid, int give)
{
	struct stat st;
	int err;

	if (mkdir(dir, 0700) == 0) {
		if (give && (err = hand_over(dir, uid, gid)) < 0)
			return err;
	} else if (errno != EEXIST) {
		err = errno;
		cli_err("cannot create the directory %s: %s", dir,
			strerror(err));
		return -err;
	}
	if (lstat(dir, &st) < 0) {
		err = errno;
		cli_err("%s: %s", dir, strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_err("%s is not a directory (a symlink?); not using it", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != uid) {
		cli_err("%s belongs to uid %u, not to uid %u; not using it%s",
			dir, (unsigned)st.st_uid, (unsigned)uid,
			give ? " (with --user, the directory of the sockets "
			       "must be that user's: see XDG_RUNTIME_DIR)"
			     : "");
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0) {
		err = errno;
		cli_err("chmod 0700 %s: %s", dir, strerror(err));
		return -err;
	}
	return 0;
}

int ctl_make_dir(const char *dir)
{
	return make_dir_owned(dir, geteuid(), getegid(), 0);
}

static void fill_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1); /* checked by ctl_path */
}

/* A connected stream socket to @path, or -errno. */
static int connect_path(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	fill_addr(&sun, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	err = errno;
	close(fd);
	return -err;
}

/* 0 when @path is free (nothing there, or a stale socket now removed). */
static int claim_path(const char *name, const char *path)
{
	struct stat st;
	int fd = connect_path(path);

	if (fd >= 0) {
		close(fd);
		cli_err("a switch named '%s' is already running (%s)", name,
			path);
		return -EADDRINUSE;
	}
	if (fd == -ENOENT)
		return 0;
	if (fd != -ECONNREFUSED) {
		cli_err("%s: %s", path, strerror(-fd));
		return fd;
	}
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		cli_err("%s exists and is not a socket; not removing it", path);
		return -EEXIST;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		int err = errno;

		cli_err("cannot remove the stale socket %s: %s", path,
			strerror(err));
		return -err;
	}
	return 0;
}

/* Binds @fd to @path with mode 0600 whatever the umask. */
static int bind_private(int fd, const char *path)
{
	struct sockaddr_un sun;
	mode_t old = umask(0177);
	int r = 0;

	fill_addr(&sun, path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		r = -errno;
	umask(old);
	if (r == 0 && chmod(path, 0600) < 0) {
		r = -errno;
		unlink(path);
	}
	if (r < 0)
		cli_err("cannot bind the control socket %s: %s", path,
			strerror(-r));
	return r;
}

/* A listening socket at @path (free by now), or -errno. */
static int listen_at(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0) {
		r = -errno;
		cli_err("socket: %s", strerror(-r));
		return r;
	}
	if ((r = bind_private(fd, path)) == 0 && listen(fd, 16) < 0) {
		r = -errno;
		cli_err("listen on %s: %s", path, strerror(-r));
		unlink(path);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Locks @dir so two switches starting at once cannot both take a name
 * (one could remove the other's fresh socket as stale).  The fd, or -1
 * when locking is not possible (then we go on without). */
static int lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int ctl_listen(const char *name, char *path, size_t pathlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lock, r;

	if (ctl_path(name, path, pathlen) < 0 || ctl_dir(dir, sizeof(dir)) < 0) {
		cli_err("the control socket path for '%s' is too long",
			cli_esc(name));
		return -ENAMETOOLONG;
	}
	if ((r = ctl_make_dir(dir)) < 0)
		return r;
	lock = lock_dir(dir);
	r = claim_path(name, path);
	if (r == 0)
		r = listen_at(path);
	if (lock >= 0)
		close(lock); /* unlocks */
	return r;
}

int ctl_prepare_for(const char *name, uid_t uid, gid_t gid)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char path[sizeof(dir)];
	int fd, r;

	if (path_for(uid, name, path, sizeof(path)) < 0 ||
	    ctl_dir_for(uid, dir, sizeof(dir)) < 0) {
		cli_err("the control socket path for '%s' is too long",
			cli_esc(name));
		return -ENAMETOOLONG;
	}
	if ((r = make_dir_owned(dir, uid, gid, 1)) < 0)
		return r;
	fd = connect_path(path);
	if (fd >= 0) {
		close(fd);
		cli_err("a switch named '%s' is already running (%s)", name,
			path);
		return -EADDRINUSE;
	}
	return 0;
}

/* ---- the client ----------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Makes room for at least 1 KiB more in *@buf; false when out of memory. */
static int grow(char **buf, size_t len, size_t *cap)
{
	char *nb;

	if (*cap - len >= 1024)
		return 1;
	nb = realloc(*buf, *cap * 2);
	if (nb == NULL)
		return 0;
	*buf = nb;
	*cap *= 2;
	return 1;
}

/* Reads until EOF into a NUL-terminated *@out (freed by the caller). */
static int read_all(int fd, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	*out = buf;
	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		if (!grow(out, len, &cap))
			return -ENOMEM;
		buf = *out;
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf[len] = '\0';
			return n < 0 ? -errno : 0;
		}
		len += (size_t)n;
	}
}

static void set_timeouts(int fd)
{
	struct timeval tv = { CTL_CLIENT_TIMEOUT_S, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Sends @request and reads the whole response into *@resp. */
static int exchange(int fd, const char *request, char **resp)
{
	int r;

	set_timeouts(fd);
	r = write_all(fd, request, strlen(request));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && shutdown(fd, SHUT_WR) < 0)
		r = -errno;
	return r < 0 ? r : read_all(fd, resp);
}

/* Prints @resp: an "error ..." one to stderr (1), else to @out (0).  Only
 * "fdb" may answer nothing (an empty table); for the others nothing means
 * the switch dropped the connection (busy, or stopping). */
static int print_response(const char *name, const char *request,
			  const char *resp, FILE *out)
{
	size_t n = strlen(resp);

	if (n == 0 && strcmp(request, "fdb") != 0) {
		cli_err("%s: no answer (the switch is busy or stopping)", name);
		return EXIT_RUNTIME;
	}
	if (strncmp(resp, "error ", 6) != 0) {
		fwrite(resp, 1, n, out);
		return fflush(out) == 0 ? EXIT_OK : EXIT_RUNTIME;
	}
	while (n > 6 && resp[n - 1] == '\n')
		n--;
	cli_err("%s: %.*s", name, (int)(n - 6), resp + 6);
	return EXIT_RUNTIME;
}

int ctl_request(const char *name, const char *request, FILE *out)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *resp = NULL;
	int fd, r;

	if (ctl_path(name, path, sizeof(path)) < 0) {
		cli_err("the control socket path for '%s' is too long", name);
		return EXIT_RUNTIME;
	}
	fd = connect_path(path);
	if (fd < 0) {
		cli_err("no switch named '%s' answers on %s: %s", name, path,
			strerror(-fd));
		return EXIT_RUNTIME;
	}
	r = exchange(fd, request, &resp);
	close(fd);
	if (r < 0) {
		cli_err("%s: no complete answer from %s: %s", name, path,
			strerror(-r));
		free(resp);
		return EXIT_RUNTIME;
	}
	r = print_response(name, request, resp, out);
	free(resp);
	return r;
}
