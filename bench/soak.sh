#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# soak.sh - a long forwarding run through "netbe switch" (issue 11): many
# ports of different backends, mixed traffic, a port that stalls, ports
# added and removed; the switch's RSS and fd count must stay flat, every
# port's counters must balance, and its log must hold no error.  Not a
# test (bench/, run by hand, as root); everything lives in network
# namespaces the script creates and deletes; no host interface is touched.
#
#   usage: bench/soak.sh [NETBE [SECONDS [RAWSEND]]]
#          (defaults: build/tools/netbe/netbe 600 build/bench/rawsend)
#   environment: FLOOD_PPS (20000), TCP_RATE (iperf3 -b, 200M),
#          RSS_SLACK_KB (2048), KEEP=1 (keep the scratch directory)
#
# Topology.  The switch runs in namespace sw with seven ports:
#   t1 t2 t3  taps, moved to namespaces h1 h2 h3 (10.79.0.1-3/24)
#   st        stream,listen=unix: its peer is "netbe connect" from a
#             stream,connect=...,reconnect= to a tap in h4 (10.79.0.4)
#   stall     the same towards h5 (10.79.0.5); that peer is SIGSTOPped
#             for one cycle in four, so its socket fills and the switch
#             must drop (egress-full) without slowing the others
#   dg        dgram over unix sockets: its peer is "netbe connect" from
#             the other dgram end to a tap in h6 (10.79.0.6)
#   up        slirp (restrict=on); h1 also has 10.0.2.15/24 and pings
#             the virtual host 10.0.2.2 through it
# Traffic, for the whole run:
#   - iperf3 TCP h1 -> h2 (taps only) and h4 -> h2 (through the stream
#     port), in 30 s runs, paced (-b) so the shared machine is not starved;
#   - a 64-byte flood: bench/rawsend --pps on h3's interface to an unknown
#     unicast MAC, so the switch floods it to every port;
#   - pings each cycle: h1 -> h4, h5, h6 and 10.0.2.2.
# Each CYCLE (30 s): "netbe port add" a tap port and a stream listener,
# sample, "netbe port del" both, sample.  A sample is the switch's VmRSS
# and its number of open fds, from /proc/PID.
# At the end (traffic stopped, 3 s to drain):
#   - "netbe stats --json": per port rx_frames == rx_forwarded + sum of
#     rx_drops and tx_offered == tx_frames + sum of tx_drops + queued;
#   - across each socket: the switch's tx_frames on st, stall and dg equal
#     what their peers received (rx frames + drops + errors, printed by
#     their netbe connect on SIGINT);
#   - RSS: the largest sample of the last quarter exceeds the first
#     sample after the warm-up cycle by at most RSS_SLACK_KB;
#   - fds: the last sample (traffic stopped) equals the fewest seen with
#     the dynamic ports removed; base samples that differ are listed with
#     the kinds of fd open then (a transient one is no leak);
#   - the switch's log (-v: library INFO and up) has no "error" line, and
#     SIGINT ends it with status 0.
# Prints the samples, the final per-port counters and a summary line;
# exits 1 on any growth, imbalance or error.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-build/tools/netbe/netbe}
dur=${2:-600}
rawsend=${3:-build/bench/rawsend}
CYCLE=30
FLOOD_PPS=${FLOOD_PPS:-20000}
TCP_RATE=${TCP_RATE:-200M}
RSS_SLACK_KB=${RSS_SLACK_KB:-2048}

tmp=''
. "$here/../tests/cli/cli_lib.sh"

{ [ -x "$bin" ] && [ -x "$rawsend" ]; } ||
	skip "usage: soak.sh NETBE SECONDS RAWSEND (build first)"
cli_need_taps ping iperf3 jq
[ "$dur" -ge $((4 * CYCLE)) ] 2>/dev/null ||
	skip "SECONDS must be at least $((4 * CYCLE))"

