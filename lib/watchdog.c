#include "watchdog.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Notes are fixed-size records so that a read never splits one. */
struct note {
	pid_t pgid;
	int add;
};

static _Noreturn void watchdog_main(int fd)
{
	pid_t *groups = NULL;
	size_t n = 0, cap = 0;
	struct note note;
	ssize_t got;

	/* Operators' signals are for the worker; the watchdog ends when the
	 * worker does. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	prctl(PR_SET_NAME, "ac-watchdog");
	for (int i = 0; i < 1024; i++)
		if (i != fd && i != 2)
			close(i);
	while ((got = read(fd, &note, sizeof note)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (got != sizeof note)
			continue;
		if (note.add) {
			if (n == cap) {
				pid_t *grown;

				cap = cap ? cap * 2 : 64;
				grown = realloc(groups, cap * sizeof *groups);
				if (!grown)
					continue;
				groups = grown;
			}
			groups[n++] = note.pgid;
		} else {
			for (size_t i = 0; i < n; i++)
				if (groups[i] == note.pgid) {
					groups[i] = groups[--n];
					break;
				}
		}
	}
	for (size_t i = 0; i < n; i++)
		kill(-groups[i], SIGKILL);
	_exit(0);
}

int ac_watchdog_start(struct ac_watchdog *wd, struct ac_error *err)
{
	int p[2];
	pid_t pid;

	wd->fd = -1;
	wd->pid = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot create the watchdog's pipe: %s",
				    strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot start the watchdog: %s",
				    strerror(errno));
	}
	if (pid == 0) {
		close(p[1]);
		watchdog_main(p[0]);
	}
	close(p[0]);
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
	wd->fd = p[1];
	wd->pid = pid;
	return 0;
}

void ac_watchdog_note(struct ac_watchdog *wd, pid_t pgid, int add)
{
	struct note note = { .pgid = pgid, .add = add };
	ssize_t unused;

	if (wd->fd < 0)
		return;
	unused = write(wd->fd, &note, sizeof note);
	(void)unused;
}

void ac_watchdog_stop(struct ac_watchdog *wd)
{
	if (wd->fd >= 0) {
		close(wd->fd);
		wd->fd = -1;
	}
	if (wd->pid > 0) {
		while (waitpid(wd->pid, NULL, 0) < 0 && errno == EINTR)
			;
		wd->pid = -1;
	}
}
