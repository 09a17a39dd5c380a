#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# run-vhost-bench.sh - the vhost-user device side under DPDK's virtio-user
# PMD (dpdk-testpmd, the "guest"), issue 12.  Not a test: run by hand.
# Needs dpdk-testpmd (package dpdk-dev); no root, no interface touched.
#
#   usage: bench/run-vhost-bench.sh [NETBE [SECONDS [ROUNDS]]]
#          (defaults: build/netbe 8 3)
#   env:   ONLY="c1 c2 ..."  contenders to run (default: all but the
#                            *-plain and base-* ones)
#          SIZES="64 1500"   frame sizes (default both)
#          BASE=PATH         another netbe build (the "before" of a
#                            change): adds base-rx, base-rx-busy, base-tx,
#                            run with the same options when that build
#                            knows them (--offload), interleaved
#
# Contenders (the guest's testpmd always forwards on CPU 0; the device
# side - netbe or DPDK's vhost PMD - is pinned to CPU 1):
#   netbe-rx       guest transmit: testpmd txonly on virtio-user into
#                  `netbe bench --offload --mode rx vhost-user,path=S`
#                  (every chain taken off the ring, copied out behind the
#                  12-byte header, dropped); netbe sleeps in poll() when
#                  the ring is empty
#   netbe-rx-busy  the same with --busy: netbe spins as DPDK polls
#   netbe-rx-plain the same without --offload (netbe bench's default:
#                  no header, so the core checks each frame the guest
#                  sends: its per-frame path)
#   dpdk-rx        DPDK's own vhost PMD as the device side: testpmd
#                  --vdev net_vhost0,iface=S in rxonly mode
#   netbe-tx       guest receive: `netbe bench --offload --mode tx
#                  vhost-user,path=S` (batches of 64) into testpmd rxonly
#   netbe-tx-plain the same without --offload
#   dpdk-tx        DPDK's vhost PMD in txonly mode into the same
#   stream         no guest and no vhost-user: the frames of QEMU's
#                  -netdev stream framing (4-byte length, no virtio-net
#                  header) between two netbe processes, `netbe bench
#                  --mode tx stream,connect=unix:S` -> `netbe bench
#                  --mode rx stream,listen=unix:S`, unpinned; the rate is
#                  the receiver's frames per second
#
# The rate is the virtio-user testpmd's own Tx-pps (*-rx) or Rx-pps
# (*-tx) (--stats-period 1), the median of its reports after a 3-second
# warm-up (see pps below).
# CPU is the device side's process CPU time (user + system, every
# thread, /proc/PID/stat) over the same seconds, in cores; "per core" is
# rate / CPU.  A busy-polling testpmd shows about 1.00 core.  Gbit/s
# counts the Ethernet frame (SIZE bytes).
# Each column is the median over ROUNDS; the rounds interleave every
# contender, so slow phases of a shared machine hit all of them.
set -u

netbe=${1:-build/netbe}
dur=${2:-8}
rounds=${3:-3}
sizes=${SIZES:-64 1500}
base=${BASE:-}
all="netbe-rx netbe-rx-busy dpdk-rx netbe-tx dpdk-tx stream"
[ -n "$base" ] && all="$all base-rx base-rx-busy base-tx"
only=${ONLY:-$all}
command -v dpdk-testpmd >/dev/null 2>&1 || { echo "needs dpdk-testpmd (dpdk-dev)"; exit 1; }
[ -x "$netbe" ] || { echo "no netbe at $netbe"; exit 1; }
[ "$dur" -gt 3 ] || { echo "SECONDS must be > 3 (3 s of warm-up)"; exit 1; }
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
hz=$(getconf CLK_TCK)

# now: seconds since the epoch, to the millisecond.
now() { perl -MTime::HiRes=time -e 'printf "%.3f\n", time'; }

