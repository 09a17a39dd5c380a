/* An outside program: built only through `pkg-config --cflags --libs netbe`. */
#include <netbe.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	netbe_config_t *cfg = netbe_config_new();
	int r = netbe_legacy_config(cfg, "tap0,mtu=9000");

	printf("libnetbe %s, %zu backends, parse=%d\n", netbe_version(),
	       netbe_backend_count(), r);
	netbe_config_free(cfg);
	return r == 0 && strcmp(netbe_version(), NETBE_VERSION_STRING) == 0 ? 0 : 1;
}
