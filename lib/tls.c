#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wsk_tls_ctx {
	SSL_CTX *ssl;
};

struct wsk_tls {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
};

static void ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	} else {
		snprintf(err, errlen, "%s", what);
	}
	ERR_clear_error();
}

static int ctx_new(struct wsk_tls_ctx **out, const SSL_METHOD *m, char *err,
		   size_t errlen)
{
	struct wsk_tls_ctx *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->ssl = SSL_CTX_new(m);
	if (!c->ssl) {
		free(c);
		ssl_err(err, errlen, "cannot create a TLS context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
	/* Idle connections give their record buffers back. */
	SSL_CTX_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
	*out = c;
	return 0;
}

int wsk_tls_server_ctx(struct wsk_tls_ctx **out, const char *cert,
		       const char *key, char *err, size_t errlen)
{
	struct wsk_tls_ctx *c;
	char what[600];

	if (ctx_new(&c, TLS_server_method(), err, errlen) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert) != 1) {
		snprintf(what, sizeof(what), "cannot load certificate '%s'",
			 cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(what, sizeof(what), "cannot load key '%s'", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ssl) != 1) {
		snprintf(what, sizeof(what), "key '%s' does not match '%s'",
			 key, cert);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ssl_err(err, errlen, what);
	wsk_tls_ctx_free(c);
	return -1;
}

int wsk_tls_client_ctx(struct wsk_tls_ctx **out, const char *cafile,
		       int insecure, char *err, size_t errlen)
{
	struct wsk_tls_ctx *c;
	char what[600];

	if (ctx_new(&c, TLS_client_method(), err, errlen) < 0)
		return -1;
	if (insecure) {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
		if (cafile ? SSL_CTX_load_verify_locations(c->ssl, cafile,
							   NULL) != 1
			   : SSL_CTX_set_default_verify_paths(c->ssl) != 1) {
			snprintf(what, sizeof(what),
				 "cannot load CA certificates '%s'",
				 cafile ? cafile : "(system)");
			ssl_err(err, errlen, what);
			wsk_tls_ctx_free(c);
			return -1;
		}
	}
	*out = c;
	return 0;
}

void wsk_tls_ctx_free(struct wsk_tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

static struct wsk_tls *tls_new(struct wsk_tls_ctx *ctx)
{
	struct wsk_tls *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ssl = SSL_new(ctx->ssl);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rbio || !t->wbio) {
		SSL_free(t->ssl);
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		free(t);
		return NULL;
	}
	/* An empty read BIO means "again", not end of file. */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	return t;
}

struct wsk_tls *wsk_tls_new_server(struct wsk_tls_ctx *ctx)
{
	struct wsk_tls *t = tls_new(ctx);

	if (t)
		SSL_set_accept_state(t->ssl);
	return t;
}

struct wsk_tls *wsk_tls_new_client(struct wsk_tls_ctx *ctx, const char *host)
{
	struct wsk_tls *t = tls_new(ctx);

	if (!t)
		return NULL;
	SSL_set_connect_state(t->ssl);
	/* SNI only for names; the name check for names and IP literals. */
	if (!strchr(host, ':') && strspn(host, "0123456789.") != strlen(host))
		SSL_set_tlsext_host_name(t->ssl, host);
	if (SSL_set1_host(t->ssl, host) != 1) {
		wsk_tls_free(t);
		return NULL;
	}
	return t;
}

void wsk_tls_free(struct wsk_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

int wsk_tls_feed(struct wsk_tls *t, const void *data, size_t len)
{
	return BIO_write(t->rbio, data, (int)len) == (int)len ? 0 : -1;
}

ssize_t wsk_tls_read(struct wsk_tls *t, void *buf, size_t len, char *err,
		     size_t errlen)
{
	/* Taken before the read: a fatal error leaves the state unfinished. */
	int ready = SSL_is_init_finished(t->ssl);
	int n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	long v;

	if (n > 0)
		return n;
	switch (SSL_get_error(t->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: ERR_clear_error(); return 0;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(err, errlen, "TLS connection closed");
		return -2;
	default:
		v = SSL_get_verify_result(t->ssl);
		if (v != X509_V_OK) {
			snprintf(err, errlen, "certificate verify failed: %s",
				 X509_verify_cert_error_string(v));
			ERR_clear_error();
		} else {
			/* Past the handshake it is the record layer that
			 * failed (a bad MAC, an alert): say which. */
			ssl_err(err, errlen,
				ready ? "TLS error" : "TLS handshake failed");
		}
		return -1;
	}
}

int wsk_tls_write(struct wsk_tls *t, const void *data, size_t len)
{
	int n;

	if (len == 0)
		return 0;
	n = SSL_write(t->ssl, data, (int)len);
	if (n == (int)len)
		return 0;
	/* Before the handshake ends SSL_write cannot encrypt; the caller keeps
	 * the plaintext queued and tries again (see wsk_tls_ready). */
	ERR_clear_error();
	return -1;
}

int wsk_tls_connect(struct wsk_tls *t)
{
	int r = SSL_do_handshake(t->ssl);

	if (r == 1)
		return 0;
	r = SSL_get_error(t->ssl, r);
	ERR_clear_error();
	return r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

ssize_t wsk_tls_take(struct wsk_tls *t, struct wsk_outq *q)
{
	size_t total = 0, pending;
	struct wsk_chunk *c;
	int n;

	while ((pending = BIO_ctrl_pending(t->wbio)) > 0) {
		c = wsk_chunk_new(pending);
		if (!c)
			return -ENOMEM;
		n = BIO_read(t->wbio, c->data, (int)pending);
		if (n <= 0) {
			wsk_chunk_unref(c);
			break;
		}
		c->len = (size_t)n;
		wsk_chunk_seal(c);
		if (wsk_outq_push(q, c) < 0) {
			wsk_chunk_unref(c);
			return -ENOMEM;
		}
		wsk_chunk_unref(c);
		total += (size_t)n;
	}
	return (ssize_t)total;
}

int wsk_tls_ready(const struct wsk_tls *t)
{
	return SSL_is_init_finished(t->ssl);
}

int wsk_tls_shutdown(struct wsk_tls *t)
{
	int r;

	if (!SSL_is_init_finished(t->ssl) ||
	    (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN))
		return 0;
	/* With memory BIOs this only writes the alert: 0 means sent, and the
	 * peer's own close_notify is not waited for (RFC 8446 6.1 allows a
	 * half-close). */
	r = SSL_shutdown(t->ssl);
	ERR_clear_error();
	return r < 0 ? -1 : 0;
}
