# SPDX-License-Identifier: BSD-2-Clause
#
# guest_lib.sh - sourced by the guest tests: builds (once, cached) a small
# Linux guest and boots it under QEMU (TCG, no KVM needed).
#
#   guest_prepare CACHE_DIR     kernel + initramfs in CACHE_DIR; sets
#                               GUEST_KERNEL, GUEST_INITRD (exits 77 with
#                               a reason when something is missing)
#   guest_boot LOG NETDEV APPEND   starts QEMU (in namespace $GUEST_NS if set) with "-netdev NETDEV,id=n0"
#                               and a virtio-net NIC; serial console to LOG;
#                               APPEND adds netbe.* keys (guest_init.sh)
#   guest_wait LOG SECONDS      waits for the verdict line; 0 when "ok"
#   guest_wait_socket PATH PID [WHO]  waits up to 5 s for netbe (or WHO)
#                               as PID to make socket PATH; fails the
#                               test otherwise
#   guest_wait_line LOG PATTERN SECONDS
#   guest_finish LOG URL        fetches URL (the guest's quit page) in $ns,
#                               waits for the verdict in LOG, stops netbe
#                               ($npid) with SIGINT, prints its log and
#                               fails unless it exited 0 with no
#                               sanitizer report
#   guest_transport MODE DIR    sets spec (netbe's side) and netdev (QEMU's)
#                               for MODE stream, dgram or vhost, sockets in
#                               DIR; returns 1 for another MODE.  vhost
#                               also sets GUEST_QEMU (shared guest memory
#                               and the chardev) and GUEST_NIC (vectors=0)
#   fail MESSAGE                prints MESSAGE, $tmp/netbe.log and the
#                               console's tail, and exits 1
#
# The kernel is Debian's cloud kernel: `apt-get download` of the versioned
# package linux-image-cloud-amd64 depends on, unpacked with dpkg-deb; its
# virtio-net modules go into a busybox initramfs whose /init is
# guest_init.sh.  A lock keeps parallel tests from building it twice.

GUEST_SRC=$(cd "$(dirname "$0")" && pwd)
GUEST_MAC=52:54:00:12:34:56
GUEST_MODS="drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko
drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci_legacy_dev.ko
drivers/virtio/virtio_pci.ko net/core/failover.ko drivers/net/net_failover.ko
drivers/net/virtio_net.ko"

guest_skip() { echo "SKIP: $*"; exit 77; }

fail() {
	echo "FAIL: $*"
	[ -s "$tmp/netbe.log" ] && sed 's/^/  netbe: /' "$tmp/netbe.log"
	[ -s "$tmp/guest.log" ] && tail -n 30 "$tmp/guest.log" | sed 's/^/  console: /'
	exit 1
}

# The two QEMU socket transports, and the netbe spec that serves each.
guest_transport() {
	case $1 in
	stream)
		spec="stream,listen=unix:$2/guest.sock"
		netdev="stream,server=off,addr.type=unix,addr.path=$2/guest.sock" ;;
	dgram)
		spec="dgram,local=udp:127.0.0.1:5002,remote=udp:127.0.0.1:5001"
		netdev="dgram,local.type=inet,local.host=127.0.0.1,local.port=5001"
		netdev="$netdev,remote.type=inet,remote.host=127.0.0.1,remote.port=5002" ;;
	vhost)
		# vhost-user needs the guest's RAM shared (memfd); QEMU 7.2 in
		# TCG segfaults starting a vhost-user NIC with MSI-X, so INTx.
		spec="vhost-user,path=$2/vhost.sock"
		netdev="vhost-user,chardev=c0"
		GUEST_QEMU="-object memory-backend-memfd,id=mem,share=on,size=256M"
		GUEST_QEMU="$GUEST_QEMU -numa node,memdev=mem"
		GUEST_QEMU="$GUEST_QEMU -chardev socket,id=c0,path=$2/vhost.sock"
		GUEST_NIC=",vectors=0" ;;
	*) return 1 ;;
	esac
}

guest_need() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || guest_skip "$t not installed"
	done
}

# Downloads and unpacks the cloud kernel into $1 (vmlinuz, modules/).
guest_get_kernel() {
	cache=$1 dl=$1/dl.$$
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-/ { print $2; exit }')
	[ -n "$pkg" ] || return 1
	rm -rf "$dl" && mkdir -p "$dl" || return 1
	(cd "$dl" && apt-get download "$pkg" >/dev/null 2>&1) || {
		rm -rf "$dl"
		return 2
	}
	dpkg-deb -x "$dl"/*.deb "$dl/x" || return 1
	mkdir -p "$cache/modules"
	for m in $GUEST_MODS; do
		cp "$dl"/x/lib/modules/*/kernel/$m "$cache/modules/" || return 1
	done
	cp "$dl"/x/boot/vmlinuz-* "$cache/vmlinuz" || return 1
	echo "$pkg" >"$cache/kernel-package"
	rm -rf "$dl"
}

