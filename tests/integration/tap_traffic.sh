#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# tap_traffic.sh - two netbe taps patched together carry real kernel
# traffic: ping both ways and a 20 MB iperf3 TCP transfer.
#
#   usage: tap_traffic.sh cli PATH/TO/netbe   ("netbe connect A B")
#          tap_traffic.sh lib PATH/TO/tap_fwd ("tap_fwd A B", library only)
#
# The forwarder runs in namespace NS0 and creates taps A and B there; each
# tap then moves to its own namespace (NS1, NS2) - the forwarder's fds stay
# valid - and gets an address from 192.0.2.0/24 (TEST-NET-1).  Finally
# SIGINT must stop the forwarder with exit status 0 after it printed its
# counters.  All namespaces are ours and are deleted on exit.
set -u

mode=${1:-}
bin=${2:-}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -s "$log" ] && sed 's/^/  fwd: /' "$log"; exit 1; }

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no forwarder binary given ($mode)"
[ "$(id -u)" = 0 ] || skip "needs root"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip ping iperf3; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed"
done

id=$$
ns0=netbe-fwd$id ns1=netbe-a$id ns2=netbe-b$id
ta=nba$id tb=nbb$id # the taps' names, unique per run
log=$(mktemp) fpid='' spid=''
cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	for n in $ns0 $ns1 $ns2; do ip netns del "$n" 2>/dev/null; done
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for n in $ns0 $ns1 $ns2; do
	ip netns add "$n" || skip "cannot create network namespaces"
	ip -n "$n" link set lo up
done

case $mode in
cli) ip netns exec $ns0 "$bin" connect "tap,ifname=$ta" "tap,ifname=$tb" \
	>"$log" 2>&1 & ;;
lib) ip netns exec $ns0 "$bin" "tap,ifname=$ta" "tap,ifname=$tb" \
	>"$log" 2>&1 & ;;
*) skip "unknown mode '$mode'" ;;
esac
fpid=$! # ip netns exec execs the forwarder: same pid

i=0
until ip -n $ns0 link show $tb >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "taps did not appear"
	kill -0 $fpid 2>/dev/null || fail "forwarder exited early"
	sleep 0.1
done

ip -n $ns0 link set $ta netns $ns1 || fail "move $ta"
ip -n $ns0 link set $tb netns $ns2 || fail "move $tb"
ip -n $ns1 addr add 192.0.2.1/24 dev $ta
ip -n $ns2 addr add 192.0.2.2/24 dev $tb
ip -n $ns1 link set $ta up
ip -n $ns2 link set $tb up

ip netns exec $ns1 ping -c 3 -i 0.2 -W 2 192.0.2.2 >/dev/null ||
	fail "ping A -> B"
ip netns exec $ns2 ping -c 3 -i 0.2 -W 2 192.0.2.1 >/dev/null ||
	fail "ping B -> A"
echo "ping both ways: ok"

ip netns exec $ns2 iperf3 -s -1 -B 192.0.2.2 >/dev/null 2>&1 &
spid=$!
i=0 ok=
while [ $i -lt 20 ]; do
	if out=$(ip netns exec $ns1 iperf3 -c 192.0.2.2 -n 20M 2>&1); then
		ok=1
		break
	fi
	i=$((i + 1))
	sleep 0.2
done
[ -n "$ok" ] || { echo "$out"; fail "iperf3 TCP transfer"; }
echo "$out" | grep -E 'sender|receiver'
wait $spid 2>/dev/null
spid=

kill -INT $fpid
(sleep 5; kill -KILL $fpid 2>/dev/null) &
wd=$!
wait $fpid
rc=$?
fpid=
kill $wd 2>/dev/null
[ $rc = 0 ] || fail "forwarder exit status $rc after SIGINT"
grep -Eq 'frames [1-9][0-9]*' "$log" || fail "no counters printed"
sed 's/^/  fwd: /' "$log"
echo PASS
