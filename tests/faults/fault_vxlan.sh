#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# fault_vxlan.sh NETBE - the vxlan backend's underlay failing under a
# running "netbe connect" (issue 11).  Hosts A and B are namespaces joined
# by a veth underlay (uA 10.98.0.1 <-> uB 10.98.0.2, MTU 1500); each runs
# "netbe connect -v --stats-interval 1 tap,ifname=vt vxlan,vni=42,..." and
# its tap has 192.168.98.N/24 and the inner MTU `netbe probe` reports
# (1450).  A pings B every 50 ms in the background throughout.  In turn:
#   remote   B's netbe is killed (SIGKILL): A's datagrams still leave (UDP
#            has no peer to lose; B's ICMP port-unreachable is not an
#            error on an unconnected socket), A logs nothing (-v: INFO
#            and up) and keeps running; B restarted -> pings pass again;
#   link     uA down: A's sends fail (no route: ENETUNREACH), logged once
#            under the port's label ("B (vxlan,...)"), each frame counted
#            as link-down; uA up -> logged again, pings pass again;
#   mtu      uA's MTU 1500 -> 1400 under the running netbe, whose inner
#            MTU stays 1450 (taken at open): a 1400-byte inner ping with
#            DF (1464 bytes outside) is refused by the kernel (EMSGSIZE)
#            and counted as oversize (each one), never truncated or
#            fragmented, logged under the port's label (1st, 2nd, 4th ...
#            time); a 1300-byte one passes; MTU back -> the 1400-byte
#            ping passes.
# After each: A's netbe used under 10 % of one core over 2 s
# (/proc/PID/stat), is alive, and no sanitizer report.  At the end SIGINT
# ends A with status 0 and its counters show the link-down and oversize
# drops (counted, not lost silently) and no rx drops.
# Needs root, /dev/net/tun, ip, ping (77 with the reason).
set -u

bin=${1:-}
tmp=''
here=$(dirname "$0")
. "$here/../cli/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
cli_need_taps ping

id=$$
tmp=$(mktemp -d) apid='' bpid='' ppid=''
cleanup() {
	for p in $ppid $apid $bpid; do kill -KILL "$p" 2>/dev/null; done
	cli_netns_del
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
	echo "FAIL: $*"
	for l in "$tmp"/a.log "$tmp"/b.log; do
		[ -s "$l" ] && grep -v ': frames [0-9]' "$l" | tail -30 |
			sed "s|^|  $(basename "$l"): |"
		[ -s "$l" ] && grep ' tx: \| rx: ' "$l" | tail -4 |
			sed "s|^|  $(basename "$l"): |"
	done
	exit 1
}

A=nbfva-$id B=nbfvb-$id
cli_netns_add $A $B
ip -n $A link add uA type veth peer name uB netns $B ||
	skip "cannot create a veth pair"
ip -n $A addr add 10.98.0.1/24 dev uA
ip -n $B addr add 10.98.0.2/24 dev uB
ip -n $A link set uA up
ip -n $B link set uB up
vxa="vxlan,vni=42,local=10.98.0.1,remote=10.98.0.2"
vxb="vxlan,vni=42,local=10.98.0.2,remote=10.98.0.1"

# host NS SPEC N LOG: starts netbe connect in NS (sets $hpid), gives its
# tap vt the inner MTU, MAC 02:00:00:00:98:0N and 192.168.98.N/24.
host() {
	mtu=$(ip netns exec "$1" "$bin" probe "$2" 2>>"$4" |
		sed -n 's/^mtu: *//p')
	[ "$mtu" = 1450 ] || fail "$1: netbe probe $2: mtu '$mtu', not 1450"
	ip netns exec "$1" "$bin" connect -v --stats-interval 1 \
		tap,ifname=vt "$2" >>"$4" 2>&1 &
	hpid=$!
	i=0
	until ip -n "$1" link show vt >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 50 ] && fail "$1: the tap did not appear"
		kill -0 $hpid 2>/dev/null || fail "$1: netbe exited"
		sleep 0.1
	done
	ip -n "$1" link set vt mtu "$mtu"
	# A fixed MAC, as a restarted VM keeps its own: A's ARP entry for B
	# stays right across B's restart.
	ip -n "$1" link set vt address 02:00:00:00:98:0$3
	ip -n "$1" addr add 192.168.98.$3/24 dev vt
	ip -n "$1" link set vt up
}

pings() { # what: A reaches B through the tunnel again
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ip netns exec $A ping -n -c 1 -W 1 192.168.98.2 >/dev/null &&
			return 0
	done
	fail "$1: A no longer reaches B through the tunnel"
}

