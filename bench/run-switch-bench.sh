#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# run-switch-bench.sh - three hosts on one software switch, the same work
# for every switch, one after another (issue 9).  Not a test: run by hand,
# as root.  Everything lives in network namespaces this script creates and
# deletes; no host interface is touched.
#
#   usage: bench/run-switch-bench.sh [NETBE [SECONDS [ROUNDS [PACE_PPS]]]]
#          (defaults: build/netbe 5 3 250000)
#
# Topology per contender: namespaces h1, h2, h3 (10.77.0.1-3/24, MACs
# 02:00:00:00:00:01-03, interface eth0 each) and a switch namespace sw:
#   bridge     Linux bridge in sw, a veth pair per host
#   ovs        Open vSwitch userspace datapath: ovsdb-server + ovs-vswitchd
#              run in sw with a private db/sockets/logs under the temp dir,
#              bridge datapath_type=netdev, the veth ends in sw as its
#              (system, AF_PACKET) ports, userspace-tso-enable=true
#   vde        vde_switch in sw, three vde_plug2tap taps moved to h1-h3
#   netbe      netbe switch with three tap,ifname=... ports (virtio-net
#              header and offloads), taps moved to h1-h3; learning on
#   netbe-bp   the same with --busy-poll=20000 (it spins through the 5 ms
#              between pings: the opt-in polling mode)
#   stream     two netbe connect processes, tap in h1 <-> stream over a
#              unix socket <-> tap in h2 (TCP and RTT only)
#   stream-off the same with offload=on at both stream ends (virtio-net
#              headers in the records: GSO frames cross whole)
#   netbe2     netbe switch with two taps, h1 and h2 only
#   raw        bench/tapfwd in netbe2's place: a bare read()/write() loop
#              sleeping in poll(), the floor of any userspace switch with
#              taps (no learning, queues, counters, batching)
#   netbe2-bp  netbe2 with --busy-poll=20000
#   raw-spin   tapfwd --spin: never sleeps (the floor of busy-polling)
# ONLY="bridge stream ..." in the environment runs only those contenders.
# Work per contender and round:
#   rtt    ping -c 200 -i 0.005 h1 -> h2, the median of the 200 times
#   tcp    iperf3 -c h2 -t SECONDS from h1: receiver Gbit/s, retransmits
#   flood  bench/rawsend --mmsg 64 of 64-byte frames on h1's eth0 to h2's
#          MAC (learnt first by a ping): h2's rx_packets over SECONDS
#          after warm-up, h3's (flooded frames: should be 0), per-core
#          CPU from /proc/stat and the switch processes' CPU
#   paced  the same at PACE_PPS frames/s: delivered over offered (h1's
#          tx_packets), and for netbe the switch's own drops
# netbe's drops come from 'netbe stats NAME --json' around each phase (and
# for stream from the counters printed on SIGINT, less the stream port's
# "full" refusals, which the two-port switch holds and sends later; they
# are listed as stream_refused in the raw results).  Prints a table of
# medians with ratios against the bridge and vde, and the raw results.
set -u

netbe=${1:-build/netbe}
dur=${2:-5}
rounds=${3:-3}
pace=${4:-250000}
here=$(cd "$(dirname "$0")" && pwd)
raw=$(dirname "$netbe")/bench/rawsend
tapfwd=$(dirname "$netbe")/bench/tapfwd
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x "$netbe" ] && [ -x "$raw" ] && [ -x "$tapfwd" ] ||
	skip "build first: $netbe, $raw and $tapfwd"
"$here/../scripts/install-deps.sh" test bench || skip "missing packages"
have_ovs=1
command -v ovs-vswitchd >/dev/null 2>&1 || have_ovs=0

