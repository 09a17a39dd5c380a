#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# sock_tap.sh - real kernel traffic through the stream and dgram backends.
#
#   usage: sock_tap.sh PATH/TO/netbe MODE
#   MODE: stream-unix stream-tcp4 stream-tcp6   (listen <-> connect, with
#                                                restarts of both ends)
#         dgram-udp4 dgram-udp6 dgram-unix      (unicast pair)
#         dgram-mcast                           (three members of a group)
#
# Each end is "netbe connect SOCKETSPEC tap,ifname=T", run in namespace
# NS0, so the sockets meet on NS0's own loopback (fixed ports are safe:
# nobody else is there).  Each tap then moves to its own namespace (the
# forwarder's fd stays valid) and gets a TEST-NET-1 address and an IPv6
# documentation address.  The proof is the kernel's: ping both ways, an
# iperf3 TCP transfer, IPv6 duplicate address detection that succeeds
# (it fails if a backend echoes a node's own frames back to it), and for
# stream, traffic again after the listener restarts (the client
# reconnects) and after the client restarts (the listener serves the new
# peer).  All namespaces are ours and are deleted on exit.
set -u

bin=${1:-}
mode=${2:-}
skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	for l in $logs; do [ -s "$l" ] && sed "s|^|  $(basename "$l"): |" "$l"; done
	exit 1
}

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, taps)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip ping iperf3; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed"
done

id=$$
ns0=nbs-fwd$id
tmp=$(mktemp -d)
logs='' pids='' spid=''
cleanup() {
	for p in $pids $spid; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	for n in $ns0 nbs-1$id nbs-2$id nbs-3$id; do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for n in $ns0 nbs-1$id nbs-2$id nbs-3$id; do
	ip netns add "$n" || skip "cannot create network namespaces"
	ip -n "$n" link set lo up
done

# start_end N SOCKSPEC: runs end N (tap t$N$id) and moves its tap to
# namespace nbs-N with 192.0.2.N/24 and 2001:db8::N/64.
start_end() {
	n=$1 spec=$2 tap=nbt$n$id log=$tmp/end$n.log
	ip netns exec $ns0 "$bin" connect -v "$spec" "tap,ifname=$tap" \
		>"$log" 2>&1 &
	eval "pid$n=$!"
	pids="$pids $!"
	case " $logs " in *" $log "*) ;; *) logs="$logs $log" ;; esac
	i=0
	until ip -n $ns0 link show $tap >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 50 ] && fail "end $n: tap did not appear"
		kill -0 $! 2>/dev/null || fail "end $n exited early"
		sleep 0.1
	done
	ip -n $ns0 link set $tap netns nbs-$n$id || fail "move $tap"
	ip -n nbs-$n$id addr add 192.0.2.$n/24 dev $tap
	ip -n nbs-$n$id addr add 2001:db8::$n/64 dev $tap
	ip -n nbs-$n$id link set $tap up
}

stop_end() {
	eval "p=\$pid$1"
	kill -TERM "$p"
	wait "$p" 2>/dev/null
}

ping_ok() { # FROM TO: three pings within a few seconds
	ip netns exec nbs-$1$id ping -c 3 -i 0.2 -W 3 192.0.2.$2 >/dev/null
}

ping_retry() { # FROM TO: the path may need a moment (reconnect, DAD)
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ip netns exec nbs-$1$id ping -c 1 -W 1 192.0.2.$2 \
			>/dev/null 2>&1 && return 0
	done
	return 1
}

check_dad() { # N: the IPv6 address passed duplicate address detection
	i=0
	while ip -n nbs-$1$id -6 addr show dev nbt$1$id | grep -q tentative; do
		i=$((i + 1))
		[ $i -gt 40 ] && break
		sleep 0.1
	done
	if ip -n nbs-$1$id -6 addr show dev nbt$1$id | grep -q dadfailed; then
		fail "end $1: IPv6 DAD failed (own frames echoed back?)"
	fi
	ip netns exec nbs-$1$id ping -6 -c 2 -i 0.2 -W 3 2001:db8::$2 \
		>/dev/null || fail "ping6 $1 -> $2"
}

iperf() { # FROM TO
	ip netns exec nbs-$2$id iperf3 -s -1 -B 192.0.2.$2 >/dev/null 2>&1 &
	spid=$!
	i=0 ok=
	while [ $i -lt 20 ]; do
		if out=$(ip netns exec nbs-$1$id iperf3 -c 192.0.2.$2 -n 20M \
			2>&1); then
			ok=1
			break
		fi
		i=$((i + 1))
		sleep 0.2
	done
	[ -n "$ok" ] || { echo "$out"; fail "iperf3 TCP $1 -> $2"; }
	echo "$out" | grep -E 'receiver' | sed "s/^/  $mode iperf3: /"
	wait $spid 2>/dev/null
	spid=
}

