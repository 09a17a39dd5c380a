#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# run-vxlan-bench.sh - VXLAN between two "hosts" (network namespaces on a
# veth underlay), three ways, in one run (issue 10).  Not a test: run by
# hand, as root.  Everything lives in namespaces this script creates and
# deletes; no host interface is touched.
#
#   usage: bench/run-vxlan-bench.sh [NETBE [SECONDS [ROUNDS]]]
#          (defaults: build/netbe 5 3)
#
# Contenders (VNI 42, UDP 4789, inner 192.168.42.1/.2, inner MTU 1450):
#   kk   Linux vxlan on host A <-> Linux vxlan on host B
#   nk   netbe on A ("netbe connect tap,ifname=nbt vxlan,...") <-> Linux
#        vxlan on B
#   nn   netbe on A <-> netbe on B
#   nkc, nnc  the same with netbe's udpcsum=on: real UDP checksums over
#        IPv4, which lets netbe send each batch's segments as UDP_SEGMENT
#        (the kernel refuses that with the zero checksum of the default)
# Work per contender, round and direction: iperf3 -t SECONDS, TCP, A -> B
# ("fwd") and B -> A ("rev", iperf3 -R); the receiver's Gbit/s.  Rounds
# interleave the contenders (kk nk nn, kk nk nn, ...) so a neighbour's
# load hits them alike; the table gives medians and the ratios against
# kk.  Where Linux's vxlan runs on the sending side of a veth, it leaves
# the inner checksum to the NIC and the veth passes it on unfilled; a
# netbe receiver would see bad checksums, so in nk host B's underlay veth
# gets "ethtool -K u0 tx off" (the kernel then checksums in software). kk
# keeps the default offloads: the kernel's best case.
#
# Environment: CONTENDERS (default "kk nk nn nkc nnc") picks and orders
# them; GRO=on|off (default on) sets "ethtool -K u0 gro" on both underlay
# veths for every contender alike: a real NIC has GRO on, a veth has it
# off unless asked, and without it neither Linux's vxlan nor a UDP_GRO
# socket sees coalesced datagrams.  PERF=DIR records "perf record -a -g"
# of the first round's A -> B run of each contender into DIR.
set -u

netbe=${1:-build/netbe}
dur=${2:-5}
rounds=${3:-3}
contenders=${CONTENDERS:-kk nk nn nkc nnc}
gro=${GRO:-on}
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x "$netbe" ] || skip "build first: $netbe"
for t in ip iperf3 ethtool; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed"
done

tmp=$(mktemp -d /tmp/netbe-vxbench.XXXXXX)
results=$tmp/results # contender round direction gbps
p=nvb$$
pids=''
teardown() {
	for x in $pids; do kill -INT "$x" 2>/dev/null; done
	for x in $pids; do wait "$x" 2>/dev/null; done
	pids=''
	ip netns del $p-a 2>/dev/null
	ip netns del $p-b 2>/dev/null
}
trap 'teardown; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

host_kernel() { # NS N PEER_N
	ip -n "$1" link add vx0 type vxlan id 42 dstport 4789 \
		local 10.98.0.$2 remote 10.98.0.$3 dev u0
	ip -n "$1" addr add 192.168.42.$2/24 dev vx0
	ip -n "$1" link set vx0 up
}

host_netbe() { # NS N PEER_N [EXTRA_OPTS]
	ip netns exec "$1" "$netbe" connect tap,ifname=nbt \
		"vxlan,vni=42,local=10.98.0.$2,remote=10.98.0.$3${4:-}" \
		>"$tmp/netbe-$2.log" 2>&1 &
	pids="$pids $!"
	i=0
	until ip -n "$1" link show nbt >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 50 ] && { cat "$tmp/netbe-$2.log"; exit 1; }
		sleep 0.1
	done
	ip -n "$1" link set nbt mtu 1450
	ip -n "$1" addr add 192.168.42.$2/24 dev nbt
	ip -n "$1" link set nbt up
}

