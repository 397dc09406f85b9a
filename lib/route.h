/* Routing at submit time: which live worker a task is assigned to.
 *
 * `any` assigns none (competing consumers).  `least-loaded` picks the
 * worker with the most free slots, `round-robin` the next one in id order
 * after a counter the store keeps, `consistent-hash` the owner of the key
 * on a ring of virtual nodes, so that a worker leaving moves only its own
 * keys.  Pure functions over a list of candidates; no I/O. */
#ifndef AC_ROUTE_H
#define AC_ROUTE_H

#include <stddef.h>
#include <stdint.h>

enum ac_route {
	AC_ROUTE_ANY,
	AC_ROUTE_LEAST_LOADED,
	AC_ROUTE_ROUND_ROBIN,
	AC_ROUTE_CONSISTENT_HASH
};

int ac_route_parse(const char *name, enum ac_route *out);
const char *ac_route_name(enum ac_route route);

/* A live, undrained worker able to run the task. */
struct ac_route_candidate {
	const char *id;     /* borrowed */
	int concurrency;
	int load;           /* running plus assigned and waiting */
};

/* Index into cands of the least-loaded worker (most free slots, then the
 * lowest load, then id order); -1 when n == 0. */
int ac_route_least_loaded(const struct ac_route_candidate *cands, size_t n);

/* Index of the owner of key on the ring of cands; -1 when n == 0. */
int ac_route_hash(const struct ac_route_candidate *cands, size_t n,
		  const char *key);

/* 64-bit FNV-1a, the ring's hash. */
uint64_t ac_route_fnv1a(const void *data, size_t len);

#endif
