#include "route.h"

#include <stdio.h>
#include <string.h>

/* Virtual nodes per worker: enough that keys spread evenly over a handful
 * of workers, few enough that a lookup stays cheap. */
#define VNODES 128

static const char *const route_names[] = {
	[AC_ROUTE_ANY] = "any",
	[AC_ROUTE_LEAST_LOADED] = "least-loaded",
	[AC_ROUTE_ROUND_ROBIN] = "round-robin",
	[AC_ROUTE_CONSISTENT_HASH] = "consistent-hash",
};

int ac_route_parse(const char *name, enum ac_route *out)
{
	for (size_t i = 0; i < sizeof route_names / sizeof route_names[0]; i++)
		if (!strcmp(name, route_names[i])) {
			*out = (enum ac_route)i;
			return 0;
		}
	return -1;
}

const char *ac_route_name(enum ac_route route)
{
	return route_names[route];
}

uint64_t ac_route_fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	/* FNV's low bits mix poorly for short, similar inputs; finish with
	 * a murmur-style avalanche so that the ring positions spread. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

int ac_route_least_loaded(const struct ac_route_candidate *cands, size_t n)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		long free_i = (long)cands[i].concurrency - cands[i].load;

		if (best < 0) {
			best = (int)i;
			continue;
		}
		long free_b = (long)cands[best].concurrency - cands[best].load;

		if (free_i > free_b ||
		    (free_i == free_b && cands[i].load < cands[best].load) ||
		    (free_i == free_b && cands[i].load == cands[best].load &&
		     strcmp(cands[i].id, cands[best].id) < 0))
			best = (int)i;
	}
	return best;
}

int ac_route_hash(const struct ac_route_candidate *cands, size_t n,
		  const char *key)
{
	uint64_t k = ac_route_fnv1a(key, strlen(key));
	uint64_t best_dist = UINT64_MAX;
	int best = -1;

	/* The owner is the virtual node at or after the key's point, going
	 * round the ring: the smallest distance (point - key) mod 2^64.  No
	 * ring is kept: n * VNODES hashes are cheap at submit time. */
	for (size_t i = 0; i < n; i++) {
		for (int v = 0; v < VNODES; v++) {
			char label[300];
			int len = snprintf(label, sizeof label, "%s#%d",
					   cands[i].id, v);
			uint64_t point, dist;

			if (len < 0 || (size_t)len >= sizeof label)
				continue;
			point = ac_route_fnv1a(label, (size_t)len);
			dist = point - k;
			if (dist < best_dist ||
			    (dist == best_dist && best >= 0 &&
			     strcmp(cands[i].id, cands[best].id) < 0)) {
				best_dist = dist;
				best = (int)i;
			}
		}
	}
	return best;
}
