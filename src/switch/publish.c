/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Switches known by name: netbe_switch_publish() and what the vale
 * backend needs to find, create and join them (the seed's vale role).
 *
 * Theory of operation
 *   A process-wide registry (a list under one mutex) maps names to
 *   switches, each through a struct sw_publish, the one field this adds
 *   to a switch (sw->pub).  Two kinds of entry:
 *   - published: netbe_switch_publish() also listens on a SOCK_SEQPACKET
 *     unix socket, $XDG_RUNTIME_DIR/netbe/NAME.sock (/run/netbe/ for
 *     root without it, else /tmp/netbe-UID/), in a directory of ours with
 *     mode 0700, the socket file 0600 whatever the umask (the socket's
 *     own mode is set before bind, which only takes bits away, and the
 *     file's after).  A file left by a dead switch is replaced only when
 *     a connect() to it is refused; if a switch answers, -EEXIST.  The
 *     directory is flock()ed while we check and bind, so two programs
 *     publishing one name at once cannot both win.
 *   - created by the vale backend on first use: in-process only (no
 *     file), freed with its last vale port.
 *   The vale backend holds an entry while a port of it is open (users),
 *   so the entry outlives a switch freed under it.
 *
 *   Joining from another program.  The listening socket is watched on the
 *   switch's loop.  A connection is kept only from our uid or root
 *   (SO_PEERCRED); its first message must be "PORT NAME" (1-63 printable
 *   characters, no space or ','); the switch answers "OK", or "ERR
 *   ERRNO MESSAGE" and closes.  On "OK" the connection is a port: the
 *   pipe backend adopts it ("pipe,fd=N": 12-byte headers, every offload,
 *   so 64 KiB GSO frames cross whole), netbe_switch_attach()ed with
 *   id=NAME.  In this process, a vale port is a socketpair whose switch
 *   end is attached the same way (struct sw_conn either way).
 *
 *   Leaving.  A port must go when its peer closes, but the switch reads
 *   it through the public API and hears only "no frames" once the pipe
 *   end hung up.  So the report comes from where the end of file is
 *   read: the pipe backend, for an adopted end, calls
 *   netbe__sw_conn_eof(fd) after it hung up.  Everything read before the
 *   end of file has been forwarded by then.  That call runs inside the
 *   switch's receive path, where the port must not be freed, so it only
 *   marks the connection gone and arms the entry's one-shot reap timer;
 *   the timer, on the switch's loop, removes the port
 *   (netbe_switch_del_port) and closes its handle (netbe_cleanup).  No
 *   polling: nothing runs until a peer leaves.  An in-process vale port
 *   is removed by its own close instead, before its end closes.
 *   netbe_switch_free() calls netbe__sw_unpublish() first: the socket
 *   goes (the file only if it is still ours), every port this code
 *   attached is removed, and vale handles still open see the end of
 *   file.
 *
 *   Locking: the mutex guards the list, the users counts and each
 *   entry's connection list, and is never held across a call that waits
 *   for a loop callback (netbe_switch_del_port, netbe_cleanup ...), since
 *   the end-of-file report takes it from inside one.  The rest runs on
 *   the switch's loop thread, or while that loop is not running, as the
 *   switch API requires.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "switch/publish.h"
#include "switch/sw.h"

#define PUB_BACKLOG 16
#define PUB_HELLO_MAX 128     /* "PORT " and a name, with room to spare */
#define PUB_RETRY_MS 100      /* accept again after running out of fds */

/* A port this code attached: the switch's end of a seqpacket link. */
struct sw_conn {
	struct sw_publish *pub; /* NULL once the switch is gone */
	netbe_t *be;		/* "pipe,fd=N" on the switch's loop */
	int fd;			/* be's fd, as pipe reports its EOF */
	bool local;		/* a vale handle of this process owns it */
	bool gone;		/* the peer closed: the reaper removes it */
	char port[NETBE__VALE_NAME_MAX];
	struct sw_conn *next;
};

/* An accepted connection, until its hello. */
struct sw_hello {
	struct sw_publish *pub;
	int fd;
	netbe_watch_t *w;
	struct sw_hello *next;
};

struct sw_publish {
	struct netbe_switch *sw; /* NULL once freed */
	char name[NETBE__VALE_NAME_MAX];
	struct netbe__sockaddr addr;
	int lfd;		 /* listening socket; -1: in-process only */
	dev_t dev;		 /* the socket file we bound */
	ino_t ino;
	netbe_watch_t *lw, *reap;
	struct sw_hello *hellos; /* loop thread only */
	struct sw_conn *conns;	 /* under pub_lock */
	unsigned users;		 /* vale handles holding the entry */
	bool listed, autocreated;
	struct sw_publish *next;
};

static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sw_publish *pub_list;

/* ---- names -------------------------------------------------------------- */

static bool switch_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int netbe__vale_check_switch(const char *who, const char *name)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n < NETBE__VALE_NAME_MAX && name[0] != '.';

	for (size_t i = 0; ok && i < n; i++)
		ok = switch_char(name[i]);
	if (!ok)
		return netbe__err(-EINVAL, "%s: invalid switch name '%s' "
				  "(valid: 1-%d of A-Z a-z 0-9 . _ -, not "
				  "starting with '.')", who, name,
				  NETBE__VALE_NAME_MAX - 1);
	return 0;
}

int netbe__vale_check_port(const char *who, const char *name)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n < NETBE__VALE_NAME_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = name[i] > ' ' && name[i] < 0x7f && name[i] != ',';
	if (!ok)
		return netbe__err(-EINVAL, "%s: invalid port name '%s' (valid: "
				  "1-%d printable characters, no space or ',')",
				  who, name, NETBE__VALE_NAME_MAX - 1);
	return 0;
}

