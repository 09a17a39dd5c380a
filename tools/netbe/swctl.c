/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * swctl.c - serves a named switch's control socket on the switch's loop.
 *
 * Each connection: one request line is read (at most CTL_REQ_MAX bytes,
 * within CTL_CLIENT_MS), the response is built in memory, written as the
 * socket takes it, and the connection is closed.  A peer that is neither
 * our uid nor root (SO_PEERCRED) gets "error permission denied" for
 * whatever it asked; its request is read first, so the error reaches it
 * instead of a reset.  Nothing here blocks the loop,
 * so a slow or silent client never holds up the frames.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "seccomp.h"
#include "swctl.h"

/* A connection that has not finished within this is dropped. */
#define CTL_CLIENT_MS 5000
/* Connections served at once; more are closed at once. */
#define CTL_MAX_CLIENTS 32
/* Out of fds: accept again after this long, instead of spinning. */
#define CTL_RETRY_MS 100

struct ctl_client {
	struct swctl *ctl;
	struct ctl_client *prev, *next;
	int fd;
	netbe_watch_t *w, *timer;
	char req[CTL_REQ_MAX + 1];
	size_t len;
	int too_long;
	long denied_uid; /* -1, or the uid of a peer that may not ask */
	char *resp;
	size_t resp_len, resp_off;
};

struct swctl {
	netbe_loop_t *loop;
	netbe_switch_t *sw;
	const struct swview *view;
	int fd;
	netbe_watch_t *w, *retry;
	struct ctl_client *clients;
	unsigned nclients;
	char path[128];
};

/* ---- connections ----------------------------------------------------------- */

static void client_close(struct ctl_client *c)
{
	struct swctl *ctl = c->ctl;

	netbe_watch_del(c->w);
	netbe_watch_del(c->timer);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nclients--;
	free(c->resp);
	free(c);
}

static void client_timeout(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	client_close(arg);
}

static void client_write(int fd, int events, void *arg)
{
	struct ctl_client *c = arg;

	(void)events;
	while (c->resp_off < c->resp_len) {
		ssize_t n = send(fd, c->resp + c->resp_off,
				 c->resp_len - c->resp_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break; /* the client went away */
		c->resp_off += (size_t)n;
	}
	client_close(c);
}

/* Sends the response built in c->resp, as the socket takes it. */
static void client_respond(struct ctl_client *c)
{
	netbe_watch_del(c->w);
	c->w = NULL;
	if (netbe_loop_add_fd(c->ctl->loop, c->fd, NETBE_EV_WRITE, 1,
			      client_write, c, &c->w) < 0)
		client_close(c);
}

/* ---- requests ---------------------------------------------------------------- */

/* "error MESSAGE" on one line: control characters escaped. */
static void resp_error(FILE *f, const char *msg)
{
	fprintf(f, "error ");
	for (const char *p = msg; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('\n', f);
}

int swctl_add_port(netbe_switch_t *sw, const char *spec, char *name,
		   size_t len)
{
	netbe_t *be;
	int r = netbe_switch_add_port(sw, spec);

	if (r < 0)
		return r;
	netbe_switch_port_info(sw, (unsigned)r, name, len, &be, NULL);
	if (strcmp(name, netbe_get_label(be)) != 0)
		netbe_set_name(be, name);
	return r;
}

static void req_port_add(struct swctl *ctl, FILE *f, const char *spec)
{
	char name[64];
	int r = swctl_add_port(ctl->sw, spec, name, sizeof(name));

	if (r < 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s%s", cli_strerror(r),
			 cli_seccomp_hint(r));
		resp_error(f, msg);
	} else {
		fprintf(f, "ok %s\n", name);
	}
}

static void req_port_del(struct swctl *ctl, FILE *f, const char *port)
{
	int r = netbe_switch_del_port(ctl->sw, port);

	if (r < 0)
		resp_error(f, cli_strerror(r));
	else
		fprintf(f, "ok\n");
}

/* Answers request @req (one line, no newline) into @f. */
static void serve(struct swctl *ctl, FILE *f, const char *req)
{
	char msg[CTL_REQ_MAX + 128];

	if (strncmp(req, "port add ", 9) == 0)
		req_port_add(ctl, f, req + 9);
	else if (strncmp(req, "port del ", 9) == 0)
		req_port_del(ctl, f, req + 9);
	else if (strcmp(req, "stats") == 0)
		swview_table(f, ctl->view);
	else if (strcmp(req, "stats json") == 0)
		swview_json(f, ctl->view);
	else if (strcmp(req, "fdb") == 0)
		swview_fdb(f, ctl->sw);
	else {
		snprintf(msg, sizeof(msg), "unknown request '%s' (valid: port "
			 "add SPEC, port del PORT, stats, stats json, fdb)",
			 req);
		resp_error(f, msg);
	}
}

static void resp_denied(FILE *f, long uid)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "permission denied: uid %ld is neither "
		 "the switch's (uid %u) nor root", uid, (unsigned)geteuid());
	resp_error(f, msg);
}

