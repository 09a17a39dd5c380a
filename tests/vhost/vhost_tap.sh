#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# vhost_tap.sh - `netbe connect vhost-user,path=S tap,...` with DPDK's
# virtio-user PMD as the guest: dpdk-testpmd in icmpecho mode answers ARP
# and ICMP echo requests, so the kernel in a namespace of ours pings it
# through the tap, netbe and the vhost-user rings, with small and
# 1400-byte pings.  Then testpmd is killed (SIGKILL, mid-traffic): netbe
# logs it under the port's name, counts what the namespace keeps sending
# as dropped, and does not spin (its CPU over 2 s of pings to nobody,
# from /proc, under 10 % of a core); testpmd is started again on the same
# socket and the pings must work again (netbe serves the next VMM).
#
#   usage: vhost_tap.sh PATH/TO/netbe
#
# Needs root (namespace, tap) and dpdk-testpmd (package dpdk-dev).
set -u

bin=${1:-}
. "$(dirname "$0")/../cli/cli_lib.sh" # skip, fail, cli_cpu_pct
{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, tap)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v dpdk-testpmd >/dev/null 2>&1 || skip "dpdk-testpmd not installed (dpdk-dev)"

id=$$
ns0=nbv-fwd$id ns1=nbv-1$id tap=nbvt$id
tmp=$(mktemp -d)
sock=$tmp/v.sock
npid='' tpid=''
cleanup() {
	[ -n "$tpid" ] && kill -9 "$tpid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null
	wait 2>/dev/null
	ip netns del $ns0 2>/dev/null
	ip netns del $ns1 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add $ns0 && ip netns add $ns1 || skip "cannot create network namespaces"

ip netns exec $ns0 "$bin" connect -v "vhost-user,path=$sock" \
	"tap,ifname=$tap" >"$tmp/netbe.log" 2>&1 &
npid=$!
i=0
until ip -n $ns0 link show $tap >/dev/null 2>&1 && [ -S "$sock" ]; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "netbe did not start"
	sleep 0.1
done
ip -n $ns0 link set $tap netns $ns1 || fail "move $tap"
ip -n $ns1 addr add 192.0.2.1/24 dev $tap
ip -n $ns1 link set $tap up

# testpmd GEN: starts testpmd; its stdin is a fifo we hold open, so it
# waits for the "enter" that never comes.
mkfifo "$tmp/in" && exec 3<>"$tmp/in" || fail "mkfifo"
testpmd() {
	log=$tmp/testpmd$1.log
	stdbuf -oL dpdk-testpmd --no-pci --no-huge -m 128 -l 0,1 \
		--file-prefix=nbvt$id --vdev "net_virtio_user0,path=$sock,queues=1" \
		-- --total-num-mbufs=8192 --forward-mode=icmpecho --auto-start \
		<"$tmp/in" >"$log" 2>&1 &
	tpid=$!
	i=0
	until grep -q "Press enter to exit" "$log" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "testpmd $1 did not start"
		sleep 0.1
	done
}

pings() {
	ip -n $ns1 neigh flush dev $tap
	ip netns exec $ns1 ping -c 5 -i 0.2 -W 5 192.0.2.2 >"$tmp/ping.log" 2>&1 ||
		fail "ping ($1)"
	ip netns exec $ns1 ping -c 5 -i 0.2 -W 5 -s 1400 192.0.2.2 \
		>"$tmp/ping.log" 2>&1 || fail "ping -s 1400 ($1)"
	echo "ok: pings through vhost-user ($1)"
}

testpmd 0
pings "first testpmd"
kill -9 $tpid 2>/dev/null
wait $tpid 2>/dev/null
tpid=''
sleep 0.5
kill -0 $npid 2>/dev/null || fail "netbe exited when the VMM was killed"
ip netns exec $ns1 ping -c 40 -i 0.05 -W 1 192.0.2.2 >/dev/null 2>&1 &
ppid=$!
cpu=$(cli_cpu_pct $npid 2) || fail "no CPU figure for netbe"
wait $ppid
echo "ok: netbe used $cpu % of a core while no VMM was there"
[ "$cpu" -lt 10 ] || fail "netbe spins without a VMM: $cpu %"
grep -q "vhost-user,path=$sock.*VMM disconnected" "$tmp/netbe.log" ||
	fail "the VMM leaving is not logged under the port's name"
testpmd 1
pings "after a restart"
kill -0 $npid 2>/dev/null || fail "netbe exited"
grep -q "VMM disconnected" "$tmp/netbe.log" || fail "netbe did not log the VMM leaving"
echo PASS