id=$$
name=soak$id
tmp=$(mktemp -d)
XDG_RUNTIME_DIR=$tmp # the control socket: $tmp/netbe/$name.ctl
export XDG_RUNTIME_DIR
swpid='' pids='' peers=''
sw=nbk-sw$id
cleanup() {
	for p in $pids $peers; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	[ -n "$swpid" ] && kill -KILL "$swpid" 2>/dev/null
	sleep 0.5
	cli_netns_del
	[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

h() { echo "nbk-h$1-$id"; }
cli_netns_add $sw $(h 1) $(h 2) $(h 3) $(h 4) $(h 5) $(h 6)

# ---- the switch and its ports ------------------------------------------------

ip netns exec $sw "$bin" switch -v --quiet --name "$name" \
	"tap,ifname=nbk1$id,id=t1" "tap,ifname=nbk2$id,id=t2" \
	"tap,ifname=nbk3$id,id=t3" \
	"stream,listen=unix:$tmp/st.sock,id=st" \
	"stream,listen=unix:$tmp/stall.sock,id=stall" \
	"dgram,local=unix:$tmp/dg.a,remote=unix:$tmp/dg.b,id=dg" \
	"slirp,restrict=on,id=up" >"$tmp/sw.log" 2>&1 &
swpid=$!
cli_wait_sock "$tmp/netbe/$name.ctl" $swpid
for n in 1 2 3; do
	cli_tap_to_ns $sw "nbk$n$id" "$(h $n)" "10.79.0.$n/24"
done
ip -n "$(h 1)" addr add 10.0.2.15/24 dev "nbk1$id"

# A peer: "netbe connect SPEC tap" in namespace h$1, the tap 10.79.0.$1.
peer() {
	ip netns exec "$(h $1)" "$bin" connect -v --quiet "$2" \
		"tap,ifname=nbk$1$id,up=on" >"$tmp/peer$1.log" 2>&1 &
	peers="$peers $!"
	eval "peer$1=$!"
	_i=0
	until ip -n "$(h $1)" link show "nbk$1$id" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -gt 50 ] && fail "peer $1 did not start"
		sleep 0.1
	done
	ip -n "$(h $1)" addr add "10.79.0.$1/24" dev "nbk$1$id"
}
peer 4 "stream,connect=unix:$tmp/st.sock,reconnect=200"
peer 5 "stream,connect=unix:$tmp/stall.sock,reconnect=200"
peer 6 "dgram,local=unix:$tmp/dg.b,remote=unix:$tmp/dg.a"

for n in 2 3 4 5 6; do
	ip netns exec "$(h 1)" ping -n -c 3 -i 0.2 -W 2 "10.79.0.$n" >/dev/null ||
		fail "ping h1 -> 10.79.0.$n before the soak"
done
ip netns exec "$(h 1)" ping -n -c 2 -i 0.2 -W 2 10.0.2.2 >/dev/null ||
	fail "ping h1 -> 10.0.2.2 (slirp) before the soak"
echo "soak: switch pid $swpid, 7 ports, every peer answers; $dur s"

# ---- traffic -------------------------------------------------------------------

for port in 5201 5204; do # one server per client: iperf3 serves one
	ip netns exec "$(h 2)" iperf3 -s -B 10.79.0.2 -p $port \
		>/dev/null 2>&1 &
	pids="$pids $!"
done
tcp_loop() { # $1: namespace number; runs until the soak ends
	while _t=$((end - CYCLE - $(date +%s))) && [ $_t -ge 2 ]; do
		[ $_t -gt $CYCLE ] && _t=$CYCLE
		ip netns exec "$(h $1)" iperf3 -c 10.79.0.2 -p 520$1 -t $_t \
			-b "$TCP_RATE" --connect-timeout 3000 >>"$tmp/tcp$1.log" \
			2>&1 || sleep 1
	done
}
start=$(date +%s)
end=$((start + dur))
tcp_loop 1 &
tcps=$!
tcp_loop 4 &
tcps="$tcps $!"
ip netns exec "$(h 3)" "$rawsend" "nbk3$id" --size 64 --pps "$FLOOD_PPS" \
	--duration $((dur - CYCLE)) >"$tmp/flood.json" 2>&1 &
flood=$!
pids="$pids $flood"

# ---- cycles: add / remove ports, stall a peer, sample -----------------------------

# What the switch's fds are, counted by kind: a socket by the table of
# /proc/PID/net it is in (unix, udp, tcp, netlink ...), else what the
# link names (anon_inode:[eventfd], /dev/net/tun, pipe ...).
fd_kinds() {
	for _f in /proc/$swpid/fd/*; do
		_l=$(readlink "$_f") || continue
		case $_l in
		socket:*)
			_i=${_l#socket:[}
			_i=${_i%]}
			_k=$(grep -lw "$_i" /proc/$swpid/net/unix \
				/proc/$swpid/net/udp* /proc/$swpid/net/tcp* \
				/proc/$swpid/net/raw* /proc/$swpid/net/icmp* \
				/proc/$swpid/net/netlink /proc/$swpid/net/packet \
				2>/dev/null | head -1)
			echo "socket(${_k##*/})" ;;
		pipe:*) echo pipe ;;
		*) echo "$_l" ;;
		esac
	done | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'
}
sample() { # $1: "dyn" (dynamic ports present) or "base"
	_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$swpid/status") ||
		fail "the switch is gone"
	_fds=$(ls "/proc/$swpid/fd" | wc -l)
	_t=$(($(date +%s) - start))
	echo "$_t $1 $_rss $_fds" >>"$tmp/samples"
	echo "$_t $1: $(fd_kinds)" >>"$tmp/fdkinds"
}
ctl() { "$bin" "$@" >>"$tmp/ctl.log" 2>&1 || fail "netbe $*"; }

