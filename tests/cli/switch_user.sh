#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# switch_user.sh NETBE - "netbe switch --user nobody" and "netbe connect
# --user nobody": the taps open as root, then the process runs as nobody
# (uid and gid 65534 here: whatever id(1) says) with no capability
# (CapInh/CapPrm/CapEff/CapAmb 0), no supplementary group and
# no_new_privs, and frames still cross: the namespaces ping each other.
# The switch's control directory and socket are nobody's, so "netbe
# stats" run as nobody (setpriv) answers; "netbe port add" of a tap as
# nobody fails (no CAP_NET_ADMIN left).  "--user nosuchuser" and
# "--group nosuchgroup" fail before any port opens, naming the culprit.
#
# Needs root, /dev/net/tun, ip, ping, setpriv and a user "nobody";
# exits 77 with the reason otherwise.  Namespaces are ours and deleted.
set -u

bin=${1:-}
tmp=''
. "$(dirname "$0")/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
cli_need_taps ping setpriv
nuid=$(id -u nobody 2>/dev/null) || skip "no user nobody"
ngid=$(id -g nobody)

id=$$
name=priv$id
tmp=$(mktemp -d) swpid=''
chmod 0711 "$tmp" # nobody reaches $tmp/xdg, its runtime directory
mkdir "$tmp/xdg" && chown "$nuid:$ngid" "$tmp/xdg" && chmod 0700 "$tmp/xdg"
XDG_RUNTIME_DIR=$tmp/xdg # the control socket: $tmp/xdg/netbe/$name.ctl
export XDG_RUNTIME_DIR
ctl=$tmp/xdg/netbe/$name.ctl
cleanup() {
	[ -n "$swpid" ] && kill -KILL "$swpid" 2>/dev/null
	cli_netns_del
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ns0=nbpv0-$id ns1=nbpv1-$id ns2=nbpv2-$id
cli_netns_add $ns0 $ns1 $ns2
as_nobody() { setpriv --reuid="$nuid" --regid="$ngid" --clear-groups "$@"; }

# status_is PID FIELD VALUE: the /proc/PID/status line "FIELD:<tabs>VALUE".
status_is() {
	got=$(sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" |
		tr -s '\t ' '  ' | sed 's/ *$//')
	[ "$got" = "$3" ] || fail "/proc/$1/status $2: '$got', not '$3'"
}

# check_dropped PID WHAT: runs as nobody with nothing left.
check_dropped() {
	status_is "$1" Uid "$nuid $nuid $nuid $nuid"
	status_is "$1" Gid "$ngid $ngid $ngid $ngid"
	status_is "$1" Groups ""
	for set in CapInh CapPrm CapEff CapAmb; do
		status_is "$1" $set 0000000000000000
	done
	status_is "$1" NoNewPrivs 1
	echo "$2: uid/gid $nuid/$ngid, no groups, no capability, no_new_privs" \
		"(CapBnd $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/$1/status))"
}

# wait_uid PID: until PID runs as nobody (it drops after opening).
wait_uid() {
	i=0
	until grep -Eq "^Uid:[[:space:]]+$nuid[[:space:]]" "/proc/$1/status" \
		2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 50 ] && fail "pid $1 did not drop to uid $nuid"
		kill -0 "$1" 2>/dev/null || fail "pid $1 exited early"
		sleep 0.1
	done
}

ping_both() {
	ip netns exec $ns1 ping -c 2 -i 0.2 -W 2 192.0.2.2 >/dev/null ||
		fail "$1: ping 192.0.2.1 -> 192.0.2.2"
	ip netns exec $ns2 ping -c 2 -i 0.2 -W 2 192.0.2.1 >/dev/null ||
		fail "$1: ping 192.0.2.2 -> 192.0.2.1"
	echo "$1: ping both ways: ok"
}

# ---- refused before any port opens -------------------------------------------

ip netns exec $ns0 "$bin" switch --user nosuchuser --name "$name" --quiet \
	"tap,ifname=nbpx$id" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] || fail "--user nosuchuser: status $rc, not 1"
