#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# faults.sh - runs one fault test (fault_link, fault_mtu, fault_peer)
# inside a private network namespace with lo up and a veth pair vA <-> vB
# at MTU 1500, both up, IPv6 off (no router solicitations or MLD on the
# wire).  The namespace, and
# whatever the test left in it, goes away on exit.  Root only (77 else);
# the test's own exit code (77: skipped, with the reason) is passed on.
#
#   usage: faults.sh PATH/TO/TEST ARGS...
set -u

bin=${1:-}
shift 2>/dev/null
tmp=''
. "$(dirname "$0")/../cli/cli_lib.sh"

{ [ -n "$bin" ] && [ -x "$bin" ]; } || skip "no test binary given"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) not installed"

ns=netbe-ft$$
trap cli_netns_del EXIT
trap 'exit 1' INT TERM HUP
cli_netns_add $ns
ip -n $ns link add vA type veth peer name vB || skip "no veth support"
ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
for v in vA vB; do
	ip -n $ns link set $v up
done

ip netns exec $ns "$bin" "$@"