/* The directory of the sockets: see netbe_switch_publish(). */
static void sock_dir(char *buf, size_t len)
{
	const char *x = secure_getenv("XDG_RUNTIME_DIR");

	if (x && x[0] == '/')
		snprintf(buf, len, "%s/netbe", x);
	else if (geteuid() == 0)
		snprintf(buf, len, "/run/netbe");
	else
		snprintf(buf, len, "/tmp/netbe-%u", (unsigned)geteuid());
}

int netbe__vale_addr(const char *who, const char *name,
		     struct netbe__sockaddr *out)
{
	char dir[sizeof(out->text)], spec[sizeof(out->text) + 80];

	sock_dir(dir, sizeof(dir));
	snprintf(spec, sizeof(spec), "unix:%s/%s.sock", dir, name);
	return netbe__sockaddr_parse(spec, NETBE__SA_UNIX, who, out);
}

/* ---- the registry (pub_lock held) --------------------------------------- */

static struct sw_publish *pub_find(const char *name)
{
	struct sw_publish *p = pub_list;

	while (p && strcmp(p->name, name))
		p = p->next;
	return p;
}

static void pub_enlist(struct sw_publish *pub)
{
	pub->next = pub_list;
	pub_list = pub;
	pub->listed = true;
}

static void pub_unlist(struct sw_publish *pub)
{
	struct sw_publish **pp = &pub_list;

	if (!pub->listed)
		return;
	while (*pp != pub)
		pp = &(*pp)->next;
	*pp = pub->next;
	pub->listed = false;
}

static struct sw_publish *pub_new(struct netbe_switch *sw, const char *name)
{
	struct sw_publish *pub = calloc(1, sizeof(*pub));

	if (!pub) {
		netbe__err(-ENOMEM, "switch %s: out of memory", name);
		return NULL;
	}
	pub->sw = sw;
	pub->lfd = -1;
	snprintf(pub->name, sizeof(pub->name), "%s", name);
	return pub;
}