# testpmd NAME VDEV MODE SIZE: a testpmd forwarding on one lcore: the
# guest ("g") on CPU 0, DPDK's device side ("d") on CPU 1.  Each line of
# its output is stamped with the time it came; prints testpmd's pid.
testpmd() {
	main=0; [ "$1" = g ] && main=1
	rm -f "$tmp/$1.log" "$tmp/$1.pid"
	sh -c 'echo $$ >"$0"; exec stdbuf -oL "$@"' "$tmp/$1.pid" \
		dpdk-testpmd --no-pci --no-huge -m 256 -l 0,1 \
		--main-lcore $main \
		--file-prefix=nbvb$$$1$(date +%s%N) --vdev "$2" -- --total-num-mbufs=16384 \
		--forward-mode=$3 --txpkts=$4 --auto-start --stats-period 1 \
		<"$tmp/in" 2>&1 |
		perl -MTime::HiRes=time -ne '$| = 1; printf "%.3f %s", time, $_' \
		>"$tmp/$1.log" &
	pids="$pids $!"
	i=0
	while [ ! -s "$tmp/$1.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	p=$(cat "$tmp/$1.pid"); pids="$pids $p"
	echo "$p"
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
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

# pps LOG FIELD: the median of testpmd's FIELD (Rx-pps or Tx-pps) in
# the reports that came after the warm-up ($t0), or its last report when
# none did.  testpmd computes each from its own clock over the interval
# since its previous report, so a late report is still right: its
# statistics thread shares a CPU with a busy poller and reports every
# 1-2 s, irregularly (the time a report came is only good enough to
# choose the window).
pps() {
	awk -v t0="$t0" -v f="$2:" '$2 == f { last = $3; if ($1 >= t0) print $3 }
		END { if (last == "") last = 0; print "last " last }' "$1" >"$tmp/pps"
	if grep -qv '^last' "$tmp/pps"; then
		grep -v '^last' "$tmp/pps" | median
	else
		awk '{print $2}' "$tmp/pps"
	fi
}

# ticks PID: CPU time of the whole process so far, in clock ticks.
ticks() {
	awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# measure DEV_PID GUEST_PID: the guest has started; warm up 3 s, then
# sample the device side's CPU over the rest; leaves "cores" in $cpu.
measure() {
	sleep 3
	c0=$(ticks "$1"); t0=$(now)
	sleep $((dur - 3))
	c1=$(ticks "$1"); t1=$(now)
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s0="$t0" -v s1="$t1" \
		'BEGIN {printf "%.3f", (b - a) / hz / (s1 - s0)}')
	kill -9 "$2"
}

# netbe_dev BIN MODE SIZE SOCK FLAGS...: netbe bench as the device side on
# CPU 1; its pid in $nb.
netbe_dev() {
	nbin=$1 nmode=$2 nsize=$3 s=$4
	shift 4
	if [ "$*" != "" ] && ! "$nbin" bench --help 2>&1 | grep -q -- --offload; then
		set -- $(echo "$@" | sed 's/--offload//')
	fi
	rm -f "$s"
	taskset -c 1 "$nbin" bench --mode "$nmode" --size "$nsize" \
		--duration $((dur + 60)) "$@" "vhost-user,path=$s" \
		>"$tmp/nb.log" 2>&1 &
	nb=$!; pids="$pids $nb"; waitsock "$s"
}

run_netbe_rx() { # BIN SIZE FLAGS...
	bin=$1 fsize=$2; shift 2
	netbe_dev "$bin" rx 64 "$tmp/r.sock" "$@"
	tp=$(testpmd g "net_virtio_user0,path=$tmp/r.sock,queues=1" txonly "$fsize")
	started "$tmp/g.log"; measure "$nb" "$tp"; kill "$nb"; wait "$nb" 2>/dev/null
	echo "$(pps "$tmp/g.log" Tx-pps) $cpu"
}

run_netbe_tx() { # BIN SIZE FLAGS...
	bin=$1 fsize=$2; shift 2
	netbe_dev "$bin" tx "$fsize" "$tmp/t.sock" "$@"
	tp=$(testpmd g "net_virtio_user0,path=$tmp/t.sock,queues=1" rxonly 64)
	started "$tmp/g.log"; measure "$nb" "$tp"; kill "$nb"; wait "$nb" 2>/dev/null
	echo "$(pps "$tmp/g.log" Rx-pps) $cpu"
}

run_dpdk() { # SIZE DEVMODE FIELD
	s=$tmp/d.sock; rm -f "$s"
	dev=$(testpmd d "net_vhost0,iface=$s,queues=1" "$2" "$1")
	waitsock "$s"
	gmode=txonly; [ "$2" = txonly ] && gmode=rxonly
	tp=$(testpmd g "net_virtio_user0,path=$s,queues=1" $gmode "$1")
	started "$tmp/g.log"; measure "$dev" "$tp"; kill -9 "$dev"
	echo "$(pps "$tmp/g.log" "$3") $cpu"
}

run_stream() { # SIZE
	s=$tmp/s.sock; rm -f "$s"
	"$netbe" bench --mode rx --duration "$dur" \
		"stream,listen=unix:$s" >"$tmp/sr.log" 2>&1 &
	rp=$!; waitsock "$s"
	"$netbe" bench --mode tx --size "$1" --duration $((dur + 1)) \
		"stream,connect=unix:$s" >/dev/null 2>&1 &
	t=$!; wait "$rp"; kill "$t" 2>/dev/null; wait "$t" 2>/dev/null
	f=$(tail -n 1 "$tmp/sr.log" | grep -o '"frames":[0-9]*' | cut -d: -f2)
	echo "$(awk -v f="${f:-0}" -v d="$dur" 'BEGIN {printf "%d", f / d}') -"
}

run() { # CONTENDER SIZE: prints "PPS CPU"
	case $1 in
	netbe-rx) run_netbe_rx "$netbe" "$2" --offload ;;
	netbe-rx-busy) run_netbe_rx "$netbe" "$2" --offload --busy ;;
	netbe-rx-plain) run_netbe_rx "$netbe" "$2" ;;
	netbe-tx) run_netbe_tx "$netbe" "$2" --offload ;;
	netbe-tx-plain) run_netbe_tx "$netbe" "$2" ;;
	base-rx) run_netbe_rx "$base" "$2" --offload ;;
	base-rx-busy) run_netbe_rx "$base" "$2" --offload --busy ;;
	base-tx) run_netbe_tx "$base" "$2" --offload ;;
	dpdk-rx) run_dpdk "$2" rxonly Tx-pps ;;
	dpdk-tx) run_dpdk "$2" txonly Rx-pps ;;
	stream) run_stream "$2" ;;
	*) echo "0 -" ;;
	esac
}

