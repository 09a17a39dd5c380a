#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# cli_test.sh NETBE - checks of the netbe command-line tool: help and
# version output, exit statuses, error messages, the self-test demo,
# connect, and the switch with its control socket (port, stats, fdb).
# Needs no root and no network.  Exits 0 when every check passed.

NETBE=${1:?usage: cli_test.sh PATH_TO_NETBE}
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netbe-cli.XXXXXX") || exit 1
bg='' # background switches, stopped on exit
trap 'for p in $bg; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
# Control sockets of named switches go to $XDG_RUNTIME_DIR/netbe: ours.
XDG_RUNTIME_DIR=$tmp/xdg
export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR"

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
		"out_has 'demo'" "out_has 'switch'" "out_has 'fdb'" "err_empty"
done

for sub in list probe connect demo help switch port stats fdb; do
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

run switch
check "switch without ports" "rc_is 2" "err_has '^netbe: switch: no ports'"

run switch --interval 0 pipe:x
check "switch --interval 0" "rc_is 2" "err_has '^netbe: switch: --interval'"

run switch --busy-poll 5x pipe:x
check "switch --busy-poll 5x" "rc_is 2" \
	"err_has \"^netbe: switch: --busy-poll: '5x'\""

run switch --busy-poll -1 pipe:x
check "switch --busy-poll -1" "rc_is 2" "err_has '^netbe: switch: --busy-poll'"

run switch --cpu 0,x pipe:x
check "switch --cpu 0,x" "rc_is 2" \
	"err_has \"^netbe: switch: --cpu: '0,x' is not a CPU list\""

run switch --cpu 1023 pipe:x
check "switch --cpu on a CPU it may not use" "rc_is 2" \
	"err_has \"^netbe: switch: --cpu: '1023' names CPUs this process may not run on \\(allowed: [0-9]\""

run connect --cpu 1023 pipe:x pipe:y
check "connect --cpu on a CPU it may not use" "rc_is 2" \
	"err_has \"^netbe: connect: --cpu: '1023' names CPUs\""

run switch --name 'a/b' pipe:x
check "switch --name with a slash" "rc_is 2" \
	"err_has '^netbe: switch: invalid switch name'"

run port add onlyname
check "port add without SPEC" "rc_is 2" "err_has '^netbe: port'"

run port move sw pipe:x
check "port with an unknown action" "rc_is 2" "err_has 'move'"

run stats
check "stats without NAME" "rc_is 2" "err_has '^netbe: stats'"

run fdb a b
check "fdb with two NAMEs" "rc_is 2" "err_has '^netbe: fdb'"

# ---- runtime errors: the library's message, naming the key ---------------

run probe pipe:x,bogus=1
check "probe with an unknown key" "rc_is 1" "err_has '^netbe: '" \
	"err_has bogus"

run probe tap0,mtu=notanumber
check "probe with a bad value" "rc_nonzero" "err_has '^netbe: '" \
	"err_has mtu"

run probe netmap:nosuchif0
check "netmap:IFNAME opens the xdp backend on IFNAME (the seed's name)" \
	"rc_is 1" "err_has \"xdp: .*'nosuchif0'\""

run probe nosuchbackend0
check "probe of an unknown backend" "rc_is 1" "err_has '^netbe: '" \
	"err_has nosuchbackend0"

run connect pipe:cli-a pipe:cli-b,bogus=1
check "connect with an unknown key" "rc_is 1" "err_has '^netbe: '" \
	"err_has bogus"

run switch --opts bogus=1 pipe:x
check "switch --opts with an unknown key" "rc_is 1" "err_has '^netbe: '" \
	"err_has bogus"

run switch pipe:x,vlan=0
check "switch port with a bad vlan" "rc_is 1" "err_has '^netbe: '" \
	"err_has \"'vlan'\"" "err_has \"'0'\""

run stats nosuchswitch$$
check "stats of a switch that is not running" "rc_is 1" \
	"err_has \"^netbe: .*'nosuchswitch$$'\""

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
check "demo" "rc_is 0" "out_has '^demo: PASS'" \
	"out_has '^forward a2 -> b1: frames 10000 .* drops 0 queued 0'"

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
	"out_has '^forward A -> B: frames 0 bytes 0 drops 0 queued 0'" \
	"out_has '^forward B -> A: frames 0 bytes 0 drops 0 queued 0'"

connect_until TERM --quiet --batch 4 --stats-interval 1
check "connect --quiet stops on SIGTERM" "rc_is 0" "err_empty" \
	"out_has '^B \(pipe:cli-b\) tx: frames 0'"

# ---- switch ----------------------------------------------------------------

# start_bg FILE_PREFIX ARGS... : starts netbe ARGS in the background ($pid).
start_bg() {
	pre=$1
	shift
	"$NETBE" "$@" >"$pre.out" 2>"$pre.err" &
	pid=$!
	bg="$bg $pid"
}

# stop_bg PID SIGNAL : signals PID, waits up to 5 s; the status in $tmp/rc.
stop_bg() {
	kill "-$2" "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$1" 2>/dev/null && kill -KILL "$1"
	wait "$1"
	echo $? >"$tmp/rc"
}