/* ---- ports -------------------------------------------------------------- */

static void conn_nop(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

/* Opens the switch's end over @fd and attaches it as @port. */
static int conn_open(struct sw_publish *pub, const char *port, int fd,
		     struct sw_conn *c)
{
	char spec[32], id[8 + NETBE__VALE_NAME_MAX];
	char label[2 * NETBE__VALE_NAME_MAX + 2];
	int r;

	snprintf(spec, sizeof(spec), "pipe,fd=%d", fd);
	snprintf(id, sizeof(id), "id=%s", port);
	snprintf(label, sizeof(label), "%s:%s", pub->name, port);
	r = netbe_open(&c->be, spec, pub->sw->loop, conn_nop, NULL);
	if (r == 0)
		r = netbe_set_name(c->be, label);
	if (r == 0)
		r = netbe_switch_attach(pub->sw, c->be, id);
	if (r < 0) {
		netbe_cleanup(c->be);
		c->be = NULL;
		return r;
	}
	c->fd = netbe_get_fd(c->be);
	snprintf(c->port, sizeof(c->port), "%s", port);
	return 0;
}

static int conn_add(struct sw_publish *pub, const char *port, int fd,
		    bool local, struct sw_conn **out)
{
	struct sw_conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return netbe__err(-ENOMEM, "switch %s: out of memory",
				  pub->name);
	if (!pub->sw)
		r = netbe__err(-ENOENT, "switch %s: freed", pub->name);
	else
		r = conn_open(pub, port, fd, c);
	if (r < 0) {
		free(c);
		return r;
	}
	c->pub = pub;
	c->local = local;
	pthread_mutex_lock(&pub_lock);
	c->next = pub->conns;
	pub->conns = c;
	pthread_mutex_unlock(&pub_lock);
	if (out)
		*out = c;
	return 0;
}

static void conn_unlink(struct sw_publish *pub, struct sw_conn *c)
{
	struct sw_conn **pp = &pub->conns;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
}

/* Removes the port from @sw and closes the switch's end. */
static void conn_close(struct netbe_switch *sw, struct sw_conn *c)
{
	if (!c->be)
		return;
	netbe_switch_del_port(sw, c->port);
	netbe_cleanup(c->be);
	c->be = NULL;
}

int netbe__vale_attach(struct sw_publish *pub, const char *port, int fd,
		       struct sw_conn **out)
{
	return conn_add(pub, port, fd, true, out);
}

void netbe__vale_detach(struct sw_conn *c)
{
	struct sw_publish *pub;

	if (!c)
		return;
	pthread_mutex_lock(&pub_lock);
	pub = c->pub;
	if (pub)
		conn_unlink(pub, c);
	pthread_mutex_unlock(&pub_lock);
	if (pub)
		conn_close(pub->sw, c);
	free(c);
}

void netbe__sw_conn_eof(int fd)
{
	pthread_mutex_lock(&pub_lock);
	for (struct sw_publish *p = pub_list; p; p = p->next)
		for (struct sw_conn *c = p->conns; c; c = c->next)
			if (c->fd == fd && !c->local && !c->gone && p->reap) {
				c->gone = true;
				netbe_timer_set(p->reap, 1, 0);
			}
	pthread_mutex_unlock(&pub_lock);
}

/* The reap timer: removes the ports whose peer left; accepts again. */
static void pub_reap(int fd, int events, void *arg)
{
	struct sw_publish *pub = arg;
	struct sw_conn *gone = NULL, **pp, *c;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&pub_lock);
	for (pp = &pub->conns; (c = *pp);) {
		if (!c->gone) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = gone;
		gone = c;
	}
	pthread_mutex_unlock(&pub_lock);
	for (; (c = gone); free(c)) {
		gone = c->next;
		netbe__log(NETBE_LOG_INFO, "switch %s: port '%s' left",
			   pub->name, c->port);
		conn_close(pub->sw, c);
	}
	netbe_watch_enable(pub->lw);
}

