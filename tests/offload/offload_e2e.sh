#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# End to end: namespaces A and B, each behind a netbe tap, patched through
# a pipe pair without offloads by offload_fwd (in namespace F).  In "soft"
# mode the taps hand over 64 KiB TSO frames and the library segments
# them; in "kernel" mode the kernel segments before netbe reads.  iperf3
# TCP must run both ways in both modes; throughput is printed.
#   offload_e2e.sh FWD [SECONDS]
set -u
fwd=$1
secs=${2:-3}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (namespaces, taps)"; exit 77; }
command -v iperf3 >/dev/null || { echo "SKIP: iperf3 not installed"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
F=offlF-$$ A=offlA-$$ B=offlB-$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in $F $A $B; do ip netns del "$n" 2>/dev/null; done
}
trap cleanup EXIT
for n in $F $A $B; do ip netns add "$n" || { echo "SKIP: ip netns add"; exit 77; }; done

# iperf3 from $1 to the address $2 (in $3 is the server); prints Gbit/s.
run_iperf() {
	ip netns exec "$3" iperf3 -s -1 -B "$2" >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	out=$(ip netns exec "$1" iperf3 -c "$2" -t "$secs" -f g 2>&1)
	rc=$?
	wait $srv 2>/dev/null
	[ $rc -eq 0 ] || { echo "FAIL: iperf3 $1 -> $2: $out" >&2; return 1; }
	echo "$out" | awk '/receiver/ { print $(NF-2) }'
}

one_mode() {
	mode=$1
	ip netns exec $F "$fwd" "$mode" $((4 * secs + 6)) > /tmp/offl-fwd-$$.log 2>&1 &
	pids="$pids $!"
	for i in $(seq 50); do
		grep -q ready /tmp/offl-fwd-$$.log 2>/dev/null && break
		sleep 0.1
	done
	grep -q ready /tmp/offl-fwd-$$.log || { cat /tmp/offl-fwd-$$.log; echo "FAIL: forwarder did not start"; return 1; }
	ip -n $F link set oA netns $A && ip -n $F link set oB netns $B || return 1
	ip -n $A addr add 198.51.100.1/24 dev oA && ip -n $A link set oA up && ip -n $A link set lo up
	ip -n $B addr add 198.51.100.2/24 dev oB && ip -n $B link set oB up && ip -n $B link set lo up
	tso=$(ip netns exec $A ethtool -k oA | awk '/^tcp-segmentation-offload/ { print $2 }')
	ab=$(run_iperf $A 198.51.100.2 $B) || return 1
	ba=$(run_iperf $B 198.51.100.1 $A) || return 1
	echo "$mode: tap TSO $tso; A->B $ab Gbit/s, B->A $ba Gbit/s"
	# The forwarder goes away with its taps; wait for it.
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	pids=""
	cat /tmp/offl-fwd-$$.log | grep -v ready
	rm -f /tmp/offl-fwd-$$.log
	[ "$mode" = kernel ] || [ "$tso" = on ] || { echo "FAIL: tap without TSO in soft mode"; return 1; }
}

one_mode soft || exit 1
one_mode kernel || exit 1
echo PASS