# wait_file PATH : waits up to 5 s for PATH to exist.
wait_file() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}

json_ok() {
	python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' \
		<"$tmp/out" 2>>"$tmp/err"
}

start_bg "$tmp/sw" switch --quiet --stats-json - --interval 0.3 \
	pipe:cli-x,id=a pipe:cli-y,id=b
sleep 1
stop_bg "$pid" TERM
cp "$tmp/sw.out" "$tmp/out"
cp "$tmp/sw.err" "$tmp/err"
check "switch --stats-json - stops on SIGTERM with JSON lines" "rc_is 0" \
	"err_empty" "json_ok" "[ \$(wc -l <\"\$tmp/out\") -ge 3 ]" \
	"out_has '\"name\":\"a\".*\"name\":\"b\"'" \
	"out_has '\"rx_drops\":\\{\\}'" "out_has '\"fdb\":\\{\"entries\":0'"

# --busy-poll 50: accepted; the JSON timer still ticks and SIGTERM stops
# the polling loop as it stops the blocking one.
start_bg "$tmp/sw" switch --quiet --busy-poll 50 --stats-json - \
	--interval 0.3 pipe:cli-x,id=a pipe:cli-y,id=b
sleep 1
stop_bg "$pid" TERM
cp "$tmp/sw.out" "$tmp/out"
cp "$tmp/sw.err" "$tmp/err"
check "switch --busy-poll 50 runs, ticks and stops on SIGTERM" "rc_is 0" \
	"err_empty" "json_ok" "[ \$(wc -l <\"\$tmp/out\") -ge 3 ]"

# --cpu: the command and every thread it started run on that CPU only
# (the first this test may use).
cpu=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' \
	/proc/self/status)
