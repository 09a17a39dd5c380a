#!/bin/sh
# netbe.h and <linux/virtio_net.h> together, in either order: both compile
# warning-free and NETBE_F_* are the masks of the kernel's bit numbers;
# the opt-in bhyve spellings give the same masks alone, and refuse to be
# mixed with the kernel header (never a silent wrong value).
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd) build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc=${CC:-cc}
flags="-std=gnu11 -Wall -Wextra -Werror -I$src/include -I$build"

cat >"$tmp/check.h" <<'C'
#include <stdio.h>
#define SAME(a, b) ((a) == (b) ? 0 : (printf("%s != %s\n", #a, #b), 1))
static int check(void)
{
	return SAME(NETBE_F_CSUM, 1ULL << VIRTIO_NET_F_CSUM) +
	       SAME(NETBE_F_GUEST_CSUM, 1ULL << VIRTIO_NET_F_GUEST_CSUM) +
	       SAME(NETBE_F_GUEST_TSO4, 1ULL << VIRTIO_NET_F_GUEST_TSO4) +
	       SAME(NETBE_F_HOST_TSO6, 1ULL << VIRTIO_NET_F_HOST_TSO6) +
	       SAME(NETBE_F_HOST_UFO, 1ULL << VIRTIO_NET_F_HOST_UFO) +
	       SAME(NETBE_F_MRG_RXBUF, 1ULL << VIRTIO_NET_F_MRG_RXBUF) +
	       SAME(NETBE_F_MQ, 1ULL << VIRTIO_NET_F_MQ) +
	       SAME(NETBE_OFFLOAD_MASK, 0x01c0000000007f83ULL);
}
int main(void) { return check(); }
C
printf '#include <linux/virtio_net.h>\n#include <netbe.h>\n#include "check.h"\n' >"$tmp/kernel_first.c"
printf '#include <netbe.h>\n#include <linux/virtio_net.h>\n#include "check.h"\n' >"$tmp/netbe_first.c"
for t in kernel_first netbe_first; do
	$cc $flags -o "$tmp/$t" "$tmp/$t.c" || { echo "FAIL: $t does not compile"; exit 1; }
	"$tmp/$t" || { echo "FAIL: $t: wrong values"; exit 1; }
done

# The bhyve spellings, opted in, are masks (bhyve's virtio.h meaning).
cat >"$tmp/compat.c" <<'C'
#define NETBE_COMPAT_VIRTIO_NAMES
#include <netbe.h>
int main(void)
{
	return VIRTIO_NET_F_CSUM == 1ULL && VIRTIO_NET_F_HOST_TSO4 == 1ULL << 11 ? 0 : 1;
}
C
$cc $flags -o "$tmp/compat" "$tmp/compat.c" && "$tmp/compat" ||
	{ echo "FAIL: NETBE_COMPAT_VIRTIO_NAMES"; exit 1; }
# Mixed with the kernel header: after it, the build stops; before it, the
# kernel header adds nothing, so the names keep their mask values and its
# types are not there (a use of them does not compile).
{ echo '#define NETBE_COMPAT_VIRTIO_NAMES'
  echo '#include <linux/virtio_net.h>'; echo '#include <netbe.h>'
  echo 'int main(void) { return 0; }'; } >"$tmp/mixed.c"
if $cc $flags -o "$tmp/mixed" "$tmp/mixed.c" 2>/dev/null; then
	echo "FAIL: compat names after <linux/virtio_net.h> compiled"
	exit 1
fi
sed 's|#include <netbe.h>|#include <netbe.h>\n#include <linux/virtio_net.h>|' \
	"$tmp/compat.c" >"$tmp/compat_first.c"
$cc $flags -o "$tmp/compat_first" "$tmp/compat_first.c" && "$tmp/compat_first" ||
	{ echo "FAIL: compat names, then <linux/virtio_net.h>: wrong values"; exit 1; }
printf '%s\n' '#define NETBE_COMPAT_VIRTIO_NAMES' '#include <netbe.h>' \
	'#include <linux/virtio_net.h>' \
	'int main(void) { struct virtio_net_hdr h = { 0 }; return h.flags; }' \
	>"$tmp/types.c"
if $cc $flags -o "$tmp/types" "$tmp/types.c" 2>/dev/null; then
	echo "FAIL: compat names, then the kernel header's types: compiled"
	exit 1
fi
echo "header: ok (NETBE_F_* with <linux/virtio_net.h> in both orders; compat names opt-in and never mixed)"