for r in $(seq "$rounds"); do
	for size in $sizes; do
		for c in $only; do
			run "$c" "$size" >>"$tmp/res.$c.$size"
		done
	done
done

# col FILE N: the Nth column of every round, one a line.
col() { awk -v n="$2" '{print $n}' "$1"; }

printf '%-15s %5s %8s %8s %6s %9s   %s\n' contender size Mpps Gbit/s cpu \
	Mpps/core "rounds: Mpps@cpu"
for size in $sizes; do
	for c in $only; do
		f=$tmp/res.$c.$size
		mpps=$(col "$f" 1 | median | awk '{printf "%.3f", $1 / 1e6}')
		gbps=$(awk -v m="$mpps" -v s="$size" 'BEGIN {printf "%.2f", m * s * 8 / 1e3}')
		cpu=$(col "$f" 2 | grep -v -- - | median)
		pc=$(awk '$2 != "-" && $2 > 0 {print $1 / $2 / 1e6}' "$f" | median)
		[ "$(col "$f" 2 | head -n 1)" = - ] && cpu=- pc=-
		printf '%-15s %5s %8s %8s %6s %9s   %s\n' "$c" "$size" "$mpps" \
			"$gbps" "$cpu" "$(echo "$pc" | awk '{if ($1 == "-") print "-"; else printf "%.3f", $1}')" \
			"$(awk '{printf "%.2f@%s ", $1 / 1e6, $2}' "$f")"
	done
done

# Paired per round: each netbe-* or base-* contender's Mpps per core over
# dpdk-rx / dpdk-tx's in the same round.  The host places this machine's
# two vCPUs in a "slow" or a "fast" way and changes it within minutes
# (every contender 1.5-3x faster in a fast round), so a ratio of medians
# can mix placements; a ratio within one round does not.
pairs=''
for size in $sizes; do
	for c in $only; do
		case $c in netbe-rx* | base-rx*) d=dpdk-rx ;; netbe-tx* | base-tx*) d=dpdk-tx ;; *) continue ;; esac
		f=$tmp/res.$c.$size g=$tmp/res.$d.$size
		[ -s "$g" ] || continue
		[ -n "$pairs" ] || { echo; echo "per round: Mpps per core over DPDK's vhost PMD's (dpdk-rx, dpdk-tx) in the same round"; pairs=1; }
		printf '%-15s %5s   %s\n' "$c" "$size" "$(paste "$f" "$g" | awk '$2 > 0 && $4 > 0 {
			printf "%.2f ", ($1 / $2) / ($3 / $4) }')"
	done
done
