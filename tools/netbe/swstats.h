/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * swstats.h - how the tool shows a switch: the per-port table (live, and
 * for "netbe stats"), the JSON object of --stats-json and "stats json",
 * the final counters, and the MAC table.  Shared by "netbe switch", its
 * control socket (swctl.c) and "netbe connect".
 */
#ifndef NETBE_SWSTATS_H
#define NETBE_SWSTATS_H

#include <stdint.h>
#include <stdio.h>

#include "netbe.h"

/* One port slot as last sampled. */
struct swview_port {
	int valid;
	char name[64];
	struct netbe_switch_port_stats st;
	double rx_fps, tx_fps, rx_mbps, tx_mbps; /* since the sample before */
};

/* A switch and the rates of its ports between the last two samples. */
struct swview {
	const netbe_switch_t *sw;
	const char *name; /* the switch's --name, or NULL */
	struct swview_port *ports;
	unsigned nports;
	uint64_t last_ns; /* CLOCK_MONOTONIC of the last sample, 0 none */
	double interval;  /* seconds between samples, for the header */
};

void swview_init(struct swview *v, const netbe_switch_t *sw,
		 const char *name, double interval);
void swview_free(struct swview *v);

/* Reads every port's counters; rates are the change since the last call
 * (zero for a port new since then).  0 or -ENOMEM. */
int swview_sample(struct swview *v);

/* The table: a summary line, a header, one row per port: the counters
 * as they are now, the rates of the last sample. */
void swview_table(FILE *f, const struct swview *v);

/* One JSON object and a newline (--stats-json, "stats json"). */
void swview_json(FILE *f, const struct swview *v);

/* Every port's counters, two lines each ("LABEL rx: frames ..."), and the
 * MAC table's totals. */
void swview_final(FILE *f, const netbe_switch_t *sw);

/* The MAC table, lines "VLAN MAC PORT AGE_S". */
void swview_fdb(FILE *f, const netbe_switch_t *sw);

/*
 * For a switch of two ports (netbe connect, netbe demo), one direction:
 * "forward FROM -> TO: frames N bytes N drops N [reasons] queued N",
 * where frames and bytes are what port @to was given, and drops are
 * @from's receive drops plus @to's send drops.  Returns the drops.
 */
uint64_t swview_forward(FILE *f, const netbe_switch_t *sw, unsigned from,
			unsigned to, const char *from_name,
			const char *to_name);

/* " [vlan 3, runt 1]" for the non-zero reasons of @drop (nothing when all
 * are zero); returns their sum. */
uint64_t swview_reasons(FILE *f, const uint64_t *drop);

/* The sum of @drop's reasons. */
uint64_t swview_drop_sum(const uint64_t *drop);

#endif /* NETBE_SWSTATS_H */
