#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# switch_vlan.sh NETBE - VLANs through "netbe switch" with real kernel
# interfaces.  This kernel has no 802.1Q module, so tags are sent with a
# raw AF_PACKET socket and checked with tshark:
#
#   ns1: tap t1 (access, VLAN 10) 192.0.2.1    ns2: tap t2 (access, VLAN 20)
#   ns3: tap t3 (trunk, VLANs 10 and 20, no address: raw sockets only)
#
# - t1 cannot reach t2 (ARP from VLAN 10 never reaches VLAN 20);
# - t1's ARP broadcast leaves the trunk tagged with VLAN 10 (tshark);
# - a frame sent tagged with VLAN 20 on the trunk reaches t2 untagged
#   (tshark);
# - an untagged frame on the trunk is dropped and counted ("vlan").
# Needs root, /dev/net/tun, ip, ping, tshark and python3; exits 77 with
# the reason otherwise.  All namespaces are ours and deleted on exit.
set -u

bin=${1:-}
skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	[ -s "$tmp/sw.log" ] && sed 's/^/  switch: /' "$tmp/sw.log"
	exit 1
}

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and taps)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip ping tshark python3; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed"
done

id=$$
name=swvlan$id
tmp=$(mktemp -d) swpid='' cap=''
XDG_RUNTIME_DIR=$tmp
export XDG_RUNTIME_DIR
cleanup() {
	[ -n "$swpid" ] && kill -KILL "$swpid" 2>/dev/null
	[ -n "$cap" ] && kill "$cap" 2>/dev/null
	for n in 0 1 2 3; do ip netns del "nbvl$n-$id" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for n in 0 1 2 3; do
	ip netns add "nbvl$n-$id" || skip "cannot create network namespaces"
	ip -n "nbvl$n-$id" link set lo up
done
ns0=nbvl0-$id ns1=nbvl1-$id ns2=nbvl2-$id ns3=nbvl3-$id

ip netns exec $ns0 "$bin" switch --name "$name" --quiet \
	"tap,ifname=nbv1$id,id=t1,vlan=10" "tap,ifname=nbv2$id,id=t2,vlan=20" \
	"tap,ifname=nbv3$id,id=t3,trunk=on,vlans=10;20" >"$tmp/sw.log" 2>&1 &
swpid=$!
i=0
until [ -S "$tmp/netbe/$name.ctl" ]; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "the switch did not start"
	kill -0 $swpid 2>/dev/null || fail "the switch exited early"
	sleep 0.1
done
for n in 1 2 3; do
	ip -n $ns0 link set "nbv$n$id" netns "nbvl$n-$id" || fail "move tap $n"
	ip -n "nbvl$n-$id" link set "nbv$n$id" up
done
ip -n $ns1 addr add 192.0.2.1/24 dev "nbv1$id"
ip -n $ns2 addr add 192.0.2.2/24 dev "nbv2$id"

# capture NS IF FILE: tshark in the background until stop_capture.
capture() {
	ip netns exec "$1" tshark -q -i "$2" -w "$3" >/dev/null 2>&1 &
	cap=$!
	sleep 2 # tshark takes a while to open the interface
}
stop_capture() {
	sleep 0.5
	kill -INT "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null
	cap=''
}
fields() { tshark -r "$1" -Y "$2" -T fields -e "$3" 2>/dev/null; }

# 1. VLAN 10 cannot reach VLAN 20; its broadcasts leave the trunk tagged.
capture $ns3 "nbv3$id" "$tmp/trunk.pcap"
ip netns exec $ns1 ping -c 2 -i 0.3 -W 1 192.0.2.2 >/dev/null 2>&1 &&
	fail "VLAN 10 reached VLAN 20"
stop_capture
vids=$(fields "$tmp/trunk.pcap" "arp.src.proto_ipv4 == 192.0.2.1" vlan.id |
	sort -u)
[ "$vids" = 10 ] || fail "t1's ARP on the trunk: VLAN ids '$vids', want 10"
echo "access VLAN 10 -> trunk: ARP tagged 10; VLAN 20 unreachable: ok"

# send NS IF VID|none: one frame with ethertype 0x88b5 to the broadcast
# address, 802.1Q-tagged with VID unless 'none'.
send() {
	ip netns exec "$1" python3 - "$2" "$3" <<'PY'
import socket, struct, sys
ifname, vid = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
f = b'\xff' * 6 + b'\x02\x00\x00\x00\x33\x33'
if vid != 'none':
    f += struct.pack('>HH', 0x8100, int(vid))
f += struct.pack('>H', 0x88b5) + b'netbe-vlan-test'.ljust(46, b'.')
s.send(f)
PY
}

# 2. Tagged 20 on the trunk: t2 gets it untagged, t1 not at all.
capture $ns2 "nbv2$id" "$tmp/t2.pcap"
send $ns3 "nbv3$id" 20 || fail "raw send on the trunk"
stop_capture
n=$(fields "$tmp/t2.pcap" "eth.type == 0x88b5 && !vlan" frame.number |
	wc -l)
[ "$n" = 1 ] || fail "t2 got $n untagged test frames, want 1"
echo "trunk VLAN 20 -> access t2: untagged: ok"

# 3. Untagged on the trunk: dropped, counted.
send $ns3 "nbv3$id" none || fail "raw send on the trunk"
sleep 0.3
"$bin" stats "$name" --json >"$tmp/st.json" || fail "netbe stats"
python3 - "$tmp/st.json" <<'PY' || fail "counters: $(cat "$tmp/st.json")"
import json, sys
st = json.load(open(sys.argv[1]))
ports = {p["name"]: p for p in st["ports"]}
assert ports["t3"]["rx_drops"].get("vlan", 0) >= 1, "no vlan drop on t3"
for p in ports.values():
    assert p["rx_frames"] == p["rx_forwarded"] + sum(p["rx_drops"].values())
PY
echo "untagged on the trunk: dropped and counted: ok"

kill -INT $swpid
wait $swpid || fail "switch exit status $?"
swpid=''
echo PASS
