#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# run-packet-bench.sh - packet I/O side by side on veth pairs in a private
# network namespace (issue 3).  Not a test: run by hand, as root.
#
#   usage: bench/run-packet-bench.sh [BUILD_DIR [SECONDS [REPS]]]
#          (defaults: build 3 2)
#
# Transmit (one core sends on veth va; the frames are counted by the
# kernel on the peer vb, rx_packets, over a fixed window after warm-up, so
# every contender is measured the same way and the sink is the kernel):
#   raw      bench/rawsend: send() of one frame per syscall, 64 bytes (the ceiling
#            of any one-syscall-per-frame design)
#   rawmmsg  bench/rawsend --mmsg 64: sendmmsg, 64 frames per syscall
#   packet   netbe bench --mode tx 'packet,ifname=va,promiscphys=on' (it
#            filters frames for other hosts otherwise)
#   xdp      netbe bench --mode tx 'xdp,ifname=va' (auto: native on veth)
#   xdp-skb  the same with mode=skb
#   tap      netbe bench --mode tx 'tap,ifname=T,up=on': frames enter the
#            host stack; counted on the tap's rx_packets
#   dpdk     dpdk-testpmd, net_af_packet PMD on va, txonly (Debian dpdk-dev)
# and each backend's own raw kernel path, with no library in between:
#   xdpsend      bench/xdpsend: a bare AF_XDP loop set up as the xdp
#                backend sets its socket up (native; skb at 9000 bytes,
#                where the xdp backend's auto mode falls back to skb)
#   xdpsend-skb  the same in skb mode (64 bytes, next to xdp-skb)
#   tapwrite     bench/tapwrite: write() of a zero 10-byte virtio-net
#                header + frame on a tap fd, as the tap backend writes
# The table's "vs own raw" is a backend's Mpps/core over its raw path's
# (packet: rawmmsg, xdp: xdpsend, xdp-skb: xdpsend-skb, tap: tapwrite);
# its per-frame overhead is 1/ratio - 1.  Two more rows split the gaps:
#   xdpsend-copy  xdpsend --copy at 9000 bytes: the frame copied into the
#                 UMEM for every send, as the backend must
#   tapwritev     tapwrite --writev at 64 bytes: header and frame as two
#                 iovecs, as the backend writes them
# (Receive has no raw row: a receiver's CPU per frame depends on whether
# it sleeps, and the wakeups it costs are charged to the flooding sender;
# bench/xdpsend --rx spins at 100 % where netbe bench sleeps 2/3 of the
# time, so Mpps/core there does not compare per-frame cost.)
# Receive: rawsend --mmsg 64 floods vb; netbe bench --mode rx on va (for
# tap: rawsend on the tap interface, which the tap fd reads).
# Forward: the flood on vb, netbe bench --mode fwd from va to vc; vd's
# rx_packets count what arrived.
# CPU per contender: utime+stime from /proc/PID/stat over the same window
# (the veth peer's receive runs in the sender's softirq, for everyone).
# Prints a table of medians (of REPS runs) and ratios, and JSON lines.
set -u

build=${1:-build}
dur=${2:-3}
reps=${3:-2}
netbe=$build/netbe
raw=$build/bench/rawsend
xdps=$build/bench/xdpsend
tapw=$build/bench/tapwrite
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x "$netbe" ] && [ -x "$raw" ] && [ -x "$xdps" ] && [ -x "$tapw" ] ||
	skip "build $build first (netbe, bench/rawsend, bench/xdpsend, bench/tapwrite)"

ns=netbe-bench$$
tapif=nbt$$
tmp=$(mktemp -d)
results=$tmp/results # name size run pps cpu_pps
pid=''
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns" || skip "cannot create a network namespace"
inns() { ip netns exec "$ns" "$@"; }
ip -n "$ns" link add va type veth peer name vb
ip -n "$ns" link add vc type veth peer name vd
inns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1
for i in lo va vb vc vd; do ip -n "$ns" link set "$i" up; done
setmtu() { for i in va vb vc vd; do ip -n "$ns" link set "$i" mtu "$1"; done; }

have_packet=0
"$netbe" list | grep -q '^packet ' && have_packet=1
have_dpdk=0
command -v dpdk-testpmd >/dev/null 2>&1 && have_dpdk=1

