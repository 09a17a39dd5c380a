/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * offload_kernel - the Linux kernel as an independent checker of the
 * software offload engine.
 *
 * In a private netns, a netbe tap opened WITHOUT a vnet header (so the
 * kernel gets plain frames and verifies every checksum itself) is the
 * backend; the frontend negotiates CSUM and all HOST_* offloads and sends
 * TSO4, TSO6, USO4, UFO4, UFO6 and checksum-only frames.  The engine
 * segments and checksums them; the kernel must count every segment in
 * /proc/net/snmp{,6} with no checksum error, and the UDP sockets must
 * receive every byte (UFO: reassembled by the kernel).
 *
 * The same frames also cross a plain pipe pair, and what comes out is
 * written to the pcap file argv[1] for tshark to validate
 * (offload_kernel.sh), VLAN-tagged frames included.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frames.h"
#include "tap_util.h"

#define HDR 12
#define ALL_HOST                                                             \
	(NETBE_F_CSUM | NETBE_F_HOST_TSO4 | NETBE_F_HOST_TSO6 | \
	 NETBE_F_HOST_ECN | NETBE_F_HOST_UFO | NETBE_F_HOST_USO)

static uint8_t frame[NETBE_MAX_FRAME + HDR];
static uint8_t buf[NETBE_MAX_FRAME + HDR];

struct job {
	struct fspec s;
	uint8_t gso;
	unsigned mss;
	unsigned segs;	 /* frames the kernel must see */
	bool to_kernel;	 /* VLAN frames only go to the pcap */
};

static const struct job jobs[] = {
	{ { .proto = 6, .payload = 64000, .tcp_flags = F_ACK | F_PSH | F_CWR,
	    .seq = 1 }, NETBE_VNET_HDR_GSO_TCPV4 | NETBE_VNET_HDR_GSO_ECN,
	  1448, 45, true },
	{ { .v6 = true, .proto = 6, .payload = 60000, .tcp_flags = F_ACK | F_FIN,
	    .seq = 0xfffffff0u, .tcp_opts = 12 }, NETBE_VNET_HDR_GSO_TCPV6,
	  1416, 43, true },
	{ { .proto = 17, .payload = 30000, .seed = 1 },
	  NETBE_VNET_HDR_GSO_UDP_L4, 1472, 21, true },
	{ { .v6 = true, .proto = 17, .payload = 20000, .seed = 2 },
	  NETBE_VNET_HDR_GSO_UDP_L4, 1232, 17, true },
	{ { .proto = 17, .payload = 8000, .ip_id = 77, .seed = 3 },
	  NETBE_VNET_HDR_GSO_UDP, 1480, 6, true },
	{ { .v6 = true, .proto = 17, .payload = 20000, .seed = 4 },
	  NETBE_VNET_HDR_GSO_UDP, 1448, 14, true },
	{ { .proto = 17, .payload = 1001, .seed = 5 }, 0, 0, 1, true },
	{ { .v6 = true, .proto = 6, .payload = 999, .tcp_flags = F_ACK },
	  0, 0, 1, true },
	{ { .vlans = 2, .proto = 6, .payload = 20000, .tcp_flags = F_ACK },
	  NETBE_VNET_HDR_GSO_TCPV4, 1448, 14, false },
	{ { .vlans = 1, .v6 = true, .proto = 17, .payload = 9000 },
	  NETBE_VNET_HDR_GSO_UDP, 1448, 7, false },
};

#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

static void sh(const char *cmd)
{
	TU_CHECK(system(cmd) == 0, "%s failed", cmd);
}

/* One counter from /proc/net/snmp ("Tcp", "InCsumErrors") or snmp6. */
static long counter(const char *group, const char *name)
{
	FILE *f = fopen(strncmp(group, "Udp6", 4) && strncmp(group, "Ip6", 3)
				? "/proc/net/snmp" : "/proc/net/snmp6", "r");
	char hdr[2048], val[2048], key[64];
	long v = -1;

	TU_CHECK(f != NULL, "open snmp");
	if (!strncmp(group, "Udp6", 4) || !strncmp(group, "Ip6", 3)) {
		snprintf(key, sizeof(key), "%s%s", group, name);
		while (fscanf(f, "%63s %2047s", hdr, val) == 2)
			if (!strcmp(hdr, key))
				v = atol(val);
		fclose(f);
		return v;
	}
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		char *hs, *vs, *h = strtok_r(hdr, " \n", &hs);
		char *x = strtok_r(val, " \n", &vs);

		if (!h || strncmp(h, group, strlen(group)) || h[strlen(group)] != ':')
			continue;
		while ((h = strtok_r(NULL, " \n", &hs)) &&
		       (x = strtok_r(NULL, " \n", &vs)))
			if (!strcmp(h, name))
				v = atol(x);
	}
	fclose(f);
	return v;
}

static int udp_sock(bool v6)
{
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int one = 1, big = 8 << 20;
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(5001) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(5001) };

	TU_CHECK(s >= 0, "socket");
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	if (v6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	TU_CHECK(bind(s, v6 ? (void *)&a6 : (void *)&a4,
		      v6 ? sizeof(a6) : sizeof(a4)) == 0, "bind");
	return s;
}

/* Bytes waiting on a UDP socket, datagrams in *n. */
static long drain(int s, long *n)
{
	long total = 0;
	ssize_t r;

	while ((r = recv(s, buf, sizeof(buf), 0)) >= 0) {
		total += r;
		(*n)++;
	}
	return total;
}

static size_t build_job(const struct job *j)
{
	struct flay l = fbuild(frame + HDR, &j->s);
	struct netbe_vnet_hdr h = fhdr(&j->s, &l, j->gso, j->mss);

	if (j->gso == 0)
		h.gso_type = 0;
	memcpy(frame, &h, HDR);
	return HDR + l.len;
}