tmp=$(mktemp -d /tmp/netbe-swbench.XXXXXX)
XDG_RUNTIME_DIR=$tmp/xdg # netbe switch --name's control socket: ours
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR"
results=$tmp/results # contender round metric value
p=nbs$$
sw=$p-sw
pids=''   # background processes of the current contender
swpids='' # the switch's processes, for their CPU
ovsdir=''
cleanup_contender() {
	for q in $pids; do kill -INT "$q" 2>/dev/null; done
	sleep 0.3
	for q in $pids; do kill "$q" 2>/dev/null; wait "$q" 2>/dev/null; done
	if [ -n "$ovsdir" ]; then
		ovs-appctl -t "$ovsdir/vswitchd.ctl" exit 2>/dev/null
		ovs-appctl -t "$ovsdir/ovsdb.ctl" exit 2>/dev/null
		rm -rf "$ovsdir"
		ovsdir=''
	fi
	[ -f "$tmp/vde.pid" ] && kill "$(cat "$tmp/vde.pid")" 2>/dev/null
	rm -f "$tmp/vde.pid"
	pids='' swpids=''
	for n in $sw $p-h1 $p-h2 $p-h3; do ip netns del "$n" 2>/dev/null; done
}
cleanup() {
	cleanup_contender
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

inh() { n=$1; shift; ip netns exec "$p-h$n" "$@"; }
ins() { ip netns exec "$sw" "$@"; }
stat_of() { # NS IF COUNTER
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3" 2>/dev/null || echo 0
}
ticks() { # PIDS...: utime+stime of all, in clock ticks
	t=0
	for q in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$q/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}
hz=$(getconf CLK_TCK)
cpustat() { awk '/^cpu[0-9]/ { printf "%s %d %d ", $1, $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat; }
rec() { echo "$cname $round $1 $2" >>"$results"; }

mknets() { # the namespaces, loopback up, no IPv6 chatter
	for n in $sw $p-h1 $p-h2 $p-h3; do
		ip netns add "$n" || skip "cannot create a network namespace"
		ip -n "$n" link set lo up
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	done
}
hostif() { # I: eth0 in hI gets its MAC and address
	ip -n "$p-h$1" link set eth0 address "02:00:00:00:00:0$1"
	ip -n "$p-h$1" addr add "10.77.0.$1/24" dev eth0
	ip -n "$p-h$1" link set eth0 up
}
veths() { # sI in sw <-> eth0 in hI
	for i in 1 2 3; do
		ip -n "$sw" link add "s$i" type veth peer name eth0 netns "$p-h$i"
		ip -n "$sw" link set "s$i" up
		hostif "$i"
	done
}
wait_if() { # NS IF: up to 5 s
	k=0
	while ! ip -n "$1" link show "$2" >/dev/null 2>&1 && [ $k -lt 50 ]; do
		sleep 0.1
		k=$((k + 1))
	done
	ip -n "$1" link show "$2" >/dev/null 2>&1
}
move_taps() { # [I...]: tI in sw becomes eth0 in hI (default: 1 2 3)
	for i in ${*:-1 2 3}; do
		wait_if "$sw" "t$i" || { echo "  no tap t$i"; return 1; }
		ip -n "$sw" link set "t$i" netns "$p-h$i"
		ip -n "$p-h$i" link set "t$i" name eth0
		hostif "$i"
	done
}

setup_bridge() {
	veths
	ip -n "$sw" link add br0 type bridge
	for i in 1 2 3; do ip -n "$sw" link set "s$i" master br0; done
	ip -n "$sw" link set br0 up
}

setup_ovs() {
	ovsdir=$tmp/ovs
	mkdir -p "$ovsdir"
	export OVS_RUNDIR="$ovsdir" OVS_LOGDIR="$ovsdir" OVS_DBDIR="$ovsdir" \
		OVS_SYSCONFDIR="$ovsdir"
	vs="ovs-vsctl --db=unix:$ovsdir/db.sock --timeout=10"
	ovsdb-tool create "$ovsdir/conf.db" \
		/usr/share/openvswitch/vswitch.ovsschema || return 1
	ins ovsdb-server "$ovsdir/conf.db" --remote="punix:$ovsdir/db.sock" \
		--pidfile="$ovsdir/ovsdb.pid" --unixctl="$ovsdir/ovsdb.ctl" \
		--log-file="$ovsdir/ovsdb.log" -vconsole:off --detach 2>>"$ovsdir/stderr" || return 1
	$vs --no-wait init
	$vs --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true
	ins ovs-vswitchd "unix:$ovsdir/db.sock" --pidfile="$ovsdir/vswitchd.pid" \
		--unixctl="$ovsdir/vswitchd.ctl" --log-file="$ovsdir/vswitchd.log" -vconsole:off \
		--detach 2>>"$ovsdir/stderr" || return 1
	swpids=$(cat "$ovsdir/vswitchd.pid")
	veths
	$vs add-br br0 -- set bridge br0 datapath_type=netdev || return 1
	$vs add-port br0 s1 -- add-port br0 s2 -- add-port br0 s3 || return 1
}

setup_vde() {
	ins vde_switch -d -p "$tmp/vde.pid" -s "$tmp/vde.sock" || return 1
	sleep 0.3
	swpids=$(cat "$tmp/vde.pid")
	for i in 1 2 3; do
		ip netns exec "$sw" vde_plug2tap -s "$tmp/vde.sock" "t$i" >"$tmp/plug$i.log" 2>&1 &
		pids="$pids $!" swpids="$swpids $!"
	done
	move_taps
}

setup_netbe() { # EXTRA_OPTIONS...
	ip netns exec "$sw" "$netbe" switch --quiet --name "$p" "$@" tap,ifname=t1,id=h1 \
		tap,ifname=t2,id=h2 tap,ifname=t3,id=h3 >"$tmp/netbe.log" 2>&1 &
	pids="$pids $!" swpids=$!
	move_taps
}

setup_stream() {
	for i in 1 2; do ip -n "$p-h$i" link del eth0 2>/dev/null; done
	ip netns exec "$p-h1" "$netbe" connect --quiet tap,ifname=eth0 \
		"stream,listen=unix:$tmp/stream.sock${1:-}" >"$tmp/streamA.log" 2>&1 &
	pids="$pids $!" spa=$!
	sleep 0.3
	ip netns exec "$p-h2" "$netbe" connect --quiet "stream,connect=unix:$tmp/stream.sock${1:-}" \
		tap,ifname=eth0 >"$tmp/streamB.log" 2>&1 &
	pids="$pids $!" spb=$!
	swpids="$spa $spb"
	for i in 1 2; do wait_if "$p-h$i" eth0 && hostif "$i"; done
}

setup_pair() { # CMD...: a two-port switch making taps t1, t2 (h1, h2 only)
	ip netns exec "$sw" "$@" >"$tmp/pair.log" 2>&1 &
	pids="$pids $!" swpids=$!
	move_taps 1 2
}

# netbe's drops now, summed over ports and reasons (-1: no netbe switch).
netbe_drops() {
	case $cname in netbe*) ;; *) echo -1; return ;; esac
	"$netbe" stats "$p" --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(sum(p[k].values()) for p in s["ports"] for k in ("rx_drops", "tx_drops")))'
}

