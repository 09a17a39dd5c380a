#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# busybox udhcpc event script of the test guest: apply the lease.
case $1 in
bound | renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	for r in $router; do route add default gw "$r" dev "$interface"; break; done
	echo "$ip" >/tmp/dhcp-ip
	for d in $dns; do echo "nameserver $d"; done >/etc/resolv.conf
	;;
deconfig) ifconfig "$interface" 0.0.0.0 ;;
esac
exit 0
