/* libpq, found at run time (see pq.h for why). */
#define AC_PQ_TABLE
#include "pq.h"
#include "exitcode.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct ac_pq ac_pq;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_failure[400];   /* empty once libpq is loaded */

/* POSIX lets dlsym() return a function's address as a void *; it is
 * copied into the function pointer, which has the same size there. */
_Static_assert(sizeof(void *) == sizeof ac_pq.PQclear,
	       "function pointers are not the size of void *");

static void load(void)
{
	void *lib = dlopen(AC_LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
	void *sym;

	if (!lib) {
		const char *why = dlerror();

		snprintf(load_failure, sizeof load_failure,
			 "cannot load %s, which a PostgreSQL store needs (install libpq5): %s",
			 AC_LIBPQ_SONAME, why ? why : "unknown error");
		return;
	}
	/* The library stays loaded for the life of the process, whatever
	 * happens below: nothing else may hold on to it. */
#define AC_PQ_FIND(f) \
	do { \
		if (!(sym = dlsym(lib, #f))) { \
			snprintf(load_failure, sizeof load_failure, \
				 "%s has no %s: it is older than ac needs", \
				 AC_LIBPQ_SONAME, #f); \
			return; \
		} \
		memcpy(&ac_pq.f, &sym, sizeof sym); \
	} while (0);
	AC_PQ_FUNCTIONS(AC_PQ_FIND)
#undef AC_PQ_FIND
}

int ac_pq_load(struct ac_error *err)
{
	if (pthread_once(&load_once, load) != 0)
		return ac_error_set(err, AC_EXIT_FAILED, "cannot load %s",
				    AC_LIBPQ_SONAME);
	if (load_failure[0])
		return ac_error_set(err, AC_EXIT_UNAVAILABLE, "%s",
				    load_failure);
	return 0;
}
