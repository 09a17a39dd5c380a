/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netbe__count under contention: the stream and slirp backends count on
 * their loop thread while the core counts on the caller's, into the same
 * drop counter.  An atomic load followed by a store lost updates (68-357
 * per 4 s in one run); an atomic add loses none.  Two threads add to one
 * counter; the total must be exact (and ThreadSanitizer, in
 * `make test-tsan`, must see no race).
 */
#include <pthread.h>

#include "unit_util.h"
#include "netbe_int.h"

#define ADDS 2000000

static uint64_t counter;
static pthread_barrier_t start;

static void *adder(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start); /* both at once, or nothing overlaps */
	for (int i = 0; i < ADDS; i++)
		netbe__count(&counter, 1);
	return NULL;
}

static void two_threads_lose_nothing(void **state)
{
	pthread_t t1, t2;

	(void)state;
	counter = 0;
	pthread_barrier_init(&start, NULL, 2);
	assert_int_equal(pthread_create(&t1, NULL, adder, NULL), 0);
	assert_int_equal(pthread_create(&t2, NULL, adder, NULL), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_barrier_destroy(&start);
	assert_int_equal(__atomic_load_n(&counter, __ATOMIC_RELAXED),
			 2ULL * ADDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_threads_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
