/* SPDX-License-Identifier: BSD-2-Clause */
/* Config map, legacy option strings, checking and value parsers. */
#include "unit_util.h"
#include "netbe_int.h"

static int setup_cfg(void **state)
{
	*state = netbe_config_new();
	return *state ? 0 : -1;
}

static int teardown_cfg(void **state)
{
	netbe_config_free(*state);
	return 0;
}

#define CFG_TEST(f) cmocka_unit_test_setup_teardown(f, setup_cfg, teardown_cfg)

/* Parses @opts into @cfg and expects failure with @msg in the error. */
static void expect_fail(netbe_config_t *cfg, const char *opts, int err,
			const char *msg)
{
	assert_int_equal(netbe_legacy_config(cfg, opts), err);
	if (!strstr(netbe_last_error(), msg))
		fail_msg("'%s': error '%s' lacks '%s'", opts, netbe_last_error(),
			 msg);
}

static void expect_ok(const char *opts)
{
	netbe_config_t *cfg = netbe_config_new();
	int r = netbe_legacy_config(cfg, opts);

	netbe_config_free(cfg);
	if (r != 0)
		fail_msg("'%s' refused (%d): %s", opts, r, netbe_last_error());
}

/* ---- the map ------------------------------------------------------------ */

static void set_get_replace(void **state)
{
	netbe_config_t *cfg = *state;

	assert_null(netbe_config_get(cfg, "mtu"));
	assert_int_equal(netbe_config_set(cfg, "mtu", "1500"), 0);
	assert_string_equal(netbe_config_get(cfg, "mtu"), "1500");
	assert_int_equal(netbe_config_set(cfg, "mtu", "9000"), 0);
	assert_string_equal(netbe_config_get(cfg, "mtu"), "9000");
	assert_null(netbe_config_get(cfg, "MTU"));
}

static void set_invalid_keys(void **state)
{
	netbe_config_t *cfg = *state;

	assert_int_equal(netbe_config_set(cfg, "", "x"), -EINVAL);
	assert_int_equal(netbe_config_set(cfg, "a=b", "x"), -EINVAL);
	assert_int_equal(netbe_config_set(cfg, "a,b", "x"), -EINVAL);
	assert_int_equal(netbe_config_set(cfg, NULL, "x"), -EINVAL);
	assert_int_equal(netbe_config_set(cfg, "k", NULL), -EINVAL);
	assert_int_equal(netbe_config_foreach(cfg, NULL, NULL), 0);
}

static int collect(const char *key, const char *value, void *arg)
{
	char *out = arg;

	strcat(out, key);
	strcat(out, "=");
	strcat(out, value);
	strcat(out, ";");
	return 0;
}

static void unset_keeps_order(void **state)
{
	netbe_config_t *cfg = *state;
	char out[128] = "";

	assert_int_equal(netbe_config_set(cfg, "a", "1"), 0);
	assert_int_equal(netbe_config_set(cfg, "b", "2"), 0);
	assert_int_equal(netbe_config_set(cfg, "c", "3"), 0);
	assert_int_equal(netbe_config_unset(cfg, "b"), 0);
	assert_int_equal(netbe_config_unset(cfg, "b"), -ENOENT);
	assert_null(netbe_config_get(cfg, "b"));
	assert_int_equal(netbe_config_set(cfg, "a", "9"), 0);
	assert_int_equal(netbe_config_foreach(cfg, collect, out), 0);
	assert_string_equal(out, "a=9;c=3;");
}

static int stop_at_b(const char *key, const char *value, void *arg)
{
	(void)value;
	(*(int *)arg)++;
	return strcmp(key, "b") ? 0 : 42;
}

static void foreach_stops_early(void **state)
{
	netbe_config_t *cfg = *state;
	int visits = 0;

	assert_int_equal(netbe_config_set(cfg, "a", "1"), 0);
	assert_int_equal(netbe_config_set(cfg, "b", "2"), 0);
	assert_int_equal(netbe_config_set(cfg, "c", "3"), 0);
	assert_int_equal(netbe_config_foreach(cfg, stop_at_b, &visits), 42);
	assert_int_equal(visits, 2);
}

