#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# packet_veth.sh - runs packet_veth (both rings) in a private netns with a
# veth pair vA <-> vB, then checks the CLI's errors for a missing
# interface and a missing CAP_NET_RAW.
#
#   usage: packet_veth.sh PATH/TO/packet_veth PATH/TO/netbe
#          packet_veth.sh PATH/TO/packet_perf '' ARGS...  (benchmark)
set -u

bin=${1:-} cli=${2:-}
shift 2 2>/dev/null || shift $#
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no test binary given"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) not installed"

ns=netbe-pk$$
trap 'ip netns del $ns 2>/dev/null' EXIT
trap 'exit 1' INT TERM HUP
ip netns add $ns 2>/dev/null || skip "cannot create network namespaces"
ip -n $ns link add vA type veth peer name vB || skip "no veth support"
for v in vA vB; do
	# No IPv6 link-local address: the kernel stays quiet on the link.
	ip -n $ns link set $v addrgenmode none
	ip -n $ns link set $v up
done

if [ $# -gt 0 ]; then
	ip netns exec $ns "$bin" "$@" || fail "$bin $*"
	exit 0
fi
for r in v2 v3; do
	ip netns exec $ns "$bin" $r || fail "packet_veth $r"
done

if [ -n "$cli" ] && [ -x "$cli" ]; then
	out=$(ip netns exec $ns "$cli" probe packet,ifname=vB9 2>&1) &&
		fail "probe of a missing interface succeeded"
	echo "$out" | grep -q "packet: vB9: No such device" ||
		fail "missing interface: $out"
	if command -v capsh >/dev/null 2>&1; then
		out=$(ip netns exec $ns capsh --drop=cap_net_raw -- \
			-c "'$cli' probe dlpi,vnic=vA" 2>&1) &&
			fail "probe without CAP_NET_RAW succeeded"
		echo "$out" | grep -q "CAP_NET_RAW" ||
			fail "no CAP_NET_RAW: $out"
	fi
	ip netns exec $ns "$cli" probe packet,ifname=vA >/dev/null ||
		fail "probe packet,ifname=vA"
	echo "ok: CLI errors name the interface and CAP_NET_RAW"
fi
echo PASS
