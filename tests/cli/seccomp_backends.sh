#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# seccomp_backends.sh NETBE GROUP - every backend forwards real kernel
# traffic through "netbe connect" / "netbe switch" with the seccomp
# allow-list on (the default), and stops cleanly under it.
#
# For each backend, namespace NA (192.0.2.1, or slirp's 10.0.2.15) pings
# namespace NB (192.0.2.2) through netbe processes running in namespace
# N0 whose ports are that backend; each process must show "Seccomp: 2" in
# /proc/PID/status while it forwards, exit 0 on SIGINT, print no seccomp
# line, and count frames on the backend under test.
#   GROUP devices: tap (connect tap tap), packet and xdp (connect on two
#     veths; packet also after an MTU raise: its rings rebuilt), pipe (one switch: tap - vlan 10 - pipe:p == pipe:p - vlan
#     20 - tap), slirp (connect tap slirp: ping the gateway, TCP out
#     through the NAT to a listener on N0's loopback - a new host socket
#     made in the forwarding phase - and a DNS query to the forwarder);
#   GROUP sockets: stream (unix listen/connect), dgram (two unix
#     datagram sockets), vde (two ports on a vde_switch), vale (a named
#     switch and another process's vale port); and a filtered named switch
#     refuses "port add" of a tap, a packet and an xdp port with an error
#     naming the filter, and keeps forwarding.
# Needs root, ip, ping, iperf3 and busybox (slirp), vde_switch (vde); exits 77 with
# the reason otherwise.  vde is left out of a sanitizer build: libvdeplug
# dlopen()s its plugins with RTLD_DEEPBIND, which ASan refuses (see
# tests/vde/vde_switch_test.c).  All namespaces are ours and deleted on
# exit.
set -u

bin=${1:-}
group=${2:-}
tmp=''
. "$(dirname "$0")/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
case $group in devices | sockets) ;; *) skip "GROUP is devices or sockets" ;; esac
cli_need_taps ping
[ "$group" = devices ] && { command -v iperf3 >/dev/null || skip "iperf3 not installed"; }
[ "$group" = devices ] && { command -v busybox >/dev/null || skip "busybox not installed"; }
[ "$group" = sockets ] && { command -v vde_switch >/dev/null || skip "vde_switch not installed (vde2)"; }
grep -q '^Seccomp:' /proc/self/status || skip "the kernel has no seccomp"
ulimit -c 0

