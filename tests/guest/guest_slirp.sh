#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# guest_slirp.sh - a real Linux guest on netbe's user-mode network:
#
#   guest virtio-net -- QEMU -netdev stream|dgram|vhost-user -- netbe
#        stream|dgram|vhost-user -- netbe connect -- slirp (QEMU's
#        user-net defaults)
#
#   usage: guest_slirp.sh PATH/TO/netbe CACHE_DIR stream|dgram|vhost
#
# The guest gets 10.0.2.15 by DHCP (busybox udhcpc), pings the gateway
# 10.0.2.2, fetches 2 MiB of random bytes from an HTTP server on the
# loopback (reached as 10.0.2.2:8000) and checks their MD5; then the test connects to the
# hostfwd port 127.0.0.1:8080, which slirp forwards to httpd in the guest
# on port 80, and checks the page.  Everything runs inside a namespace of
# ours so the ports are private.  Skips (77) without the slirp backend.
set -u

bin=${1:-}
cache=${2:-}
mode=${3:-}
. "$(dirname "$0")/guest_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || guest_skip "no netbe binary given"
[ -n "$cache" ] || guest_skip "no cache directory given"
"$bin" list --brief 2>/dev/null | grep -q '^slirp' ||
	guest_skip "this netbe has no slirp backend"
[ "$(id -u)" = 0 ] || guest_skip "needs root (namespace for private ports)"
guest_need ip
guest_prepare "$cache"

id=$$
ns=nbu$id
tmp=$(mktemp -d)
npid='' hpid=''
token=netbe-slirp-$id-$(date +%s)
cleanup() {
	[ -n "${GUEST_PID:-}" ] && kill "$GUEST_PID" 2>/dev/null
	for p in $npid $hpid; do kill "$p" 2>/dev/null; done
	ip netns del $ns 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add $ns || guest_skip "cannot create a network namespace"
ip -n $ns link set lo up

guest_transport "$mode" "$tmp" || guest_skip "unknown mode '$mode'"

mkdir -p "$tmp/www"
head -c 2097152 /dev/urandom >"$tmp/www/f.bin"
md5=$(md5sum <"$tmp/www/f.bin" | cut -d' ' -f1)
ip netns exec $ns busybox httpd -f -p 127.0.0.1:8000 -h "$tmp/www" &
hpid=$!
ip netns exec $ns "$bin" connect -v "$spec" \
	"slirp,restrict=off,hostfwd=tcp:127.0.0.1:8080-:80" \
	>"$tmp/netbe.log" 2>&1 &
npid=$!
sleep 0.3
kill -0 $npid 2>/dev/null || fail "netbe exited early"
[ "$mode" = vhost ] && guest_wait_socket "$tmp/vhost.sock" $npid

GUEST_NS=$ns guest_boot "$tmp/guest.log" "$netdev" "netbe.test=slirp \
netbe.ip=dhcp netbe.want_ip=10.0.2.15 netbe.peer=10.0.2.2 \
netbe.url=http://10.0.2.2:8000/f.bin netbe.md5=$md5 netbe.expect=$token \
netbe.serve=80"

guest_wait_line "$tmp/guest.log" GUEST-READY 90 ||
	{ guest_wait "$tmp/guest.log" 1; fail "guest did not get to serving"; }
got=$(ip netns exec $ns timeout 10 busybox wget -q -O - \
	http://127.0.0.1:8080/ 2>&1)
[ "$got" = "$token" ] || fail "page through hostfwd: '$got'"
echo "  host: fetched the guest's page through hostfwd 127.0.0.1:8080 (token ok)"
guest_finish "$tmp/guest.log" http://127.0.0.1:8080/cgi-bin/quit
echo PASS
