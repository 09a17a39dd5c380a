#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# seccomp_test.sh NETBE - the seccomp allow-list of "netbe switch" and
# "netbe connect" (tools/netbe/seccomp.c) is live, by default, in the
# forwarding phase, and what it refuses is refused the documented way:
#   - both commands run filtered by default (/proc/PID/status: Seccomp 2,
#     one filter) and unfiltered with --no-seccomp (Seccomp 0);
#   - NETBE_SECCOMP_SELFTEST=1 makes the running loop call execve: the
#     process dies of SIGSYS (status 159) with "netbe: seccomp: syscall N
#     (execve) not allowed, stopping" - for connect, and for a named
#     switch after it claimed its control socket; NETBE_SECCOMP_SELFTEST=
#     uring makes it try io_uring_setup, which must fail with EPERM (the
#     taps' rings are made before the filter, restricted);
#   - a running filtered switch still adds and removes a stream listener
#     through its control socket, refuses a port that opens a file (a
#     capture) with an error naming the filter and keeps running, and
#     removes its sockets when SIGTERM stops it (exit 0).
# Needs no root and no network; skips (77) on a kernel without seccomp
# filters.
set -u

NETBE=${1:?usage: seccomp_test.sh PATH_TO_NETBE}
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netbe-seccomp.XXXXXX") || exit 1
bg=''
trap 'for p in $bg; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
XDG_RUNTIME_DIR=$tmp/xdg
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR"
ulimit -c 0 # the self-test dies of SIGSYS: no core files
grep -q '^Seccomp:' /proc/self/status ||
	{ echo "SKIP: the kernel has no seccomp (no Seccomp: in /proc/self/status)"; exit 77; }

