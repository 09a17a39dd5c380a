#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# tun_hosts.sh - the vxlan and geneve backends between "hosts": network
# namespaces joined by a veth underlay (a bridge for three hosts).
#
#   usage: tun_hosts.sh PATH/TO/netbe MODE
#   MODE: kernel4   netbe (host A) <-> Linux vxlan (host B), IPv4 underlay
#         kernel6   the same over an IPv6 underlay
#         hep3      netbe with two remotes <-> two Linux vxlans: head-end
#                   replication (A's ARP reaches both B and C)
#         mcast     netbe <-> Linux vxlan in a multicast group
#         netbe4    netbe <-> netbe, VXLAN over IPv4
#         geneve4   netbe <-> netbe, Geneve over IPv4
#         geneve6   netbe <-> netbe, Geneve over IPv6
#
# On a netbe host, "netbe connect tap,ifname=T SPEC" runs in the host's
# namespace and T gets the inner address 192.168.42.N/24 and an MTU of
# what `netbe probe SPEC` reports; on a kernel host the same address goes
# on "ip link add vx0 type vxlan id 42 ... dstport 4789".  The proofs are
# the kernel's and tshark's: ping both ways, iperf3 TCP both ways, the
# underlay decoded by tshark as VXLAN/Geneve with VNI 42, the kernel's fdb
# learning the MAC of netbe's tap, and netbe's counters (no rx drops).
# All namespaces are ours (unique names) and deleted on exit.
set -u

bin=${1:-}
mode=${2:-}
skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	for l in "$tmp"/*.log; do
		[ -s "$l" ] && sed "s|^|  $(basename "$l"): |" "$l" | tail -40
	done
	exit 1
}

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, taps)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip ping iperf3 tshark bridge ethtool; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed"
done

id=$$
tmp=$(mktemp -d)
pids='' spid=''
hosts=''
cleanup() {
	for p in $pids $spid; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	for h in $hosts; do ip netns del "nth$h$id" 2>/dev/null; done
	ip netns del "nthbr$id" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ns() { echo "nth$1$id"; }
in_ns() { h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

# underlay FAMILY HOST...: each host gets veth u0 in a bridge namespace,
# address 10.99.0.N/24 or fd99::N/64 (no DAD wait).
underlay() {
	fam=$1; shift
	ip netns add "nthbr$id" || skip "cannot create network namespaces"
	ip -n "nthbr$id" link add br0 type bridge
	ip -n "nthbr$id" link set br0 up
	for h in "$@"; do
		ip netns add "$(ns "$h")" || skip "cannot create namespaces"
		hosts="$hosts $h"
		ip -n "$(ns "$h")" link set lo up
		ip -n "$(ns "$h")" link add u0 type veth peer name p$h netns \
			"nthbr$id"
		ip -n "nthbr$id" link set p$h master br0 up
		if [ "$fam" = 6 ]; then
			in_ns "$h" sysctl -qw net.ipv6.conf.u0.accept_dad=0
			ip -n "$(ns "$h")" addr add fd99::$h/64 dev u0 nodad
		else
			ip -n "$(ns "$h")" addr add 10.99.0.$h/24 dev u0
		fi
		ip -n "$(ns "$h")" link set u0 up
	done
}

uaddr() { [ "$fam" = 6 ] && echo "fd99::$1" || echo "10.99.0.$1"; }

# netbe_host N SPEC: netbe connects tap nbt to SPEC inside host N.
netbe_host() {
	h=$1 spec=$2 log=$tmp/netbe$1.log
	mtu=$(in_ns "$h" "$bin" probe "$spec" 2>>"$log" |
		sed -n 's/^mtu: *//p')
	[ -n "$mtu" ] || fail "host $h: netbe probe $spec"
	# Not through in_ns: $! must be netbe itself (ip execs it), not a
	# subshell that would ignore SIGINT and leave netbe behind.
	ip netns exec "$(ns "$h")" "$bin" connect -v "tap,ifname=nbt" "$spec" \
		>>"$log" 2>&1 &
	pids="$pids $!"
	eval "pid$h=$!"
	i=0
	until ip -n "$(ns "$h")" link show nbt >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 50 ] && fail "host $h: tap did not appear"
		kill -0 $! 2>/dev/null || fail "host $h: netbe exited"
		sleep 0.1
	done
	ip -n "$(ns "$h")" link set nbt mtu "$mtu"
	ip -n "$(ns "$h")" addr add 192.168.42.$h/24 dev nbt
	ip -n "$(ns "$h")" link set nbt up
	echo "  host $h: netbe $spec (inner MTU $mtu)"
}

