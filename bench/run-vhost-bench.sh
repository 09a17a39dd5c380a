#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# run-vhost-bench.sh - the vhost-user device side under DPDK's virtio-user
# PMD (dpdk-testpmd, the "guest"), issue 12.  Not a test: run by hand.
# Needs dpdk-testpmd (package dpdk-dev); no root, no interface touched.
#
#   usage: bench/run-vhost-bench.sh [NETBE [SECONDS [ROUNDS]]]
#          (defaults: build/netbe 8 3)
#
# Contenders, each for 64-byte and 1500-byte frames:
#   netbe-rx     guest transmit: testpmd txonly on virtio-user into
#                `netbe bench --mode rx vhost-user,path=S` (netbe takes
#                every frame off the ring, copies it out, drops it)
#   dpdk-rx      the same with DPDK's own vhost PMD as the device side:
#                testpmd --vdev net_vhost0,iface=S in rxonly mode
#   netbe-tx     guest receive: `netbe bench --mode tx vhost-user,path=S`
#                into testpmd rxonly on virtio-user
#   dpdk-tx      DPDK's vhost PMD in txonly mode into the same
#   stream       netbe's stream backend (QEMU's -netdev stream framing):
#                netbe bench tx -> unix socket -> netbe bench rx
# The rate is what the virtio-user testpmd reports each second
# (--stats-period 1: Tx-pps for *-rx, Rx-pps for *-tx), the median of
# the seconds after a 3-second warm-up; for stream, netbe bench's own
# receive rate.  Medians over ROUNDS are printed in Mpps.
set -u

netbe=${1:-build/netbe}
dur=${2:-8}
rounds=${3:-3}
command -v dpdk-testpmd >/dev/null 2>&1 || { echo "needs dpdk-testpmd (dpdk-dev)"; exit 1; }
[ -x "$netbe" ] || { echo "no netbe at $netbe"; exit 1; }
tmp=$(mktemp -d)
pids=''
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkfifo "$tmp/in" && exec 3<>"$tmp/in"

# testpmd NAME VDEV MODE SIZE: a testpmd forwarding on one lcore: the
# guest ("g") on CPU 0, DPDK's device side ("d") on CPU 1, so two busy
# pollers never share a CPU; netbe is not pinned.
testpmd() {
	main=0; [ "$1" = g ] && main=1
	rm -f "$tmp/$1.log"
	stdbuf -oL dpdk-testpmd --no-pci --no-huge -m 256 -l 0,1 \
		--main-lcore $main \
		--file-prefix=nbvb$$$1$(date +%s%N) --vdev "$2" -- --total-num-mbufs=16384 \
		--forward-mode=$3 --txpkts=$4 --auto-start --stats-period 1 \
		<"$tmp/in" >"$tmp/$1.log" 2>&1 &
	pids="$pids $!"
	echo $!
}

# waitsock PATH: until the device side listens.
waitsock() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}

# started LOG: until that testpmd prints its first statistics (its start
# is slow on a busy machine, and must not count).
started() {
	i=0
	until grep -q "Port statistics" "$1" 2>/dev/null || [ $i -ge 300 ]; do
		sleep 0.1; i=$((i + 1))
	done
}

# median of numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

# pps LOG FIELD: median of FIELD (Rx-pps or Tx-pps) after warm-up.
pps() {
	grep -o "$2: *[0-9]*" "$1" | awk '{print $2}' | tail -n +4 | median
}

run_netbe_rx() { # SIZE
	s=$tmp/r.sock; rm -f "$s"
	"$netbe" bench --mode rx --duration $((dur + 30)) \
		"vhost-user,path=$s" >"$tmp/nb.log" 2>&1 &
	nb=$!; pids="$pids $nb"; waitsock "$s"
	tp=$(testpmd g "net_virtio_user0,path=$s,queues=1" txonly "$1")
	started "$tmp/g.log"; sleep "$dur"; kill -9 "$tp"; kill "$nb"; wait "$nb" 2>/dev/null
	pps "$tmp/g.log" Tx-pps
}

run_netbe_tx() { # SIZE
	s=$tmp/t.sock; rm -f "$s"
	"$netbe" bench --mode tx --size "$1" \
		--duration $((dur + 30)) "vhost-user,path=$s" >"$tmp/nb.log" 2>&1 &
	nb=$!; pids="$pids $nb"; waitsock "$s"
	tp=$(testpmd g "net_virtio_user0,path=$s,queues=1" rxonly 64)
	started "$tmp/g.log"; sleep "$dur"; kill -9 "$tp"; kill "$nb"; wait "$nb" 2>/dev/null
	pps "$tmp/g.log" Rx-pps
}

run_dpdk() { # SIZE DEVMODE FIELD
	s=$tmp/d.sock; rm -f "$s"
	dev=$(testpmd d "net_vhost0,iface=$s,queues=1" "$2" "$1")
	waitsock "$s"
	gmode=txonly; [ "$2" = txonly ] && gmode=rxonly
	tp=$(testpmd g "net_virtio_user0,path=$s,queues=1" $gmode "$1")
	started "$tmp/g.log"; sleep "$dur"; kill -9 "$tp" "$dev"
	pps "$tmp/g.log" "$3"
}

run_stream() { # SIZE
	s=$tmp/s.sock; rm -f "$s"
	"$netbe" bench --mode rx --duration "$dur" \
		"stream,listen=unix:$s" >"$tmp/sr.log" 2>&1 &
	r=$!; waitsock "$s"
	"$netbe" bench --mode tx --size "$1" --duration $((dur + 1)) \
		"stream,connect=unix:$s" >/dev/null 2>&1 &
	t=$!; wait "$r"; kill "$t" 2>/dev/null; wait "$t" 2>/dev/null
	tail -n 1 "$tmp/sr.log" | grep -o '"frames":[0-9]*' | cut -d: -f2 |
		awk -v d="$dur" '{printf "%d\n", $1 / d}'
}

printf '%-10s %6s %10s   (per round, Mpps)\n' contender size median
for size in 64 1500; do
	for c in netbe-rx dpdk-rx netbe-tx dpdk-tx stream; do
		res=''
		for r in $(seq "$rounds"); do
			case $c in
			netbe-rx) v=$(run_netbe_rx $size) ;;
			netbe-tx) v=$(run_netbe_tx $size) ;;
			dpdk-rx) v=$(run_dpdk $size rxonly Tx-pps) ;;
			dpdk-tx) v=$(run_dpdk $size txonly Rx-pps) ;;
			stream) v=$(run_stream $size) ;;
			esac
			res="$res $v"
		done
		med=$(for v in $res; do echo "$v"; done | median)
		printf '%-10s %6s %10s   (%s)\n' "$c" "$size" \
			"$(awk -v v="$med" 'BEGIN {printf "%.3f", v / 1e6}')" \
			"$(for v in $res; do awk -v v="$v" 'BEGIN {printf "%.3f ", v / 1e6}'; done)"
	done
done
