/* The watchdog: a tiny process forked at worker start that outlives a
 * killed worker just long enough to kill its handlers' process groups.
 *
 * PR_SET_PDEATHSIG reaches only a handler's first process; a shell
 * script's children would run on, unfenced, after a kill -9 of the worker.
 * The worker tells the watchdog each group it starts and ends over a pipe;
 * when the pipe closes (the worker exited or died), the watchdog kills
 * every group still open and exits. */
#ifndef AC_WATCHDOG_H
#define AC_WATCHDOG_H

#include <sys/types.h>

#include "error.h"

struct ac_watchdog {
	int fd;      /* write end; -1 when there is no watchdog */
	pid_t pid;
};

/* Fork the watchdog.  Call early, while the process is small. */
int ac_watchdog_start(struct ac_watchdog *wd, struct ac_error *err);
/* Tell it about a group started (add = 1) or ended (add = 0).  Never
 * blocks; a full pipe loses the note (the group's leader still has
 * PR_SET_PDEATHSIG). */
void ac_watchdog_note(struct ac_watchdog *wd, pid_t pgid, int add);
/* Close the pipe: the watchdog kills what is left and exits; reap it. */
void ac_watchdog_stop(struct ac_watchdog *wd);

#endif