# kernel_host N ARGS...: Linux's own vxlan vx0, VNI 42, port 4789.
kernel_host() {
	h=$1; shift
	ip -n "$(ns "$h")" link add vx0 type vxlan id 42 dstport 4789 "$@" ||
		skip "no kernel vxlan (CONFIG_VXLAN)"
	ip -n "$(ns "$h")" addr add 192.168.42.$h/24 dev vx0
	ip -n "$(ns "$h")" link set vx0 up
	# Linux leaves the inner TCP checksum to the underlay NIC, and a
	# veth passes it on unfilled (CHECKSUM_PARTIAL) to the other
	# namespace's UDP socket - netbe's - which gets a wrong checksum.  A
	# real NIC fills it: so does the kernel once the veth does not claim
	# checksumming.
	in_ns "$h" ethtool -K u0 tx off >/dev/null
	echo "  host $h: kernel vxlan $*"
}

ping_retry() { # FROM TO
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		in_ns "$1" ping -c 1 -W 1 192.168.42.$2 >/dev/null 2>&1 &&
			return 0
	done
	return 1
}

ping_ok() { # FROM TO
	ping_retry "$1" "$2" || fail "ping $1 -> $2"
	in_ns "$1" ping -c 3 -i 0.2 -W 2 192.168.42.$2 >/dev/null ||
		fail "ping $1 -> $2 (3 in a row)"
	# A frame that does not fit the inner MTU, with DF: must not pass.
	echo "  ping $1 -> $2: ok"
}

iperf() { # FROM TO
	in_ns "$2" iperf3 -s -1 -B 192.168.42.$2 >/dev/null 2>&1 &
	spid=$!
	i=0 ok=
	while [ $i -lt 20 ]; do
		if out=$(in_ns "$1" iperf3 -c 192.168.42.$2 -n 20M 2>&1); then
			ok=1
			break
		fi
		i=$((i + 1))
		sleep 0.2
	done
	[ -n "$ok" ] || { echo "$out"; fail "iperf3 TCP $1 -> $2"; }
	echo "$out" | grep -E 'receiver' | sed "s/^/  iperf3 $1 -> $2: /"
	wait $spid 2>/dev/null
	spid=
}

# capture HOST IF SECONDS OUT TSHARK-ARGS...: starts tshark in the
# background and returns once it captures (its start is slow here).
capture() {
	h=$1 ifc=$2 secs=$3 out=$4
	shift 4
	in_ns "$h" tshark -n -l -i "$ifc" -a duration:"$secs" "$@" \
		>"$out" 2>"$out.err" &
	tpid=$!
	i=0
	until grep -q "Capturing on" "$out.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "tshark did not start: $(cat "$out.err")"
		sleep 0.1
	done
	sleep 0.3
}

# decoded HOST PROTO PORT FROM TO: tshark on HOST's underlay sees host
# 1's PROTO datagrams with VNI 42 while FROM pings TO.
decoded() {
	h=$1 proto=$2 port=$3
	# netbe's datagrams (host 1's): the kernel's checksums are its own.
	capture "$h" u0 4 "$tmp/tshark.out" \
		-f "udp port $port and src host $(uaddr 1)" \
		-d "udp.port==$port,$proto" -T fields -e udp.checksum \
		-e "$proto.vni"
	in_ns "$4" ping -c 3 -i 0.2 -W 2 192.168.42.$5 >/dev/null
	wait $tpid
	# UDP checksums: zero over IPv4 (netbe's default), real over IPv6.
	if [ "$fam" = 6 ]; then
		! grep -q '^0x0000[[:space:]]' "$tmp/tshark.out" ||
			fail "a zero UDP checksum over IPv6"
	else
		! grep -qv '^0x0000[[:space:]]' "$tmp/tshark.out" ||
			fail "a UDP checksum over IPv4: $(sort -u "$tmp/tshark.out")"
	fi
	# tshark prints Geneve's VNI in hex, VXLAN's in decimal.
	sed -i 's/^[^[:space:]]*[[:space:]]*//; s/^0x0*2a$/42/' "$tmp/tshark.out"
	grep -qx 42 "$tmp/tshark.out" ||
		{ cat "$tmp/tshark.out.err"; fail "tshark: no $proto VNI 42 seen"; }
	! grep -vx 42 "$tmp/tshark.out" | grep -q . ||
		fail "tshark: $proto with another VNI: $(sort -u "$tmp/tshark.out")"
	echo "  tshark: $(wc -l <"$tmp/tshark.out") $proto datagrams, VNI 42"
}

