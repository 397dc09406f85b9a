/* libpq, loaded when the first PostgreSQL store is opened.
 *
 * Most stores are a SQLite file.  Linked in, libpq would bring twenty
 * libraries with it (OpenSSL, GnuTLS, Kerberos, LDAP, SASL...) into every
 * ac process, used or not: about 4 MiB of each worker's resident memory,
 * and their relocations at every start of every command.  So the commands
 * are not linked with libpq; store_pg.c includes this header instead of
 * <libpq-fe.h>, and its PQ* calls go through a table that ac_pq_load()
 * fills with dlopen() and dlsym().
 *
 * A libpq function store_pg.c starts to use must be added to both lists
 * below; one missing from the first fails to compile, one missing from
 * the second fails to link (the commands have no -lpq). */
#ifndef AC_PQ_H
#define AC_PQ_H

#include <libpq-fe.h>

#include "error.h"

/* The soname every libpq since PostgreSQL 8 has had. */
#define AC_LIBPQ_SONAME "libpq.so.5"

#define AC_PQ_FUNCTIONS(X) \
	X(PQbackendPID) X(PQclear) X(PQcmdTuples) X(PQconnectPoll) \
	X(PQconnectStartParams) X(PQconsumeInput) X(PQenterPipelineMode) \
	X(PQerrorMessage) X(PQescapeByteaConn) X(PQexitPipelineMode) X(PQfformat) \
	X(PQfinish) X(PQflush) X(PQfreemem) X(PQgetisnull) X(PQgetlength) \
	X(PQgetResult) X(PQgetvalue) X(PQisBusy) X(PQnfields) X(PQnotifies) \
	X(PQntuples) X(PQpipelineSync) X(PQresultErrorField) \
	X(PQresultStatus) X(PQsendPrepare) X(PQsendQuery) \
	X(PQsendQueryParams) X(PQsendQueryPrepared) X(PQsetNoticeProcessor) \
	X(PQsocket) X(PQstatus) X(PQunescapeBytea)

struct ac_pq {
#define AC_PQ_MEMBER(f) __typeof__(f) *f;
	AC_PQ_FUNCTIONS(AC_PQ_MEMBER)
#undef AC_PQ_MEMBER
};

/* Filled by ac_pq_load(); read only after it returned 0. */
extern struct ac_pq ac_pq;

/* Load libpq and find its functions, once per process (later calls
 * return the first outcome).  0, or -1 with err (exit 69) when libpq is
 * not installed or lacks a function. */
int ac_pq_load(struct ac_error *err);

#ifndef AC_PQ_TABLE
#define PQbackendPID (ac_pq.PQbackendPID)
#define PQclear (ac_pq.PQclear)
#define PQcmdTuples (ac_pq.PQcmdTuples)
#define PQconnectPoll (ac_pq.PQconnectPoll)
#define PQconnectStartParams (ac_pq.PQconnectStartParams)
#define PQconsumeInput (ac_pq.PQconsumeInput)
#define PQenterPipelineMode (ac_pq.PQenterPipelineMode)
#define PQerrorMessage (ac_pq.PQerrorMessage)
#define PQescapeByteaConn (ac_pq.PQescapeByteaConn)
#define PQexitPipelineMode (ac_pq.PQexitPipelineMode)
#define PQfformat (ac_pq.PQfformat)
#define PQfinish (ac_pq.PQfinish)
#define PQflush (ac_pq.PQflush)
#define PQfreemem (ac_pq.PQfreemem)
#define PQgetisnull (ac_pq.PQgetisnull)
#define PQgetlength (ac_pq.PQgetlength)
#define PQgetResult (ac_pq.PQgetResult)
#define PQgetvalue (ac_pq.PQgetvalue)
#define PQisBusy (ac_pq.PQisBusy)
#define PQnfields (ac_pq.PQnfields)
#define PQnotifies (ac_pq.PQnotifies)
#define PQntuples (ac_pq.PQntuples)
#define PQpipelineSync (ac_pq.PQpipelineSync)
#define PQresultErrorField (ac_pq.PQresultErrorField)
#define PQresultStatus (ac_pq.PQresultStatus)
#define PQsendPrepare (ac_pq.PQsendPrepare)
#define PQsendQuery (ac_pq.PQsendQuery)
#define PQsendQueryParams (ac_pq.PQsendQueryParams)
#define PQsendQueryPrepared (ac_pq.PQsendQueryPrepared)
#define PQsetNoticeProcessor (ac_pq.PQsetNoticeProcessor)
#define PQsocket (ac_pq.PQsocket)
#define PQstatus (ac_pq.PQstatus)
#define PQunescapeBytea (ac_pq.PQunescapeBytea)
#endif

#endif
