#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# guest_tap.sh - a real Linux guest talks to a namespace through netbe:
#
#   guest virtio-net -- QEMU -netdev stream|dgram -- netbe stream|dgram
#        -- netbe connect -- tap (192.0.2.1 in namespace NS)
#   guest virtio-net -- QEMU -netdev vde -- vde_switch -- netbe vde
#        -- netbe connect -- tap (192.0.2.1 in namespace NS)
#   guest virtio-net -- QEMU -netdev vhost-user (shared rings) --
#        netbe vhost-user -- netbe connect -- tap (192.0.2.1 in NS)
#
#   usage: guest_tap.sh PATH/TO/netbe CACHE_DIR stream|dgram|vde|vhost
#
# The guest (192.0.2.2/24, static) pings 192.0.2.1 and fetches a file
# from busybox httpd in NS and checks its content; then NS fetches a page
# from httpd in the guest (a connection opened from the host side) and
# checks it.  QEMU, netbe and the server all run inside NS, so the dgram
# sockets meet on NS's private loopback.  Needs root; the namespace is
# ours and is deleted on exit.
#
# vhost also carries offloads end to end, so it does more: the guest
# fetches 8 MiB from NS and checks its MD5, runs iperf3 both ways to NS,
# and serves 16 MiB of random bytes that NS fetches and checks against the
# MD5 the guest printed.  dumpcap on the tap counts the guest's TCP frames
# longer than 1514 bytes: TSO frames that crossed netbe whole (at least
# one is required; the count is printed).
set -u

bin=${1:-}
cache=${2:-}
mode=${3:-}
. "$(dirname "$0")/guest_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || guest_skip "no netbe binary given"
[ -n "$cache" ] || guest_skip "no cache directory given"
[ "$(id -u)" = 0 ] || guest_skip "needs root (namespace, tap)"
[ -c /dev/net/tun ] || guest_skip "no /dev/net/tun"
guest_need ip
if [ "$mode" = vde ]; then
	guest_need vde_switch
	# libvdeplug dlopen()s its plugins with RTLD_DEEPBIND; ASan aborts.
	grep -q __asan_init "$bin" &&
		guest_skip "netbe is built with AddressSanitizer, which aborts on libvdeplug's RTLD_DEEPBIND dlopen"
	qemu-system-x86_64 -netdev help 2>/dev/null | grep -qx vde ||
		guest_skip "this QEMU has no -netdev vde"
fi
guest_prepare "$cache"

id=$$
ns=nbg$id tap=nbgt$id
tmp=$(mktemp -d)
npid='' hpid='' ipid='' dpid=''
token=netbe-guest-$id-$(date +%s)
cleanup() {
	[ -n "${GUEST_PID:-}" ] && kill "$GUEST_PID" 2>/dev/null
	for p in $npid $hpid $ipid $dpid; do kill "$p" 2>/dev/null; done
	[ -s "$tmp/switch.pid" ] && kill "$(cat "$tmp/switch.pid")" 2>/dev/null
	ip netns del $ns 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The guest's 16 MiB, fetched from NS and checked against its MD5; then
# the TSO frames the capture saw.
check_big() {
	want=$(grep -a 'GUEST-STEP: big md5' "$tmp/guest.log" | tr -d '\r' |
		awk '{ print $4 }')
	got=$(ip netns exec $ns timeout 60 busybox wget -q -O - \
		http://192.0.2.2:80/big | md5sum | cut -d' ' -f1)
	[ -n "$want" ] && [ "$got" = "$want" ] ||
		fail "16 MiB from the guest: md5 '$got', guest said '$want'"
	echo "  host: fetched 16 MiB from the guest, md5 $got ok"
	kill -INT $dpid
	wait $dpid
	dpid=
	big=$(tshark -r "$tmp/tap.pcap" -Y 'frame.len > 1514' 2>/dev/null | wc -l)
	all=$(tshark -r "$tmp/tap.pcap" 2>/dev/null | wc -l)
	echo "  tap: $big of the guest's $all TCP frames were longer than 1514 bytes (TSO, whole)"
	[ "$big" -gt 0 ] || fail "no TSO frame from the guest reached the tap whole"
}

ip netns add $ns || guest_skip "cannot create a network namespace"
ip -n $ns link set lo up

case $mode in
stream | dgram | vhost)
	guest_transport "$mode" "$tmp" ;;
vde)
	vde_switch -s "$tmp/sw" -d -p "$tmp/switch.pid" >"$tmp/switch.log" 2>&1 ||
		fail "vde_switch did not start"
	i=0
	until [ -S "$tmp/sw/ctl" ]; do
		i=$((i + 1))
		[ $i -gt 50 ] && fail "vde_switch made no control socket"
		sleep 0.1
	done
	spec="vde,sock=$tmp/sw"
	netdev="vde,sock=$tmp/sw" ;;
*) guest_skip "unknown mode '$mode'" ;;
esac

ip netns exec $ns "$bin" connect -v "$spec" "tap,ifname=$tap" \
	>"$tmp/netbe.log" 2>&1 &
npid=$!
[ "$mode" = vhost ] && guest_wait_socket "$tmp/vhost.sock" $npid
i=0
until ip -n $ns link show $tap >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "the tap did not appear"
	kill -0 $npid 2>/dev/null || fail "netbe exited early"
	sleep 0.1
done
ip -n $ns addr add 192.0.2.1/24 dev $tap
ip -n $ns link set $tap up

mkdir -p "$tmp/www"
echo "$token" >"$tmp/www/f.txt"
ip netns exec $ns busybox httpd -f -p 192.0.2.1:8000 -h "$tmp/www" &
hpid=$!

fetch="netbe.url=http://192.0.2.1:8000/f.txt netbe.expect=$token"
if [ "$mode" = vhost ]; then
	guest_need dumpcap tshark iperf3
	head -c 8388608 /dev/urandom >"$tmp/www/big"
	fetch="netbe.url=http://192.0.2.1:8000/big"
	fetch="$fetch netbe.md5=$(md5sum <"$tmp/www/big" | cut -d' ' -f1)"
	fetch="$fetch netbe.expect=$token netbe.iperf=192.0.2.1 netbe.big=16"
	ip netns exec $ns iperf3 -s >"$tmp/iperf.log" 2>&1 &
	ipid=$!
	ip netns exec $ns dumpcap -q -i $tap -s 96 -f "tcp and src host 192.0.2.2" \
		-w "$tmp/tap.pcap" >"$tmp/dumpcap.log" 2>&1 &
	dpid=$!
fi
GUEST_NS=$ns guest_boot "$tmp/guest.log" "$netdev" "netbe.test=net \
netbe.ip=192.0.2.2/24 netbe.peer=192.0.2.1 $fetch netbe.serve=80"

# The guest's own server, reached from the namespace.
guest_wait_line "$tmp/guest.log" GUEST-READY 90 ||
	{ guest_wait "$tmp/guest.log" 1; fail "guest did not get to serving"; }
got=$(ip netns exec $ns timeout 10 busybox wget -q -O - http://192.0.2.2:80/ 2>&1)
[ "$got" = "$token" ] || fail "page from the guest: '$got'"
echo "  host: fetched the guest's page through $mode (token ok)"
[ "$mode" = vhost ] && check_big
guest_finish "$tmp/guest.log" http://192.0.2.2:80/cgi-bin/quit
# vhost: nothing the guest sent was lost between its rings and the tap.
if [ "$mode" = vhost ]; then
	grep -q 'forward A -> B: .* drops 0 ' "$tmp/netbe.log" ||
		fail "frames from the guest's rings were dropped before the tap"
fi
echo PASS