cnt() { inns cat "/sys/class/net/$1/statistics/rx_packets" 2>/dev/null || echo 0; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

# measure NAME SIZE RUN COUNTER_IF CMD... : starts CMD in the namespace,
# waits for COUNTER_IF's rx_packets to move, measures one window.
measure() {
	name=$1 size=$2 run=$3 cif=$4
	shift 4
	ip netns exec "$ns" "$@" >"$tmp/log" 2>&1 &
	pid=$!
	c0=$(cnt "$cif") n=0
	while [ "$(cnt "$cif")" = "$c0" ] && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
		kill -0 "$pid" 2>/dev/null || break
	done
	sleep 0.5
	c1=$(cnt "$cif") u1=$(ticks "$pid") t1=$(date +%s.%N)
	sleep "$dur"
	c2=$(cnt "$cif") u2=$(ticks "$pid") t2=$(date +%s.%N)
	kill -INT "$pid" 2>/dev/null
	sleep 0.3
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=''
	awk -v n="$name" -v s="$size" -v r="$run" -v c="$((c2 - c1))" \
	    -v u="$((u2 - u1))" -v hz="$hz" -v t1="$t1" -v t2="$t2" 'BEGIN {
		w = t2 - t1; cpu = u / hz; pps = c / w
		printf "%s %s %s %.0f %.0f\n", n, s, r, pps,
		       (cpu > 0 ? c / cpu : 0) }' >>"$results"
	[ "$((c2 - c1))" -gt 0 ] || { echo "  $name $size: nothing counted:"; sed 's/^/    /' "$tmp/log" | tail -3; }
}

# A JSON result of netbe bench (rx, fwd) as a results line.
from_json() { # NAME SIZE RUN
	sed -n 's/.*"mpps":\([0-9.]*\).*"mpps_per_core":\([0-9.]*\).*/\1 \2/p' \
		"$tmp/log" | tail -1 |
		awk -v n="$1" -v s="$2" -v r="$3" \
		    '{ printf "%s %s %s %.0f %.0f\n", n, s, r, $1 * 1e6, $2 * 1e6 }' \
		    >>"$results"
}

long=$((dur + 30))
tx_round() { # SIZE RUN
	s=$1 r=$2
	xmode=native
	[ "$s" = 9000 ] && xmode=skb # native XDP refuses a 9000 MTU on veth
	[ "$s" = 64 ] && measure raw "$s" "$r" vb "$raw" va --size "$s" --duration "$long"
	measure rawmmsg "$s" "$r" vb "$raw" va --size "$s" --duration "$long" --mmsg 64
	[ $have_packet = 1 ] && measure packet "$s" "$r" vb \
		"$netbe" bench --mode tx --size "$s" --duration "$long" "packet,ifname=va,promiscphys=on"
	measure xdp "$s" "$r" vb "$netbe" bench --mode tx --size "$s" \
		--duration "$long" "xdp,ifname=va"
	measure xdpsend "$s" "$r" vb "$xdps" va --size "$s" --duration "$long" \
		--mode $xmode
	if [ "$s" = 64 ]; then
		measure xdp-skb "$s" "$r" vb "$netbe" bench --mode tx \
			--size "$s" --duration "$long" "xdp,ifname=va,mode=skb"
		measure xdpsend-skb "$s" "$r" vb "$xdps" va --size "$s" \
			--duration "$long" --mode skb
	fi
	[ "$s" = 9000 ] && measure xdpsend-copy "$s" "$r" vb "$xdps" va \
		--size "$s" --duration "$long" --mode skb --copy
	measure tap "$s" "$r" "$tapif" "$netbe" bench --mode tx --size "$s" \
		--duration "$long" "tap,ifname=$tapif,up=on,mtu=9000"
	measure tapwrite "$s" "$r" "$tapif" "$tapw" "$tapif" --size "$s" \
		--duration "$long" --mtu 9000
	[ "$s" = 64 ] && measure tapwritev "$s" "$r" "$tapif" "$tapw" "$tapif" \
		--size "$s" --duration "$long" --mtu 9000 --writev
	[ $have_dpdk = 1 ] && [ "$s" != 9000 ] && measure dpdk "$s" "$r" vb \
		dpdk-testpmd --no-huge -m 1024 --no-pci -l 0-1 \
		--file-prefix="$ns" --vdev=net_af_packet0,iface=va -- \
		--forward-mode=txonly --txpkts="$s" --total-num-mbufs=16384 \
		--auto-start --stats-period 60
}

