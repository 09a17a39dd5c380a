#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# guest_vhost_migrate.sh - live migration of a QEMU guest between two
# vhost-user ports of one netbe switch, with QEMU itself as the VMM on
# both sides (the dirty log, LOG_SHMFD and LOG_ALL, and SEND_RARP):
#
#   namespace NS: tap (192.0.2.1) on `netbe switch` with ports
#                 vhost-user,path=A and vhost-user,path=B
#   QEMU a: the guest (192.0.2.2) on A;  QEMU b: -incoming, its NIC on B
#
#   The guest boots on a and serves a page NS fetches.  NS pings it every
#   10 ms and fetches its page in a loop while a migrates the guest to b
#   (`migrate` over a unix socket): netbe keeps writing frames into the
#   guest's buffers and used rings meanwhile, with the dirty log on
#   (QEMU still sends SET_LOG_BASE and LOG_ALL).  The two QEMUs share the
#   guest's RAM file (memory-backend-file on /dev/shm, x-ignore-shared),
#   as a same-host migration or a QEMU upgrade does, so QEMU copies only
#   device state.  Why not a RAM copy: QEMU 7.2 in TCG (no KVM here)
#   loses guest writes in its own copy.  Measured: after 1 in 5-10
#   migrations QEMU's own images (pmemsave 0 256M on the paused source
#   and on the destination started with -S) differ in 3-40 pages; the
#   guest on b then panics or breaks its transmit ring ("output.0: id N
#   is not a head").  The same happens with QEMU's own virtio-net over
#   -netdev stream, where netbe never touches guest memory: QEMU's, not
#   netbe's.  Then a quits and:
#   - the guest was announced from port b: MODE announce (the default),
#     the guest negotiated GUEST_ANNOUNCE and sent its own gratuitous
#     ARP; MODE rarp (guest_announce=off on the NIC), QEMU asked netbe
#     (SEND_RARP, logged) and netbe sent a RARP from the guest's MAC.
#     Checked with tshark on port b's capture, and the other kind must
#     not be there;
#   - NS fetches the page from b at the first try;
#   - the guest runs on (no reboot: b's console shows no boot), its
#     virtio-net driver reports no corrupt ring, 20 pings of 20 answer,
#     and the quit page ends it with its verdict "ok".
#   Without LOG_ALL offered QEMU refuses to migrate at all (checked: the
#   migrate command fails).  That the log marks exactly the pages netbe
#   writes is vhost_fakevmm's check: here the guest itself writes to
#   nearly every page netbe does (its used rings share pages with its
#   avail rings, and it reuses its buffers), so QEMU would resend them
#   even without our marks.
#
#   usage: guest_vhost_migrate.sh PATH/TO/netbe CACHE_DIR [announce|rarp]
#
# Needs root (namespace, tap), QEMU, python3 (QEMU's monitor) and tshark.
set -u

bin=${1:-}
cache=${2:-}
mode=${3:-announce}
. "$(dirname "$0")/guest_lib.sh"
. "$(dirname "$0")/../cli/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || guest_skip "no netbe binary given"
[ -n "$cache" ] || guest_skip "no cache directory given"
[ "$(id -u)" = 0 ] || guest_skip "needs root (namespace, tap)"
[ -c /dev/net/tun ] || guest_skip "no /dev/net/tun"
guest_need ip ping python3 tshark
guest_prepare "$cache"

