#include "control.h"
#include "exitcode.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ac_ctl_server {
	nng_socket sock;
	nng_listener listener;
	char *token;        /* NULL: local ipc, no token needed */
	int fd;
};

struct ac_ctl_request {
	nng_msg *header;    /* the request, kept for its routing header */
};

struct ac_ctl_client {
	nng_socket sock;
	char *token;
};

int ac_ctl_url_is_local(const char *url)
{
	return !strncmp(url, "ipc://", 6);
}

int ac_ctl_token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

int ac_ctl_token(const char *token_file, char **token, struct ac_error *err)
{
	const char *env = getenv("AC_TOKEN");
	const char *file = token_file ? token_file : getenv("AC_TOKEN_FILE");
	struct ac_buf buf = { 0 };
	FILE *f;

	*token = NULL;
	if (!token_file && env && *env) {
		*token = ac_strdup(env);
		return *token ? 0 : ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (!file || !*file)
		return 0;
	f = fopen(file, "re");
	if (!f)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "cannot read the token file '%s': %s", file,
				    strerror(errno));
	if (ac_read_all(fileno(f), &buf, 4096) < 0) {
		fclose(f);
		ac_buf_release(&buf);
		return ac_error_set(err, AC_EXIT_USAGE,
				    "cannot read the token file '%s': %s", file,
				    strerror(errno));
	}
	fclose(f);
	if (buf.data)
		buf.data[strcspn(buf.data, "\r\n")] = '\0';
	if (!buf.data || !*buf.data) {
		ac_buf_release(&buf);
		return ac_error_set(err, AC_EXIT_USAGE,
				    "the token file '%s' is empty", file);
	}
	*token = buf.data;
	return 0;
}

static int is_tls(const char *url)
{
	return !strncmp(url, "tls+tcp://", 10);
}

/* The host part of tls+tcp://HOST:PORT, for the server name check. */
static char *url_host(const char *url)
{
	const char *h = strstr(url, "://"), *colon;

	if (!h)
		return NULL;
	h += 3;
	if (*h == '[') {
		colon = strchr(h, ']');
		return colon ? strndup(h + 1, (size_t)(colon - h - 1)) : NULL;
	}
	colon = strrchr(h, ':');
	return strndup(h, colon ? (size_t)(colon - h) : strlen(h));
}

int ac_ctl_server_open(struct ac_ctl_server **out, const char *url,
		       const char *token, const char *tls_cert,
		       struct ac_error *err)
{
	struct ac_ctl_server *srv = calloc(1, sizeof *srv);
	int rv;

	if (!srv)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (token && !(srv->token = ac_strdup(token))) {
		free(srv);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if ((rv = nng_rep0_open_raw(&srv->sock)) != 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot open a socket: %s",
			     nng_strerror(rv));
		goto fail_sock;
	}
	/* nng drops a larger message (and its connection) without a word;
	 * up to four times the limit we see it and refuse it with a log
	 * line. */
	nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, 4 * AC_CTL_MAX_MSG);
	if ((rv = nng_listener_create(&srv->listener, srv->sock, url)) != 0) {
		ac_error_set(err, AC_EXIT_USAGE, "cannot listen on '%s': %s",
			     url, nng_strerror(rv));
		goto fail;
	}
	if (ac_ctl_url_is_local(url))
		nng_listener_set_int(srv->listener, NNG_OPT_IPC_PERMISSIONS,
				     0600);
	if (is_tls(url)) {
		nng_tls_config *cfg;

		if (!tls_cert) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "a tls+tcp:// listener needs --tls-cert FILE (certificate and key, PEM)");
			goto fail;
		}
		if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0 ||
		    (rv = nng_tls_config_cert_key_file(cfg, tls_cert, NULL)) != 0 ||
		    (rv = nng_listener_set_ptr(srv->listener, NNG_OPT_TLS_CONFIG,
					       cfg)) != 0) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "cannot use the certificate '%s': %s",
				     tls_cert, nng_strerror(rv));
			if (rv != NNG_ENOMEM)
				nng_tls_config_free(cfg);
			goto fail;
		}
		nng_tls_config_free(cfg);  /* the listener holds its own */
	}
	if ((rv = nng_listener_start(srv->listener, 0)) != 0) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "cannot listen on '%s': %s", url, nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_socket_get_int(srv->sock, NNG_OPT_RECVFD, &srv->fd)) != 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot watch the socket: %s",
			     nng_strerror(rv));
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	nng_close(srv->sock);
fail_sock:
	free(srv->token);
	free(srv);
	return -1;
}

void ac_ctl_server_close(struct ac_ctl_server *srv)
{
	if (!srv)
		return;
	nng_close(srv->sock);
	free(srv->token);
	free(srv);
}

int ac_ctl_server_fd(struct ac_ctl_server *srv)
{
	return srv->fd;
}

