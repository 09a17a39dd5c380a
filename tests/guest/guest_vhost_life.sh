#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# guest_vhost_life.sh - the lifecycle of a QEMU guest on netbe's vhost-user
# backend, with QEMU itself as the VMM (issue 12; vhost_tap and
# vhost_testpmd do the same with DPDK's virtio-user):
#
#   namespace NS: netbe connect vhost-user,path=S tap (192.0.2.1)
#                 QEMU -netdev vhost-user on S, the guest at 192.0.2.2
#
#   1. QEMU killed mid-traffic.  Guest 1 boots and serves a page that NS
#      fetches; NS pings it every 10 ms and QEMU is killed (SIGKILL).
#      netbe must stay up, log the VMM leaving under the port's name and
#      not spin (its CPU over 2 s of pings to nobody under 10 % of a
#      core).  Guest 2 boots on the same socket; NS fetches its page.
#   2. netbe restarted under a running guest.  The chardev has
#      reconnect=1.  netbe is killed (SIGKILL: no goodbye on the socket)
#      and started again on the same path; QEMU reconnects by itself and
#      sets the rings up again where they were, and NS fetches the
#      guest's page again - the guest never rebooted (its console shows
#      one boot).
#
#   usage: guest_vhost_life.sh PATH/TO/netbe CACHE_DIR
#
# Needs root (namespace, tap) and QEMU; the namespace is ours.
set -u

bin=${1:-}
cache=${2:-}
. "$(dirname "$0")/guest_lib.sh"
. "$(dirname "$0")/../cli/cli_lib.sh" # cli_cpu_pct, cli_wait_link;
				      # fail() prints the tail of every
				      # $tmp/*.log

{ [ -n "$bin" ] && [ -x "$bin" ]; } || guest_skip "no netbe binary given"
[ -n "$cache" ] || guest_skip "no cache directory given"
[ "$(id -u)" = 0 ] || guest_skip "needs root (namespace, tap)"
[ -c /dev/net/tun ] || guest_skip "no /dev/net/tun"
guest_need ip ping
guest_prepare "$cache"

id=$$
ns=nbl$id tap=nblt$id
tmp=$(mktemp -d)
npid='' ppid=''
cleanup() {
	[ -n "${GUEST_PID:-}" ] && kill -9 "$GUEST_PID" 2>/dev/null
	for p in $npid $ppid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	cli_netns_del
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cli_netns_add $ns
guest_transport vhost "$tmp"
GUEST_QEMU="$GUEST_QEMU,reconnect=1" # the chardev is its last option

# netbe_start: netbe connect in NS, its tap up at 192.0.2.1.
netbe_start() {
	ip netns exec $ns "$bin" connect -v "$spec" "tap,ifname=$tap" \
		>>"$tmp/netbe.log" 2>&1 &
	npid=$!
	guest_wait_socket "$tmp/vhost.sock" $npid
	cli_wait_link $ns $tap up
	ip -n $ns addr add 192.0.2.1/24 dev $tap
	ip -n $ns link set $tap up
}

# guest N: boots guest N (serving its token for up to 120 s) and waits
# until it serves.
guest() {
	GUEST_NS=$ns guest_boot "$tmp/guest$1.log" "$netdev" "netbe.test=net \
netbe.ip=192.0.2.2/24 netbe.peer=192.0.2.1 netbe.expect=life-$id-$1 \
netbe.serve=80 netbe.serve_s=120"
	guest_wait_line "$tmp/guest$1.log" GUEST-READY 120 ||
		fail "guest $1 did not get to serving"
}

# page N WHEN: NS fetches guest N's page (retrying for up to 10 s).
page() {
	i=0
	while :; do
		got=$(ip netns exec $ns timeout 3 busybox wget -q -O - \
			http://192.0.2.2:80/ 2>/dev/null)
		[ "$got" = "life-$id-$1" ] && break
		i=$((i + 1))
		[ $i -ge 10 ] && fail "page from guest $1 $2: '$got'"
		sleep 1
	done
	echo "ok: NS fetched guest $1's page $2"
}

netbe_start
guest 1
page 1 "through vhost-user"

# 1. QEMU killed mid-traffic.
ip netns exec $ns ping -q -i 0.01 -w 30 192.0.2.2 >/dev/null 2>&1 &
ppid=$!
sleep 1
kill -9 "$GUEST_PID"
wait "$GUEST_PID" 2>/dev/null
GUEST_PID=
sleep 0.5
kill -0 $npid 2>/dev/null || fail "netbe exited when QEMU was killed"
cpu=$(cli_cpu_pct $npid 2) || fail "no CPU figure for netbe"
echo "ok: netbe used $cpu % of a core while no VMM was there"
[ "$cpu" -lt 10 ] || fail "netbe spins without a VMM: $cpu %"
grep -q "vhost-user,path=$tmp/vhost.sock.*VMM disconnected" "$tmp/netbe.log" ||
	fail "QEMU leaving is not logged under the port's name"
# QEMU's memory-backend-memfd comes sealed (seal=on): no shrink can
# fault netbe, and netbe logs no unsealable region.
! grep -q "not a sealable memfd" "$tmp/netbe.log" ||
	fail "QEMU's guest memory arrived as an unsealable file"
kill $ppid 2>/dev/null
wait $ppid 2>/dev/null
ppid=
guest 2
page 2 "from a second QEMU on the same socket"

# 2. netbe killed and started again; QEMU reconnects.
boot=$(grep -c 'GUEST-READY' "$tmp/guest2.log")
kill -9 $npid
wait $npid 2>/dev/null
npid=
# The killed process's tap goes when the kernel has torn down its
# io_uring rings, which it does asynchronously, after the process.
cli_wait_link $ns $tap gone
echo "--- netbe restarted" >>"$tmp/netbe.log"
netbe_start
page 2 "after netbe restarted (QEMU reconnected)"
[ "$(grep -c 'GUEST-READY' "$tmp/guest2.log")" = "$boot" ] ||
	fail "guest 2 rebooted"
grep -q "VMM connected" "$tmp/netbe.log" || fail "no VMM connection logged"
[ "$(sed -n '/--- netbe restarted/,$p' "$tmp/netbe.log" | grep -c 'VMM connected')" -ge 1 ] ||
	fail "QEMU did not reconnect to the new netbe"

guest_finish "$tmp/guest2.log" http://192.0.2.2:80/cgi-bin/quit
echo PASS
