#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The kernel checks the engine's segments (offload_kernel), then tshark
# checks the same segments, written to a pcap, with checksum validation on:
# every IP, TCP and UDP checksum must be "good" - none bad, none unchecked.
set -u
bin=$1
pcap=$(mktemp /tmp/offload-kernel-$$.XXXXXX.pcap)
trap 'rm -f "$pcap"' EXIT
"$bin" "$pcap"
rc=$?
[ $rc -eq 0 ] || exit $rc
if ! command -v tshark >/dev/null 2>&1; then
	echo "SKIP: tshark not installed (kernel check passed)"
	exit 77
fi
ts() {
	tshark -r "$pcap" -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
		-o ip.check_checksum:TRUE -Y "$1" 2>/dev/null | wc -l
}
total=$(ts "frame")
bad=$(ts "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0")
l4good=$(ts "tcp.checksum.status == 1 || udp.checksum.status == 1")
ipgood=$(ts "ip.checksum.status == 1")

# Fragments after the first have no L4 header to check.
echo "tshark: $total frames, $l4good with a good TCP/UDP checksum, $ipgood good IPv4 headers, $bad bad"
[ "$total" -gt 0 ] && [ "$bad" -eq 0 ] && [ "$l4good" -gt 100 ] && [ "$ipgood" -gt 50 ] || {
	echo "FAIL: tshark found bad checksums (or checked nothing)"
	tshark -r "$pcap" -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
		-o ip.check_checksum:TRUE -Y "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0" 2>/dev/null | head
	exit 1
}
echo PASS