static void client_serve(struct ctl_client *c)
{
	FILE *f;

	c->req[c->len] = '\0';
	c->req[strcspn(c->req, "\r\n")] = '\0';
	f = open_memstream(&c->resp, &c->resp_len);
	if (f == NULL) {
		client_close(c);
		return;
	}
	if (c->denied_uid >= 0)
		resp_denied(f, c->denied_uid);
	else if (c->too_long)
		resp_error(f, "request longer than " CTL_REQ_MAX_TEXT " bytes");
	else
		serve(c->ctl, f, c->req);
	if (fclose(f) != 0) {
		client_close(c);
		return;
	}
	client_respond(c);
}

static void client_read(int fd, int events, void *arg)
{
	struct ctl_client *c = arg;
	ssize_t n;

	(void)events;
	n = read(fd, c->req + c->len, sizeof(c->req) - 1 - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && c->len == 0)) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	if (n == 0 || memchr(c->req, '\n', c->len) != NULL)
		client_serve(c);
	else if (c->len == sizeof(c->req) - 1) {
		c->too_long = 1;
		client_serve(c);
	}
}

/* ---- accepting ---------------------------------------------------------------- */

/* -1 when the peer runs as our uid or as root, else its uid (the
 * request is read, then answered with an error). */
static long peer_denied(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return LONG_MAX;
	return cr.uid == geteuid() || cr.uid == 0 ? -1 : (long)cr.uid;
}

static int client_add(struct swctl *ctl, int fd)
{
	struct ctl_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	c->ctl = ctl;
	c->fd = fd;
	c->denied_uid = peer_denied(fd);
	if (netbe_loop_add_fd(ctl->loop, fd, NETBE_EV_READ, 1, client_read, c,
			      &c->w) < 0 ||
	    netbe_loop_add_timer(ctl->loop, CTL_CLIENT_MS, 0, client_timeout,
				 c, &c->timer) < 0) {
		netbe_watch_del(c->w);
		free(c);
		return -ENOMEM;
	}
	c->next = ctl->clients;
	if (c->next)
		c->next->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	return 0;
}

static void accept_again(int fd, int events, void *arg)
{
	struct swctl *ctl = arg;

	(void)fd;
	(void)events;
	netbe_watch_del(ctl->retry);
	ctl->retry = NULL;
	netbe_watch_enable(ctl->w);
}

/* Out of fds: the pending connection would wake the loop at once again,
 * so stop watching for a while. */
static void accept_later(struct swctl *ctl)
{
	if (ctl->retry == NULL &&
	    netbe_loop_add_timer(ctl->loop, CTL_RETRY_MS, 0, accept_again,
				 ctl, &ctl->retry) == 0)
		netbe_watch_disable(ctl->w);
}

static void on_accept(int fd, int events, void *arg)
{
	struct swctl *ctl = arg;
	int cfd;

	(void)events;
	while ((cfd = accept4(fd, NULL, NULL,
			      SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (ctl->nclients >= CTL_MAX_CLIENTS ||
			 client_add(ctl, cfd) < 0)
			close(cfd);
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM)
		accept_later(ctl);
}

int swctl_start(struct swctl **out, netbe_loop_t *loop, netbe_switch_t *sw,
		const struct swview *view, const char *name)
{
	struct swctl *ctl = calloc(1, sizeof(*ctl));
	int r;

	*out = NULL;
	if (ctl == NULL)
		return -ENOMEM;
	*ctl = (struct swctl){ .loop = loop, .sw = sw, .view = view };
	ctl->fd = ctl_listen(name, ctl->path, sizeof(ctl->path));
	if (ctl->fd < 0) {
		r = ctl->fd;
		free(ctl);
		return r;
	}
	r = netbe_loop_add_fd(loop, ctl->fd, NETBE_EV_READ, 1, on_accept, ctl,
			      &ctl->w);
	if (r < 0) {
		cli_err("cannot watch the control socket: %s", cli_strerror(r));
		ctl->w = NULL;
		swctl_stop(ctl);
		return r;
	}
	*out = ctl;
	return 0;
}

const char *swctl_path(const struct swctl *c)
{
	return c->path;
}

void swctl_stop(struct swctl *c)
{
	if (c == NULL)
		return;
	while (c->clients)
		client_close(c->clients);
	netbe_watch_del(c->retry);
	netbe_watch_del(c->w);
	close(c->fd);
	unlink(c->path);
	free(c);
}