/* ---- joining: accept, the peer's uid, the hello ------------------------- */

static void hello_drop(struct sw_hello *h)
{
	struct sw_hello **pp = &h->pub->hellos;

	while (*pp != h)
		pp = &(*pp)->next;
	*pp = h->next;
	netbe_watch_del(h->w);
	close(h->fd);
	free(h);
}

/* "PORT NAME" in @msg (@n bytes, room for a NUL) into @port. */
static int hello_parse(struct sw_publish *pub, char *msg, ssize_t n,
		       char *port)
{
	char who[NETBE__VALE_NAME_MAX + 8];

	snprintf(who, sizeof(who), "switch %s", pub->name);
	if (n >= PUB_HELLO_MAX)
		return netbe__err(-EINVAL, "%s: hello of %zd bytes is too "
				  "long", who, n);
	msg[n] = '\0';
	if (strlen(msg) != (size_t)n || strncmp(msg, "PORT ", 5))
		return netbe__err(-EPROTO, "%s: the first message must be "
				  "'PORT NAME'", who);
	if (netbe__vale_check_port(who, msg + 5) < 0)
		return -EINVAL;
	memcpy(port, msg + 5, (size_t)n - 4); /* checked: < 64, and NUL */
	return 0;
}

static void hello_reply(struct sw_hello *h, int r)
{
	char msg[320];
	int n;

	if (r == 0)
		n = snprintf(msg, sizeof(msg), "OK");
	else
		n = snprintf(msg, sizeof(msg), "ERR %d %s", -r,
			     netbe_last_error());
	if (n >= (int)sizeof(msg))
		n = (int)sizeof(msg) - 1;
	(void)send(h->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0)
		netbe__log(NETBE_LOG_WARN, "switch %s: refused a port: %s",
			   h->pub->name, netbe_last_error());
}

/* A waiting connection is readable: its hello, or its close. */
static void pub_hello(int fd, int events, void *arg)
{
	struct sw_hello *h = arg;
	char msg[PUB_HELLO_MAX], port[NETBE__VALE_NAME_MAX];
	ssize_t n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_TRUNC);
	int r;

	(void)events;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		r = hello_parse(h->pub, msg, n, port);
		if (r == 0)
			r = conn_add(h->pub, port, fd, false, NULL);
		hello_reply(h, r);
	}
	hello_drop(h); /* a port works on its own duplicate */
}

/* Our uid or root. */
static bool peer_ok(const struct sw_publish *pub, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return false;
	if (uc.uid == geteuid() || uc.uid == 0)
		return true;
	netbe__log(NETBE_LOG_WARN, "switch %s: refused a connection from "
		   "uid %u (pid %d): only uid %u and root may join",
		   pub->name, (unsigned)uc.uid, (int)uc.pid,
		   (unsigned)geteuid());
	return false;
}

static int hello_wait(struct sw_publish *pub, int fd)
{
	struct sw_hello *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	*h = (struct sw_hello){ .pub = pub, .fd = fd, .next = pub->hellos };
	if (netbe_loop_add_fd(pub->sw->loop, fd, NETBE_EV_READ, 1, pub_hello,
			      h, &h->w) < 0) {
		free(h);
		return -ENOMEM;
	}
	pub->hellos = h;
	return 0;
}

/* Out of fds or memory: stop accepting for a while, not spin. */
static void accept_pause(struct sw_publish *pub, int err)
{
	netbe__log(NETBE_LOG_WARN, "switch %s: accept: %s", pub->name,
		   strerror(err));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		netbe_watch_disable(pub->lw);
		netbe_timer_set(pub->reap, PUB_RETRY_MS, 0);
	}
}

static void pub_accept(int fd, int events, void *arg)
{
	struct sw_publish *pub = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)events;
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			accept_pause(pub, errno);
		return;
	}
	if (!peer_ok(pub, c) || hello_wait(pub, c) < 0)
		close(c);
}