# rx NAME SPEC RUN [CMD...]: flood vb, receive on va with netbe bench
# SPEC (or CMD, which prints the same JSON).
rx_one() {
	n=$1 spec=$2 r=$3
	shift 3
	[ $# -gt 0 ] || set -- "$netbe" bench --mode rx --duration "$dur" "$spec"
	ip netns exec "$ns" "$raw" vb --size 64 --duration "$long" --mmsg 64 >/dev/null 2>&1 &
	gen=$!
	sleep 0.5
	inns "$@" >"$tmp/log" 2>&1
	kill "$gen" 2>/dev/null
	wait "$gen" 2>/dev/null
	from_json "$n" 64 "$r"
}

rx_tap() { # RUN: the tap's own interface is the flood's target
	ip netns exec "$ns" "$netbe" bench --mode rx --duration "$((dur + 1))" \
		"tap,ifname=$tapif,up=on" >"$tmp/log" 2>&1 &
	b=$!
	sleep 0.7
	inns "$raw" "$tapif" --size 64 --duration "$dur" --mmsg 64 >/dev/null 2>&1
	wait "$b"
	from_json tap-rx 64 "$1"
}

fwd_one() { # NAME SPEC_A SPEC_B RUN
	ip netns exec "$ns" "$raw" vb --size 64 --duration "$long" --mmsg 64 >/dev/null 2>&1 &
	gen=$!
	measure "$1" 64 "$4" vd "$netbe" bench --mode fwd --duration "$long" "$2" "$3"
	kill "$gen" 2>/dev/null
	wait "$gen" 2>/dev/null
}

[ $have_packet = 1 ] || echo "note: no packet backend registered: skipped"
[ $have_dpdk = 1 ] || echo "note: dpdk-testpmd missing (Debian dpdk-dev): skipped"
for r in $(seq 1 "$reps"); do
	echo "round $r: transmit"
	setmtu 1500
	tx_round 64 "$r"
	tx_round 1500 "$r"
	setmtu 9000
	tx_round 9000 "$r"
	setmtu 1500
	echo "round $r: receive, forward"
	[ $have_packet = 1 ] && rx_one packet-rx "packet,ifname=va,promiscphys=on" "$r"
	rx_one xdp-rx "xdp,ifname=va" "$r"
	rx_one xdp-skb-rx "xdp,ifname=va,mode=skb" "$r"
	rx_tap "$r"
	[ $have_packet = 1 ] && fwd_one packet-fwd "packet,ifname=va,promiscphys=on" "packet,ifname=vc,promiscphys=on" "$r"
	fwd_one xdp-fwd "xdp,ifname=va" "xdp,ifname=vc" "$r"
done

# Medians (the mean of the middle values) per name and size.
sort -k1,1 -k2,2n -k4,4n "$results" | awk '
	{ k = $1 " " $2; n[k]++; pps[k, n[k]] = $4; cpu[k, n[k]] = $5 }
	function med(a, k, c,   h) { h = int((c + 1) / 2)
		return c % 2 ? a[k, h] : (a[k, h] + a[k, h + 1]) / 2 }
	END {
		base["packet"] = "rawmmsg"; base["xdp"] = "xdpsend"
		base["xdp-skb"] = "xdpsend-skb"; base["tap"] = "tapwrite"
		base["xdp-rx"] = "xdpsend-rx"
		# each backend right after its raw path; receive, forward last
		split("raw rawmmsg dpdk packet xdpsend xdpsend-copy xdp " \
		      "xdpsend-skb xdp-skb tapwrite tapwritev tap", tx, " ")
		split("packet-rx xdp-rx xdp-skb-rx tap-rx packet-fwd xdp-fwd",
		      rf, " ")
		for (z = 1; z <= 3; z++) for (j = 1; j in tx; j++) {
			k = tx[j] " " (z == 1 ? 64 : z == 2 ? 1500 : 9000)
			if (k in n) order[++m] = k }
		for (j = 1; j in rf; j++)
			if ((rf[j] " 64") in n) order[++m] = rf[j] " 64"
		for (i = 1; i <= m; i++) { k = order[i]
			P[k] = med(pps, k, n[k]); C[k] = med(cpu, k, n[k]) }
		printf "%-12s %5s %8s %8s %9s %7s %-12s %7s %8s\n", "what",
		       "size", "Mpps", "Gbit/s", "Mpps/core", "vs dpdk",
		       "own raw", "vs raw", "overhead"
		for (i = 1; i <= m; i++) { k = order[i]; split(k, f, " ")
			rxfwd = f[1] ~ /-(rx|fwd)$/
			d = rxfwd ? 0 : P["dpdk " f[2]]
			b = base[f[1]]; bc = b ? C[b " " f[2]] : 0
			vd = d ? sprintf("%.2f", P[k] / d) : "-"
			vr = bc ? sprintf("%.2f", C[k] / bc) : "-"
			ov = bc && C[k] ? sprintf("%+.1f%%", (bc / C[k] - 1) * 100) : "-"
			printf "%-12s %5s %8.3f %8.2f %9.3f %7s %-12s %7s %8s\n",
			       f[1], f[2], P[k] / 1e6, P[k] * f[2] * 8 / 1e9,
			       C[k] / 1e6, vd, bc ? b : "-", vr, ov }
	}'
echo "(vs dpdk: Mpps over dpdk-testpmd's at the same size; vs raw: Mpps per"
echo " core over the backend's own raw kernel path; overhead: extra CPU per"
echo " frame over that path, raw/backend - 1)"
echo "runs:"
sort -k1,1 -k2,2n "$results" | awk '{ printf "{\"what\":\"%s\",\"size\":%s,\"run\":%s,\"pps\":%s,\"pps_per_core\":%s}\n", $1, $2, $3, $4, $5 }'
