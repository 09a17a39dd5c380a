#!/bin/sh
# Installs the Debian packages netbe needs (scripts/packages.txt) for the
# given groups (build, test).  As root it runs apt-get; otherwise it prints
# the exact command to run and fails.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
groups=${*:-build}

wanted() {
	for g in $groups; do
		awk -v g="$g" '!/^#/ && NF >= 2 { for (i = 2; i <= NF; i++) if ($i == g) print $1 }' \
			"$here/packages.txt"
	done | sort -u
}

missing=""
for p in $(wanted); do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "netbe: missing Debian packages:$missing" >&2
	echo "netbe: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "netbe: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
