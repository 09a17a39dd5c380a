/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * swstats.c - a switch seen from the tool: rates per port between two
 * samples, and the four ways the tool prints it (the table, a JSON
 * object, the final counters, the MAC table).  Everything here reads the
 * switch through its public queries (netbe_switch_port_info, _fdb,
 * _fdb_stats), so it runs on the switch's loop thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "swstats.h"

/* Drop reasons the port counters can hold. */
#define SW_REASONS                                                           \
	(NETBE_DROP_NREASONS < 16 ? NETBE_DROP_NREASONS : 16)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void swview_init(struct swview *v, const netbe_switch_t *sw,
		 const char *name, double interval)
{
	memset(v, 0, sizeof(*v));
	v->sw = sw;
	v->name = name;
	v->interval = interval;
}

void swview_free(struct swview *v)
{
	free(v->ports);
	v->ports = NULL;
	v->nports = 0;
}

uint64_t swview_drop_sum(const uint64_t *drop)
{
	uint64_t sum = 0;

	for (int i = 0; i < SW_REASONS; i++)
		sum += drop[i];
	return sum;
}

uint64_t swview_reasons(FILE *f, const uint64_t *drop)
{
	const char *sep = " [";

	for (int i = 0; i < SW_REASONS; i++) {
		if (!drop[i])
			continue;
		fprintf(f, "%s%s %" PRIu64, sep, netbe_drop_name(i), drop[i]);
		sep = ", ";
	}
	if (sep[0] == ',')
		fputc(']', f);
	return swview_drop_sum(drop);
}

/* ---- sampling --------------------------------------------------------------- */

static int grow(struct swview *v, unsigned n)
{
	struct swview_port *np;

	if (n <= v->nports)
		return 0;
	np = realloc(v->ports, n * sizeof(*np));
	if (np == NULL)
		return -ENOMEM;
	memset(np + v->nports, 0, (n - v->nports) * sizeof(*np));
	v->ports = np;
	v->nports = n;
	return 0;
}

static double per_s(uint64_t now, uint64_t before, double dt)
{
	return now >= before && dt > 0 ? (double)(now - before) / dt : 0;
}

/* Rates of slot @p, whose counters are now @st, named @name. */
static void rates(struct swview_port *p, const char *name,
		  const struct netbe_switch_port_stats *st, double dt)
{
	const struct netbe_switch_port_stats *o = &p->st;

	if (!p->valid || strcmp(p->name, name) != 0)
		dt = 0; /* new in this slot: no rate yet */
	p->rx_fps = per_s(st->rx_frames, o->rx_frames, dt);
	p->tx_fps = per_s(st->tx_frames, o->tx_frames, dt);
	p->rx_mbps = per_s(st->rx_bytes, o->rx_bytes, dt) * 8 / 1e6;
	p->tx_mbps = per_s(st->tx_bytes, o->tx_bytes, dt) * 8 / 1e6;
}

int swview_sample(struct swview *v)
{
	unsigned n = netbe_switch_port_slots(v->sw);
	uint64_t now = mono_ns();
	double dt = v->last_ns ? (double)(now - v->last_ns) / 1e9 : 0;

	if (grow(v, n) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct swview_port *p = &v->ports[i];
		struct netbe_switch_port_stats st;
		char name[sizeof(p->name)];

		if (netbe_switch_port_info(v->sw, i, name, sizeof(name), NULL,
					   &st) < 0) {
			p->valid = 0;
			continue;
		}
		rates(p, name, &st, dt);
		memcpy(p->name, name, sizeof(name));
		p->st = st;
		p->valid = 1;
	}
	v->last_ns = now;
	return 0;
}

/* ---- the table -------------------------------------------------------------- */

static void print_summary(FILE *f, const struct swview *v, unsigned nports)
{
	struct netbe_fdb_stats fs;

	netbe_switch_fdb_stats(v->sw, &fs);
	fprintf(f, "switch %s: %u port%s; MAC table %" PRIu64 " entries "
		"(learned %" PRIu64 ", moved %" PRIu64 ", refused %" PRIu64
		", aged %" PRIu64 "); rates over %g s\n",
		v->name ? cli_esc(v->name) : "(unnamed)", nports,
		nports == 1 ? "" : "s", fs.entries, fs.learned, fs.moved,
		fs.refused, fs.aged, v->interval);
}