case $mode in
stream-unix) addr=unix:$tmp/s.sock ;;
stream-tcp4) addr=tcp:127.0.0.1:5555 ;;
stream-tcp6) addr=tcp:[::1]:5555
	ip netns exec $ns0 sh -c 'cat /proc/sys/net/ipv6/conf/lo/disable_ipv6' \
		2>/dev/null | grep -q 0 || skip "no IPv6 on loopback" ;;
dgram-udp4) a=udp:127.0.0.1:5001 b=udp:127.0.0.1:5002 ;;
dgram-udp6) a=udp:[::1]:5001 b=udp:[::1]:5002 ;;
dgram-unix) a=unix:$tmp/a.sock b=unix:$tmp/b.sock ;;
dgram-mcast) g=udp:239.192.0.1:5000
	ip -n $ns0 link set lo multicast on
	ip -n $ns0 route add 224.0.0.0/4 dev lo ;;
*) skip "unknown mode '$mode'" ;;
esac

case $mode in
stream-*)
	# The client first: it must keep retrying until the listener is up.
	start_end 2 "stream,connect=$addr,reconnect=100"
	start_end 1 "stream,listen=$addr"
	ping_retry 1 2 || fail "ping 1 -> 2"
	ping_ok 2 1 || fail "ping 2 -> 1"
	check_dad 1 2
	check_dad 2 1
	iperf 1 2
	stop_end 1 # the listener restarts: the client reconnects
	start_end 1 "stream,listen=$addr"
	ping_retry 1 2 || fail "ping after the listener restarted"
	grep -q "connected to" $tmp/end2.log || fail "no reconnect logged"
	stop_end 2 # the client restarts: the listener serves the new one
	start_end 2 "stream,connect=$addr,reconnect=100"
	ping_retry 2 1 || fail "ping after the client restarted"
	grep -q "listening again" $tmp/end1.log ||
		fail "listener did not log the peer leaving"
	echo "stream $addr: traffic, reconnect and re-accept ok" ;;
dgram-mcast)
	for n in 1 2 3; do start_end $n "dgram,remote=$g"; done
	ping_retry 1 2 || fail "ping 1 -> 2"
	ping_ok 2 3 || fail "ping 2 -> 3"
	ping_ok 3 1 || fail "ping 3 -> 1"
	for n in 1 2 3; do check_dad $n $((n % 3 + 1)); done
	iperf 1 2
	echo "dgram multicast $g, three members: ok" ;;
dgram-*)
	start_end 1 "dgram,local=$a,remote=$b"
	start_end 2 "dgram,local=$b,remote=$a"
	ping_retry 1 2 || fail "ping 1 -> 2"
	ping_ok 2 1 || fail "ping 2 -> 1"
	check_dad 1 2
	check_dad 2 1
	iperf 1 2
	echo "dgram $a <-> $b: ok" ;;
esac

for n in 1 2 3; do
	eval "p=\${pid$n:-}"
	[ -n "$p" ] || continue
	kill -INT "$p"
	wait "$p"
	rc=$?
	[ $rc = 0 ] || fail "end $n exit status $rc after SIGINT"
done
pids=
grep -h 'forward' $tmp/end1.log | sed 's/^/  end1: /'
! grep -qE 'runtime error|Sanitizer' $logs || fail "sanitizer report"
if [ $mode = dgram-mcast ]; then
	# End 1 sent 20 MB (iperf3) and got only ACKs back: had it heard its
	# own multicast frames, they would have gone back into its tap.
	to_tap=$(sed -n 's/^forward A -> B: frames [0-9]* bytes \([0-9]*\).*/\1/p' $tmp/end1.log)
	from_tap=$(sed -n 's/^forward B -> A: frames [0-9]* bytes \([0-9]*\).*/\1/p' $tmp/end1.log)
	[ -n "$to_tap" ] && [ -n "$from_tap" ] || fail "no counters from end 1"
	[ $((to_tap * 4)) -lt "$from_tap" ] ||
		fail "end 1 received $to_tap bytes for $from_tap sent: own frames echoed back"
	echo "  end1: own multicast frames filtered ($to_tap bytes in, $from_tap out)"
fi
echo PASS
