#!/bin/sh
# Installs the build into a scratch DESTDIR, then builds and runs an outside
# program with nothing but `pkg-config --cflags --libs netbe`, and checks
# that the shared library exports the public API only.
set -eu
build=$1 sanitize=${2:-none} src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --no-rebuild --destdir "$tmp/root" >/dev/null
pc=$(find "$tmp/root" -name netbe.pc | head -n1)
[ -n "$pc" ] || { echo "FAIL: netbe.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs netbe)
# A sanitizer build's library needs the sanitizer runtime in the program.
san=""
[ "$sanitize" = none ] || san="-fsanitize=$sanitize"
${CC:-cc} -Wall -Werror $san -o "$tmp/outside" "$src/outside.c" $flags
LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")") "$tmp/outside"

so=$(find "$tmp/root" -name 'libnetbe.so.*.*' | head -n1)
bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^netbe_' | grep -v '^NETBE_' || true)
internal=$(nm -D --defined-only "$so" | awk '{print $3}' | grep '^netbe__' || true)
if [ -n "$bad$internal" ]; then
	echo "FAIL: non-API symbols exported: $bad $internal"
	exit 1
fi
# One set: the functions the header declares (comments stripped), the
# names the version script lists, and what the library exports.
root=$(cd "$src/../.." && pwd)
${CC:-cc} -fpreprocessed -dD -E -P "$root/include/netbe.h" |
	grep -oE '\bnetbe_[a-z0-9_]+\(' | tr -d '(' | sort -u >"$tmp/header"
sed -n 's/^ *\(netbe_[a-z0-9_]*\);$/\1/p' "$root/src/libnetbe.map" | sort -u >"$tmp/map"
nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sed 's/@.*//' |
	sort -u >"$tmp/exported"
for f in map exported; do
	if ! cmp -s "$tmp/header" "$tmp/$f"; then
		echo "FAIL: header functions and $f differ:"
		diff "$tmp/header" "$tmp/$f" || true
		exit 1
	fi
done
nm -D --defined-only "$so" | grep -q '@@NETBE_0\.1$' ||
	{ echo "FAIL: exports carry no NETBE_0.1 version"; exit 1; }
echo "pkg-config: ok ($(wc -l <"$tmp/exported") API functions exported, each declared and listed)"