/* "rx vlan 3, runt 1; tx egress-full 2", or "-". */
static void print_drops(FILE *f, const struct netbe_switch_port_stats *st)
{
	const char *sep = "";

	for (int d = 0; d < 2; d++) {
		const uint64_t *drop = d ? st->tx_drop : st->rx_drop;
		const char *dsep = d ? "tx " : "rx ";

		for (int i = 0; i < SW_REASONS; i++) {
			if (!drop[i])
				continue;
			fprintf(f, "%s%s%s %" PRIu64, sep, dsep,
				netbe_drop_name(i), drop[i]);
			sep = ", ";
			dsep = "";
		}
		if (*sep)
			sep = "; ";
	}
	if (!*sep)
		fputc('-', f);
}

/* The width of the name column: the longest name, 4 to 24. */
static int name_width(const netbe_switch_t *sw, unsigned n)
{
	size_t w = 4;
	char name[64];

	for (unsigned i = 0; i < n; i++)
		if (netbe_switch_port_info(sw, i, name, sizeof(name), NULL,
					   NULL) == 0 && strlen(name) > w)
			w = strlen(name);
	return (int)(w > 24 ? 24 : w);
}

/* The rates of the port in slot @i named @name at the last sample. */
static const struct swview_port *rates_of(const struct swview *v,
					  unsigned i, const char *name)
{
	static const struct swview_port none;

	if (i < v->nports && v->ports[i].valid &&
	    strcmp(v->ports[i].name, name) == 0)
		return &v->ports[i];
	return &none;
}

static void print_row(FILE *f, const struct swview *v, unsigned i, int w)
{
	struct netbe_switch_port_stats st;
	const struct swview_port *p;
	char name[64];

	if (netbe_switch_port_info(v->sw, i, name, sizeof(name), NULL, &st) < 0)
		return;
	p = rates_of(v, i, name);
	fprintf(f, "%-*.*s %10.0f %10.0f %10.2f %10.2f %7" PRIu64 "  ", w, w,
		cli_esc(name), p->rx_fps, p->tx_fps, p->rx_mbps, p->tx_mbps,
		st.queued);
	print_drops(f, &st);
	fputc('\n', f);
}

void swview_table(FILE *f, const struct swview *v)
{
	unsigned n = netbe_switch_port_slots(v->sw), nports = 0;
	int w = name_width(v->sw, n);

	for (unsigned i = 0; i < n; i++)
		nports += netbe_switch_port_info(v->sw, i, NULL, 0, NULL,
						 NULL) == 0;
	print_summary(f, v, nports);
	fprintf(f, "%-*s %10s %10s %10s %10s %7s  %s\n", w, "PORT", "RX f/s",
		"TX f/s", "RX Mbit/s", "TX Mbit/s", "QUEUED", "DROPS");
	for (unsigned i = 0; i < n; i++)
		print_row(f, v, i, w);
}

/* ---- JSON --------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at @s, 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
		   : s[0] >= 0xe0		? 3
		   : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
						  : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* @s as a JSON string: quotes, backslashes and control characters
 * escaped, bytes that are not UTF-8 as U+FFFD. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t n = *p >= 0x80 ? utf8_len(p) : 1;

		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (n == 0)
			fputs("\\ufffd", f);
		else
			fwrite(p, 1, n, f);
		p += n ? n : 1;
	}
	fputc('"', f);
}

static void json_drops(FILE *f, const char *key, const uint64_t *drop)
{
	const char *sep = "";

	fprintf(f, ",\"%s\":{", key);
	for (int i = 0; i < SW_REASONS; i++) {
		if (!drop[i])
			continue;
		fputs(sep, f);
		json_str(f, netbe_drop_name(i));
		fprintf(f, ":%" PRIu64, drop[i]);
		sep = ",";
	}
	fputc('}', f);
}

static void json_port(FILE *f, const char *name, const netbe_t *be,
		      const struct netbe_switch_port_stats *st)
{
	fputs("{\"name\":", f);
	json_str(f, name);
	fputs(",\"backend\":", f);
	json_str(f, be ? netbe_get_label(be) : "");
	fprintf(f, ",\"rx_frames\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
		",\"rx_forwarded\":%" PRIu64 ",\"tx_frames\":%" PRIu64
		",\"tx_bytes\":%" PRIu64 ",\"tx_offered\":%" PRIu64
		",\"queued\":%" PRIu64,
		st->rx_frames, st->rx_bytes, st->rx_forwarded, st->tx_frames,
		st->tx_bytes, st->tx_offered, st->queued);
	json_drops(f, "rx_drops", st->rx_drop);
	json_drops(f, "tx_drops", st->tx_drop);
	fputc('}', f);
}

static void json_ports(FILE *f, const netbe_switch_t *sw)
{
	unsigned n = netbe_switch_port_slots(sw);
	const char *sep = "";

	fputs(",\"ports\":[", f);
	for (unsigned i = 0; i < n; i++) {
		struct netbe_switch_port_stats st;
		char name[64];
		netbe_t *be;

		if (netbe_switch_port_info(sw, i, name, sizeof(name), &be,
					   &st) < 0)
			continue;
		fputs(sep, f);
		json_port(f, name, be, &st);
		sep = ",";
	}
	fputc(']', f);
}

void swview_json(FILE *f, const struct swview *v)
{
	struct netbe_fdb_stats fs;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "{\"time\":%lld.%03ld", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000);
	if (v->name) {
		fputs(",\"switch\":", f);
		json_str(f, v->name);
	}
	json_ports(f, v->sw);
	netbe_switch_fdb_stats(v->sw, &fs);
	fprintf(f, ",\"fdb\":{\"entries\":%" PRIu64 ",\"learned\":%" PRIu64
		",\"moved\":%" PRIu64 ",\"refused\":%" PRIu64
		",\"aged\":%" PRIu64 "}}\n",
		fs.entries, fs.learned, fs.moved, fs.refused, fs.aged);
}

/* ---- final counters ------------------------------------------------------------ */

