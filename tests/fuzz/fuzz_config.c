/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for the option-string parser and checker: any byte string,
 * both flavours.  Built for libFuzzer by `make fuzz`; the corpus is also
 * replayed by a normal test through fuzz_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netbe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const char *s, enum netbe_flavour flavour)
{
	netbe_config_t *cfg = netbe_config_new();

	if (!cfg)
		return;
	if (netbe_legacy_config_flavour(cfg, s, flavour) < 0 &&
	    !netbe_last_error()[0])
		abort(); /* every failure must say why */
	netbe_config_check(cfg);
	netbe_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	parse(s, NETBE_FLAVOUR_FREEBSD);
	parse(s, NETBE_FLAVOUR_ILLUMOS);
	free(s);
	return 0;
}
