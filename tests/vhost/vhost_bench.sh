#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# vhost_bench.sh - `netbe bench --offload` (every offload the backend has,
# behind a 12-byte header) on vhost-user with DPDK's virtio-user PMD as
# the guest, the way bench/run-vhost-bench.sh runs it: netbe sends 64-
# and 1500-byte frames that testpmd (rxonly) counts, and receives what
# testpmd (txonly) sends.  Each side's count must be non-zero (and rx
# must see no errors), the JSON line must say offload true, and the bytes netbe counts
# must be whole frames without the header (bytes = frames * size).
#
#   usage: vhost_bench.sh PATH/TO/netbe
#
# Needs dpdk-testpmd (package dpdk-dev); no root.
set -u

bin=${1:-}
. "$(dirname "$0")/../cli/cli_lib.sh" # skip, fail
{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no netbe binary given"
command -v dpdk-testpmd >/dev/null 2>&1 || skip "dpdk-testpmd not installed (dpdk-dev)"

tmp=$(mktemp -d)
npid='' tpid=''
cleanup() {
	[ -n "$tpid" ] && kill -9 "$tpid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkfifo "$tmp/in" && exec 3<>"$tmp/in"

# json FILE KEY: a number or word from netbe bench's JSON line.
json() { tail -n 1 "$1" | grep -o "\"$2\":[a-z0-9.]*" | cut -d: -f2; }

# one MODE SIZE GUESTMODE
one() {
	s=$tmp/$1$2.sock
	"$bin" bench --offload --mode "$1" --size "$2" --duration 4 \
		"vhost-user,path=$s" >"$tmp/nb.log" 2>&1 &
	npid=$!
	i=0
	while [ ! -S "$s" ]; do
		i=$((i + 1)); [ $i -gt 50 ] && fail "netbe did not listen"
		sleep 0.1
	done
	dpdk-testpmd --no-pci --no-huge -m 256 -l 0,1 --file-prefix=nbvbt$$$1$2 \
		--vdev "net_virtio_user0,path=$s,queues=1" -- \
		--total-num-mbufs=8192 --forward-mode="$3" --txpkts="$2" \
		--auto-start --stats-period 1 <"$tmp/in" >"$tmp/tp.log" 2>&1 &
	tpid=$!
	wait "$npid"; npid=''
	kill -9 "$tpid"; wait "$tpid" 2>/dev/null; tpid=''
	[ "$(json "$tmp/nb.log" offload)" = true ] || fail "$1 $2: offload not on"
	f=$(json "$tmp/nb.log" frames) b=$(json "$tmp/nb.log" bytes)
	[ "${f:-0}" -gt 0 ] || fail "$1 $2: no frames moved"
	# tx counts an error for each try before the guest's rings are up
	[ "$1" = tx ] || [ "$(json "$tmp/nb.log" errors)" = 0 ] ||
		fail "$1 $2: errors"
	[ "$b" = $((f * $2)) ] || fail "$1 $2: $b bytes for $f frames"
	echo "ok: $1 $2 B: $f frames"
}

one tx 64 rxonly
one tx 1500 rxonly
one rx 64 txonly
one rx 1500 txonly
