/* The one exit-code table of every ac command (see ac(7), EXIT STATUS). */
#ifndef AC_EXITCODE_H
#define AC_EXITCODE_H

enum ac_exit {
	AC_EXIT_OK = 0,           /* success; the task completed */
	AC_EXIT_FAILED = 1,       /* the task or the operation failed */
	AC_EXIT_USAGE = 2,        /* bad usage or bad input; nothing changed */
	AC_EXIT_TIMEOUT = 3,      /* the task timed out, or --wait ran out */
	AC_EXIT_CANCELLED = 4,    /* the task was cancelled */
	AC_EXIT_UNAVAILABLE = 69, /* store or worker unavailable */
	AC_EXIT_TEMPFAIL = 75,    /* temporary: try again later */
	AC_EXIT_INTERRUPTED = 130 /* interrupted by SIGINT while waiting */
};

#endif
