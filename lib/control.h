/* The control plane: JSON requests and replies over nng req/rep.
 *
 * A worker listens with a raw rep socket so that its single-threaded
 * loop can hold many requests at once (a long-poll for events waits while
 * other requests are answered) and reply to each later.  Clients use a
 * plain req socket.  On any listener that is not a local ipc:// socket
 * every request must carry the shared token ("token" member), compared in
 * constant time; a request without it is answered "unauthorized" and goes
 * no further.  Messages over AC_CTL_MAX_MSG bytes are refused by nng
 * itself (NNG_OPT_RECVMAXSZ). */
#ifndef AC_CONTROL_H
#define AC_CONTROL_H

#include <jansson.h>

#include "error.h"

#define AC_CTL_MAX_MSG (1024 * 1024)

struct ac_ctl_server;
struct ac_ctl_request;

/* Listen on url (ipc://, tcp:// or tls+tcp://).  token NULL means none
 * required (only allowed for ipc://, see ac_ctl_url_is_local).  ipc
 * sockets are made mode 0600 in a directory the caller made 0700.
 * tls_cert names a PEM file holding the certificate and its key; it is
 * required for tls+tcp:// and ignored otherwise. */
int ac_ctl_server_open(struct ac_ctl_server **out, const char *url,
		       const char *token, const char *tls_cert,
		       struct ac_error *err);
void ac_ctl_server_close(struct ac_ctl_server *srv);
/* A descriptor that is readable when a request may be waiting. */
int ac_ctl_server_fd(struct ac_ctl_server *srv);

/* The next request, without blocking: 1 with *req (new reference, a JSON
 * object with a string "op") and *handle (pass to ac_ctl_reply), 0 when
 * none is waiting, -1 with err.  Malformed, oversized or unauthenticated
 * requests are answered here and *why set to a line for the log (1 is not
 * returned for them; the caller may log *why when it is not NULL). */
int ac_ctl_server_recv(struct ac_ctl_server *srv, json_t **req,
		       struct ac_ctl_request **handle, char *why,
		       size_t whylen, struct ac_error *err);
/* Answer a request (steals nothing: reply stays the caller's) and free
 * the handle.  A requester that went away is not an error.  A NULL reply
 * (no memory to build one) drops the request unanswered. */
void ac_ctl_reply(struct ac_ctl_server *srv, struct ac_ctl_request *handle,
		  json_t *reply);
/* Answer with reply text already encoded (len bytes) and free the handle. */
void ac_ctl_reply_text(struct ac_ctl_server *srv, struct ac_ctl_request *handle,
		       const char *text, size_t len);
/* Drop a request unanswered. */
void ac_ctl_request_free(struct ac_ctl_request *handle);

/* Decode and check one request message: a JSON object with a string "op",
 * carrying the token when token is not NULL.  0 with *req (new reference,
 * the token member removed), or -1 with a line for the log in why and
 * *answer the error to send back.  Pure: the fuzz target's entry. */
int ac_ctl_parse_request(const void *buf, size_t len, const char *token,
			 json_t **req, const char **answer, char *why,
			 size_t whylen);

/* 1 when url is a local ipc:// address. */
int ac_ctl_url_is_local(const char *url);

/* The shared token: $AC_TOKEN, else the contents of $AC_TOKEN_FILE (or
 * token_file when not NULL), first line.  NULL when there is none (not an
 * error); -1 with err when a named file cannot be read. */
int ac_ctl_token(const char *token_file, char **token, struct ac_error *err);

/* 1 when the strings are equal, in time that depends only on their
 * lengths: how every token is compared. */
int ac_ctl_token_equal(const char *a, const char *b);

/* A client of one worker's control socket.  For tls+tcp:// the server's
 * certificate is checked against the CA file named by $AC_TLS_CA when it
 * is set (else the link is encrypted but the server not verified; the
 * token still authenticates the client). */
struct ac_ctl_client;

int ac_ctl_client_open(struct ac_ctl_client **out, const char *url,
		       const char *token, struct ac_error *err);
/* The same for a local ipc:// socket, but connected before it returns:
 * a socket file that nobody listens on any more is an error at once
 * (AC_EXIT_UNAVAILABLE).  This is how to tell whether a local server
 * runs: a bare connect() and close() on an nng listener, which never
 * speaks the SP handshake, leaves nng 1.5's listener unable to serve. */
int ac_ctl_client_connect(struct ac_ctl_client **out, const char *url,
			  struct ac_error *err);
void ac_ctl_client_close(struct ac_ctl_client *c);
/* Send req (the token is added) and wait up to timeout_ms for the reply:
 * 0 with *reply (new reference), -1 with err (exit code 69 when the worker
 * cannot be reached or did not answer). */
int ac_ctl_client_call(struct ac_ctl_client *c, json_t *req, int timeout_ms,
		       json_t **reply, struct ac_error *err);

/* Make a call blocked in another thread return at once (with an error);
 * the client must still be closed by its owner. */
void ac_ctl_client_abort(struct ac_ctl_client *c);

/* Tell a worker, named by id, to act now on what was just written to the
 * store for it (op "drain", "undo", "stop" or "cancel").  Best effort:
 * 0 when it answered, -1 when it could not be reached (it will see the
 * store at its next heartbeat). */
struct ac_store;
int ac_ctl_notify(struct ac_store *store, const char *worker_id,
		  const char *op, const char *token);

/* One call on a fresh connection. */
int ac_ctl_call(const char *url, const char *token, json_t *req,
		int timeout_ms, json_t **reply, struct ac_error *err);

#endif
