#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# passt_peer.sh - passt (Debian's passt, written by others) as the peer of
# the stream backend: passt_peer sends a DHCP DISCOVER through
# "stream,connect=unix:SOCK" and must get passt's OFFER, then an ARP
# request for the gateway and must get passt's ARP reply.
#
#   usage: passt_peer.sh PATH/TO/passt_peer
#
# passt copies the addresses of the host interface with the default
# route, so it runs in a namespace of ours with a veth interface
# (192.0.2.10/24, default route via 192.0.2.1): nothing of the host's is
# used or exposed.  Needs root for the namespace.
set -u

helper=${1:-}
skip() { echo "SKIP: $*"; exit 77; }
{ [ -n "$helper" ] && [ -x "$helper" ]; } || skip "no passt_peer binary given"
command -v passt >/dev/null 2>&1 || skip "passt not installed"
[ "$(id -u)" = 0 ] || skip "needs root (network namespace)"

ns=nbp$$
tmp=$(mktemp -d)
# passt drops to user nobody before it binds its socket (and this passt
# says "bound" even when that bind fails), so nobody must own the dir.
chown nobody "$tmp" || skip "cannot chown the socket directory to nobody"
ppid_=''
cleanup() {
	[ -n "$ppid_" ] && kill "$ppid_" 2>/dev/null
	ip netns del $ns 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add $ns || skip "cannot create a network namespace"
ip -n $ns link set lo up
ip -n $ns link add d0 type veth peer name d1 || skip "no veth interfaces"
ip -n $ns addr add 192.0.2.10/24 dev d0
ip -n $ns link set d1 up
ip -n $ns link set d0 up
ip -n $ns route add default via 192.0.2.1

ip netns exec $ns passt -f -e -s "$tmp/passt.sock" >"$tmp/passt.log" 2>&1 &
ppid_=$!
i=0
until [ -S "$tmp/passt.sock" ]; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 $ppid_ 2>/dev/null; then
		sed 's/^/  passt: /' "$tmp/passt.log"
		skip "passt did not start (see its log above)"
	fi
	sleep 0.1
done

"$helper" "stream,connect=unix:$tmp/passt.sock"
rc=$?
sed 's/^/  passt: /' "$tmp/passt.log" | grep -v 'syslog' | head -20
[ $rc = 0 ] || { echo "FAIL: passt_peer exit $rc"; exit 1; }
echo PASS
