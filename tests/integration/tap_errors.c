/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_errors - bad input to the tap backend fails cleanly, and the
 * configuration keys do what they say.
 *
 * In a private netns:
 *   - "tap,fd=9999" (not open) gives -EBADF and a message naming fd 9999;
 *   - a TUN (layer 3) fd and a non-tun fd (/dev/null) give -EINVAL with a
 *     clear message, and the failed open leaves the caller's fd open;
 *   - an over-long interface name and a missing bridge give -EINVAL and
 *     -ENODEV/-ENOENT-style errors, and leave no interface behind;
 *   - an unknown key is refused (by the core) before anything opens;
 *   - mtu=, queues=, vnet_hdr=off, up=, sndbuf=, persist, a bare "tap"
 *     and the "vmnet" prefix take effect.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "tap_util.h"

static void noop_rx(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

/* Opens @spec expecting failure @err; returns netbe_last_error(). */
static const char *open_fails(const char *spec, int err)
{
	netbe_t *be = (netbe_t *)1;
	int r = netbe_open(&be, spec, NULL, noop_rx, NULL);

	TU_CHECK(r == err, "%s: got %d (%s), want %d", spec, r,
		 netbe_last_error(), err);
	TU_CHECK(be == NULL, "%s: handle not NULL on failure", spec);
	printf("%-40s -> %d: %s\n", spec, r, netbe_last_error());
	return netbe_last_error();
}

static void check_bad_fds(void)
{
	struct ifreq ifr;
	char spec[64];
	int tun, null;

	TU_CHECK(strstr(open_fails("tap,fd=9999", -EBADF), "9999"),
		 "message does not name the fd");
	tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "l3tun0");
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	TU_CHECK(tun >= 0 && ioctl(tun, TUNSETIFF, &ifr) == 0, "make TUN");
	snprintf(spec, sizeof(spec), "tap,fd=%d", tun);
	TU_CHECK(strstr(open_fails(spec, -EINVAL), "TUN"),
		 "message does not say TUN");
	TU_CHECK(fcntl(tun, F_GETFD) >= 0, "a rejected fd was closed");
	close(tun);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(spec, sizeof(spec), "tap,fd=%d", null);
	open_fails(spec, -EINVAL);
	TU_CHECK(fcntl(null, F_GETFD) >= 0, "a rejected fd was closed");
	close(null);
}

static void check_leftovers(void)
{
	open_fails("tap,ifname=waytoolonginterfacename0", -EINVAL);
	open_fails("tap,ifname=nobr0,bridge=nosuchbr", -ENODEV);
	TU_CHECK(if_nametoindex("nobr0") == 0,
		 "failed open left interface nobr0 behind");
	open_fails("tap,ifname=badkey0,bogus=1", -EINVAL);
	TU_CHECK(if_nametoindex("badkey0") == 0, "bad key created badkey0");
	open_fails("tap,ifname=mtu0,mtu=70000", -EINVAL);
}

static int if_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	r = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
	    (ifr.ifr_flags & IFF_UP);
	if (s >= 0)
		close(s);
	return r;
}

static void check_keys(void)
{
	netbe_t *be;
	int fd0, fd1;

	be = tu_open("tap,ifname=mtu0,mtu=9000", NULL);
	TU_CHECK(netbe_get_mtu(be) == 9000, "mtu %d", netbe_get_mtu(be));
	netbe_cleanup(be);
	TU_CHECK(if_nametoindex("mtu0") == 0, "mtu0 outlived cleanup");

	be = tu_open("tap,ifname=mq0,queues=4", NULL);
	TU_CHECK(netbe_get_nqueues(be) == 4, "nqueues %u",
		 netbe_get_nqueues(be));
	fd0 = netbe_get_fd(netbe_get_queue(be, 0));
	fd1 = netbe_get_fd(netbe_get_queue(be, 3));
	TU_CHECK(fd0 >= 0 && fd1 >= 0 && fd0 != fd1, "queue fds %d %d", fd0,
		 fd1);
	netbe_cleanup(be);

	be = tu_open("tap,ifname=nohdr0,vnet_hdr=off", NULL);
	/* Without a header only what the library does in software (the
	 * HOST_* side) is offered; receive offloads cannot be. */
	TU_CHECK(netbe_get_vnet_hdr_len(be) == 0 &&
		 (netbe_get_cap(be) & (NETBE_F_GUEST_CSUM |
				       NETBE_F_GUEST_TSO4)) == 0 &&
		 (netbe_get_cap(be) & NETBE_F_HOST_TSO4),
		 "vnet_hdr=off: header %zu cap %#llx",
		 netbe_get_vnet_hdr_len(be),
		 (unsigned long long)netbe_get_cap(be));
	TU_CHECK(netbe_set_cap(be, NETBE_F_GUEST_CSUM, 12) < 0,
		 "receive offloads accepted without a header");
	TU_CHECK(netbe_set_cap(be, 0, 12) == 0, "header-only set_cap: %s",
		 netbe_last_error());
	netbe_cleanup(be);

	be = tu_open("tap,ifname=up0,up=on,sndbuf=65536", NULL);
	TU_CHECK(if_up("up0"), "up=on left up0 down");
	netbe_cleanup(be);

	be = tu_open("tap", NULL);
	TU_CHECK(if_nametoindex("tap0") != 0, "bare 'tap' did not make tap0");
	netbe_cleanup(be);
	be = tu_open("vmnet3", NULL);
	TU_CHECK(strcmp(netbe_get_name(be), "vmnet") == 0 &&
		 if_nametoindex("vmnet3") != 0, "vmnet3 prefix");
	netbe_cleanup(be);
	printf("mtu, queues, vnet_hdr=off, up, sndbuf, bare tap, vmnet: ok\n");
}

static void check_persist(void)
{
	struct ifreq ifr;
	netbe_t *be = tu_open("tap,ifname=keep0,persist=on", NULL);
	int fd;

	netbe_cleanup(be);
	TU_CHECK(if_nametoindex("keep0") != 0, "persist=on: keep0 is gone");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "keep0");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	TU_CHECK(fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0 &&
		 ioctl(fd, TUNSETPERSIST, 0) == 0, "un-persist keep0");
	close(fd);
	printf("persist: ok\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	tu_enter_netns();
	check_bad_fds();
	check_leftovers();
	check_keys();
	check_persist();
	printf("PASS\n");
	return 0;
}