m_rtt() {
	inh 2 ping -c 3 -i 0.1 -q 10.77.0.1 >/dev/null 2>&1
	inh 1 ping -c 200 -i 0.005 10.77.0.2 2>/dev/null |
		sed -n 's/.* time=\([0-9.]*\) ms/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.1f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) * 1000 }' >"$tmp/v"
	[ -s "$tmp/v" ] && rec rtt_us "$(cat "$tmp/v")"
}

m_tcp() {
	d0=$(netbe_drops)
	ip netns exec "$p-h2" iperf3 -s -1 >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	inh 1 iperf3 -c 10.77.0.2 -t "$dur" -f g >"$tmp/iperf" 2>&1
	wait "$srv" 2>/dev/null
	g=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") print $(i - 1) }' "$tmp/iperf")
	rt=$(awk '/sender/ { print $(NF - 1) }' "$tmp/iperf")
	[ -n "$g" ] && rec tcp_gbps "$g" && rec tcp_retr "$rt"
	[ -n "$g" ] || { echo "  $cname: iperf3 failed:"; tail -3 "$tmp/iperf"; }
	d1=$(netbe_drops)
	[ "$d0" -ge 0 ] && rec tcp_drops $((d1 - d0))
}

# flood NAME [RAWSEND_OPTIONS...]: 64-byte frames h1 -> h2's MAC.
m_flood() {
	k=$1
	shift
	inh 2 ping -c 2 -i 0.1 -q 10.77.0.1 >/dev/null 2>&1 # h2's MAC learnt
	ip netns exec "$p-h1" "$raw" eth0 --size 64 --mmsg 64 --duration "$((dur + 3))" "$@" \
		>/dev/null 2>&1 &
	gen=$!
	sleep 1
	d0=$(netbe_drops)
	a1=$(stat_of "$p-h2" eth0 rx_packets) b1=$(stat_of "$p-h3" eth0 rx_packets)
	o1=$(stat_of "$p-h1" eth0 tx_packets) s1=$(ticks $swpids)
	c1=$(cpustat) t1=$(date +%s.%N)
	sleep "$dur"
	a2=$(stat_of "$p-h2" eth0 rx_packets) b2=$(stat_of "$p-h3" eth0 rx_packets)
	o2=$(stat_of "$p-h1" eth0 tx_packets) s2=$(ticks $swpids)
	c2=$(cpustat) t2=$(date +%s.%N)
	d1=$(netbe_drops)
	kill "$gen" 2>/dev/null
	wait "$gen" 2>/dev/null
	w=$(echo "$t1 $t2" | awk '{ print $2 - $1 }')
	rec "${k}_mpps" "$(awk -v c=$((a2 - a1)) -v w="$w" 'BEGIN { printf "%.3f", c / w / 1e6 }')"
	rec "${k}_offered_mpps" "$(awk -v c=$((o2 - o1)) -v w="$w" 'BEGIN { printf "%.3f", c / w / 1e6 }')"
	rec "${k}_h3_frames" $((b2 - b1))
	rec "${k}_switch_cpu" "$(awk -v t=$((s2 - s1)) -v hz="$hz" -v w="$w" 'BEGIN { printf "%.2f", t / hz / w }')"
	echo "$c1 $c2" | awk '{ n = NF / 2
		for (i = 1; i <= n; i += 3)
			printf "%s %.2f\n", $i, ($(n + i + 1) - $(i + 1)) / ($(n + i + 2) - $(i + 2)) }' |
		while read -r cpu busy; do rec "${k}_${cpu}_busy" "$busy"; done
	[ "$d0" -ge 0 ] && rec "${k}_drops" $((d1 - d0))
}

