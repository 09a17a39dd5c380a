#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# switch_taps.sh NETBE - "netbe switch" with three tap ports carries real
# kernel traffic: every namespace pings the two others, iperf3 runs TCP
# for 2 s between two of them, the MAC table has learnt the three taps,
# and SIGINT stops the switch with exit status 0 after its counters.
#
# The switch runs in namespace NS0 and creates taps T1..T3 there; each tap
# then moves to its own namespace (NS1..NS3) - the switch's fds stay
# valid - with an address from 192.0.2.0/24 (TEST-NET-1).  Needs root,
# /dev/net/tun, ip, ping and iperf3; exits 77 with the reason otherwise.
# All namespaces are ours and are deleted on exit.
set -u

bin=${1:-}
tmp=''
. "$(dirname "$0")/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
cli_need_taps ping iperf3

id=$$
name=swtaps$id
tmp=$(mktemp -d) swpid='' spid=''
XDG_RUNTIME_DIR=$tmp # the control socket: $tmp/netbe/$name.ctl
export XDG_RUNTIME_DIR
cleanup() {
	[ -n "$swpid" ] && kill -KILL "$swpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	cli_netns_del
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cli_netns_add "nbsw0-$id" "nbsw1-$id" "nbsw2-$id" "nbsw3-$id"
ns0=nbsw0-$id

ip netns exec $ns0 "$bin" switch --name "$name" --quiet \
	"tap,ifname=nbs1$id,id=t1" "tap,ifname=nbs2$id,id=t2" \
	"tap,ifname=nbs3$id,id=t3" >"$tmp/sw.log" 2>&1 &
swpid=$! # ip netns exec execs netbe: same pid

cli_wait_sock "$tmp/netbe/$name.ctl" $swpid

for n in 1 2 3; do
	cli_tap_to_ns $ns0 "nbs$n$id" "nbsw$n-$id" "192.0.2.$n/24"
done

for a in 1 2 3; do
	for b in 1 2 3; do
		[ $a = $b ] && continue
		ip netns exec "nbsw$a-$id" ping -c 2 -i 0.2 -W 2 "192.0.2.$b" \
			>/dev/null || fail "ping 192.0.2.$a -> 192.0.2.$b"
	done
done
echo "ping between all three namespaces: ok"

"$bin" fdb "$name" >"$tmp/fdb" || fail "netbe fdb"
for p in t1 t2 t3; do
	grep -Eq "^1 ([0-9a-f]{2}:){5}[0-9a-f]{2} $p [0-9]+$" "$tmp/fdb" ||
		{ sed 's/^/  fdb: /' "$tmp/fdb"; fail "no MAC learnt on $p"; }
done
echo "MAC table: the three taps learnt"

ip netns exec nbsw2-$id iperf3 -s -1 -B 192.0.2.2 >/dev/null 2>&1 &
spid=$!
i=0 ok=
while [ $i -lt 20 ]; do
	if out=$(ip netns exec nbsw1-$id iperf3 -c 192.0.2.2 -t 2 2>&1); then
		ok=1
		break
	fi
	i=$((i + 1))
	sleep 0.2
done
[ -n "$ok" ] || { echo "$out"; fail "iperf3 TCP for 2 s, t1 -> t2"; }
echo "iperf3 t1 -> t2 through the switch:"
echo "$out" | grep -E 'sender|receiver' | sed 's/^/  /'
wait $spid 2>/dev/null
spid=

"$bin" stats "$name" | sed 's/^/  stats: /'

cli_stop $swpid
rc=$?
swpid=
[ $rc = 0 ] || fail "switch exit status $rc after SIGINT"
grep -Eq '^t2 \(tap,ifname=nbs2[0-9]+\) tx: frames [1-9]' "$tmp/sw.log" ||
	fail "no counters for t2 printed"
sed 's/^/  switch: /' "$tmp/sw.log"
echo PASS
