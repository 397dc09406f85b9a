/* The dashboard's page, script and style (the files under lib/dashboard/), embedded in
 * the binary at build time by scripts/embed.sh (see the Makefile). */
#ifndef AC_DASHBOARD_ASSETS_H
#define AC_DASHBOARD_ASSETS_H

#include <stddef.h>

struct ac_dashboard_asset {
	const char *name;            /* the file's name, e.g. "app.js" */
	const unsigned char *data;   /* len bytes, then a NUL */
	size_t len;
};

/* Ends with an entry whose name is NULL. */
extern const struct ac_dashboard_asset ac_dashboard_assets[];

#endif
