/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netbe__iov_to_buf: copies bytes [off, off + len) of an iovec into a
 * flat buffer, returning how many there were.  A range inside the first
 * piece takes the inline memcpy, any other the piecewise walk; both must
 * give exactly the flat answer, for every offset and length over a
 * three-piece iovec (pieces of 5, 0 and 7 bytes, then 4), past the end
 * included.
 */
#include "unit_util.h"
#include "netbe_int.h"

static void to_buf_matches_flat(void **state)
{
	uint8_t flat[16], a[5], c[7], d[4];
	struct iovec iov[4] = { { a, 5 }, { a, 0 }, { c, 7 }, { d, 4 } };

	(void)state;
	for (unsigned i = 0; i < sizeof(flat); i++)
		flat[i] = (uint8_t)(0x40 + i);
	memcpy(a, flat, 5);
	memcpy(c, flat + 5, 7);
	memcpy(d, flat + 12, 4);
	for (size_t off = 0; off <= 18; off++) {
		for (size_t len = 0; len <= 18; len++) {
			uint8_t got[32];
			size_t want = off >= 16 ? 0
				      : len < 16 - off ? len : 16 - off;

			memset(got, 0xee, sizeof(got));
			assert_int_equal(netbe__iov_to_buf(iov, 4, off, got,
							   len), want);
			if (want)
				assert_memory_equal(got, flat + off, want);
			assert_int_equal(got[want], 0xee);
		}
	}
	assert_int_equal(netbe__iov_to_buf(iov, 0, 0, flat, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(to_buf_matches_flat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
