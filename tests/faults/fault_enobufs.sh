#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# fault_enobufs.sh NETBE - an ENOBUFS storm on the packet backend (issue
# 11).  In a namespace of ours: a veth vA <-> vB with vB down, and
# "netbe connect -v tap,ifname=t0 packet,ifname=vA".  The tap's side
# pings 10.9.0.2 (a static neighbour) every millisecond: each frame goes
# to vA, whose driver refuses it (a veth whose peer is down, with
# PACKET_QDISC_BYPASS: sendmmsg fails with ENOBUFS).  Checked: netbe
# logs it under the port's label (not once per frame), counts every
# frame (forward drops == frames the tap gave it, the packet port's
# "full" drops the same), uses under 10 % of one core over 2 s of the
# storm (/proc/PID/stat), and once vB is up the frames go out again.
# SIGINT ends it with status 0.  Needs root, /dev/net/tun, ip, ping.
set -u

bin=${1:-}
tmp=''
. "$(dirname "$0")/../cli/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
cli_need_taps ping

ns=nbenb$$
tmp=$(mktemp -d) npid=''
cleanup() {
	[ -n "$npid" ] && kill -KILL "$npid" 2>/dev/null
	ip netns del $ns 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
	echo "FAIL: $*"
	sed 's/^/  netbe: /' "$tmp/netbe.log"
	exit 1
}

ip netns add $ns || skip "cannot create a network namespace"
ip -n $ns link set lo up
ip -n $ns link add vA type veth peer name vB || skip "no veth support"
ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
ip -n $ns link set vA up # vB stays down: vA refuses what it is given
ip netns exec $ns "$bin" connect -v tap,ifname=t0 packet,ifname=vA \
	>"$tmp/netbe.log" 2>&1 &
npid=$!
i=0
until ip -n $ns link show t0 >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "the tap did not appear"
	sleep 0.1
done
ip -n $ns addr add 10.9.0.1/24 dev t0
ip -n $ns link set t0 up
ip -n $ns neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev t0

ip netns exec $ns ping -q -i 0.001 -w 4 -s 1000 10.9.0.2 >/dev/null 2>&1 &
ping=$!
sleep 1
cpu=$(cli_cpu_pct $npid 2) || fail "no CPU figure"
wait $ping
echo "  storm: netbe used $cpu % of a core"
[ "$cpu" -lt 10 ] || fail "netbe spins under the ENOBUFS storm: $cpu %"
kill -0 $npid 2>/dev/null || fail "netbe exited"
n=$(grep -c 'packet,ifname=vA.*the interface refuses frames' "$tmp/netbe.log")
[ "$n" -ge 1 ] && [ "$n" -le 20 ] ||
	fail "want the storm logged under the port's label, a few times: $n lines"

ip -n $ns link set vB up
sleep 0.5
ip netns exec $ns ping -q -c 20 -i 0.01 -s 1000 10.9.0.2 >/dev/null 2>&1
kill -INT $npid
wait $npid
rc=$?
npid=
sed 's/^/  netbe: /' "$tmp/netbe.log"
[ $rc = 0 ] || fail "exit status $rc after SIGINT"
fwd=$(sed -n 's/^forward A -> B: frames \([0-9]*\) .* drops \([0-9]*\) .*/\1 \2/p' "$tmp/netbe.log")
in=$(sed -n 's/^A (tap,ifname=t0) rx: frames \([0-9]*\) .*/\1/p' "$tmp/netbe.log")
set -- $fwd
[ -n "$in" ] && [ $# = 2 ] || fail "no counters printed"
echo "  tap gave $in frames: $1 sent on vA, $2 dropped"
[ "$2" -gt 100 ] || fail "the storm was not counted ($2 drops)"
[ "$1" -ge 15 ] || fail "frames did not go out once vB was up ($1)"
[ $(($1 + $2)) = "$in" ] || fail "forwarded $1 + dropped $2 != $in from the tap"
grep -q "^B (packet,ifname=vA) tx: .* drops $2 \[full $2\]" "$tmp/netbe.log" ||
	fail "the packet port's own drops do not match"
! grep -qE 'runtime error|Sanitizer' "$tmp/netbe.log" || fail "sanitizer report"
echo PASS
