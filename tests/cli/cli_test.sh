#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# cli_test.sh NETBE - checks of the netbe command-line tool: help and
# version output, exit statuses, error messages, and the self-test demo.
# Needs no root and no network.  Exits 0 when every check passed.

NETBE=${1:?usage: cli_test.sh PATH_TO_NETBE}
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netbe-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# run ARGS... : runs netbe, keeps stdout, stderr and the exit status.
run() {
	"$NETBE" "$@" >"$tmp/out" 2>"$tmp/err"
	echo $? >"$tmp/rc"
}

rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
rc_nonzero() { ! rc_is 0; }
out_has() { grep -Eq -- "$1" "$tmp/out"; }
err_has() { grep -Eq -- "$1" "$tmp/err"; }
err_empty() { [ ! -s "$tmp/err" ]; }

# check DESCRIPTION CONDITION... : all conditions (each one word, run with
# eval) must hold for the last run.
check() {
	desc=$1
	shift
	for cond in "$@"; do
		if ! eval "$cond"; then
			fail=$((fail + 1))
			echo "FAIL - $desc: $cond (exit $(cat "$tmp/rc"))"
			sed -e 's/^/    out| /' "$tmp/out" | head -n 10
			sed -e 's/^/    err| /' "$tmp/err" | head -n 10
			return
		fi
	done
	pass=$((pass + 1))
	echo "ok   - $desc"
}

# ---- help and version ----------------------------------------------------

for args in "--help" "-h" "help"; do
	run $args
	check "netbe $args" "rc_is 0" "out_has '^Usage: netbe'" \
		"out_has 'list'" "out_has 'probe'" "out_has 'connect'" \
		"out_has 'demo'" "err_empty"
done

for sub in list probe connect demo help; do
	run "$sub" --help
	check "netbe $sub --help" "rc_is 0" "out_has '^Usage: netbe'" \
		"err_empty"
	run "$sub" -h
	check "netbe $sub -h" "rc_is 0" "out_has '^Usage: netbe'"
	run help "$sub"
	check "netbe help $sub" "rc_is 0" "out_has '^Usage: netbe'"
done

run --version
check "netbe --version" "rc_is 0" \
	"out_has '^netbe .*libnetbe [0-9]+\.[0-9]+\.[0-9]+'" "err_empty"

# ---- usage errors --------------------------------------------------------

run
check "netbe without a subcommand" "rc_is 2" "err_has '^Usage: netbe'"

run bogus-subcommand
check "unknown subcommand" "rc_is 2" \
	"err_has '^netbe: .*bogus-subcommand'"

run help bogus-subcommand
check "help of an unknown subcommand" "rc_is 2" \
	"err_has '^netbe: .*bogus-subcommand'"

run --bogus-option
check "unknown global option" "rc_is 2" "err_has '^netbe: .*--bogus-option'"

run list --bogus-option
check "list: unknown option" "rc_is 2" "err_has '^netbe: .*--bogus-option'"

run probe
check "probe without SPEC" "rc_is 2" "err_has '^netbe: probe'"

run connect pipe:cli-a
check "connect with one SPEC" "rc_is 2" "err_has '^netbe: connect'"

run connect --batch 0 pipe:cli-a pipe:cli-b
check "connect --batch 0" "rc_is 2" "err_has '^netbe: .*batch'"

run connect --stats-interval
check "connect --stats-interval without value" "rc_is 2" \
	"err_has '^netbe: .*requires an argument'"

run demo --frames abc
check "demo --frames abc" "rc_is 2" "err_has '^netbe: .*frames'"

# ---- runtime errors: the library's message, naming the key ---------------

run probe pipe:x,bogus=1
check "probe with an unknown key" "rc_is 1" "err_has '^netbe: '" \
	"err_has bogus"

run probe tap0,mtu=notanumber
check "probe with a bad value" "rc_nonzero" "err_has '^netbe: '" \
	"err_has mtu"

run probe nosuchbackend0
check "probe of an unknown backend" "rc_is 1" "err_has '^netbe: '" \
	"err_has nosuchbackend0"

run connect pipe:cli-a pipe:cli-b,bogus=1
check "connect with an unknown key" "rc_is 1" "err_has '^netbe: '" \
	"err_has bogus"

# What a user typed is echoed with control characters escaped, by the tool
# and by the library alike: no raw ESC reaches the terminal.
esc=$(printf '\033')
run probe "nosuch${esc}[31mbackend"
check "an escape sequence in a spec is escaped" "rc_is 1" \
	"err_has 'nosuch.x1b.31mbackend'" "! grep -q \"$esc\" \"\$tmp/err\""

run probe "pipe:x${esc}y,bogus${esc}=1"
check "an escape sequence in a key is escaped" "rc_is 1" \
	"err_has 'bogus.x1b'" "! grep -q \"$esc\" \"\$tmp/err\""

# ---- list and probe --------------------------------------------------------

run list
check "list shows tap and pipe with keys" "rc_is 0" "out_has '^tap - '" \
	"out_has '^pipe - '" "out_has ifname" "err_empty"

run list --brief
check "list --brief" "rc_is 0" "out_has '^tap '" "out_has '^pipe '" \
	"! out_has ifname"

run list --keys
check "list --keys" "rc_is 0" "out_has ifname"

run probe pipe:cli-probe
check "probe pipe" "rc_is 0" "out_has '^backend: +pipe'" \
	"out_has '^features: +CSUM HOST_TSO4 HOST_TSO6 HOST_ECN HOST_UFO HOST_USO$'" "out_has '^vnet hdr: +0'" \
	"out_has '^mac: +none'" "out_has '^mtu: +[0-9]+'" \
	"out_has '^queues: +1'"

run probe pipe:cli-probe,offload=on,mac=02:00:00:00:00:07
check "probe pipe with offloads and a MAC" "rc_is 0" \
	"out_has '^features: .*GUEST_TSO4'" "out_has '^features: .*CSUM'" \
	"out_has '^mac: +02:00:00:00:00:07'"

run -v probe pipe:cli-probe
check "probe -v" "rc_is 0" "out_has '^backend: +pipe'"

# ---- demo ------------------------------------------------------------------

run demo
check "demo" "rc_is 0" "out_has '^demo: PASS'" "out_has 'forward a2 -> b1'"

run demo --frames 1
check "demo --frames 1" "rc_is 0" "out_has '^demo: PASS: 1 frames'"

# ---- connect until a signal --------------------------------------------------

# connect_until SIGNAL EXTRA_ARGS... : starts connect, signals it, waits.
connect_until() {
	sig=$1
	shift
	"$NETBE" connect "$@" pipe:cli-a pipe:cli-b >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	sleep 1
	kill "-$sig" "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		echo "$sig ignored" >>"$tmp/err"
	fi
	wait "$pid"
	echo $? >"$tmp/rc"
}

connect_until INT
check "connect stops on SIGINT" "rc_is 0" \
	"err_has '^connected A \(pipe:cli-a\) <-> B \(pipe:cli-b\)'" \
	"out_has '^A \(pipe:cli-a\) rx: frames 0'" \
	"out_has '^forward A -> B: frames 0'"

connect_until TERM --quiet --batch 4 --stats-interval 1
check "connect --quiet stops on SIGTERM" "rc_is 0" "err_empty" \
	"out_has '^B \(pipe:cli-b\) tx: frames 0'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