static void final_port(FILE *f, const char *label,
		       const struct netbe_switch_port_stats *st)
{
	fprintf(f, "%s rx: frames %" PRIu64 " bytes %" PRIu64
		" forwarded %" PRIu64 " drops %" PRIu64,
		label, st->rx_frames, st->rx_bytes, st->rx_forwarded,
		swview_drop_sum(st->rx_drop));
	swview_reasons(f, st->rx_drop);
	fprintf(f, "\n%s tx: frames %" PRIu64 " bytes %" PRIu64
		" offered %" PRIu64 " queued %" PRIu64 " drops %" PRIu64,
		label, st->tx_frames, st->tx_bytes, st->tx_offered, st->queued,
		swview_drop_sum(st->tx_drop));
	swview_reasons(f, st->tx_drop);
	fputc('\n', f);
}

void swview_final(FILE *f, const netbe_switch_t *sw)
{
	unsigned n = netbe_switch_port_slots(sw);
	struct netbe_fdb_stats fs;

	for (unsigned i = 0; i < n; i++) {
		struct netbe_switch_port_stats st;
		char name[64];
		netbe_t *be;

		if (netbe_switch_port_info(sw, i, name, sizeof(name), &be,
					   &st) == 0)
			final_port(f, be ? netbe_get_label(be) : cli_esc(name),
				   &st);
	}
	netbe_switch_fdb_stats(sw, &fs);
	fprintf(f, "fdb: entries %" PRIu64 " learned %" PRIu64
		" moved %" PRIu64 " refused %" PRIu64 " aged %" PRIu64 "\n",
		fs.entries, fs.learned, fs.moved, fs.refused, fs.aged);
}

uint64_t swview_forward(FILE *f, const netbe_switch_t *sw, unsigned from,
			unsigned to, const char *from_name, const char *to_name)
{
	struct netbe_switch_port_stats in = { 0 }, out = { 0 };
	uint64_t drop[16];

	netbe_switch_port_info(sw, from, NULL, 0, NULL, &in);
	netbe_switch_port_info(sw, to, NULL, 0, NULL, &out);
	for (int i = 0; i < 16; i++)
		drop[i] = in.rx_drop[i] + out.tx_drop[i];
	fprintf(f, "forward %s -> %s: frames %" PRIu64 " bytes %" PRIu64
		" drops %" PRIu64, from_name, to_name, out.tx_frames,
		out.tx_bytes, swview_drop_sum(drop));
	swview_reasons(f, drop);
	fprintf(f, " queued %" PRIu64 "\n", out.queued);
	return swview_drop_sum(drop);
}

/* ---- the MAC table ----------------------------------------------------------------- */

struct fdb_print {
	FILE *f;
	const netbe_switch_t *sw;
};

static int fdb_line(unsigned vlan, const uint8_t mac[6], unsigned port,
		    unsigned age_s, void *arg)
{
	struct fdb_print *fp = arg;
	char name[64];

	if (netbe_switch_port_info(fp->sw, port, name, sizeof(name), NULL,
				   NULL) < 0)
		snprintf(name, sizeof(name), "#%u", port);
	fprintf(fp->f, "%u %02x:%02x:%02x:%02x:%02x:%02x %s %u\n", vlan,
		mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], cli_esc(name),
		age_s);
	return 0;
}

void swview_fdb(FILE *f, const netbe_switch_t *sw)
{
	struct fdb_print fp = { f, sw };

	netbe_switch_fdb(sw, fdb_line, &fp);
}