id=$$
ns=nbm$id tap=nbmt$id
tmp=$(mktemp -d)
shm=/dev/shm
[ -d $shm ] && [ -w $shm ] || shm=$tmp
ram=$shm/netbe-mig.$id.ram
npid='' apid='' bpid='' lpid=''
cleanup() {
	for p in $apid $bpid ${GUEST_PID:-}; do kill -9 "$p" 2>/dev/null; done
	for p in $npid $lpid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	cli_netns_del
	rm -rf "$tmp" "$ram"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# hmp SIDE COMMAND: runs a human monitor command on QEMU SIDE (a or b).
hmp() {
	python3 - "$tmp/mon.$1" "$2" <<'EOF'
import re, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
def prompt():
    buf = b''
    while not buf.endswith(b'(qemu) '):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf
prompt()
s.sendall(sys.argv[2].encode() + b'\n')
out = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', prompt().decode(errors='replace'))
print('\n'.join(out.replace('\r', '').split('\n')[1:-1]))
EOF
}

# qemu SIDE [EXTRA]: boots QEMU SIDE with its NIC on socket SIDE.
qemu() {
	GUEST_QEMU="-object memory-backend-file,id=mem,share=on,size=256M"
	GUEST_QEMU="$GUEST_QEMU,mem-path=$ram"
	GUEST_QEMU="$GUEST_QEMU -numa node,memdev=mem ${2:-}"
	GUEST_QEMU="$GUEST_QEMU -monitor unix:$tmp/mon.$1,server=on,wait=off"
	GUEST_QEMU="$GUEST_QEMU -chardev socket,id=c0,path=$tmp/$1.sock"
	GUEST_NIC=",vectors=0"
	[ "$mode" = rarp ] && GUEST_NIC="$GUEST_NIC,guest_announce=off"
	guest_boot "$tmp/guest$1.log" vhost-user,chardev=c0 "netbe.test=net \
netbe.ip=192.0.2.2/24 netbe.peer=192.0.2.1 netbe.expect=mig-$id \
netbe.serve=80 netbe.serve_s=300"
}

# fetch: NS fetches the guest's page once (3 s at most).
fetch() {
	[ "$(ip netns exec $ns timeout 3 busybox wget -q -O - \
		http://192.0.2.2:80/ 2>/dev/null)" = "mig-$id" ]
}

cli_netns_add $ns
ip netns exec $ns "$bin" switch -v "vhost-user,path=$tmp/a.sock" \
	"vhost-user,path=$tmp/b.sock,capture=$tmp/b.pcap" "tap,ifname=$tap" \
	>>"$tmp/netbe.log" 2>&1 &
npid=$!
guest_wait_socket "$tmp/b.sock" $npid
ip -n $ns addr add 192.0.2.1/24 dev $tap
ip -n $ns link set $tap up

qemu a
apid=$GUEST_PID
guest_wait_line "$tmp/guesta.log" GUEST-READY 120 ||
	fail "the guest did not get to serving"
fetch || fail "NS could not fetch the page from the guest on a"
echo "ok: the guest serves on QEMU a"
qemu b "-incoming defer"
bpid=$GUEST_PID
guest_wait_socket "$tmp/mon.b" $bpid "QEMU b"
for side in a b; do
	hmp $side "migrate_set_capability x-ignore-shared on" >/dev/null ||
		fail "monitor of $side"
	hmp $side "info migrate_capabilities" | grep -q "x-ignore-shared: on" ||
		fail "QEMU $side did not take x-ignore-shared"
done
hmp b "migrate_incoming unix:$tmp/mig.sock" >/dev/null || fail "monitor of b"

# Traffic into the guest all through the migration.
ip netns exec $ns ping -q -i 0.01 -w 120 192.0.2.2 >/dev/null 2>&1 &
lpid=$!
(while :; do fetch; done) >/dev/null 2>&1 &
lpid="$lpid $!"
sleep 1
out=$(hmp a "migrate -d unix:$tmp/mig.sock") || fail "monitor of a"
i=0
while :; do
	st=$(hmp a "info migrate" | sed -n 's/^Migration status: *//p')
	case $st in
	completed) break ;;
	failed | cancelled | "") fail "migration ${st:-not started}: $out" ;;
	esac
	i=$((i + 1))
	[ $i -gt 240 ] && fail "migration did not complete in 120 s ($st)"
	sleep 0.5
done
echo "ok: migration completed ($(hmp a 'info migrate' |
	grep -E '^(total time|downtime|transferred ram)' | tr '\n' ' '))"
for p in $lpid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
lpid=''
hmp a quit >/dev/null 2>&1
wait $apid 2>/dev/null
apid=''

rarp_logged=$(grep -c "b.sock.*migrated here; announcing 52:54:00:12:34:56" \
	"$tmp/netbe.log")
case $mode in
rarp) [ "$rarp_logged" -gt 0 ] || fail "QEMU did not ask for a RARP" ;;
*) [ "$rarp_logged" = 0 ] || fail "a RARP asked for a guest that announces" ;;
esac
fetch || fail "the first fetch after the migration failed"
echo "ok: NS fetched the page from the guest on b at the first try"
n=$(ip netns exec $ns ping -c 20 -i 0.05 -W 1 192.0.2.2 2>/dev/null |
	sed -n 's/.* \([0-9]*\) received.*/\1/p')
[ "${n:-0}" = 20 ] || fail "${n:-0} of 20 pings answered after the migration"
echo "ok: 20 of 20 pings answered after the migration"
! grep -q GUEST-READY "$tmp/guestb.log" || fail "the guest booted again on b"
! grep -qiE "not a head|virtqueue|virtio_net.*(error|bad)" "$tmp/guestb.log" ||
	fail "the guest's driver reports a bad ring: $(grep -iE 'head|virtqueue' "$tmp/guestb.log")"
GUEST_PID=$bpid
bpid=''
guest_finish "$tmp/guestb.log" http://192.0.2.2:80/cgi-bin/quit

# The announcements that came in on port b (netbe stopped: the capture
# is complete).
count() {
	tshark -r "$tmp/b.pcap" -Y "eth.src == 52:54:00:12:34:56 && $1" \
		2>/dev/null | wc -l
}
garp=$(count "arp.opcode == 1 && arp.src.proto_ipv4 == arp.dst.proto_ipv4")
rarp=$(count "eth.type == 0x8035 && arp.opcode == 3")
echo "port b: $garp gratuitous ARPs and $rarp RARPs from the guest's MAC"
case $mode in
rarp) [ "$rarp" -gt 0 ] && [ "$garp" = 0 ] ||
	fail "want RARPs (netbe's) and no gratuitous ARP on port b" ;;
*) [ "$garp" -gt 0 ] && [ "$rarp" = 0 ] ||
	fail "want the guest's gratuitous ARPs and no RARP on port b" ;;
esac
echo PASS
