/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log_capture.h - the library's log lines, kept for a test to search
 * (netbe_set_log_fn(log_cb, ...), then logged("...")).  Shared by the
 * socket tests.
 */
#ifndef SOCK_LOG_CAPTURE_H
#define SOCK_LOG_CAPTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "netbe.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static inline void log_cb(enum netbe_log_level lvl, const char *msg,
			  void *opaque)
{
	(void)lvl;
	(void)opaque;
	pthread_mutex_lock(&log_lock);
	strncat(log_text, msg, sizeof(log_text) - strlen(log_text) - 2);
	strcat(log_text, "\n");
	pthread_mutex_unlock(&log_lock);
}

static inline bool logged(const char *s)
{
	bool r;

	pthread_mutex_lock(&log_lock);
	r = strstr(log_text, s) != NULL;
	pthread_mutex_unlock(&log_lock);
	return r;
}

static inline void log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

#endif