/* ---- FreeBSD flavour ------------------------------------------------------ */

static void legacy_tap_mtu(void **state)
{
	netbe_config_t *cfg = *state;

	assert_int_equal(netbe_legacy_config(cfg, "tap0,mtu=9000"), 0);
	assert_string_equal(netbe_config_get(cfg, "backend"), "tap0");
	assert_string_equal(netbe_config_get(cfg, "mtu"), "9000");
	assert_null(netbe_config_get(cfg, "type"));
}

static void legacy_type_key(void **state)
{
	netbe_config_t *cfg = *state;

	assert_int_equal(netbe_legacy_config(cfg, "mynic0,type=tap"), 0);
	assert_string_equal(netbe_config_get(cfg, "backend"), "mynic0");
	assert_string_equal(netbe_config_get(cfg, "type"), "tap");
}

static void legacy_bare_key_is_true(void **state)
{
	netbe_config_t *cfg = *state;

	assert_int_equal(netbe_legacy_config(cfg, "pipe:x,offload"), 0);
	assert_string_equal(netbe_config_get(cfg, "backend"), "pipe:x");
	assert_string_equal(netbe_config_get(cfg, "offload"), "true");
}

static void legacy_first_token_with_eq(void **state)
{
	netbe_config_t *cfg = *state;

	assert_int_equal(netbe_legacy_config(cfg, "type=pipe,name=x"), 0);
	assert_null(netbe_config_get(cfg, "backend"));
	assert_string_equal(netbe_config_get(cfg, "type"), "pipe");
	assert_string_equal(netbe_config_get(cfg, "name"), "x");
}

static void legacy_null_is_noop(void **state)
{
	netbe_config_t *cfg = *state;

	assert_int_equal(netbe_legacy_config(cfg, NULL), 0);
	assert_null(netbe_config_get(cfg, "backend"));
	assert_int_equal(netbe_legacy_config(NULL, "tap0"), -EINVAL);
	assert_int_equal(netbe_legacy_config_flavour(cfg, "tap0", 7), -EINVAL);
}

/* The backend a token selects shows in the unknown-key message. */
static void prefix_selects_backend(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "tap0,bogus=1", -EINVAL, "tap: unknown key 'bogus'");
	expect_fail(cfg, "vmnet3,bogus=1", -EINVAL, "vmnet: unknown key");
	expect_fail(cfg, "pipe:x,bogus=1", -EINVAL, "pipe: unknown key");
	expect_fail(cfg, "tapestry,bogus=1", -EINVAL, "tap: unknown key");
	expect_fail(cfg, "xtap0", -ENOENT, "unknown backend 'xtap0'");
}

static void type_overrides_prefix(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "tap0,type=pipe,ifname=x", -EINVAL,
		    "pipe: unknown key 'ifname'");
	expect_ok("tap0,type=pipe,name=x");
	expect_ok("pipe:x,type=tap,ifname=tap9");
	expect_ok("vmnet0,type=tap");
}

/* ---- illumos flavour ------------------------------------------------------ */

static void illumos_defaults(void **state)
{
	netbe_config_t *cfg = *state;
	int r;

	r = netbe_legacy_config_flavour(cfg, "vnic0,mtu=9000",
					NETBE_FLAVOUR_ILLUMOS);
	assert_string_equal(netbe_config_get(cfg, "backend"), "dlpi");
	assert_string_equal(netbe_config_get(cfg, "vnic"), "vnic0");
	assert_string_equal(netbe_config_get(cfg, "mtu"), "9000");
	/* dlpi is registered (the packet backend's second name). */
	assert_int_equal(r, 0);
}

static void illumos_keys_only(void **state)
{
	netbe_config_t *cfg = *state;

	/* Valid syntax: the missing vnic is reported when it is opened. */
	assert_int_equal(netbe_legacy_config_flavour(cfg, "mtu=1500",
						     NETBE_FLAVOUR_ILLUMOS),
			 0);
	assert_string_equal(netbe_config_get(cfg, "backend"), "dlpi");
	assert_null(netbe_config_get(cfg, "vnic"));
	assert_string_equal(netbe_config_get(cfg, "mtu"), "1500");
}