calm() { # what: A alive, not spinning, no sanitizer report
	kill -0 $apid 2>/dev/null || fail "$1: A's netbe died"
	cpu=$(cli_cpu_pct $apid 2) || fail "$1: A's netbe died"
	echo "  $1: A's netbe used $cpu% of one core over 2 s"
	[ "$cpu" -lt 10 ] || fail "$1: A's netbe spins ($cpu% cpu)"
	! grep -qE 'runtime error|Sanitizer' "$tmp/a.log" ||
		fail "$1: a sanitizer report"
}

# tx_drops REASON: A's tunnel port's latest count of REASON (tx), or 0.
tx_drops() {
	grep '^B (vxlan,.*) tx: ' "$tmp/a.log" | tail -1 |
		sed -n "s/.*[[, ]$1 \([0-9]*\).*/\1/p" | grep . || echo 0
}
since() { # LINE-COUNT: A's log lines after the first LINE-COUNT
	tail -n +$(($1 + 1)) "$tmp/a.log" | grep -v ': frames [0-9]'
}

host $A "$vxa" 1 "$tmp/a.log"
apid=$hpid
host $B "$vxb" 2 "$tmp/b.log"
bpid=$hpid
pings "start"
ip netns exec $A ping -n -i 0.05 -W 1 192.168.98.2 >/dev/null 2>&1 &
ppid=$!
calm "start"

# 1. The remote's netbe killed, then restarted.
n=$(wc -l <"$tmp/a.log")
kill -KILL $bpid
wait $bpid 2>/dev/null
bpid=''
calm "remote gone"
! since "$n" | grep -q . || fail "remote gone: A logged: $(since "$n")"
host $B "$vxb" 2 "$tmp/b.log"
bpid=$hpid
pings "remote restarted"
echo "  remote gone: A logged nothing, kept running; restarted: ping ok"

# 2. The underlay link down, then up.
n=$(wc -l <"$tmp/a.log")
d0=$(tx_drops link-down)
ip -n $A link set uA down
calm "link down"
sleep 1.2 # a --stats-interval line after the drops
d1=$(tx_drops link-down)
since "$n" | grep -q 'warning: B (vxlan,[^)]*): vxlan: cannot send on the underlay (Network is unreachable)' ||
	fail "link down: nothing logged under the port's label"
echo "  link down: A logged: $(since "$n" | head -1)"
[ "$d1" -gt "$d0" ] || fail "link down: no link-down drop counted"
echo "  link down: $((d1 - d0)) frames counted as link-down"
n=$(wc -l <"$tmp/a.log")
ip -n $A link set uA up
pings "link up"
since "$n" | grep -q ': B (vxlan,[^)]*): vxlan: sending on the underlay again' ||
	fail "link up: the recovery was not logged"
calm "link up"
echo "  link up: ping ok; A logged: $(since "$n" | head -1)"

# 3. The underlay MTU lowered under the running netbe.
o0=$(tx_drops oversize)
ip -n $A link set uA mtu 1400
ip netns exec $A ping -n -c 3 -i 0.2 -W 1 -M do -s 1372 192.168.98.2 \
	>/dev/null && fail "mtu 1400: a 1400-byte inner ping passed"
ip netns exec $A ping -n -c 1 -W 2 -M do -s 1272 192.168.98.2 >/dev/null ||
	fail "mtu 1400: a 1300-byte inner ping did not pass"
calm "mtu 1400"
sleep 1.2
o1=$(tx_drops oversize)
[ "$o1" -ge $((o0 + 3)) ] ||
	fail "mtu 1400: $((o1 - o0)) oversize drops, not 3 or more"
grep -q ': B (vxlan,[^)]*): vxlan: the underlay refuses a datagram as too long' \
	"$tmp/a.log" || fail "mtu 1400: the refusals were not logged"
echo "  mtu 1400: 1400-byte pings refused, $((o1 - o0)) counted as" \
	"oversize; 1300 bytes pass"
ip -n $A link set uA mtu 1500
ip netns exec $A ping -n -c 1 -W 2 -M do -s 1372 192.168.98.2 >/dev/null ||
	fail "mtu 1500 again: a 1400-byte inner ping did not pass"
echo "  mtu 1500 again: a 1400-byte ping passes"

kill $ppid
ppid=''
cli_stop $apid
rc=$?
apid=''
[ $rc = 0 ] || fail "A's exit status $rc after SIGINT"
grep '^[AB] (.*) [rt]x: ' "$tmp/a.log" | tail -4 | sed 's/^/  A: /'
grep '^B (vxlan,.*) rx: .* drops 0 errors 0$' "$tmp/a.log" | tail -1 |
	grep -q . || fail "A's tunnel port counted rx drops or errors"
! grep -q 'libnetbe error' "$tmp/a.log" || fail "an error in A's log"
echo PASS
