#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# fault_slirp.sh NETBE - slirp's host sockets failing under a running
# "netbe switch" (issue 11).  Ports: up (slirp, hostfwd 127.0.0.1:2323 to
# the guest's port 23, where nothing listens), g1 and g2 (taps).  The
# switch and every host-side server run in namespace H (their 127.0.0.1
# is H's loopback); tap g1 moves to namespace G1 (10.0.2.15, default
# route via slirp's 10.0.2.2), g2 to G2 (10.0.2.16).  Then, in turn:
#   refused  G1 connects 30 times to 10.0.2.2:9 (H's 127.0.0.1:9, nobody):
#            each is refused, none hangs;
#   udp      G1 sends 4 datagrams to 10.0.2.2:9 and 2 DNS queries to
#            10.0.2.3 (H has no resolver): refused or unanswered, none
#            kills or wedges slirp;
#   reset    a server in H accepts and resets (SO_LINGER 0) while G1
#            pushes data at it, 15 times: libslirp's writes then fail
#            with EPIPE/ECONNRESET, which must not kill the process
#            (SIGPIPE) - G1 sees each connection reset;
#   hostfwd  H connects 20 times to the hostfwd port: each ends (the
#            guest refuses), none hangs.
# After each: the switch uses under 10 % of one core over 2 s (from
# /proc/PID/stat), G1 still pings the virtual host 10.0.2.2 and G2 (the
# other ports keep serving).  At the end every port's counters balance
# ("netbe stats --json"), the log has no error line, and SIGINT ends the
# switch with status 0.  libslirp answers these failures to the guest
# itself (RST, ICMP unreachable), as QEMU's user networking does; netbe
# sees no frame lost, so nothing is counted or logged for them.
# Needs root, /dev/net/tun, ip, ping, python3 (77 with the reason).
set -u

bin=${1:-}
tmp=''
here=$(dirname "$0")
. "$here/../cli/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
cli_need_taps ping python3
"$bin" list 2>/dev/null | grep -q '^slirp' || skip "netbe built without slirp"

id=$$
name=fslirp$id
tmp=$(mktemp -d) swpid='' rpid=''
XDG_RUNTIME_DIR=$tmp
export XDG_RUNTIME_DIR
cleanup() {
	[ -n "$swpid" ] && kill -KILL "$swpid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	cli_netns_del
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

H=nbfsh-$id G1=nbfs1-$id G2=nbfs2-$id
cli_netns_add $H $G1 $G2
peer() { python3 "$here/slirp_peer.py" "$@"; }

ip netns exec $H "$bin" switch -v --quiet --name "$name" \
	"slirp,hostfwd=tcp:127.0.0.1:2323-:23,id=up" \
	"tap,ifname=fsa$id,id=g1" "tap,ifname=fsb$id,id=g2" \
	>"$tmp/sw.log" 2>&1 &
swpid=$!
cli_wait_sock "$tmp/netbe/$name.ctl" $swpid
cli_tap_to_ns $H "fsa$id" $G1 10.0.2.15/24
cli_tap_to_ns $H "fsb$id" $G2 10.0.2.16/24
ip -n $G1 route add default via 10.0.2.2 || fail "default route in G1"

serving() { # $1: after what
	kill -0 $swpid 2>/dev/null || fail "$1: the switch died"
	ip netns exec $G1 ping -n -c 1 -W 2 10.0.2.2 >/dev/null ||
		fail "$1: G1 no longer reaches slirp's 10.0.2.2"
	ip netns exec $G1 ping -n -c 1 -W 2 10.0.2.16 >/dev/null ||
		fail "$1: G1 no longer reaches G2 through the switch"
	cpu=$(cli_cpu_pct $swpid 2) || fail "$1: the switch died"
	echo "  after $1: the switch used $cpu% of one core over 2 s;" \
		"ping 10.0.2.2 and G2: ok"
	[ "$cpu" -lt 10 ] || fail "$1: the switch spins ($cpu% cpu)"
}
serving "start"

ip netns exec $G1 python3 "$here/slirp_peer.py" refused 10.0.2.2 9 30 ||
	fail "refused connections"
serving "refused connections"

ip netns exec $G1 python3 "$here/slirp_peer.py" udp 10.0.2.2 9 4 ||
	fail "UDP to a closed port"
ip netns exec $G1 python3 "$here/slirp_peer.py" udp 10.0.2.3 53 2 ||
	fail "DNS with no resolver"
serving "failing UDP and DNS"

ip netns exec $H python3 "$here/slirp_peer.py" resetter 7007 \
	>"$tmp/resetter" 2>&1 &
rpid=$!
i=0
until grep -q ready "$tmp/resetter" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "the resetting server did not start"
	sleep 0.1
done
ip netns exec $G1 python3 "$here/slirp_peer.py" push 10.0.2.2 7007 15 ||
	fail "a remote that resets"
kill $rpid
rpid=
serving "remotes that reset"

ip netns exec $H python3 "$here/slirp_peer.py" ended 127.0.0.1 2323 20 ||
	fail "hostfwd to a closed guest port"
serving "hostfwd to a closed guest port"

"$bin" stats --json "$name" >"$tmp/stats.json" || fail "netbe stats --json"
python3 - "$tmp/stats.json" <<'PY' || fail "the counters do not balance"
import json, sys
bad = 0
for p in json.load(open(sys.argv[1]))["ports"]:
    rd, td = sum(p["rx_drops"].values()), sum(p["tx_drops"].values())
    ok = (p["rx_frames"] == p["rx_forwarded"] + rd and
          p["tx_offered"] == p["tx_frames"] + td + p["queued"])
    bad += not ok
    print("  %s: rx %d = forwarded %d + dropped %d; offered %d = tx %d + "
          "dropped %d + queued %d: %s" % (p["name"], p["rx_frames"],
          p["rx_forwarded"], rd, p["tx_offered"], p["tx_frames"], td,
          p["queued"], "ok" if ok else "UNBALANCED"))
sys.exit(bad != 0)
PY
cli_stop $swpid
rc=$?
swpid=
[ $rc = 0 ] || fail "switch exit status $rc after SIGINT"
if grep -q 'libnetbe error' "$tmp/sw.log"; then
	fail "an error in the switch's log"
fi
echo PASS