/* ---- errors ---------------------------------------------------------------- */

static void err_unknown_key_lists_keys(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "tap0,bogus", -EINVAL,
		    "tap: unknown key 'bogus'; valid keys: ");
	assert_non_null(strstr(netbe_last_error(), "ifname"));
	assert_non_null(strstr(netbe_last_error(), "mtu"));
	assert_non_null(strstr(netbe_last_error(), "mac"));
}

static void err_bad_bool(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "pipe:x,offload=maybe", -EINVAL,
		    "pipe: invalid value 'maybe' for 'offload'");
	assert_non_null(strstr(netbe_last_error(), "on/off"));
	assert_non_null(strstr(netbe_last_error(), "true/false"));
	assert_non_null(strstr(netbe_last_error(), "yes/no"));
	assert_non_null(strstr(netbe_last_error(), "1/0"));
}

static void err_bad_uint(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "tap0,mtu=abc", -EINVAL,
		    "tap: invalid value 'abc' for 'mtu': expected an unsigned");
	expect_fail(cfg, "tap0,mtu=-1", -EINVAL, "invalid value '-1'");
	expect_fail(cfg, "tap0,mtu=1500x", -EINVAL, "invalid value '1500x'");
	expect_fail(cfg, "tap0,mtu=", -EINVAL, "invalid value '' for 'mtu'");
}

static void err_mtu_range(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "tap0,mtu=67", -EINVAL,
		    "invalid value '67' for 'mtu': must be 68-65535");
	expect_fail(cfg, "tap0,mtu=65536", -EINVAL,
		    "invalid value '65536' for 'mtu': must be 68-65535");
	expect_ok("tap0,mtu=68");
	expect_ok("tap0,mtu=65535");
}

static void err_bad_mac(void **state)
{
	static const char *const bad[] = {
		"tap0,mac=00:11:22:33:44",	     /* too short */
		"tap0,mac=00:11:22:33:44:gg",	     /* not hex */
		"tap0,mac=01:00:5e:00:00:01",	     /* multicast */
		"tap0,mac=00:00:00:00:00:00",	     /* all zero */
		"tap0,mac=00-11-22-33-44-55",	     /* separators */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fail(*state, bad[i], -EINVAL,
			    "for 'mac': expected a unicast MAC");
	expect_ok("tap0,mac=02:00:5E:00:00:01");
}

static void err_syntax(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "", -EINVAL, "config: empty backend string");
	expect_fail(cfg, "tap0,,mtu=1500", -EINVAL,
		    "config: empty option (stray ',')");
	expect_fail(cfg, "tap0,", -EINVAL, "empty option");
	expect_fail(cfg, "=5", -EINVAL, "config: option '=5' has no key");
}

static void err_unknown_backend(void **state)
{
	netbe_config_t *cfg = *state;

	expect_fail(cfg, "foo0", -ENOENT,
		    "config: unknown backend 'foo0'; valid backends: ");
	assert_non_null(strstr(netbe_last_error(), "tap"));
	assert_non_null(strstr(netbe_last_error(), "vmnet"));
	assert_non_null(strstr(netbe_last_error(), "pipe"));
}

static void err_unknown_type(void **state)
{
	expect_fail(*state, "tap0,type=foo", -ENOENT,
		    "config: unknown type 'foo'; valid backends: ");
}

static void err_no_backend(void **state)
{
	expect_fail(*state, "mtu=1500", -EINVAL,
		    "config: no backend given; valid backends: ");
	assert_non_null(strstr(netbe_last_error(), "pipe"));
}

/* netbe.h: netbe_config_check returns "-EINVAL / -ENOENT (no such
 * backend)", and netbe_init "-ENOENT no such backend". */
static void check_unknown_backend_is_enoent(void **state)
{
	netbe_config_t *cfg = *state;
	netbe_t *be = (netbe_t *)1;

	assert_int_equal(netbe_config_set(cfg, "backend", "foo0"), 0);
	assert_int_equal(netbe_init(&be, cfg, unit_nop_cb, NULL), -ENOENT);
	assert_null(be);
	assert_int_equal(netbe_config_check(cfg), -ENOENT);
}