# fdb_learned HOST: the kernel's vx0 learned the MAC of netbe's tap on A.
fdb_learned() {
	mac=$(ip -n "$(ns 1)" -o link show nbt | sed -n 's/.*ether \([0-9a-f:]*\).*/\1/p')
	ip -n "$(ns "$1")" -o link show vx0 >/dev/null || fail "no vx0"
	bridge -n "$(ns "$1")" fdb show dev vx0 | grep -q "^$mac dst $(uaddr 1) " ||
		{ bridge -n "$(ns "$1")" fdb show dev vx0;
		  fail "host $1: the kernel did not learn $mac behind $(uaddr 1)"; }
	echo "  host $1: kernel fdb learned $mac dst $(uaddr 1)"
}

# stop_netbe N: SIGINT; it must exit 0 and have had no rx drops.
stop_netbe() {
	eval "p=\$pid$1"
	kill -INT "$p"
	wait "$p"
	rc=$?
	pids=$(echo "$pids" | sed "s/ $p\b//")
	[ $rc = 0 ] || fail "host $1: netbe exit status $rc"
	! grep -qE 'runtime error|Sanitizer' "$tmp/netbe$1.log" ||
		fail "sanitizer report"
	# Everything the tunnel received was good: no drops, no errors.
	grep -Eq '^B \((vxlan|geneve),.*\) rx: frames [1-9][0-9]* .* drops 0 errors 0$' \
		"$tmp/netbe$1.log" || fail "host $1: tunnel rx drops or errors"
}

vx="vxlan,vni=42"
gn="geneve,vni=42"
case $mode in
kernel4 | kernel6)
	fam=${mode#kernel}
	underlay "$fam" 1 2
	netbe_host 1 "$vx,local=$(uaddr 1),remote=$(uaddr 2)"
	kernel_host 2 local "$(uaddr 2)" remote "$(uaddr 1)" dev u0
	ping_ok 1 2
	ping_ok 2 1
	fdb_learned 2
	decoded 1 vxlan 4789 1 2
	iperf 1 2
	iperf 2 1
	stop_netbe 1 ;;
hep3)
	fam=4
	underlay 4 1 2 3
	netbe_host 1 "$vx,local=10.99.0.1,remote=10.99.0.2;10.99.0.3"
	kernel_host 2 local 10.99.0.2 remote 10.99.0.1 dev u0
	kernel_host 3 local 10.99.0.3 remote 10.99.0.1 dev u0
	# A's ARP for B must reach C too (head-end replication).
	capture 3 vx0 4 "$tmp/arp.out" -f arp -T fields -e arp.dst.proto_ipv4
	ping_ok 1 2
	wait $tpid
	grep -qx 192.168.42.2 "$tmp/arp.out" ||
		fail "host 3 did not hear host 1's ARP for host 2"
	echo "  host 3 heard host 1's ARP for host 2 (head-end replication)"
	ping_ok 1 3
	ping_ok 3 1
	fdb_learned 2
	fdb_learned 3
	iperf 1 3
	stop_netbe 1 ;;
mcast)
	fam=4
	underlay 4 1 2 3
	for h in 1 2 3; do
		ip -n "$(ns "$h")" route add 224.0.0.0/4 dev u0
	done
	netbe_host 1 "$vx,group=239.1.1.42,dev=u0"
	kernel_host 2 group 239.1.1.42 dev u0
	kernel_host 3 group 239.1.1.42 dev u0
	ping_ok 1 2
	ping_ok 3 1
	fdb_learned 2
	iperf 1 2
	stop_netbe 1 ;;
netbe4)
	fam=4
	underlay 4 1 2
	netbe_host 1 "$vx,local=10.99.0.1,remote=10.99.0.2,srcport=40000-40007"
	netbe_host 2 "$vx,local=10.99.0.2,remote=10.99.0.1,udpcsum=on"
	ping_ok 1 2
	ping_ok 2 1
	decoded 1 vxlan 4789 1 2
	iperf 1 2
	iperf 2 1
	stop_netbe 1
	stop_netbe 2 ;;
geneve4 | geneve6)
	fam=${mode#geneve}
	underlay "$fam" 1 2
	netbe_host 1 "$gn,local=$(uaddr 1),remote=$(uaddr 2)"
	netbe_host 2 "$gn,local=$(uaddr 2),remote=$(uaddr 1)"
	ping_ok 1 2
	ping_ok 2 1
	decoded 1 geneve 6081 2 1
	iperf 1 2
	iperf 2 1
	stop_netbe 1
	stop_netbe 2 ;;
*) skip "unknown mode '$mode'" ;;
esac
grep -h 'forward\|drop' "$tmp"/netbe*.log | sed 's/^/  /' | head -8
echo "$mode: ok"
