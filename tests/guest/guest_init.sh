#!/bin/busybox sh
# SPDX-License-Identifier: BSD-2-Clause
#
# /init of the test guest's initramfs (busybox only).  Loads virtio-net,
# configures eth0, runs the test the kernel command line names, prints
# one verdict line on the serial console and powers off.
#
# Kernel command line keys (netbe.*):
#   netbe.test=net|slirp  what to run (see the functions below)
#   netbe.ip=dhcp | ADDR/PREFIX   how eth0 gets its address
#   netbe.want_ip=ADDR    the address DHCP must hand out
#   netbe.gw=ADDR         default gateway (static addresses)
#   netbe.peer=ADDR       address to ping
#   netbe.url=URL         file to fetch; netbe.expect=TOKEN must be in it,
#                         or its MD5 must be netbe.md5=HEX
#   netbe.iperf=ADDR      iperf3 client runs to ADDR, both ways (3 s each)
#   netbe.big=MB          the served directory also holds /big, MB MiB of
#                         random bytes; its MD5 is printed as a step
#   netbe.serve=PORT      serve a page with netbe.expect on PORT until the
#                         host fetches /cgi-bin/quit (or netbe.serve_s=S
#                         seconds pass, 40 by default)
# Verdict: "GUEST-RESULT: ok" or "GUEST-RESULT: fail REASON"; progress
# lines start with "GUEST-STEP:".
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null

verdict() {
	echo "GUEST-RESULT: $*"
	sync
	poweroff -f
}
step() { echo "GUEST-STEP: $*"; }

for kv in $(cat /proc/cmdline); do
	case $kv in
	netbe.*=*) k=${kv%%=*}; k=${k#netbe.}; eval "arg_$k=\${kv#*=}" ;;
	esac
done

# No dependency data here: retry the list until every module is in.
load_modules() {
	for _ in 1 2 3 4 5 6 7 8; do
		left=0
		for m in /lib/modules/*.ko; do
			n=$(basename "$m" .ko)
			grep -q "^$n " /proc/modules && continue
			insmod "$m" 2>/dev/null || left=1
		done
		[ $left = 0 ] && return 0
	done
	return 1
}

wait_eth0() {
	for _ in $(seq 50); do
		[ -e /sys/class/net/eth0 ] && return 0
		sleep 0.1
	done
	return 1
}

net_up() {
	ifconfig lo 127.0.0.1 up
	ifconfig eth0 up || return 1
	if [ "${arg_ip:-}" = dhcp ]; then
		udhcpc -i eth0 -n -q -t 10 -T 1 -s /etc/udhcpc.sh || return 1
		got=$(cat /tmp/dhcp-ip 2>/dev/null)
		step "dhcp lease $got"
		[ -z "${arg_want_ip:-}" ] || [ "$got" = "$arg_want_ip" ] ||
			return 1
	else
		ip addr add "$arg_ip" dev eth0 || return 1
		[ -n "${arg_gw:-}" ] && ip route add default via "$arg_gw"
	fi
	return 0
}

do_ping() {
	ping -c 3 -W 3 "$1" >/tmp/ping.txt 2>&1 || return 1
	step "ping $1 ok: $(grep -o 'min/avg/max.*' /tmp/ping.txt)"
}

do_fetch() {
	# (busybox 1.35 static wget crashes with -T: bound it with timeout)
	timeout 60 wget -q -O /tmp/fetched "$arg_url" || return 1
	if [ -n "${arg_md5:-}" ]; then
		got=$(md5sum /tmp/fetched | cut -d' ' -f1)
		[ "$got" = "$arg_md5" ] || return 2
		step "fetched $arg_url ($(wc -c </tmp/fetched) bytes, md5 $got ok)"
		return 0
	fi
	grep -q "$arg_expect" /tmp/fetched || return 2
	step "fetched $arg_url ($(wc -c </tmp/fetched) bytes, token ok)"
}

# iperf3 (copied into the initramfs with its libraries) to $1, guest
# sending then receiving; prints each run's receiver line.
do_iperf() {
	command -v iperf3 >/dev/null || return 1
	for dir in "" -R; do
		timeout 30 iperf3 -c "$1" -t 3 $dir >/tmp/iperf.txt 2>&1 ||
			{ cat /tmp/iperf.txt; return 1; }
		step "iperf3 ${dir:-send}: $(grep receiver /tmp/iperf.txt | tr -s ' ')"
	done
}

# Serves a page until the host fetches /cgi-bin/quit (or serve_s pass).
do_serve() {
	mkdir -p /www/cgi-bin
	echo "$arg_expect" >/www/index.html
	if [ -n "${arg_big:-}" ]; then
		dd if=/dev/urandom of=/www/big bs=1M count="$arg_big" 2>/dev/null
		step "big md5 $(md5sum /www/big | cut -d' ' -f1)"
	fi
	printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho bye\ntouch /tmp/quit\n' \
		>/www/cgi-bin/quit
	chmod +x /www/cgi-bin/quit
	httpd -p "$arg_serve" -h /www || return 1
	step "serving on port $arg_serve"
	echo "GUEST-READY"
	for _ in $(seq $((${arg_serve_s:-40} * 10))); do
		[ -e /tmp/quit ] && return 0
		sleep 0.1
	done
	return 1
}

test_net() {
	[ -n "${arg_peer:-}" ] && { do_ping "$arg_peer" || return 1; }
	if [ -n "${arg_url:-}" ]; then
		do_fetch
		case $? in 1) return 2 ;; 2) return 3 ;; esac
	fi
	if [ -n "${arg_iperf:-}" ]; then
		do_iperf "$arg_iperf" || return 5
	fi
	if [ -n "${arg_serve:-}" ]; then
		do_serve || return 4
	fi
	return 0
}

load_modules || verdict "fail virtio modules did not load"
wait_eth0 || verdict "fail no eth0"
net_up || verdict "fail eth0 configuration (${arg_ip:-none})"
case ${arg_test:-} in
net | slirp)
	test_net
	case $? in
	0) verdict ok ;;
	1) verdict "fail ping $arg_peer" ;;
	2) verdict "fail wget $arg_url" ;;
	3) verdict "fail $arg_url lacks the expected token" ;;
	4) verdict "fail serving on port $arg_serve" ;;
	5) verdict "fail iperf3 to $arg_iperf" ;;
	esac ;;
*) verdict "fail unknown test '${arg_test:-}'" ;;
esac