pings=0 ping_fail=0 cycle=0
while [ $(($(date +%s) + CYCLE)) -le "$end" ]; do
	cycle=$((cycle + 1))
	[ $((cycle % 4)) = 2 ] && kill -STOP "$peer5"
	ctl port add "$name" "tap,ifname=nbkd$id,id=dyn"
	ctl port add "$name" "stream,listen=unix:$tmp/dyn.sock,id=dyns"
	for dst in 10.79.0.4 10.79.0.6 10.0.2.2; do
		pings=$((pings + 1))
		ip netns exec "$(h 1)" ping -n -c 1 -W 2 $dst >/dev/null ||
			{ ping_fail=$((ping_fail + 1)); echo "$cycle $dst" >>"$tmp/lost"; }
	done
	sleep $((CYCLE / 2 - 2))
	sample dyn
	ctl port del "$name" dyn
	ctl port del "$name" dyns
	kill -CONT "$peer5"
	sleep 2
	pings=$((pings + 1))
	ip netns exec "$(h 1)" ping -n -c 2 -i 0.3 -W 2 10.79.0.5 >/dev/null ||
		{ ping_fail=$((ping_fail + 1)); echo "$cycle 10.79.0.5" >>"$tmp/lost"; }
	sleep $((CYCLE / 2 - 3))
	sample base
done

# ---- the end: the traffic stops, drain, check -------------------------------------

wait $flood $tcps
for p in $pids; do kill "$p" 2>/dev/null; done
pids=''
sleep 3
"$bin" stats --json "$name" >"$tmp/stats.json" || fail "netbe stats --json"
sample base
# The peers of st, stall and dg print their counters on SIGINT.
for n in 4 5 6; do eval "kill -INT \$peer$n"; done
wait $peers
peers=''
cli_stop $swpid
swrc=$?
swpid=

echo "samples (seconds, dynamic ports present?, VmRSS KiB, fds):"
sed 's/^/  /' "$tmp/samples"

bad=0
jq -r '.ports[] |
	def sum(o): [o[]] | add // 0;
	def why(o): o | to_entries | map(select(.value > 0)) |
		map("\(.key) \(.value)") | join(", ");
	(sum(.rx_drops)) as $rd | (sum(.tx_drops)) as $td |
	"\(.name) rx \(.rx_frames) = forwarded \(.rx_forwarded) + dropped " +
	"\($rd) [\(why(.rx_drops))]; offered \(.tx_offered) = tx " +
	"\(.tx_frames) + dropped \($td) [\(why(.tx_drops))] + queued " +
	"\(.queued): " +
	(if .rx_frames == .rx_forwarded + $rd and
	    .tx_offered == .tx_frames + $td + .queued
	 then "ok" else "UNBALANCED" end)' "$tmp/stats.json" \
	>"$tmp/ports.txt" || fail "cannot parse the stats JSON"
echo "per port: rx = forwarded + drops; offered = tx + drops + queued"
sed 's/^/  /' "$tmp/ports.txt"
grep -q UNBALANCED "$tmp/ports.txt" && bad=1
# Across each socket: what the switch sent to the port is what the peer
# received, or counted as lost on receive (frames: the peer's netbe
# connect counts the stream/dgram end's rx the same way).
echo "across the socket: the switch's tx = the peer's rx + rx drops + rx errors"
for pp in 4:st 5:stall 6:dg; do
	n=${pp%%:*} p=${pp#*:}
	sent=$(jq ".ports[] | select(.name == \"$p\") | .tx_frames" "$tmp/stats.json")
	got=$(awk '/^A .* rx: frames/ { for (i = 1; i < NF; i++) {
		if ($i == "frames") f = $(i + 1); if ($i == "drops") d = $(i + 1)
		if ($i == "errors") e = $(i + 1) } } END { print f + d + e }' \
		"$tmp/peer$n.log")
	ok=ok
	[ "$sent" = "$got" ] || { ok=DIFFERENT; bad=1; }
	echo "  $p: $sent = $got: $ok"
