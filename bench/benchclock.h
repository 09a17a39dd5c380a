/* SPDX-License-Identifier: BSD-2-Clause */
/* Clocks shared by the benchmark programs: wall and CPU seconds. */
#ifndef NETBE_BENCHCLOCK_H
#define NETBE_BENCHCLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User plus system time of this process: the "per core" denominator. */
static inline double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#endif