setup() { # CONTENDER
	for h in a b; do
		ip netns add $p-$h
		ip -n $p-$h link set lo up
	done
	ip -n $p-a link add u0 type veth peer name u0 netns $p-b
	ip -n $p-a addr add 10.98.0.1/24 dev u0
	ip -n $p-b addr add 10.98.0.2/24 dev u0
	ip -n $p-a link set u0 up
	ip -n $p-b link set u0 up
	for h in a b; do
		ip netns exec $p-$h ethtool -K u0 gro "$gro" >/dev/null ||
			{ echo "ethtool -K u0 gro $gro failed" >&2; exit 1; }
	done
	case $1 in
	kk) host_kernel $p-a 1 2; host_kernel $p-b 2 1 ;;
	nk) host_netbe $p-a 1 2; host_kernel $p-b 2 1
	    ip netns exec $p-b ethtool -K u0 tx off >/dev/null ;;
	nn) host_netbe $p-a 1 2; host_netbe $p-b 2 1 ;;
	nkc) host_netbe $p-a 1 2 ,udpcsum=on; host_kernel $p-b 2 1
	    ip netns exec $p-b ethtool -K u0 tx off >/dev/null ;;
	nnc) host_netbe $p-a 1 2 ,udpcsum=on
	    host_netbe $p-b 2 1 ,udpcsum=on ;;
	esac
	for _ in $(seq 20); do
		ip netns exec $p-a ping -c 1 -W 1 192.168.42.2 >/dev/null 2>&1 &&
			return 0
	done
	echo "$1: no ping through the tunnel" >&2
	exit 1
}

# iperf CONTENDER ROUND DIR (fwd: A -> B; rev: B -> A)
iperf() {
	ip netns exec $p-b iperf3 -s -1 -B 192.168.42.2 >/dev/null 2>&1 &
	spid=$!
	sleep 0.3
	if [ -n "${PERF:-}" ] && [ "$2" = 1 ] && [ "$3" = fwd ]; then
		mkdir -p "$PERF"
		perf record -a -g -o "$PERF/$1.data" -- sleep "$dur" \
			>/dev/null 2>&1 &
		perfpid=$!
	fi
	out=$(ip netns exec $p-a iperf3 -c 192.168.42.2 -t "$dur" -f g \
		$([ "$3" = rev ] && echo -R) 2>&1)
	[ -n "${perfpid:-}" ] && { wait $perfpid; perfpid=''; }
	wait $spid 2>/dev/null
	g=$(echo "$out" | awk '/receiver/ { for (i = 1; i <= NF; i++)
		if ($i == "Gbits/sec") print $(i - 1) }')
	echo "$1 $2 $3 ${g:-0}" >>"$results"
	echo "  round $2 $1 $3: ${g:-FAILED} Gbit/s"
}

echo "vxlan bench: $rounds rounds x ${dur}s, $(nproc) CPUs, underlay gro" \
	"$gro, $netbe, load now: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
	for c in $contenders; do
		setup $c
		iperf $c "$r" fwd
		iperf $c "$r" rev
		teardown
	done
done

median() { # CONTENDER DIR
	awk -v c="$1" -v d="$2" '$1 == c && $3 == d { print $4 }' "$results" |
		sort -g | awk '{ v[NR] = $1 } END {
			if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "median Gbit/s over $rounds rounds (ratio to kernel <-> kernel)"
printf '%-24s %14s %14s\n' contender "A->B" "B->A"
for c in $contenders; do
	f=$(median $c fwd) b=$(median $c rev)
	kf=$(median kk fwd) kb=$(median kk rev)
	case $c in
	kk) name="kernel <-> kernel" ;;
	nk) name="netbe <-> kernel" ;;
	nn) name="netbe <-> netbe" ;;
	nkc) name="netbe <-> kernel, csum" ;;
	nnc) name="netbe <-> netbe, csum" ;;
	esac
	printf '%-24s %6s (%4.2fx) %6s (%4.2fx)\n' "$name" "$f" \
		"$(echo "$f $kf" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')" "$b" \
		"$(echo "$b $kb" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')"
done
# Paired per round: each contender over kk of the same round.  The host
# places this machine's two vCPUs in a slow or a fast way and changes it
# within minutes, so a ratio of medians can mix placements; a ratio
# within one round does not.
echo
echo "per round: ratio to kernel <-> kernel in the same round, A->B; B->A"
for c in $contenders; do
	[ $c = kk ] && continue
	printf '%-4s' $c
	for d in fwd rev; do
		awk -v c=$c -v d=$d '$3 == d && ($1 == c || $1 == "kk") { v[$1, $2] = $4; r[$2] = 1 }
			END { for (i = 1; i in r; i++) printf " %s", (v["kk", i] > 0 ? sprintf("%.2f", v[c, i] / v["kk", i]) : "-") }' "$results"
		[ $d = fwd ] && printf ' ;'
	done
	echo
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
