/* SPDX-License-Identifier: BSD-2-Clause */
/* netbe_get_cap / netbe_set_cap on pipe backends. */
#include "unit_util.h"

#define PLAIN(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown_pair)
#define OFFL(f) cmocka_unit_test_setup_teardown(f, setup_offload, teardown_pair)

/* A frame with A's frontend header @hlen arrives on B (header 0) whole. */
static void expect_traffic(struct pair *p, unsigned hlen)
{
	uint8_t buf[256];

	send_frame(p->a, hlen, 60, 3);
	assert_int_equal(recv_buf(p->b, buf, sizeof(buf)), 60);
	assert_true(frame_ok(buf, 60, 3));
}

/* What the library completes in software for any backend. */
#define SOFT_CAP                                                             \
	(NETBE_F_CSUM | NETBE_F_HOST_TSO4 | NETBE_F_HOST_TSO6 | \
	 NETBE_F_HOST_ECN | NETBE_F_HOST_UFO | NETBE_F_HOST_USO)

static void cap_plain_is_soft(void **state)
{
	struct pair *p = *state;

	assert_true(netbe_get_cap(p->a) == SOFT_CAP);
	assert_int_equal(netbe_get_vnet_hdr_len(p->a), 0);
	assert_string_equal(netbe_get_name(p->a), "pipe");
}

static void cap_offload_is_mask(void **state)
{
	struct pair *p = *state;

	assert_true(netbe_get_cap(p->a) == NETBE_OFFLOAD_MASK);
	assert_true(netbe_get_cap(p->b) == NETBE_OFFLOAD_MASK);
	assert_int_equal(netbe_get_vnet_hdr_len(p->a), 12);
}

static void set_cap_valid_lengths(void **state)
{
	struct pair *p = *state;
	static const unsigned ok[] = { 0, 10, 12 };

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(netbe_set_cap(p->a, 0, ok[i]), 0);
		expect_traffic(p, ok[i]);
	}
}

static void set_cap_bad_length_changes_nothing(void **state)
{
	struct pair *p = *state;
	static const unsigned bad[] = { 1, 8, 11, 13, 20, 100 };
	size_t wire = netbe_get_vnet_hdr_len(p->a);

	assert_int_equal(netbe_set_cap(p->a, 0, 10), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(netbe_set_cap(p->a, 0, bad[i]), -EINVAL);
		assert_non_null(strstr(netbe_last_error(),
				       "invalid virtio-net header length"));
		assert_int_equal(netbe_get_vnet_hdr_len(p->a), wire);
		expect_traffic(p, 10);
	}
}

static void set_cap_unsupported_offload(void **state)
{
	struct pair *p = *state;

	assert_int_equal(netbe_set_cap(p->a, 0, 12), 0);
	/* Receive offloads cannot be made up: the plain pipe has none. */
	assert_int_equal(netbe_set_cap(p->a, NETBE_F_GUEST_CSUM, 12),
			 -ENOTSUP);
	assert_non_null(strstr(netbe_last_error(), "0x2 not supported"));
	assert_int_equal(netbe_set_cap(p->a, NETBE_F_CSUM |
					     NETBE_F_GUEST_TSO4, 10),
			 -ENOTSUP);
	assert_int_equal(netbe_get_vnet_hdr_len(p->a), 0);
	expect_traffic(p, 12);
}

static void set_cap_offload_needs_header(void **state)
{
	struct pair *p = *state;

	assert_int_equal(netbe_set_cap(p->a, NETBE_F_CSUM, 0), -EINVAL);
	assert_non_null(strstr(netbe_last_error(), "need a virtio-net header"));
	assert_int_equal(netbe_set_cap(p->a, NETBE_F_CSUM, 12), 0);
	assert_int_equal(netbe_set_cap(p->a, NETBE_OFFLOAD_MASK, 10), 0);
}

static void set_cap_non_offload_bits_ignored(void **state)
{
	struct pair *p = *state;
	uint64_t f = NETBE_F_MRG_RXBUF | NETBE_F_MAC |
		     NETBE_F_STATUS | NETBE_F_CTRL_VQ |
		     NETBE_F_MTU | NETBE_F_MQ;

	assert_int_equal(netbe_set_cap(p->a, f, 12), 0);
	expect_traffic(p, 12);
	assert_int_equal(netbe_set_cap(p->a, f, 0), 0);
	expect_traffic(p, 0);
}

static void set_cap_offload_all(void **state)
{
	struct pair *p = *state;
	uint64_t f = NETBE_OFFLOAD_MASK | NETBE_F_MRG_RXBUF;

	assert_int_equal(netbe_set_cap(p->a, f, 12), 0);
	assert_int_equal(netbe_get_vnet_hdr_len(p->a), 12);
	assert_int_equal(netbe_set_cap(p->a, 0, 0), 0);
	assert_int_equal(netbe_get_vnet_hdr_len(p->a), 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PLAIN(cap_plain_is_soft),
		OFFL(cap_offload_is_mask),
		PLAIN(set_cap_valid_lengths),
		PLAIN(set_cap_bad_length_changes_nothing),
		OFFL(set_cap_bad_length_changes_nothing),
		PLAIN(set_cap_unsupported_offload),
		OFFL(set_cap_offload_needs_header),
		PLAIN(set_cap_non_offload_bits_ignored),
		OFFL(set_cap_offload_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
