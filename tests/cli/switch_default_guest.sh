#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# switch_default_guest.sh NETBE CACHE_DIR [stream|vhost] - what `make run`
# promises, with
# a real guest: "netbe switch --default" prints QEMU's options; a guest
# booted with exactly those gets 10.0.2.15 by DHCP from the NAT uplink,
# pings the gateway 10.0.2.2 and serves a page on its port 22, which the
# host reaches at 127.0.0.1:2222 (where "ssh -p 2222 localhost" goes).
# Then "netbe fdb netbe0" shows the guest's MAC on the guest's port (vm,
# or vhost for the vhost-user lines, booted with the printed memory
# backend at the guest's -m and vectors=0 as printed for QEMU without
# KVM), and SIGINT stops the switch with status 0.
#
# Runs in a network namespace of ours (so port 2222 is private), with the
# switch's sockets in a directory of ours.  Uses the guest of
# tests/guest/ (built once into CACHE_DIR); exits 77 with the reason
# without root, QEMU, the slirp backend or the guest's parts.
set -u

bin=${1:-}
cache=${2:-}
mode=${3:-stream}
. "$(dirname "$0")/../guest/guest_lib.sh"
GUEST_SRC=$(cd "$(dirname "$0")/../guest" && pwd) # guest_init.sh's home

{ [ -n "$bin" ] && [ -x "$bin" ]; } || guest_skip "no netbe binary given"
[ -n "$cache" ] || guest_skip "no cache directory given"
"$bin" list --brief 2>/dev/null | grep -q '^slirp' ||
	guest_skip "this netbe has no slirp backend"
[ "$(id -u)" = 0 ] || guest_skip "needs root (namespace for port 2222)"
guest_need ip
guest_prepare "$cache"

id=$$
ns=nbdef$id
tmp=$(mktemp -d)
npid=''
token=netbe-run-$id-$(date +%s)
cleanup() {
	[ -n "${GUEST_PID:-}" ] && kill "$GUEST_PID" 2>/dev/null
	[ -n "$npid" ] && kill -KILL "$npid" 2>/dev/null
	ip netns del $ns 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add $ns || guest_skip "cannot create a network namespace"
ip -n $ns link set lo up

XDG_RUNTIME_DIR=$tmp ip netns exec $ns "$bin" switch --default \
	>"$tmp/netbe.log" 2>&1 &
npid=$!
i=0
until [ -S "$tmp/netbe/netbe0.ctl" ]; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "the switch did not start"
	kill -0 $npid 2>/dev/null || fail "netbe exited early"
	sleep 0.1
done

# The options as printed, less the id (guest_boot adds its own).
grep -q "^  ssh -p 2222 localhost$" "$tmp/netbe.log" || fail "no ssh line"
case $mode in
stream)
	port=vm
	qemu=$(grep -E '^ +-netdev ' "$tmp/netbe.log")
	netdev=$(echo "$qemu" | sed -n 's/^ *-netdev \([^ ]*\) -device virtio-net-pci,netdev=n0$/\1/p')
	[ -n "$netdev" ] || fail "no QEMU options printed"
	netdev=$(echo "$netdev" | sed 's/id=n0,//') ;;
vhost)
	port=vhost
	mem=$(grep -E '^ +-object memory-backend-memfd' "$tmp/netbe.log")
	chr=$(grep -E '^ +-chardev socket,id=c0,path=.* -netdev vhost-user,id=n0,chardev=c0$' "$tmp/netbe.log")
	[ -n "$mem" ] && [ -n "$chr" ] || fail "no vhost-user options printed"
	qemu="$mem $chr"
	GUEST_QEMU="$(echo "$mem" | sed 's/size=1G/size=256M/') ${chr%% -netdev *}"
	GUEST_NIC=",vectors=0"
	netdev=vhost-user,chardev=c0 ;;
*) guest_skip "unknown mode '$mode'" ;;
esac
echo "  printed:$qemu"

guest_boot "$tmp/guest.log" "$netdev" "netbe.test=net netbe.ip=dhcp \
netbe.want_ip=10.0.2.15 netbe.peer=10.0.2.2 netbe.expect=$token \
netbe.serve=22"

guest_wait_line "$tmp/guest.log" GUEST-READY 90 ||
	{ guest_wait "$tmp/guest.log" 1; fail "guest did not get to serving"; }
got=$(ip netns exec $ns timeout 10 busybox wget -q -O - \
	http://127.0.0.1:2222/ 2>&1)
[ "$got" = "$token" ] || fail "the guest's port 22 at 127.0.0.1:2222: '$got'"
echo "  host: fetched the guest's page at 127.0.0.1:2222 (token ok)"

XDG_RUNTIME_DIR=$tmp "$bin" fdb netbe0 >"$tmp/fdb" || fail "netbe fdb"
sed 's/^/  fdb: /' "$tmp/fdb"
grep -q "^1 $GUEST_MAC $port [0-9]*$" "$tmp/fdb" ||
	fail "the guest's MAC is not learnt on port $port"
XDG_RUNTIME_DIR=$tmp "$bin" stats netbe0 | sed 's/^/  stats: /'

ip netns exec $ns timeout 10 busybox wget -q -O /dev/null \
	http://127.0.0.1:2222/cgi-bin/quit || fail "quit request"
guest_wait "$tmp/guest.log" 30 || fail "guest verdict"

kill -INT $npid
wait $npid
rc=$?
npid=
sed 's/^/  netbe: /' "$tmp/netbe.log"
[ $rc = 0 ] || fail "netbe exit status $rc after SIGINT"
grep -q "^$port (.*) rx: frames [1-9]" "$tmp/netbe.log" ||
	fail "no counters for port $port"
echo PASS
