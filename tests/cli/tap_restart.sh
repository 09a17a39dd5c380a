#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# tap_restart.sh - netbe killed (SIGKILL) and started again at once on the
# same tap name, as a supervisor does, ten times.  The killed process's
# tap goes only when the kernel has torn down its io_uring rings, after
# the process (tens of ms); the new netbe must wait for the name (tap.c,
# tap_setiff) and not fail with EBUSY.  Then a second netbe on the live
# tap must still be refused, naming the cause.
#
#   usage: tap_restart.sh PATH/TO/netbe
#
# Needs root (namespace, tap); the namespace is ours.
set -u

bin=${1:-}
tmp=$(mktemp -d)
. "$(dirname "$0")/cli_lib.sh"
{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
cli_need_taps ip
ns=nbr$$ tap=nbrt$$
npid=''
cleanup() {
	[ -n "$npid" ] && kill "$npid" 2>/dev/null
	wait 2>/dev/null
	cli_netns_del
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
cli_netns_add $ns

# start N: netbe connect on the tap (uring on, the default) in NS; waits
# until it says it is connected or has given up.
start() {
	ip netns exec $ns "$bin" connect "tap,ifname=$tap" "pipe:nbr$$-$1" \
		>"$tmp/n$1.log" 2>&1 &
	npid=$!
	i=0
	until grep -q "connected\|cannot" "$tmp/n$1.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "netbe $1 said nothing in 10 s"
		kill -0 $npid 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^connected" "$tmp/n$1.log" || fail "netbe $1 did not open the tap"
	ip -n $ns link show $tap >/dev/null 2>&1 || fail "no tap after netbe $1"
}

start 0
for n in $(seq 10); do
	old=$npid
	kill -9 $old # and start the next at once, as a supervisor would
	start $n
	wait $old 2>/dev/null
	echo "ok: netbe $n opened $tap right after netbe $((n - 1)) was killed"
done
ip netns exec $ns "$bin" connect "tap,ifname=$tap" "pipe:nbr$$-x" \
	>"$tmp/dup.log" 2>&1 && fail "a second netbe on the live tap was not refused"
grep -q "another process holds it" "$tmp/dup.log" ||
	fail "the refusal does not say why: $(cat "$tmp/dup.log")"
echo "ok: a second netbe on the live tap is refused: $(cat "$tmp/dup.log")"
kill $npid
wait $npid 2>/dev/null
npid=''
echo PASS