/* ---- the socket --------------------------------------------------------- */

/* Creates @dir with mode 0700, or makes sure it is a directory of ours
 * and sets it to 0700. */
static int pub_dir(const struct sw_publish *pub, const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return netbe__err(-errno, "switch %s: mkdir %s: %s", pub->name,
				  dir, strerror(errno));
	if (lstat(dir, &st) < 0)
		return netbe__err(-errno, "switch %s: %s: %s", pub->name, dir,
				  strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return netbe__err(-EPERM, "switch %s: %s is not a directory "
				  "owned by uid %u", pub->name, dir,
				  (unsigned)geteuid());
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
		return netbe__err(-errno, "switch %s: chmod %s: %s", pub->name,
				  dir, strerror(errno));
	return 0;
}

/* Binds (replacing a stale file), sets the file to 0600, listens. */
static int pub_bind(struct sw_publish *pub)
{
	const char *path = netbe__sockaddr_path(&pub->addr);
	struct stat st;
	int r;

	/* bind() gives the file this mode minus the umask: 0600 at most. */
	(void)fchmod(pub->lfd, 0600);
	r = netbe__sockaddr_bind_unix(pub->lfd, &pub->addr, "switch");
	if (r == -EADDRINUSE)
		return netbe__err(-EEXIST, "switch %s: already published (a "
				  "switch answers at %s, or it is not a "
				  "socket)", pub->name, path);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0) {
		pub->dev = st.st_dev;
		pub->ino = st.st_ino;
	}
	if (chmod(path, 0600) < 0 || listen(pub->lfd, PUB_BACKLOG) < 0)
		return netbe__err(-errno, "switch %s: %s: %s", pub->name, path,
				  strerror(errno));
	return 0;
}

/* The directory, then the socket, under the directory's lock. */
static int pub_socket(struct sw_publish *pub)
{
	char dir[sizeof(pub->addr.text)];
	int dfd, r;

	snprintf(dir, sizeof(dir), "%s", netbe__sockaddr_path(&pub->addr));
	*strrchr(dir, '/') = '\0';
	if ((r = pub_dir(pub, dir)) < 0)
		return r;
	pub->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
			  SOCK_CLOEXEC, 0);
	if (pub->lfd < 0)
		return netbe__err(-errno, "switch %s: socket: %s", pub->name,
				  strerror(errno));
	/* Best effort: without the lock, a race is only less polite. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)flock(dfd, LOCK_EX);
	r = pub_bind(pub);
	if (dfd >= 0)
		close(dfd);
	return r;
}

static int pub_listen(struct sw_publish *pub)
{
	netbe_loop_t *loop = pub->sw->loop;
	int r = netbe__vale_addr("switch", pub->name, &pub->addr);

	if (r == 0)
		r = pub_socket(pub);
	if (r == 0)
		r = netbe_loop_add_fd(loop, pub->lfd, NETBE_EV_READ, 1,
				      pub_accept, pub, &pub->lw);
	if (r == 0)
		r = netbe_loop_add_timer(loop, 0, 0, pub_reap, pub,
					 &pub->reap);
	return r;
}

/* Stops listening; removes the file if it is still the one we bound. */
static void pub_unbind(struct sw_publish *pub)
{
	const char *path = netbe__sockaddr_path(&pub->addr);
	struct stat st;

	netbe_watch_del(pub->lw);
	netbe_watch_del(pub->reap);
	pub->lw = pub->reap = NULL;
	while (pub->hellos)
		hello_drop(pub->hellos);
	if (pub->ino && lstat(path, &st) == 0 && st.st_dev == pub->dev &&
	    st.st_ino == pub->ino)
		unlink(path);
	if (pub->lfd >= 0)
		close(pub->lfd);
	pub->lfd = -1;
}

