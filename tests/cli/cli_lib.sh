# SPDX-License-Identifier: BSD-2-Clause
#
# cli_lib.sh - shell code the root tests of tests/cli/ and tests/faults/
# and bench/soak.sh share; sourced (". cli_lib.sh") after setting $tmp,
# the test's scratch directory (fail() prints $tmp/sw.log, the switch's
# output, when there is one).
#
#   skip REASON...          exit 77 with the reason
#   fail REASON...          exit 1 with the reason, the switch's log and
#                           the last lines of every other $tmp/*.log
#   cli_need_taps TOOL...   root, /dev/net/tun and the tools, else skip
#   cli_netns_add NS...     new namespaces with lo up (else skip), all
#                           deleted by cli_netns_del
#   cli_tap_to_ns FROM TAP NS ADDR/LEN
#                           moves a tap the switch made in namespace FROM
#                           to NS and gives it an address
#   cli_wait_sock PATH PID  waits up to 5 s for socket PATH while PID lives
#   cli_wait_link NS DEV up|gone
#                           waits up to 5 s for interface DEV to be in
#                           namespace NS (up) or no longer there (gone)
#   cli_stop PID            SIGINT, SIGKILL after 5 s; returns PID's status
#   cli_cpu_pct PID SECONDS the CPU PID used over SECONDS, % of one core

CLI_NETNS=''

skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	[ -s "$tmp/sw.log" ] && sed 's/^/  switch: /' "$tmp/sw.log"
	for l in "$tmp"/*.log; do
		[ "$l" != "$tmp/sw.log" ] && [ -s "$l" ] &&
			tail -n 15 "$l" | sed "s|^|  $(basename "$l"): |"
	done
	exit 1
}

cli_need_taps() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and taps)"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	for t in ip "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
	done
}

cli_netns_add() {
	for ns in "$@"; do
		ip netns add "$ns" || skip "cannot create network namespaces"
		CLI_NETNS="$CLI_NETNS $ns"
		ip -n "$ns" link set lo up
	done
}

cli_netns_del() {
	for ns in $CLI_NETNS; do ip netns del "$ns" 2>/dev/null; done
	CLI_NETNS=''
}

cli_tap_to_ns() {
	ip -n "$1" link set "$2" netns "$3" || fail "move $2 to $3"
	ip -n "$3" addr add "$4" dev "$2" || fail "address $4 on $2"
	ip -n "$3" link set "$2" up || fail "set $2 up"
}

cli_wait_sock() {
	_i=0
	until [ -S "$1" ]; do
		_i=$((_i + 1))
		[ $_i -gt 50 ] && fail "the switch did not start ($1)"
		kill -0 "$2" 2>/dev/null || fail "the switch exited early"
		sleep 0.1
	done
}

cli_wait_link() {
	_i=0
	while if ip -n "$1" link show "$2" >/dev/null 2>&1; then
		[ "$3" = gone ]; else [ "$3" = up ]; fi; do
		_i=$((_i + 1))
		[ $_i -gt 50 ] && fail "$2 in $1: not $3 after 5 s"
		sleep 0.1
	done
}

cli_stop() {
	kill -INT "$1"
	(sleep 5; kill -KILL "$1" 2>/dev/null) &
	_wd=$!
	wait "$1"
	_rc=$?
	kill $_wd 2>/dev/null
	return $_rc
}

# cli_cpu_pct PID SECONDS: sleeps SECONDS and prints the CPU time PID
# (every thread) used meanwhile, in whole percent of one core, from
# /proc/PID/stat (utime + stime, in clock ticks).
cli_cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
cli_cpu_pct() {
	_c0=$(cli_cpu_ticks "$1") || return 1
	sleep "$2"
	_c1=$(cli_cpu_ticks "$1") || return 1
	echo $(((_c1 - _c0) * 100 / $(getconf CLK_TCK) / $2))
}