run_contender() { # NAME SETUP [ARGS...]
	cname=$1
	shift
	case " ${ONLY:-$cname} " in *" $cname "*) ;; *) return ;; esac
	mknets
	if ! "$@"; then
		echo "  $cname: setup failed"
		cleanup_contender
		return
	fi
	sleep 0.5
	echo "  $cname"
	m_rtt
	m_tcp
	if [ "${cname%-off}" = stream ]; then
		for q in $swpids; do kill -INT "$q"; done
		sleep 0.5
		# Frames lost: every drop counter, less the stream port's
		# "full" refusals - the two-port switch held those frames and
		# sent them once the socket drained (its forward lines count
		# what it really lost); the refusals go in stream_refused.
		cat "$tmp"/stream[AB].log | awk '
			/drops [0-9]+/ { for (i = 1; i < NF; i++) if ($i == "drops") all += $(i + 1) }
			/ tx: .*\[full [0-9]+/ { for (i = 1; i < NF; i++) if ($i == "[full") held += $(i + 1) + 0 }
			END { print all - held, held + 0 }' >"$tmp/stream.drops"
		read -r lost held <"$tmp/stream.drops"
		rec stream_drops "$lost"
		rec stream_refused "$held"
		cat "$tmp"/stream[AB].log >>"$tmp/stream.counters"
	else
		m_flood flood
		m_flood paced --pps "$pace"
	fi
	cleanup_contender
}

for round in $(seq 1 "$rounds"); do
	echo "round $round"
	run_contender bridge setup_bridge
	if [ $have_ovs = 1 ]; then
		run_contender ovs setup_ovs
	fi
	run_contender vde setup_vde
	run_contender netbe setup_netbe
	run_contender netbe-bp setup_netbe --busy-poll=20000
	run_contender stream setup_stream
	run_contender stream-off setup_stream ,offload=on
	run_contender netbe2 setup_pair "$netbe" switch --quiet --name "$p" \
		tap,ifname=t1,id=h1 tap,ifname=t2,id=h2
	run_contender raw setup_pair "$tapfwd" t1 t2
	run_contender netbe2-bp setup_pair "$netbe" switch --quiet --name "$p" \
		--busy-poll=20000 tap,ifname=t1,id=h1 tap,ifname=t2,id=h2
	run_contender raw-spin setup_pair "$tapfwd" --spin t1 t2
done