static int pub_enlist_unique(struct sw_publish *pub)
{
	int r = 0;

	pthread_mutex_lock(&pub_lock);
	if (pub_find(pub->name))
		r = netbe__err(-EEXIST, "switch %s: a switch of this process "
			       "has the name", pub->name);
	else
		pub_enlist(pub);
	pthread_mutex_unlock(&pub_lock);
	return r;
}

NETBE__EXPORT int netbe_switch_publish(netbe_switch_t *sw, const char *name)
{
	struct sw_publish *pub;
	int r;

	if (!sw || !name)
		return netbe__err(-EINVAL, "switch: publish needs a switch "
				  "and a name");
	if ((r = netbe__vale_check_switch("switch", name)) < 0)
		return r;
	if (sw->pub)
		return netbe__err(strcmp(sw->pub->name, name) ? -EBUSY
							       : -EEXIST,
				  "switch %s: already published as '%s'",
				  name, sw->pub->name);
	if (!(pub = pub_new(sw, name)))
		return -ENOMEM;
	r = pub_listen(pub);
	if (r == 0)
		r = pub_enlist_unique(pub);
	if (r < 0) {
		pub_unbind(pub);
		free(pub);
		return r;
	}
	sw->pub = pub;
	return 0;
}

/* ---- lifetime ----------------------------------------------------------- */

void netbe__sw_unpublish(struct netbe_switch *sw)
{
	struct sw_publish *pub = sw->pub;
	struct sw_conn *c, *next;
	bool last;

	if (!pub)
		return;
	pthread_mutex_lock(&pub_lock);
	pub_unlist(pub);
	c = pub->conns;
	pub->conns = NULL;
	for (struct sw_conn *x = c; x; x = x->next)
		x->pub = NULL; /* a vale handle frees its own */
	pub->sw = NULL;
	last = pub->users == 0;
	pthread_mutex_unlock(&pub_lock);
	sw->pub = NULL;
	pub_unbind(pub);
	for (; c; c = next) {
		next = c->next;
		conn_close(sw, c);
		if (!c->local)
			free(c);
	}
	if (last)
		free(pub);
}

struct sw_publish *netbe__vale_get(const char *name)
{
	struct sw_publish *pub;

	pthread_mutex_lock(&pub_lock);
	pub = pub_find(name);
	if (pub)
		pub->users++;
	pthread_mutex_unlock(&pub_lock);
	return pub;
}

/* A new in-process switch named @name (pub_lock held). */
static int pub_create(const char *name, netbe_loop_t *loop,
		      struct sw_publish **out)
{
	netbe_switch_t *sw;
	int r = netbe_switch_new(&sw, loop, NULL);

	if (r < 0)
		return r;
	if (!(*out = pub_new(sw, name))) {
		netbe_switch_free(sw);
		return -ENOMEM;
	}
	(*out)->autocreated = true;
	sw->pub = *out;
	pub_enlist(*out);
	return 0;
}

int netbe__vale_get_or_create(const char *name, netbe_loop_t *loop,
			      struct sw_publish **out)
{
	int r = 0;

	pthread_mutex_lock(&pub_lock);
	*out = pub_find(name);
	if (!*out)
		r = pub_create(name, loop, out);
	if (r == 0)
		(*out)->users++;
	pthread_mutex_unlock(&pub_lock);
	return r;
}

void netbe__vale_put(struct sw_publish *pub)
{
	struct netbe_switch *sw = NULL;
	bool drop;

	pthread_mutex_lock(&pub_lock);
	pub->users--;
	if (pub->users == 0 && pub->autocreated && pub->sw) {
		sw = pub->sw; /* its last port: nobody finds it any more */
		pub_unlist(pub);
	}
	drop = pub->users == 0 && !pub->sw;
	pthread_mutex_unlock(&pub_lock);
	if (sw)
		netbe_switch_free(sw); /* unpublish frees the entry */
	else if (drop)
		free(pub);
}
