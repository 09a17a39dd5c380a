#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# xdp_veth.sh - the xdp backend on one end of a veth pair in a private
# network namespace, the kernel's packet socket on the other (xdp_veth.c):
#   - skb (generic) mode: single frames and batches, both ways, identical;
#   - native (driver) mode on veth: the same;
#   - MTU 9000: 5000- and 9014-byte frames through AF_XDP multi-buffer;
#   - multibuf=off: a frame larger than a UMEM chunk is refused on send
#     (-EMSGSIZE, counted) and dropped-and-counted on receive;
#   - a missing interface, and missing capabilities, give clear errors.
#
#   usage: xdp_veth.sh PATH/TO/xdp_veth PATH/TO/netbe
set -u

prog=${1:-}
netbe=${2:-}
skip() { echo "SKIP: $*"; exit 77; }
failed=0
fail() { echo "FAIL: $*"; failed=1; }

{ [ -x "$prog" ] && [ -x "$netbe" ]; } || skip "test binaries not given"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, AF_XDP)"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) not installed"

ns=netbe-xdp$$
va=xva$$ vb=xvb$$
out=$(mktemp)
cleanup() {
	ip netns del "$ns" 2>/dev/null
	rm -f "$out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns" || skip "cannot create network namespaces"
ip -n "$ns" link add "$va" type veth peer name "$vb" ||
	skip "cannot create veth pairs"
# No IPv6 chatter (router solicitations, MLD) on the wire we check.
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
ip -n "$ns" link set "$va" up
ip -n "$ns" link set "$vb" up
ip -n "$ns" link set lo up

inns() { ip netns exec "$ns" "$@"; }
mtu() { ip -n "$ns" link set "$va" mtu "$1" && ip -n "$ns" link set "$vb" mtu "$1"; }

# Probe AF_XDP once: a kernel without it is a skip, not a failure.
if ! inns "$netbe" probe "xdp,ifname=$va,mode=skb" >"$out" 2>&1; then
	grep -q "CONFIG_XDP_SOCKETS\|Address family not supported" "$out" &&
		skip "kernel without AF_XDP: $(cat "$out")"
	fail "xdp open in skb mode: $(cat "$out")"
fi

run() { # SPEC CHECK...
	inns "$prog" "$@" || fail "xdp_veth $*"
}

run "xdp,ifname=$va,mode=skb" "$vb" basic
run "xdp:$va,mode=skb,zerocopy=off" "$vb" basic
if inns "$netbe" probe "xdp,ifname=$va,mode=native" >"$out" 2>&1; then
	run "xdp,ifname=$va,mode=native" "$vb" basic
	run "xdp,ifname=$va" "$vb" basic # auto: native on veth
else
	echo "note: native mode unavailable: $(cat "$out")"
fi

mtu 9000
run "xdp,ifname=$va,mode=skb" "$vb" large
run "xdp,ifname=$va,mode=skb,multibuf=off" "$vb" refuse
mtu 1500

# zerocopy=on: veth has no AF_XDP zero-copy, so this must fail, clearly.
if inns "$netbe" probe "xdp,ifname=$va,mode=skb,zerocopy=on" >"$out" 2>&1; then
	fail "zerocopy=on on a veth in skb mode opened"
fi

# A missing interface.
if inns "$netbe" probe "xdp,ifname=nosuch$$" >"$out" 2>&1; then
	fail "a missing interface opened"
else
	grep -q "no interface 'nosuch$$'" "$out" ||
		fail "missing interface: unclear error: $(cat "$out")"
fi

# Missing privileges: drop them from the bounding set (root keeps only
# what the bounding set allows across exec).
if command -v capsh >/dev/null 2>&1; then
	inns capsh --drop=cap_net_admin,cap_bpf,cap_sys_admin -- -c \
		"exec '$netbe' probe 'xdp,ifname=$va,mode=skb'" >"$out" 2>&1 &&
		fail "opened without CAP_NET_ADMIN/CAP_BPF"
	grep -q "CAP_NET_ADMIN" "$out" && grep -q "CAP_BPF" "$out" ||
		fail "no CAP_NET_ADMIN/CAP_BPF: unclear error: $(cat "$out")"
	echo "without CAP_NET_ADMIN/CAP_BPF: $(cat "$out")"
	inns capsh --drop=cap_net_raw -- -c \
		"exec '$netbe' probe 'xdp,ifname=$va,mode=skb'" >"$out" 2>&1 &&
		fail "opened without CAP_NET_RAW"
	grep -q "CAP_NET_RAW" "$out" ||
		fail "no CAP_NET_RAW: unclear error: $(cat "$out")"
	echo "without CAP_NET_RAW: $(cat "$out")"
else
	echo "note: capsh (libcap2-bin) missing: privilege checks not run"
fi

[ $failed = 0 ] && echo "PASS"
exit $failed