struct sending {
	nng_aio *aio;
};

/* Runs on an nng thread when a reply has gone (or could not). */
static void send_done(void *arg)
{
	struct sending *sd = arg;

	if (nng_aio_result(sd->aio) != 0)
		nng_msg_free(nng_aio_get_msg(sd->aio));
	nng_aio_reap(sd->aio);
	free(sd);
}

/* Send without blocking the caller's loop and without dropping a reply
 * because the peer's pipe is still busy with the previous one. */
static void send_reply(struct ac_ctl_server *srv, nng_msg *msg)
{
	struct sending *sd = malloc(sizeof *sd);

	if (!sd || nng_aio_alloc(&sd->aio, send_done, sd) != 0) {
		free(sd);
		nng_msg_free(msg);
		return;
	}
	nng_aio_set_timeout(sd->aio, 10000);
	nng_aio_set_msg(sd->aio, msg);
	nng_send_aio(srv->sock, sd->aio);
}

/* Answer msg's sender with reply, reusing msg (its header routes it). */
static void answer(struct ac_ctl_server *srv, nng_msg *msg, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);

	nng_msg_clear(msg);
	if (!text || nng_msg_append(msg, text, strlen(text)) != 0)
		nng_msg_free(msg);
	else
		send_reply(srv, msg);
	free(text);
}

static void answer_error(struct ac_ctl_server *srv, nng_msg *msg,
			 const char *error)
{
	json_t *reply = json_pack("{s:b,s:s}", "ok", 0, "error", error);

	if (reply)
		answer(srv, msg, reply);
	else
		nng_msg_free(msg);
	json_decref(reply);
}

int ac_ctl_parse_request(const void *buf, size_t len, const char *token,
			 json_t **req, const char **answer, char *why,
			 size_t whylen)
{
	json_error_t jerr;
	json_t *obj;
	const char *given;

	if (len > AC_CTL_MAX_MSG) {
		snprintf(why, whylen, "dropped an oversized control request (%zu bytes, the limit is %d)",
			 len, AC_CTL_MAX_MSG);
		*answer = "request too large";
		return -1;
	}
	obj = json_loadb(buf, len, 0, &jerr);

	if (!json_is_object(obj) ||
	    !json_is_string(json_object_get(obj, "op"))) {
		snprintf(why, whylen, "dropped a malformed control request (%zu bytes): %s",
			 len, obj ? "not an object with an \"op\"" : jerr.text);
		json_decref(obj);
		*answer = "malformed request";
		return -1;
	}
	given = json_string_value(json_object_get(obj, "token"));
	if (token && (!given || !ac_ctl_token_equal(given, token))) {
		snprintf(why, whylen, "refused a control request without the right token");
		json_decref(obj);
		*answer = "unauthorized";
		return -1;
	}
	json_object_del(obj, "token");
	*req = obj;
	return 0;
}

int ac_ctl_server_recv(struct ac_ctl_server *srv, json_t **req,
		       struct ac_ctl_request **handle, char *why,
		       size_t whylen, struct ac_error *err)
{
	for (;;) {
		nng_msg *msg;
		json_t *obj;
		const char *error;
		int rv = nng_recvmsg(srv->sock, &msg, NNG_FLAG_NONBLOCK);

		if (rv == NNG_EAGAIN)
			return 0;
		if (rv != 0)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "control socket: %s", nng_strerror(rv));
		if (ac_ctl_parse_request(nng_msg_body(msg), nng_msg_len(msg),
					 srv->token, &obj, &error, why,
					 whylen) < 0) {
			answer_error(srv, msg, error);
			continue;
		}
		*handle = malloc(sizeof **handle);
		if (!*handle) {
			json_decref(obj);
			nng_msg_free(msg);
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		(*handle)->header = msg;
		*req = obj;
		return 1;
	}
}

void ac_ctl_reply(struct ac_ctl_server *srv, struct ac_ctl_request *handle,
		  json_t *reply)
{
	if (!reply) {
		ac_ctl_request_free(handle);
		return;
	}
	answer(srv, handle->header, reply);
	free(handle);
}

void ac_ctl_reply_text(struct ac_ctl_server *srv, struct ac_ctl_request *handle,
		       const char *text, size_t len)
{
	nng_msg *msg = handle->header;

	free(handle);
	nng_msg_clear(msg);
	if (nng_msg_append(msg, text, len) != 0)
		nng_msg_free(msg);
	else
		send_reply(srv, msg);
}

void ac_ctl_request_free(struct ac_ctl_request *handle)
{
	if (!handle)
		return;
	nng_msg_free(handle->header);
	free(handle);
}