done
nports=$(wc -l <"$tmp/ports.txt")
[ "$nports" = 7 ] || { echo "  $nports ports at the end, not 7"; bad=1; }

# RSS: first sample after the warm-up cycle vs the largest of the last
# quarter; fds: every "base" sample equals the first.
n=$(wc -l <"$tmp/samples")
rss0=$(awk 'NR == 3 { print $3 }' "$tmp/samples")
rss_max=$(awk -v from=$((n - n / 4)) 'NR >= from && $3 > m { m = $3 }
	END { print m }' "$tmp/samples")
rss_all=$(awk '$3 > m { m = $3 } END { print m }' "$tmp/samples")
fds0=$(awk '$2 == "base" && (m == "" || $4 < m) { m = $4 } END { print m }' \
	"$tmp/samples")
fds_dif=$(awk -v f="$fds0" '$2 == "base" && $4 != f' "$tmp/samples" | wc -l)
fds_dyn=$(awk '$2 == "dyn" { print $4 }' "$tmp/samples" | sort -u | tr '\n' ' ')
echo "RSS KiB: after warm-up $rss0, largest of the last quarter $rss_max," \
	"largest $rss_all (slack $RSS_SLACK_KB)"
[ $((rss_max - rss0)) -le "$RSS_SLACK_KB" ] ||
	{ echo "  RSS grew"; bad=1; }
echo "fds: $fds0 without the dynamic ports ($fds_dif samples differ)," \
	"with them: $fds_dyn"
# A leak grows; an fd open at one sample and closed by the next (a
# connection of libslirp's, say) does not.  So: the last sample, taken
# with the traffic stopped, equals the fewest seen.
fds_end=$(awk 'END { print $4 }' "$tmp/samples")
if [ "$fds_dif" != 0 ]; then
	echo "  samples that differ, by kind of fd:"
	awk -v f="$fds0" '$2 == "base" && $4 != f { print $1 }' \
		"$tmp/samples" | while read -r t; do
		grep "^$t base:" "$tmp/fdkinds" | sed 's/^/    /'
	done
	awk -v f="$fds0" '$2 == "base" && $4 == f { print $1; exit }' \
		"$tmp/samples" | while read -r t; do
		grep "^$t base:" "$tmp/fdkinds" | sed 's/^/    fewest: /'
	done
fi
echo "  at the end, traffic stopped: $fds_end"
[ "$fds_end" = "$fds0" ] || { echo "  the fd count grew"; bad=1; }

errs=$(grep -c 'libnetbe error\|^netbe: [^l]' "$tmp/sw.log")
warns=$(grep -c 'libnetbe warning' "$tmp/sw.log")
echo "switch log: $errs error lines, $warns warnings, exit status $swrc"
grep 'libnetbe error\|libnetbe warning\|^netbe: [^l]' "$tmp/sw.log" |
	sort | uniq -c | sort -rn | head -20 | sed 's/^/  /'
[ "$errs" = 0 ] && [ "$swrc" = 0 ] || bad=1

echo "traffic: $cycle cycles (2 ports added and removed each), pings" \
	"$((pings - ping_fail))/$pings answered"
echo "  flood: $(cat "$tmp/flood.json")"
for n in 1 4; do
	printf '  iperf3 h%s -> h2: %s runs, receiver Mbit/s:' $n \
		"$(grep -c receiver "$tmp/tcp$n.log")"
	awk '/receiver/ { for (i = 1; i < NF; i++)
		if ($(i + 1) ~ /bits\/sec/) {
			v = $i; if ($(i + 1) ~ /^G/) v *= 1000
			if ($(i + 1) ~ /^K/) v /= 1000
			s += v; k++ } }
		END { if (k) printf " mean %.0f\n", s / k; else print " none" }' \
		"$tmp/tcp$n.log"
done
[ -s "$tmp/lost" ] && echo "  lost (cycle, destination):" \
	$(awk '{ printf "%s %s; ", $1, $2 }' "$tmp/lost")
[ "$ping_fail" -le $((pings / 20)) ] || { echo "  too many pings lost"; bad=1; }

jq -r '.ports[] | "  \(.name) (\(.backend)): rx \(.rx_frames) tx \(.tx_frames)"' \
	"$tmp/stats.json"
if [ $bad = 0 ]; then
	echo "PASS: soak $dur s: RSS +$((rss_max - rss0)) KiB, fds flat," \
		"counters balanced, no error"
else
	echo "FAIL: soak $dur s (see above)"
	sed 's/^/  switch: /' "$tmp/sw.log" | tail -40
	exit 1
fi