# pinned_check CMD ARGS... : CMD --quiet --cpu $cpu ARGS runs pinned.
pinned_check() {
	pc=$1
	shift
	start_bg "$tmp/pin" "$pc" --quiet --cpu "$cpu" "$@"
	sleep 0.5
	cat /proc/$pid/task/*/status 2>/dev/null |
		sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' | sort -u >"$tmp/cpus"
	stop_bg "$pid" TERM
	cp "$tmp/cpus" "$tmp/out"
	cp "$tmp/pin.err" "$tmp/err"
	check "$pc --cpu $cpu pins every thread" "rc_is 0" "err_empty" \
		"[ \"\$(cat \"\$tmp/out\")\" = $cpu ]"
}
pinned_check switch pipe:cli-x,id=a pipe:cli-y
pinned_check connect pipe:cli-c1 pipe:cli-c2

start_bg "$tmp/sw" switch pipe:cli-x,id=a pipe:cli-y
sleep 0.5
stop_bg "$pid" INT
cp "$tmp/sw.out" "$tmp/out"
cp "$tmp/sw.err" "$tmp/err"
check "switch prints its ports, then the counters on SIGINT" "rc_is 0" \
	"err_has '^switch \(unnamed\): a \(pipe:cli-x\), pipe:cli-y'" \
	"out_has '^a \(pipe:cli-x\) rx: frames 0 bytes 0 forwarded 0 drops 0'" \
	"out_has '^pipe:cli-y tx: frames 0 bytes 0 offered 0 queued 0 drops 0'" \
	"out_has '^fdb: entries 0'"

# A named switch, started under umask 000: its socket is 0600 anyway.
name=clitest$$
ctl=$XDG_RUNTIME_DIR/netbe/$name.ctl
(umask 000 && exec "$NETBE" switch --name "$name" --quiet pipe:q1 \
	>"$tmp/named.out" 2>"$tmp/named.err") &
named=$!
bg="$bg $named"
wait_file "$ctl"
mode_is() { [ "$(stat -c %a "$1")" = "$2" ]; }
run stats "$name"
check "named switch: socket 0600 in a 0700 directory under umask 000" \
	"rc_is 0" "mode_is \"\$ctl\" 600" \
	"mode_is \"\$XDG_RUNTIME_DIR/netbe\" 700" "out_has '^switch $name: 1 port'" \
	"out_has '^PORT +RX f/s +TX f/s +RX Mbit/s +TX Mbit/s +QUEUED +DROPS'" \
	"out_has '^pipe:q1 '"

run port add "$name" pipe:q2,id=p2
check "port add" "rc_is 0" "out_has '^ok p2$'" "err_empty"

run stats "$name" --json
check "stats --json lists the new port" "rc_is 0" "json_ok" \
	"out_has '\"name\":\"p2\",\"backend\":\"p2 \(pipe:q2\)\"'" \
	"out_has '\"switch\":\"$name\"'"

run port add "$name" pipe:q3,id=p2
check "port add of a name in use" "rc_is 1" "err_has \"^netbe: $name: .*'p2'\""

run port add "$name" pipe:q3,bogus=1
check "port add with an unknown key" "rc_is 1" "err_has \"^netbe: $name: .*'bogus'\""

run port del "$name" p2
check "port del" "rc_is 0" "out_has '^ok$'"

run port del "$name" nosuch
check "port del of a port that does not exist" "rc_is 1" \
	"err_has \"^netbe: $name: .*'nosuch'\"" "! out_has ok"

run stats "$name" --json
check "stats --json after port del" "rc_is 0" "json_ok" "! out_has p2"

run fdb "$name"
check "fdb of an empty MAC table" "rc_is 0" "err_empty"

# The named switch is published too: another program's vale port joins
# it, and leaves when that program exits.
has_port() { "$NETBE" stats "$name" --json 2>/dev/null | grep -q "\"name\":\"$1\""; }
"$NETBE" connect --quiet "vale,switch=$name,port=vp" pipe:cli-v \
	>/dev/null 2>"$tmp/vale.err" &
vp=$!
bg="$bg $vp"
i=0
until has_port vp || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
run stats "$name" --json
check "a vale port of another program joins the named switch" "rc_is 0" \
	"out_has '\"name\":\"vp\",\"backend\"'"
stop_bg "$vp" INT
i=0
while has_port vp && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
run stats "$name" --json
check "the vale port leaves with its program" "rc_is 0" "! out_has vp"

# Root can check the uid test: open the directory and the socket to all,
# then ask as nobody (SO_PEERCRED must refuse, with a message).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 755 "$tmp" "$XDG_RUNTIME_DIR" "$XDG_RUNTIME_DIR/netbe"
	chmod 666 "$ctl"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$NETBE" port add "$name" pipe:q4,id=intruder \
		>"$tmp/out" 2>"$tmp/err"
	echo $? >"$tmp/rc"
	chmod 700 "$tmp" "$XDG_RUNTIME_DIR/netbe"
	chmod 600 "$ctl"
	"$NETBE" stats "$name" >>"$tmp/out" 2>&1
	check "another uid is refused (SO_PEERCRED)" "rc_is 1" \
		"err_has \"^netbe: $name: permission denied: uid 65534\"" \
		"! out_has intruder"
fi

run switch --name "$name" pipe:q9
check "a second switch of the same name is refused" "rc_is 1" \
	"err_has \"already running\"" "err_has \"$name\""

stop_bg "$named" TERM
check "named switch stops on SIGTERM, removes its socket" "rc_is 0" \
	"[ ! -e \"\$ctl\" ]"

# A switch killed for good leaves a stale socket: the next one takes it.
start_bg "$tmp/stale" switch --name "$name" --quiet pipe:q1
wait_file "$ctl"
stop_bg "$pid" KILL
start_bg "$tmp/stale" switch --name "$name" --quiet pipe:q1
i=0
until "$NETBE" stats "$name" >/dev/null 2>&1 || [ $i -gt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
run stats "$name"
check "a stale control socket is replaced" "rc_is 0" "out_has '^switch $name'"
stop_bg "$pid" TERM

# Traffic without root: three stream ports; bench sends on a, receives on
# b; the switch floods to b and c (nobody there: peer-gone), learns a.
name=clitr$$
s=$tmp/s
start_bg "$tmp/tr" switch --name "$name" --quiet \
	"stream,listen=unix:$s-a.sock,id=a" "stream,listen=unix:$s-b.sock,id=b" \
	"stream,listen=unix:$s-c.sock,id=c"
wait_file "$XDG_RUNTIME_DIR/netbe/$name.ctl"
"$NETBE" bench --mode rx -d 3 "stream,connect=unix:$s-b.sock" \
	>"$tmp/rx.out" 2>&1 &
rx=$!
sleep 0.3
"$NETBE" bench --mode tx -d 2 "stream,connect=unix:$s-a.sock" >/dev/null 2>&1 &
tx=$!
# Ports come and go while the traffic flows.
churn=0
for i in 1 2 3 4 5; do
	"$NETBE" port add "$name" "pipe:churn$i,id=d" >/dev/null 2>&1 &&
		"$NETBE" port del "$name" d >/dev/null 2>&1 &&
		churn=$((churn + 1))
	sleep 0.1
done
wait "$tx"
wait "$rx"
echo 0 >"$tmp/rc"
check "ports added and removed while frames flow" "[ $churn = 5 ]"
run fdb "$name"
check "fdb: the sender's MAC learnt on port a" "rc_is 0" \
	"out_has '^1 02:00:00:00:00:01 a [0-9]+$'"
run stats "$name" --json
rx_frames() { sed -n 's/.*"frames":\([0-9]*\).*/\1/p' "$tmp/rx.out"; }
check "stats: frames crossed a -> b" "rc_is 0" "json_ok" \
	"out_has '\"name\":\"a\",[^}]*\"rx_frames\":[1-9]'" \
	"out_has '\"name\":\"b\",[^}]*\"tx_frames\":[1-9]'" \
	"out_has '\"tx_drops\":\\{\"peer-gone\":[1-9]'" \
	"[ \"\$(rx_frames)\" -gt 0 ]"
stop_bg "$pid" TERM

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