guest_make_initrd() {
	cache=$1 root=$1/root.$$
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/etc" "$root/lib/modules" "$root/proc" \
		"$root/sys" "$root/dev" "$root/tmp" || return 1
	guest_add_iperf3 "$root" || return 1
	cp "$(command -v busybox)" "$root/bin/busybox" &&
		cp "$GUEST_SRC/guest_init.sh" "$root/init" &&
		cp "$GUEST_SRC/udhcpc.sh" "$root/etc/udhcpc.sh" &&
		cp "$cache"/modules/*.ko "$root/lib/modules/" || return 1
	chmod +x "$root/init" "$root/etc/udhcpc.sh"
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) \
		>"$cache/initrd.tmp" || return 1
	mv "$cache/initrd.tmp" "$cache/initrd.gz"
	rm -rf "$root"
}

# iperf3 and the libraries it loads, at their own paths (when installed).
guest_add_iperf3() {
	ip3=$(command -v iperf3) || return 0
	for f in "$ip3" $(ldd "$ip3" | grep -o '/[^ ]*'); do
		mkdir -p "$1$(dirname "$f")" && cp -L "$f" "$1$f" || return 1
	done
}

guest_prepare() {
	cache=$1
	guest_need qemu-system-x86_64 busybox cpio gzip dpkg-deb apt-get flock
	file -L "$(command -v busybox)" 2>/dev/null | grep -q 'statically' ||
		[ ! -x /usr/bin/file ] || guest_skip "busybox is not static (busybox-static)"
	mkdir -p "$cache" || guest_skip "cannot create $cache"
	exec 9>"$cache/.lock"
	flock 9
	if [ ! -s "$cache/vmlinuz" ]; then
		guest_get_kernel "$cache"
		case $? in
		0) ;;
		2) flock -u 9; guest_skip "apt-get download of the cloud kernel failed" ;;
		*) flock -u 9; guest_skip "cannot unpack the cloud kernel" ;;
		esac
	fi
	if [ ! -s "$cache/initrd.gz" ] ||
		[ "$GUEST_SRC/guest_init.sh" -nt "$cache/initrd.gz" ] ||
		[ "$GUEST_SRC/guest_lib.sh" -nt "$cache/initrd.gz" ] ||
		[ "$GUEST_SRC/udhcpc.sh" -nt "$cache/initrd.gz" ]; then
		guest_make_initrd "$cache" || {
			flock -u 9
			guest_skip "cannot build the initramfs"
		}
	fi
	flock -u 9
	exec 9>&-
	GUEST_KERNEL=$cache/vmlinuz
	GUEST_INITRD=$cache/initrd.gz
}

guest_now_ms() { date +%s%3N; }

guest_wait_socket() {
	i=0
	until [ -S "$1" ]; do
		i=$((i + 1))
		[ $i -gt 50 ] && fail "${3:-netbe} made no socket $1"
		kill -0 "$2" 2>/dev/null || fail "${3:-netbe} exited early"
		sleep 0.1
	done
}

# QEMU runs inside namespace $GUEST_NS when set ("ip netns exec" execs
# it, so $GUEST_PID is QEMU's own pid).
guest_boot() {
	log=$1 netdev=$2 append=$3
	GUEST_T0=$(guest_now_ms)
	${GUEST_NS:+ip netns exec "$GUEST_NS"} qemu-system-x86_64 -M q35 -m 256 -nographic -no-reboot \
		-nodefaults -serial stdio -display none \
		-kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
		-append "console=ttyS0 quiet panic=-1 $append" \
		${GUEST_QEMU:-} -netdev "$netdev,id=n0" \
		-device "virtio-net-pci,netdev=n0,mac=$GUEST_MAC,romfile=${GUEST_NIC:-}" \
		</dev/null >"$log" 2>&1 &
	GUEST_PID=$!
}

# Waits up to $3 s for a line matching $2 in $1 (or QEMU's exit).
guest_wait_line() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$GUEST_PID" 2>/dev/null || {
			grep -q "$2" "$1" 2>/dev/null
			return $?
		}
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

guest_wait() {
	log=$1
	guest_wait_line "$log" 'GUEST-RESULT:' "$2"
	GUEST_MS=$(($(guest_now_ms) - GUEST_T0))
	grep 'GUEST-STEP:' "$log" | sed 's/^/  guest: /'
	line=$(grep -a 'GUEST-RESULT:' "$log" | head -1 | tr -d '\r')
	echo "  guest: ${line:-no verdict} (boot + test: ${GUEST_MS} ms)"
	wait_qemu
	case $line in *"GUEST-RESULT: ok"*) return 0 ;; esac
	return 1
}

guest_finish() {
	ip netns exec "$ns" timeout 10 busybox wget -q -O /dev/null "$2" ||
		fail "quit request"
	guest_wait "$1" 30 || fail "guest verdict"
	kill -INT "$npid"
	wait "$npid"
	rc=$?
	npid=
	sed 's/^/  netbe: /' "$tmp/netbe.log"
	[ $rc = 0 ] || fail "netbe exit status $rc after SIGINT"
	! grep -qE 'runtime error|Sanitizer' "$tmp/netbe.log" ||
		fail "sanitizer report from netbe"
}

# Lets QEMU power off by itself, then makes sure it is gone.
wait_qemu() {
	[ -n "${GUEST_PID:-}" ] || return 0
	i=0
	while kill -0 "$GUEST_PID" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill "$GUEST_PID" 2>/dev/null
	wait "$GUEST_PID" 2>/dev/null
	GUEST_PID=
}