# Medians per contender and metric; ratios against bridge and vde.
sort -k1,1 -k3,3 -k4,4g "$results" | awk -v pace="$pace" '
	{ k = $1 SUBSEP $3; n[k]++; v[k, n[k]] = $4; seen[$1] = 1 }
	function med(k,   c, h) { c = n[k]; if (!c) return ""
		h = int((c + 1) / 2)
		return c % 2 ? v[k, h] : (v[k, h] + v[k, h + 1]) / 2 }
	function m(c, x) { return med(c SUBSEP x) }
	function r(a, b) { return (a != "" && b != "" && b > 0) ? sprintf("%.2f", a / b) : "-" }
	function f(x, fmt) { return x == "" ? "-" : sprintf(fmt, x) }
	END {
		split("bridge ovs vde netbe netbe-bp stream stream-off netbe2 raw netbe2-bp raw-spin", C, " ")
		printf "%-9s %6s %6s %6s %6s %7s %7s %7s %6s %6s %6s %7s %8s %6s %6s %6s\n",
		       "switch", "TCP", "xbr", "xvde", "retr", "drops", "64B", "xbr",
		       "xvde", "h3", "swCPU", "paced%", "pdrops", "RTTus", "xbr", "xvde"
		for (j = 1; j in C; j++) { c = C[j]; if (!(c in seen)) continue
			t = m(c, "tcp_gbps"); fl = m(c, "flood_mpps"); rt = m(c, "rtt_us")
			po = m(c, "paced_offered_mpps"); pm = m(c, "paced_mpps")
			printf "%-9s %6s %6s %6s %6s %7s %7s %7s %6s %6s %6s %7s %8s %6s %6s %6s\n",
			       c, f(t, "%.2f"), r(t, m("bridge", "tcp_gbps")),
			       r(t, m("vde", "tcp_gbps")), f(m(c, "tcp_retr"), "%d"),
			       f(c ~ /^stream/ ? m(c, "stream_drops") : m(c, "tcp_drops"), "%d"),
			       f(fl, "%.3f"), r(fl, m("bridge", "flood_mpps")),
			       r(fl, m("vde", "flood_mpps")), f(m(c, "flood_h3_frames"), "%d"),
			       f(m(c, "flood_switch_cpu"), "%.2f"),
			       (po != "" && po > 0) ? sprintf("%.1f", pm / po * 100) : "-",
			       f(m(c, "paced_drops"), "%d"), f(rt, "%.1f"),
			       r(rt, m("bridge", "rtt_us")), r(rt, m("vde", "rtt_us")) }
	}'
echo "(TCP: iperf3 Gbit/s h1->h2, retr: its retransmits, drops: netbe's own"
echo " during it; 64B: Mpps delivered to h2 under a flood, h3: frames of it"
echo " flooded to h3, swCPU: the switch processes' cores busy; paced%: delivered"
echo " over offered at $pace frames/s, pdrops: netbe's drops then; RTT: median"
echo " of 200 pings; x: ratio to the bridge / vde measured in the same run)"
echo "flood, per-core busy (medians):"
sort -k1,1 -k3,3 -k4,4g "$results" | awk '$3 ~ /^flood_(cpu[0-9]+_busy|offered_mpps)$/ {
	k = $1 " " $3; n[k]++; v[k, n[k]] = $4; if (n[k] == 1) o[++m] = k }
	END { for (i = 1; i <= m; i++) { k = o[i]; c = n[k]; h = int((c + 1) / 2)
		printf "  %s %s\n", k, c % 2 ? v[k, h] : (v[k, h] + v[k, h + 1]) / 2 } }'
# Paired per round: netbe's contenders over the bridge (TCP, RTT) and
# vde (64 B) of the same round.  The host places this machine's two
# vCPUs in a slow or a fast way and changes it within minutes, so a
# ratio of medians can mix placements; a ratio within one round does not.
echo "per round: TCP xbr; 64B xvde; RTT xbr"
awk '{ v[$1, $2, $3] = $4; r[$2] = 1; c[$1] = 1 }
	function q(a, b) { return b > 0 && a != "" ? sprintf("%.2f", a / b) : "-" }
	END { split("netbe netbe-bp stream stream-off netbe2 raw netbe2-bp raw-spin", C, " ")
		for (j = 1; j in C; j++) { n = C[j]; if (!(n in c)) continue
			printf "  %-10s", n
			split("tcp_gbps:bridge flood_mpps:vde rtt_us:bridge", M, " ")
			for (k = 1; k in M; k++) { split(M[k], x, ":")
				for (i = 1; i in r; i++) printf " %s", q(v[n, i, x[1]], v[x[2], i, x[1]])
				printf k < 3 ? " ;" : "\n" } } }' "$results"
echo "results:"
cat "$results"
[ -f "$tmp/stream.counters" ] && { echo "stream counters:"; cat "$tmp/stream.counters"; }
[ -n "${KEEP:-}" ] && cp "$results" "$KEEP"
exit 0
