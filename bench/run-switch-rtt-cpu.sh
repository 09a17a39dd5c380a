#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# run-switch-rtt-cpu.sh - where the switch runs, against its round trip:
# ping h1 -> h2 (200 pings 5 ms apart, the median) through a Linux bridge
# (veths) and through `netbe switch` with two taps, netbe placed five ways:
#
#   default      anywhere, sleeping between frames
#   cpu-same     --cpu on ping's CPU (ping is pinned with taskset)
#   cpu-other    --cpu on the other CPU
#   bp           --busy-poll 20000, anywhere
#   bp-other     --busy-poll 20000 --cpu on the other CPU
#
# and, as the floor of each, bench/tapfwd (a bare read()/write() loop
# between the two taps, no library) placed the same ways: raw, raw-same,
# raw-other, raw-spin, raw-spin-other.
#
#   usage: run-switch-rtt-cpu.sh PATH/TO/netbe [ROUNDS]
#
# Needs root (namespaces, taps, a bridge), two CPUs and taskset.  Every
# round prints each contender, so contenders compare within one round
# (the host's vCPU placement changes between rounds on these machines).
set -u
netbe=${1:?usage: $0 PATH/TO/netbe [ROUNDS]}
tapfwd=$(dirname "$netbe")/bench/tapfwd
[ -x "$tapfwd" ] || tapfwd=$(dirname "$netbe")/../../bench/tapfwd
rounds=${2:-3}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
[ "$(nproc)" -ge 2 ] || { echo "needs two CPUs" >&2; exit 77; }
[ -x "$tapfwd" ] || { echo "build first: bench/tapfwd" >&2; exit 77; }
p=nbrt$$
sw=$p-sw
spid=''
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	for n in $sw $p-h1 $p-h2; do ip netns del $n 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
for n in $sw $p-h1 $p-h2; do
	ip netns add $n && ip -n $n link set lo up || exit 1
done

# med: the median of ping's times, in microseconds.
med() {
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.0f", v[int((NR + 1) / 2)] * 1000 }'
}

# ping_from CPU ADDR: the median round trip from h1, ping on CPU.
ping_from() {
	ip netns exec $p-h2 ping -c 3 -i 0.1 -q "${2%.*}.1" >/dev/null 2>&1
	ip netns exec $p-h1 taskset -c "$1" ping -c 200 -i 0.005 "$2" \
		2>/dev/null | med
}

# host_up K IF NET: hK's interface IF gets NET.K/24 and comes up.
host_up() {
	ip -n $p-h$1 addr add $3.$1/24 dev $2
	ip -n $p-h$1 link set $2 up
}

bridge() {
	ip -n $sw link add br0 type bridge && ip -n $sw link set br0 up
	for k in 1 2; do
		ip -n $sw link add v$k type veth peer name e$k netns $p-h$k
		ip -n $sw link set v$k master br0 up
		host_up $k e$k 10.78.1
	done
	echo "  bridge     $(ping_from 0 10.78.1.2) us"
	for k in 1 2; do ip -n $sw link del v$k; done
	ip -n $sw link del br0
}

# switch LABEL [OPTIONS...]: netbe switch with taps t1, t2 in h1, h2.
switch() {
	label=$1
	shift
	pair "$label" "$netbe" switch --quiet "$@" tap,ifname=t1 tap,ifname=t2
}

# raw LABEL CPUS [--spin]: tapfwd between taps t1, t2, on CPUS.
raw() {
	pair "$1" taskset -c "$2" "$tapfwd" ${3:-} t1 t2
}

# pair LABEL CMD...: CMD makes taps t1, t2; ping through them.
pair() {
	label=$1
	shift
	ip netns exec $sw "$@" >/dev/null 2>&1 &
	spid=$!
	i=0
	until ip -n $sw link show t2 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 50 ] && { echo "$label: no taps t1, t2" >&2; exit 1; }
		sleep 0.1
	done
	for k in 1 2; do
		ip -n $sw link set t$k netns $p-h$k
		host_up $k t$k 10.78.0
	done
	echo "  $label $(ping_from 0 10.78.0.2) us"
	kill $spid
	wait $spid 2>/dev/null
	spid=''
}

echo "rtt bench: $rounds rounds, ping on CPU 0, $netbe"
for r in $(seq 1 "$rounds"); do
	echo "round $r"
	bridge
	switch "default   "
	switch "cpu-same  " --cpu 0
	switch "cpu-other " --cpu 1
	switch "bp        " --busy-poll 20000
	switch "bp-other  " --busy-poll 20000 --cpu 1
	raw "raw       " 0-1
	raw "raw-same  " 0
	raw "raw-other " 1
	raw "raw-spin  " 0-1 --spin
	raw "raw-spin-other" 1 --spin
done