static void send_job(netbe_t *be, size_t len)
{
	struct iovec iov = { frame, len };
	ssize_t r = netbe_send(be, &iov, 1);

	TU_CHECK(r == (ssize_t)len, "send: %zd %s", r, netbe_last_error());
}

static void pcap_write(FILE *f, const void *p, size_t len)
{
	uint32_t rec[4] = { 0, 0, (uint32_t)len, (uint32_t)len };

	fwrite(rec, sizeof(rec), 1, f);
	fwrite(p, len, 1, f);
}

/* Sends every job through a plain pipe and writes what comes out. */
static unsigned to_pcap(const char *path)
{
	static const uint32_t gh[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
	netbe_t *a, *b;
	unsigned n = 0;
	FILE *f = fopen(path, "wb");
	ssize_t r;

	TU_CHECK(f != NULL, "open %s", path);
	fwrite(gh, sizeof(gh), 1, f);
	a = tu_open("pipe:okcap", NULL);
	b = tu_open("pipe:okcap", NULL);
	TU_CHECK(netbe_set_cap(a, ALL_HOST, HDR) == 0, "set_cap pipe");
	for (size_t i = 0; i < NJOBS; i++) {
		send_job(a, build_job(&jobs[i]));
		while ((r = netbe_recv(b, &(struct iovec){ buf, sizeof(buf) },
				       1)) > 0) {
			pcap_write(f, buf, (size_t)r);
			n++;
		}
	}
	fclose(f);
	netbe_cleanup(a);
	netbe_cleanup(b);
	return n;
}

struct snap {
	long tcp_in, tcp_csum, udp_in, udp_csum, udp6_in, udp6_csum;
};

static struct snap snap(void)
{
	return (struct snap){
		counter("Tcp", "InSegs"), counter("Tcp", "InCsumErrors"),
		counter("Udp", "InDatagrams"), counter("Udp", "InCsumErrors"),
		counter("Udp6", "InDatagrams"), counter("Udp6", "InCsumErrors"),
	};
}

int main(int argc, char **argv)
{
	unsigned want_tcp = 0, want_frames = 0;
	long n4 = 0, n6 = 0, bytes4, bytes6, want_udp4 = 0, want_udp6 = 0;
	long want_bytes4 = 0, want_bytes6 = 0;
	struct snap s0, s1;
	netbe_t *be;
	int u4, u6;

	setvbuf(stdout, NULL, _IOLBF, 0);
	TU_CHECK(argc == 2, "usage: offload_kernel PCAP");
	tu_enter_netns();
	be = tu_open("tap,ifname=okc0,vnet_hdr=off", NULL);
	sh("echo 0 > /proc/sys/net/ipv6/conf/okc0/disable_ipv6 && "
	   "ip link set okc0 address 02:00:00:00:00:02 up && "
	   "ip addr add 192.0.2.2/24 dev okc0 && "
	   "ip addr add 2001:db8::2/64 dev okc0 nodad");
	TU_CHECK(netbe_set_cap(be, ALL_HOST, HDR) == 0, "set_cap: %s",
		 netbe_last_error());
	u4 = udp_sock(false);
	u6 = udp_sock(true);
	usleep(200000);
	s0 = snap();
	for (size_t i = 0; i < NJOBS; i++) {
		const struct job *j = &jobs[i];
		bool tcp = j->s.proto == 6, ufo = j->gso == NETBE_VNET_HDR_GSO_UDP;

		want_frames += j->segs;
		if (!j->to_kernel)
			continue;
		send_job(be, build_job(j));
		if (tcp) {
			want_tcp += j->segs;
			continue;
		}
		if (j->s.v6) {
			want_udp6 += ufo ? 1 : j->segs;
			want_bytes6 += (long)j->s.payload;
		} else {
			want_udp4 += ufo ? 1 : j->segs;
			want_bytes4 += (long)j->s.payload;
		}
	}
	usleep(300000);
	bytes4 = drain(u4, &n4);
	bytes6 = drain(u6, &n6);
	s1 = snap();
	printf("kernel: Tcp InSegs +%ld (want %u), InCsumErrors +%ld; "
	       "Udp InDatagrams +%ld, InCsumErrors +%ld; Udp6 InDatagrams "
	       "+%ld, InCsumErrors +%ld\n", s1.tcp_in - s0.tcp_in, want_tcp,
	       s1.tcp_csum - s0.tcp_csum, s1.udp_in - s0.udp_in,
	       s1.udp_csum - s0.udp_csum, s1.udp6_in - s0.udp6_in,
	       s1.udp6_csum - s0.udp6_csum);
	printf("sockets: IPv4 %ld datagrams %ld bytes, IPv6 %ld datagrams "
	       "%ld bytes\n", n4, bytes4, n6, bytes6);
	TU_CHECK(s1.tcp_csum == s0.tcp_csum && s1.udp_csum == s0.udp_csum &&
		 s1.udp6_csum == s0.udp6_csum, "checksum errors counted");
	TU_CHECK(s1.tcp_in - s0.tcp_in >= want_tcp, "TCP segments missing");
	TU_CHECK(n4 == want_udp4 && bytes4 == want_bytes4 &&
		 n6 == want_udp6 && bytes6 == want_bytes6,
		 "UDP: want %ld/%ld v4 and %ld/%ld v6 datagrams/bytes",
		 want_udp4, want_bytes4, want_udp6, want_bytes6);
	close(u4);
	close(u6);
	netbe_cleanup(be);
	TU_CHECK(to_pcap(argv[1]) == want_frames, "pcap frame count");
	printf("pcap: %u frames in %s\nPASS\n", want_frames, argv[1]);
	return 0;
}
