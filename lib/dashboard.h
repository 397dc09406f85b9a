/* The fleet dashboard of ac-status --serve: one HTTP server (libevent's
 * evhttp, one thread) that serves a self-contained page (lib/dashboard/,
 * built into the binary), the JSON of every ac-status view (status.h),
 * the live events of every worker as Server-Sent Events (follow.h,
 * sse.h), and, only when it has a token, drain and cancel actions
 * (drain.h, cancel.h).
 *
 * Endpoints (GET and HEAD unless said otherwise):
 *   /                 the page; /app.js and /app.css its script and style
 *   /healthz          {"ok":true,"event_clients":N,"followed_workers":N}
 *   /api/config       {"actions":BOOL,"version":V}: are actions enabled
 *   /api/summary      ac-status --json
 *   /api/workers      ac-status --workers --json
 *   /api/queue        ac-status --queue --json
 *   /api/tasks        ac-status --tasks --json; ?limit=N (default 50, at
 *                     most 1000) &status=S &type=T
 *   /api/task/ID      ac-status --task ID --json (404 when unknown)
 *   /events           text/event-stream: each event as ac-status --follow
 *                     prints it, one "data:" line each
 *   POST /api/drain   {"worker":ID,"reason":TEXT,"undo":BOOL}
 *   POST /api/cancel  {"id":N} or {"ids":[N,...]}
 * Errors are JSON objects {"error":TEXT}: 400 bad input, 401 no or wrong
 * token ("Authorization: Bearer TOKEN"), 403 read-only server, 404
 * unknown, 409 a task that already ended, 503 store unavailable. */
#ifndef AC_DASHBOARD_H
#define AC_DASHBOARD_H

#include "error.h"
#include "store.h"

struct ac_dashboard_config {
	const char *listen;          /* HOST:PORT ([V6]:PORT); port 0 = any */
	const char *store_url;       /* shown (password masked) in the summary */
	const char *token;           /* actions need it; NULL = read-only */
	const char *ctl_token;       /* the workers' control token, or NULL */
};

struct ac_dashboard;

/* Listen where cfg says (nothing is served until ac_dashboard_run).  The
 * strings of cfg are copied.  0 with *out, or -1 with err: exit code
 * AC_EXIT_USAGE for an address that is not HOST:PORT or does not
 * resolve, AC_EXIT_FAILED when it cannot be listened on (in use, not
 * ours). */
int ac_dashboard_open(struct ac_dashboard **out,
		      const struct ac_dashboard_config *cfg,
		      struct ac_error *err);

/* "http://HOST:PORT/" with the port really bound; owned by d. */
const char *ac_dashboard_url(const struct ac_dashboard *d);

/* Serve with store (borrowed; used from this thread only) until SIGINT
 * or SIGTERM: 0, or -1 with err when the loop cannot run. */
int ac_dashboard_run(struct ac_dashboard *d, struct ac_store *store,
		     struct ac_error *err);

/* Close the server and free d (NULL is fine). */
void ac_dashboard_free(struct ac_dashboard *d);

#endif