grep -q "nosuchuser" "$tmp/out" || fail "--user nosuchuser: no name in: $(cat "$tmp/out")"
ip -n $ns0 link show "nbpx$id" >/dev/null 2>&1 &&
	fail "--user nosuchuser: the tap was opened"
[ -e "$ctl" ] && fail "--user nosuchuser: a control socket was made"
echo "switch --user nosuchuser: refused: $(head -n 1 "$tmp/out")"

ip netns exec $ns0 "$bin" connect --user nobody --group nosuchgroup \
	"tap,ifname=nbpx$id" "tap,ifname=nbpy$id" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] || fail "--group nosuchgroup: status $rc, not 1"
grep -q "nosuchgroup" "$tmp/out" || fail "--group nosuchgroup: no name in: $(cat "$tmp/out")"
echo "connect --group nosuchgroup: refused: $(head -n 1 "$tmp/out")"

# ---- netbe switch --user nobody -------------------------------------------------

ip netns exec $ns0 "$bin" switch --user nobody --name "$name" --quiet \
	"tap,ifname=nbp1$id,id=t1" "tap,ifname=nbp2$id,id=t2" \
	>"$tmp/sw.log" 2>&1 &
swpid=$! # ip netns exec execs netbe: same pid
cli_wait_sock "$ctl" $swpid
check_dropped $swpid "switch"
for f in "$tmp/xdg/netbe" "$ctl"; do
	[ "$(stat -c %u "$f")" = "$nuid" ] || fail "$f is not uid $nuid's"
done

cli_tap_to_ns $ns0 "nbp1$id" $ns1 192.0.2.1/24
cli_tap_to_ns $ns0 "nbp2$id" $ns2 192.0.2.2/24
ping_both "switch"

as_nobody "$bin" stats "$name" >"$tmp/stats" 2>&1 ||
	{ cat "$tmp/stats"; fail "netbe stats as nobody"; }
grep -q "t1" "$tmp/stats" || fail "netbe stats as nobody: no port t1"
echo "netbe stats $name as nobody: ok"
"$bin" stats "$name" >/dev/null || fail "netbe stats as root"
as_nobody "$bin" port add "$name" "tap,ifname=nbp3$id,id=t3" \
	>"$tmp/out" 2>&1 && fail "a tap added as nobody opened"
grep -qi "not permitted" "$tmp/out" ||
	fail "port add of a tap: not EPERM: $(cat "$tmp/out")"
echo "port add of a tap after the drop: refused: $(cat "$tmp/out")"
as_nobody "$bin" port add "$name" \
	"stream,listen=unix:$tmp/xdg/s.sock,id=s1" >/dev/null ||
	fail "port add of a stream listener as nobody"
echo "port add of a stream port after the drop: ok"

cli_stop $swpid
rc=$?
swpid=
[ $rc = 0 ] || fail "switch exit status $rc after SIGINT"
grep -Eq '^t2 \(tap,ifname=nbp2[0-9]+\) tx: frames [1-9]' "$tmp/sw.log" ||
	fail "no counters for t2 printed"
[ -e "$ctl" ] && fail "the control socket was left behind"
echo "switch: SIGINT, status 0, counters printed, socket removed"

# ---- netbe connect --user nobody ---------------------------------------------------

ip netns exec $ns0 "$bin" connect --user nobody --quiet \
	"tap,ifname=nbp1$id" "tap,ifname=nbp2$id" >"$tmp/sw.log" 2>&1 &
swpid=$!
wait_uid $swpid
check_dropped $swpid "connect"
cli_tap_to_ns $ns0 "nbp1$id" $ns1 192.0.2.1/24
cli_tap_to_ns $ns0 "nbp2$id" $ns2 192.0.2.2/24
ping_both "connect"
cli_stop $swpid
rc=$?
swpid=
[ $rc = 0 ] || fail "connect exit status $rc after SIGINT"
echo PASS