ok() { pass=$((pass + 1)); echo "ok   - $1"; }
bad() {
	fail=$((fail + 1))
	echo "FAIL - $1"
	for f in "$tmp"/*.err; do
		[ -s "$f" ] && sed "s#^#    $(basename "$f"): #" "$f" | head -n 10
	done
}
# check DESCRIPTION COMMAND... : COMMAND (one shell string) must succeed.
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# start NAME ARGS... : netbe ARGS in the background, output in $tmp/NAME.*
start() {
	n=$1
	shift
	"$NETBE" "$@" >"$tmp/$n.out" 2>"$tmp/$n.err" &
	pid=$!
	bg="$bg $pid"
}

# stop PID SIGNAL : signals PID, waits up to 5 s; its status in $rc.
stop() {
	kill "-$2" "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$1" 2>/dev/null && kill -KILL "$1"
	wait "$1"
	rc=$?
}

# wait_for COMMAND : up to 5 s for COMMAND (a shell string) to succeed.
wait_for() {
	i=0
	until eval "$1"; do
		[ $i -ge 50 ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# seccomp_mode PID : the Seccomp: line of PID's status (0 off, 2 filter).
seccomp_mode() { sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$1/status"; }
filters() { sed -n 's/^Seccomp_filters:[[:space:]]*//p' "/proc/$1/status"; }
started() { grep -q "$2" "$tmp/$1.err"; }

# ---- help ---------------------------------------------------------------------

for sub in switch connect; do
	"$NETBE" $sub --help >"$tmp/help.out" 2>&1
	check "$sub --help names --seccomp (the default) and --no-seccomp" \
		"grep -q -- '--seccomp .*(the default)' '$tmp/help.out' &&
		 grep -q -- '--no-seccomp' '$tmp/help.out'"
done

# ---- on by default, off with --no-seccomp ---------------------------------------

start c1 connect pipe:sa pipe:sb
wait_for "started c1 '^connected'"
check "connect is filtered by default (Seccomp 2, one filter)" \
	"[ \"\$(seccomp_mode $pid)\" = 2 ] && [ \"\$(filters $pid)\" = 1 ]"
stop $pid INT
check "filtered connect stops on SIGINT with status 0 and its counters" \
	"[ $rc = 0 ] && grep -q '^forward A -> B: frames 0' '$tmp/c1.out'"

start c2 connect --no-seccomp pipe:sa pipe:sb
wait_for "started c2 '^connected'"
check "connect --no-seccomp runs unfiltered (Seccomp 0)" \
	"[ \"\$(seccomp_mode $pid)\" = 0 ]"
stop $pid INT

start c3 connect --no-seccomp --seccomp pipe:sa pipe:sb
wait_for "started c3 '^connected'"
check "connect --seccomp after --no-seccomp: filtered (the last wins)" \
	"[ \"\$(seccomp_mode $pid)\" = 2 ]"
stop $pid INT

# ---- the kill path: a forbidden call from the running loop ------------------------

NETBE_SECCOMP_SELFTEST=1 "$NETBE" connect pipe:sa pipe:sb \
	>"$tmp/st.out" 2>"$tmp/st.err"
rc=$?
check "self-test: connect dies of SIGSYS (159) naming execve" \
	"[ $rc = 159 ] && grep -Eq '^netbe: seccomp: syscall [0-9]+ \(execve\) not allowed, stopping$' '$tmp/st.err'"

name=sctest$$
NETBE_SECCOMP_SELFTEST=1 "$NETBE" switch --name "$name" --quiet pipe:q1 \
	>"$tmp/st2.out" 2>"$tmp/st2.err"
rc=$?
check "self-test: a named switch dies of SIGSYS (159) naming execve" \
	"[ $rc = 159 ] && grep -Eq '^netbe: seccomp: syscall [0-9]+ \(execve\) not allowed, stopping$' '$tmp/st2.err'"
rm -f "$XDG_RUNTIME_DIR/netbe/$name.ctl" "$XDG_RUNTIME_DIR/netbe/$name.vale"

# A new io_uring ring (no restriction set on it) is refused with EPERM.
NETBE_SECCOMP_SELFTEST=uring "$NETBE" connect pipe:ua pipe:ub \
	>"$tmp/st3.out" 2>"$tmp/st3.err"
rc=$?
check "self-test: io_uring_setup under the filter fails with EPERM" \
	"[ $rc = 0 ] && grep -q 'io_uring_setup: Operation not permitted' '$tmp/st3.err'"

# ---- a running filtered switch: ports added and refused, clean stop ------------------

ctl=$XDG_RUNTIME_DIR/netbe/$name.ctl
start sw switch --name "$name" --quiet pipe:q1,id=a
swpid=$pid
wait_for "[ -S '$ctl' ]"
check "named switch is filtered" "[ \"\$(seccomp_mode $swpid)\" = 2 ]"

"$NETBE" port add "$name" "stream,listen=unix:$tmp/s.sock,id=s" \
	>"$tmp/add.out" 2>"$tmp/add.err"
check "port add of a stream listener under the filter" \
	"[ $? = 0 ] && grep -q '^ok s$' '$tmp/add.out' && [ -S '$tmp/s.sock' ]"

"$NETBE" port add "$name" "pipe:q2,id=c,capture=$tmp/c.pcap" \
	>"$tmp/cap.out" 2>"$tmp/cap.err"
rc=$?
check "port add of a capture file is refused, naming the filter" \
	"[ $rc = 1 ] && grep -q 'seccomp filter' '$tmp/cap.err' && [ ! -e '$tmp/c.pcap' ]"
check "the switch lives on after the refusal" "kill -0 $swpid"

"$NETBE" port del "$name" s >"$tmp/del.out" 2>"$tmp/del.err"
check "port del of the stream listener removes its socket" \
	"[ $? = 0 ] && [ ! -e '$tmp/s.sock' ]"
"$NETBE" stats "$name" >"$tmp/stats.out" 2>"$tmp/stats.err"
check "stats answers under the filter" "grep -q '^switch $name: 1 port' '$tmp/stats.out'"

stop $swpid TERM
check "SIGTERM stops the filtered switch (0), its control socket removed" \
	"[ $rc = 0 ] && [ ! -e '$ctl' ] && ! grep -q seccomp '$tmp/sw.err'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