static int client_open(struct ac_ctl_client **out, const char *url,
		       const char *token, int connect_now, struct ac_error *err)
{
	struct ac_ctl_client *c = calloc(1, sizeof *c);
	int rv;

	if (!c)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (token && !(c->token = ac_strdup(token))) {
		free(c);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		free(c->token);
		free(c);
		return ac_error_set(err, AC_EXIT_FAILED, "cannot open a socket: %s",
				    nng_strerror(rv));
	}
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 16 * AC_CTL_MAX_MSG);
	/* A request is never resent: a long-poll must not be doubled. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (is_tls(url)) {
		nng_dialer d;
		nng_tls_config *cfg = NULL;
		const char *ca = getenv("AC_TLS_CA");
		char *host = url_host(url);

		rv = nng_dialer_create(&d, c->sock, url);
		if (rv == 0)
			rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
		if (rv == 0 && ca && *ca) {
			rv = nng_tls_config_ca_file(cfg, ca);
			if (rv == 0)
				rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
			if (rv == 0 && host)
				rv = nng_tls_config_server_name(cfg, host);
		} else if (rv == 0) {
			rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
		}
		if (rv == 0)
			rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
		if (cfg)
			nng_tls_config_free(cfg);
		free(host);
		if (rv == 0)
			rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	} else {
		/* Not waiting for the connection here: a frozen worker accepts
		 * but never finishes the handshake, and the dial would hang
		 * for nng's own ten seconds.  The call's timeout bounds it. */
		rv = nng_dial(c->sock, url, NULL,
			      connect_now ? 0 : NNG_FLAG_NONBLOCK);
	}
	if (rv != 0) {
		nng_close(c->sock);
		free(c->token);
		free(c);
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "cannot reach '%s': %s", url, nng_strerror(rv));
	}
	*out = c;
	return 0;
}

int ac_ctl_client_open(struct ac_ctl_client **out, const char *url,
		       const char *token, struct ac_error *err)
{
	return client_open(out, url, token, 0, err);
}

int ac_ctl_client_connect(struct ac_ctl_client **out, const char *url,
			  struct ac_error *err)
{
	if (!ac_ctl_url_is_local(url))
		return ac_error_set(err, AC_EXIT_USAGE,
				    "'%s' is not a local ipc:// address", url);
	return client_open(out, url, NULL, 1, err);
}

void ac_ctl_client_abort(struct ac_ctl_client *c)
{
	nng_close(c->sock);
}

void ac_ctl_client_close(struct ac_ctl_client *c)
{
	if (!c)
		return;
	nng_close(c->sock);
	free(c->token);
	free(c);
}

int ac_ctl_client_call(struct ac_ctl_client *c, json_t *req, int timeout_ms,
		       json_t **reply, struct ac_error *err)
{
	json_t *copy = json_copy(req);
	char *text;
	void *buf = NULL;
	size_t len = 0;
	json_error_t jerr;
	int rv;

	if (!copy)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (c->token)
		json_object_set_new(copy, "token", json_string(c->token));
	text = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	if (!text)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	rv = nng_send(c->sock, text, strlen(text), 0);
	free(text);
	if (rv == 0)
		rv = nng_recv(c->sock, &buf, &len, NNG_FLAG_ALLOC);
	if (rv != 0)
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "worker did not answer: %s", nng_strerror(rv));
	*reply = json_loadb(buf, len, 0, &jerr);
	nng_free(buf, len);
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "worker sent a malformed reply");
	}
	return 0;
}

int ac_ctl_call(const char *url, const char *token, json_t *req,
		int timeout_ms, json_t **reply, struct ac_error *err)
{
	struct ac_ctl_client *c;
	int rc;

	if (ac_ctl_client_open(&c, url, token, err) < 0)
		return -1;
	rc = ac_ctl_client_call(c, req, timeout_ms, reply, err);
	ac_ctl_client_close(c);
	return rc;
}

int ac_ctl_notify(struct ac_store *store, const char *worker_id,
		  const char *op, const char *token)
{
	json_t *workers, *w, *req, *reply;
	struct ac_error err;
	const char *url = NULL;
	size_t i;
	int rc = -1;

	if (store->ops->workers_list(store, &workers, &err) < 0)
		return -1;
	json_array_foreach(workers, i, w) {
		const char *id = json_string_value(json_object_get(w, "id"));
		const char *status = json_string_value(json_object_get(w, "status"));

		if (id && !strcmp(id, worker_id) && status &&
		    strcmp(status, "stopped") && strcmp(status, "lost"))
			url = json_string_value(json_object_get(w, "listen"));
	}
	req = json_pack("{s:s}", "op", op);
	if (url && req && ac_ctl_call(url, token, req, 1000, &reply, &err) == 0) {
		rc = json_is_true(json_object_get(reply, "ok")) ? 0 : -1;
		json_decref(reply);
	}
	json_decref(req);
	json_decref(workers);
	return rc;
}