id=$$
tmp=$(mktemp -d) pids='' vdepid='' ipid=''
ns0=nbsc0-$id na=nbsca-$id nb=nbscb-$id
cleanup() {
	for p in $pids $vdepid $ipid; do kill -KILL "$p" 2>/dev/null; done
	cli_netns_del
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
XDG_RUNTIME_DIR=$tmp
export XDG_RUNTIME_DIR
cli_netns_add $ns0 $na $nb
asan=
grep -q __asan_init "$bin" && asan=1

# run NAME ARGS... : netbe ARGS in N0, in the background; log $tmp/NAME.log
run() {
	n=$1
	shift
	ip netns exec $ns0 "$bin" "$@" >"$tmp/$n.log" 2>&1 &
	pids="$pids $!"
	eval "pid_$n=$!"
}

# wait_for COMMAND : up to 5 s for COMMAND (a shell string) to succeed.
wait_for() {
	_i=0
	until eval "$1" >/dev/null 2>&1; do
		[ $_i -ge 50 ] && return 1
		sleep 0.1
		_i=$((_i + 1))
	done
}

# tap_to TAP NS ADDR/LEN : waits for TAP in N0, moves it to NS.
tap_to() {
	wait_for "ip -n $ns0 link show $1" || fail "$1 did not appear in $ns0"
	cli_tap_to_ns $ns0 "$1" "$2" "$3"
}

# veths : vA (NA, 192.0.2.1) - pA (N0), vB (NB, 192.0.2.2) - pB (N0).
veths() {
	for s in A B; do
		ns=$na addr=192.0.2.1/24
		[ $s = B ] && ns=$nb addr=192.0.2.2/24
		ip -n $ns0 link add p$s type veth peer name v$s netns $ns ||
			fail "veth p$s"
		ip -n $ns addr add $addr dev v$s
		ip -n $ns link set v$s up
		ip -n $ns0 link set p$s up
	done
}

# filtered NAME : process NAME is alive and seccomp-filtered.
filtered() {
	eval "_p=\$pid_$1"
	[ "$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$_p/status 2>/dev/null)" = 2 ] ||
		{ cat "$tmp/$1.log"; fail "$1: not running under the seccomp filter"; }
}

# ping_ab WHAT [DEST] : NA pings NB (or DEST) twice.
ping_ab() {
	ip netns exec $na ping -c 2 -i 0.2 -W 2 "${2:-192.0.2.2}" >/dev/null ||
		{ for f in "$tmp"/*.log; do sed "s|^|  $(basename $f): |" $f; done
		  fail "$1: ping through netbe under seccomp"; }
}

# stop_all WHAT PATTERN : SIGINT to every process: status 0, no seccomp
# line, and PATTERN (frames on the backend under test) in some log.
stop_all() {
	for p in $pids; do
		cli_stop $p || { cat "$tmp"/*.log; fail "$1: exit status $? after SIGINT"; }
	done
	pids=''
	! grep -h seccomp "$tmp"/*.log || fail "$1: a seccomp line in the log"
	grep -Eq "$2" "$tmp"/*.log || { cat "$tmp"/*.log; fail "$1: no frames counted ($2)"; }
	rm -f "$tmp"/*.log
	echo "ok: $1 forwards under seccomp"
}

clean_links() {
	for l in "$@"; do ip -n $ns0 link del $l 2>/dev/null; done
	for ns in $na $nb; do
		for l in $(ip -n $ns -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'); do
			[ "$l" = lo ] || ip -n $ns link del "$l" 2>/dev/null
		done
	done
}

# ---- devices ------------------------------------------------------------------

t_tap() {
	run c connect tap,ifname=sta$id tap,ifname=stb$id
	tap_to sta$id $na 192.0.2.1/24
	tap_to stb$id $nb 192.0.2.2/24
	filtered c
	ping_ab tap
	stop_all tap '^A \(tap,ifname=sta[0-9]+\) rx: frames [1-9]'
	clean_links
}

t_packet() {
	veths
	run c connect -v packet,ifname=pA,promiscphys=on packet,ifname=pB,promiscphys=on
	wait_for "grep -q '^connected' $tmp/c.log" || { cat $tmp/c.log; fail "packet: connect"; }
	filtered c
	ping_ab packet
	# An MTU raised under the running process: the receive rings are
	# rebuilt (setsockopt PACKET_RX_RING, mmap) under the filter.
	for l in pA pB; do ip -n $ns0 link set $l mtu 4000; done
	ip -n $na link set vA mtu 4000
	ip -n $nb link set vB mtu 4000
	ip netns exec $na ping -c 4 -i 0.2 -W 2 -s 3500 192.0.2.2 >/dev/null ||
		{ cat $tmp/c.log; fail "packet: 3500-byte pings after the MTU raise"; }
	grep -q 'receive ring rebuilt for MTU 4000' $tmp/c.log ||
		{ cat $tmp/c.log; fail "packet: no ring rebuilt after the MTU raise"; }
	filtered c
	stop_all packet '^A \(packet,ifname=pA,promiscphys=on\) rx: frames [1-9]'
	clean_links pA pB
}

t_xdp() {
	veths
	run c connect xdp,ifname=pA,mode=skb xdp,ifname=pB,mode=skb
	wait_for "grep -q '^connected' $tmp/c.log" || { cat $tmp/c.log; fail "xdp: connect"; }
	filtered c
	ping_ab xdp
	stop_all xdp '^A \(xdp,ifname=pA,mode=skb\) rx: frames [1-9]'
	clean_links pA pB
}

t_pipe() {
	run s switch --quiet tap,ifname=sta$id,vlan=10,id=ta \
		pipe:p$id,vlan=10,id=p1 pipe:p$id,vlan=20,id=p2 \
		tap,ifname=stb$id,vlan=20,id=tb
	tap_to sta$id $na 192.0.2.1/24
	tap_to stb$id $nb 192.0.2.2/24
	filtered s
	ping_ab pipe
	stop_all pipe '^p1 \(pipe:p[0-9]+\) tx: frames [1-9]'
	clean_links
}

t_slirp() {
	run c connect tap,ifname=sta$id slirp
	tap_to sta$id $na 10.0.2.15/24
	ip -n $na route add default via 10.0.2.2
	filtered c
	ping_ab slirp 10.0.2.2
	ip netns exec $ns0 iperf3 -s -1 -B 127.0.0.1 -p 5299 >/dev/null 2>&1 &
	ipid=$!
	_ok=
	for _i in 1 2 3 4 5; do
		if timeout 10 ip netns exec $na iperf3 -c 10.0.2.2 -p 5299 -t 1 \
			>$tmp/iperf.out 2>&1; then
			_ok=1
			break
		fi
		sleep 0.2
	done
	[ -n "$_ok" ] || { cat $tmp/iperf.out $tmp/c.log; filtered c
		fail "slirp: TCP through the NAT"; }
	wait $ipid 2>/dev/null
	ipid=
	# A DNS query to slirp's forwarder: libslirp reads /etc/resolv.conf
	# (openat read-only) in the forwarding phase; the answer does not
	# matter (N0 has no route out), surviving it does.
	ip netns exec $na busybox nslookup -timeout=1 -retry=1 example.com \
		10.0.2.3 >/dev/null 2>&1
	filtered c
	echo "slirp: TCP out through the NAT under seccomp: $(grep receiver $tmp/iperf.out | sed 's/  */ /g')"
	rm -f $tmp/iperf.out
	stop_all slirp '^B \(slirp\) rx: frames [1-9]'
	clean_links
}

# ---- sockets -------------------------------------------------------------------

t_stream() {
	run l connect tap,ifname=sta$id stream,listen=unix:$tmp/s.sock
	wait_for "[ -S $tmp/s.sock ]" || fail "stream: no listener"
	run c connect stream,connect=unix:$tmp/s.sock tap,ifname=stb$id
	tap_to sta$id $na 192.0.2.1/24
	tap_to stb$id $nb 192.0.2.2/24
	filtered l
	filtered c
	ping_ab stream
	stop_all stream '^A \(stream,connect=unix:.*\) rx: frames [1-9]'
	clean_links
}

t_dgram() {
	run a connect tap,ifname=sta$id dgram,local=unix:$tmp/a.sock,remote=unix:$tmp/b.sock
	run b connect dgram,local=unix:$tmp/b.sock,remote=unix:$tmp/a.sock tap,ifname=stb$id
	tap_to sta$id $na 192.0.2.1/24
	tap_to stb$id $nb 192.0.2.2/24
	filtered a
	filtered b
	ping_ab dgram
	stop_all dgram '^B \(dgram,local=unix:.*\) rx: frames [1-9]'
	clean_links
}

t_vde() {
	if [ -n "$asan" ]; then
		echo "vde: left out of a sanitizer build (libvdeplug's RTLD_DEEPBIND)"
		return
	fi
	ip netns exec $ns0 vde_switch -s $tmp/vde -n 8 -d -p $tmp/vde.pid \
		>/dev/null 2>&1 || fail "vde_switch"
	wait_for "[ -s $tmp/vde.pid ]" || fail "vde_switch did not start"
	vdepid=$(cat $tmp/vde.pid)
	run a connect tap,ifname=sta$id vde,sock=$tmp/vde
	run b connect vde,sock=$tmp/vde tap,ifname=stb$id
	tap_to sta$id $na 192.0.2.1/24
	tap_to stb$id $nb 192.0.2.2/24
	filtered a
	filtered b
	ping_ab vde
	stop_all vde '^B \(vde,sock=.*\) rx: frames [1-9]'
	kill $vdepid
	vdepid=
	clean_links
}

t_vale() {
	run s switch --name sc$id --quiet tap,ifname=sta$id,id=ta
	wait_for "[ -S $tmp/netbe/sc$id.ctl ]" || fail "vale: the named switch"
	run c connect vale,switch=sc$id,port=vm tap,ifname=stb$id
	tap_to sta$id $na 192.0.2.1/24
	tap_to stb$id $nb 192.0.2.2/24
	filtered s
	filtered c
	ping_ab vale
	refused tap,ifname=stx$id packet,ifname=lo xdp,ifname=lo
	ping_ab "vale after the refusals"
	stop_all vale '^A \(vale,switch=sc[0-9]+,port=vm\) rx: frames [1-9]'
	clean_links
}

# refused SPEC... : port add of each SPEC to switch sc$id fails naming
# the filter, and the switch lives on, filtered.
refused() {
	for spec in "$@"; do
		out=$("$bin" port add sc$id "$spec" 2>&1) &&
			fail "port add $spec under seccomp succeeded: $out"
		echo "$out" | grep -q 'seccomp filter' ||
			fail "port add $spec: the error does not name the filter: $out"
		filtered s
		echo "ok: port add $spec refused: ${out#*: }" | cut -c1-150
	done
}

if [ "$group" = devices ]; then
	t_tap
	t_packet
	t_xdp
	t_pipe
	t_slirp
else
	t_stream
	t_dgram
	t_vde
	t_vale
fi
echo PASS
