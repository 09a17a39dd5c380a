#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# slirp_tap.sh - a real Linux TCP/IP stack as the slirp guest:
#
#   namespace NS kernel -- tap -- netbe connect -- slirp (libslirp)
#                                                    -- NS's 127.0.0.1
#
#   usage: slirp_tap.sh PATH/TO/netbe
#
# netbe runs inside a private namespace with
# "slirp,open,net=192.0.2.0/24,hostfwd=tcp:127.0.0.1:HP-192.0.2.15:8080"
# (TEST-NET addresses instead of 10.0.2.0/24), so libslirp's "host" is
# NS's loopback and the tap is NS's "guest" interface.  Proved with the
# kernel's own clients and servers:
#   - busybox udhcpc gets 192.0.2.15, router 192.0.2.2, DNS 192.0.2.3;
#   - ping 192.0.2.2 (answered by libslirp);
#   - TCP out: wget of http://192.0.2.2:8000/ reaches busybox httpd on
#     NS's 127.0.0.1:8000; iperf3 to 192.0.2.2 measures throughput;
#   - hostfwd in: wget of 127.0.0.1:HP reaches httpd on 192.0.2.15:8080.
# Needs root (namespace, tap); exits 77 otherwise.
set -u

bin=${1:-}
skip() { echo "SKIP: $*"; exit 77; }
{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
[ "$(id -u)" = 0 ] || skip "needs root (namespace, tap)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip busybox; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed"
done

id=$$
ns=nbs$id tap=nbst$id hp=18080
tmp=$(mktemp -d)
npid='' pids=''
token=netbe-slirp-$id-$(date +%s)
cleanup() {
	for p in $npid $pids; do kill "$p" 2>/dev/null; done
	ip netns del $ns 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
	echo "FAIL: $*"
	[ -s "$tmp/netbe.log" ] && sed 's/^/  netbe: /' "$tmp/netbe.log"
	exit 1
}
# Foreground only: "in_ns ... &" would make $! a subshell, not the program.
in_ns() { ip netns exec $ns "$@"; }

ip netns add $ns || skip "cannot create a network namespace"
ip -n $ns link set lo up

ip netns exec $ns "$bin" connect -v \
	"slirp,open,net=192.0.2.0/24,hostfwd=tcp:127.0.0.1:$hp-192.0.2.15:8080" \
	"tap,ifname=$tap" >"$tmp/netbe.log" 2>&1 &
npid=$!
i=0
until ip -n $ns link show $tap >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "the tap did not appear"
	kill -0 $npid 2>/dev/null || fail "netbe exited early"
	sleep 0.1
done
ip -n $ns link set $tap up

# A lease script that touches nothing outside $tmp but the tap.
cat >"$tmp/lease.sh" <<EOF
#!/bin/sh
[ "\$1" = bound ] || exit 0
ip addr add "\$ip/\${mask:-24}" dev "\$interface"
echo "ip=\$ip router=\$router dns=\$dns" >"$tmp/lease"
EOF
chmod +x "$tmp/lease.sh"
in_ns busybox udhcpc -i $tap -n -q -t 5 -T 1 -s "$tmp/lease.sh" \
	>"$tmp/udhcpc.log" 2>&1 || fail "no DHCP lease: $(cat "$tmp/udhcpc.log")"
lease=$(cat "$tmp/lease")
[ "$lease" = "ip=192.0.2.15 router=192.0.2.2 dns=192.0.2.3" ] ||
	fail "lease: $lease"
echo "ok: DHCP lease $lease"

in_ns ping -c 3 -W 2 192.0.2.2 >"$tmp/ping.txt" 2>&1 ||
	fail "ping 192.0.2.2: $(cat "$tmp/ping.txt")"
echo "ok: ping 192.0.2.2: $(grep -o 'rtt.*' "$tmp/ping.txt")"

mkdir -p "$tmp/www"
echo "$token" >"$tmp/www/index.html"
ip netns exec $ns busybox httpd -f -p 127.0.0.1:8000 -h "$tmp/www" &
pids="$pids $!"
ip netns exec $ns busybox httpd -f -p 192.0.2.15:8080 -h "$tmp/www" &
pids="$pids $!"
sleep 0.3

got=$(in_ns timeout 10 busybox wget -q -O - http://192.0.2.2:8000/ 2>&1)
[ "$got" = "$token" ] || fail "outbound TCP: got '$got'"
echo "ok: outbound TCP: 192.0.2.2:8000 reached NS's 127.0.0.1:8000"

got=$(in_ns timeout 10 busybox wget -q -O - http://127.0.0.1:$hp/ 2>&1)
[ "$got" = "$token" ] || fail "hostfwd: got '$got'"
echo "ok: hostfwd: 127.0.0.1:$hp reached 192.0.2.15:8080"

if command -v iperf3 >/dev/null 2>&1; then
	ip netns exec $ns iperf3 -s -1 -B 127.0.0.1 >/dev/null 2>&1 &
	pids="$pids $!"
	sleep 0.3
	in_ns iperf3 -c 192.0.2.2 -t 3 -f m >"$tmp/iperf.txt" 2>&1 ||
		fail "iperf3: $(tail -3 "$tmp/iperf.txt")"
	echo "ok: iperf3 through slirp: $(grep receiver "$tmp/iperf.txt" |
		grep -o '[0-9.]* Mbits/sec')"
fi

kill -INT $npid
wait $npid
npid=
sed 's/^/  netbe: /' "$tmp/netbe.log"
echo PASS
