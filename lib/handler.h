/* Handler programs: how a COMMAND is turned into an argv once, at worker
 * start, and how a process is started for one task.
 *
 * A COMMAND without shell syntax is split on blanks and its program looked
 * up in PATH now, so a typo fails the worker's start, not every task; one
 * with shell syntax runs under /bin/sh -c.  Task data never reaches either:
 * it arrives on stdin. */
#ifndef AC_HANDLER_H
#define AC_HANDLER_H

#include <sys/types.h>

#include "error.h"

struct ac_handler {
	char *type;       /* owned */
	char *command;    /* owned: as the operator wrote it */
	char **argv;      /* owned, NULL-terminated; argv[0] is a full path */
	int stream;       /* 1: stream mode, one long-lived process per slot
			   * reading a JSON line per task (--stream) */
};

/* Resolve COMMAND for TYPE into h.  0, or -1 with err (exit code 2). */
int ac_handler_init(struct ac_handler *h, const char *type, const char *command,
		    struct ac_error *err);
void ac_handler_release(struct ac_handler *h);

/* Parse "TYPE=COMMAND" into h; option ("--handler", "--stream") names
 * the option in the error message. */
int ac_handler_init_spec(struct ac_handler *h, const char *spec,
			 const char *option, struct ac_error *err);

/* Every executable regular file in dir as a handler of the type named like
 * it.  Appends to *handlers (a malloc'd array of *n); the caller releases
 * each and frees the array. */
int ac_handler_scan_dir(const char *dir, struct ac_handler **handlers,
			size_t *n, struct ac_error *err);

/* The descriptors a handler process gets; -1 = /dev/null is not opened,
 * the slot is simply left closed. */
struct ac_spawn_fds {
	int in;
	int out;
	int err;
	int side;         /* becomes fd 3, the side channel */
};

/* Start h in a new process group that dies with the caller
 * (PR_SET_PDEATHSIG).  envp is borrowed.  Uses vfork: the caller's signal
 * mask is restored before returning.  0 with *pid set, or -1 with err. */
int ac_handler_spawn(const struct ac_handler *h, char *const envp[],
		     const struct ac_spawn_fds *fds, pid_t *pid,
		     struct ac_error *err);

#endif