static void bools_any_case(void **state)
{
	static const char *const v[] = { "on", "off", "true", "false", "yes",
					 "no", "1", "0", "ON", "Off", "TRUE",
					 "fAlSe", "YES", "No" };
	char opts[64];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(opts, sizeof(opts), "pipe:x,offload=%s", v[i]);
		expect_ok(opts);
	}
}

/* ---- value parsers ------------------------------------------------------------ */

static void parse_bool_values(void **state)
{
	static const char *const yes[] = { "on", "TRUE", "Yes", "1" };
	static const char *const no[] = { "OFF", "false", "nO", "0" };
	static const char *const bad[] = { "", "2", "onn", "tru", "y", " on" };
	bool b;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		b = false;
		assert_int_equal(netbe__parse_bool(yes[i], &b), 0);
		assert_true(b);
		assert_int_equal(netbe__parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netbe__parse_bool(bad[i], &b), -EINVAL);
}

static void parse_uint_values(void **state)
{
	static const char *const bad[] = { "", "-1", " 1", "1 ", "+1", "x",
					   "0x", "0xg", "08x",
					   "18446744073709551616" };
	unsigned long v = 7;

	(void)state;
	assert_int_equal(netbe__parse_uint("0", 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(netbe__parse_uint("1500", 0, &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(netbe__parse_uint("99", 99, &v), 0);
	assert_int_equal(v, 99);
	assert_int_equal(netbe__parse_uint("100", 99, &v), -EINVAL);
	assert_int_equal(v, 99);
	/* Decimal, never octal; hex only with 0x. */
	assert_int_equal(netbe__parse_uint("01500", 0, &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(netbe__parse_uint("0x5dc", 0, &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(netbe__parse_uint("99", 99, &v), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netbe__parse_uint(bad[i], 0, &v), -EINVAL);
	assert_int_equal(v, 99);
}

static void parse_mac_values(void **state)
{
	static const char *const bad[] = {
		"", "02:00:00:00:00", "02:00:00:00:00:0", "02:00:00:00:00:001",
		"02:00:00:00:00:01:", "02-00-00-00-00-01", "0g:00:00:00:00:01",
		"ff:ff:ff:ff:ff:ff", "03:00:00:00:00:01", "00:00:00:00:00:00",
		" 2:00:00:00:00:01", "+2:00:00:00:00:01", "02:00:00:00:00:+1",
	};
	const uint8_t want[6] = { 0x02, 0xab, 0xCD, 0x00, 0x10, 0xff };
	uint8_t mac[6] = { 0 };

	(void)state;
	assert_int_equal(netbe__parse_mac("02:ab:CD:00:10:ff", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(netbe__parse_mac("00:00:00:00:00:01", mac), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (netbe__parse_mac(bad[i], mac) != -EINVAL)
			fail_msg("MAC '%s' accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CFG_TEST(set_get_replace),
		CFG_TEST(set_invalid_keys),
		CFG_TEST(unset_keeps_order),
		CFG_TEST(foreach_stops_early),
		CFG_TEST(legacy_tap_mtu),
		CFG_TEST(legacy_type_key),
		CFG_TEST(legacy_bare_key_is_true),
		CFG_TEST(legacy_first_token_with_eq),
		CFG_TEST(legacy_null_is_noop),
		CFG_TEST(prefix_selects_backend),
		CFG_TEST(type_overrides_prefix),
		CFG_TEST(illumos_defaults),
		CFG_TEST(illumos_keys_only),
		CFG_TEST(err_unknown_key_lists_keys),
		CFG_TEST(err_bad_bool),
		CFG_TEST(err_bad_uint),
		CFG_TEST(err_mtu_range),
		CFG_TEST(err_bad_mac),
		CFG_TEST(err_syntax),
		CFG_TEST(err_unknown_backend),
		CFG_TEST(err_unknown_type),
		CFG_TEST(err_no_backend),
		CFG_TEST(check_unknown_backend_is_enoent),
		cmocka_unit_test(bools_any_case),
		cmocka_unit_test(parse_bool_values),
		cmocka_unit_test(parse_uint_values),
		cmocka_unit_test(parse_mac_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
