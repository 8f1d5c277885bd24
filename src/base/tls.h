/* tls — TLS for client connections (OpenSSL 3) over memory BIOs, the way
 * Node's TLSWrap or h2o do it: the connection reads ciphertext from its
 * libuv stream and feeds it in, takes plaintext out into its input buffer,
 * and puts its replies in to get the ciphertext it writes. No socket is
 * handed to OpenSSL, so libuv keeps the I/O and its buffers stay bounded.
 *
 * Keeps: TLS 1.2 and 1.3 only; no renegotiation; a client certificate is
 * asked for as --tls-auth-clients says and, when given, must chain to
 * --tls-ca-cert-file; nothing decrypted is handed out before the handshake
 * completes; a session that failed stays failed. */
#ifndef SEQD_TLS_H
#define SEQD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

typedef struct tls_ctx {
    SSL_CTX *ctx; /* NULL: no TLS */
} tls_ctx;

/* Loads the certificate, key and CA of cfg. 0, or -1 after printing why
 * (a missing or bad file, a key that does not match its certificate). */
int tls_ctx_init(tls_ctx *t, const config *cfg);
void tls_ctx_free(tls_ctx *t);

typedef struct tls_session {
    SSL *ssl;
    BIO *rbio, *wbio; /* ciphertext in, ciphertext out (owned by ssl) */
    bool established; /* the handshake completed */
    bool failed;
} tls_session;

enum tls_status {
    TLS_OK = 0,      /* all that could be decrypted was */
    TLS_CLOSED = 1,  /* the peer closed the session (close_notify) */
    TLS_FAILED = -1, /* a handshake or record error: close the connection */
};

/* A new server-side session, or NULL (out of memory). */
tls_session *tls_session_new(tls_ctx *t);
void tls_session_free(tls_session *s);

/* Ciphertext the peer sent (copied). */
void tls_session_feed(tls_session *s, const char *p, size_t n);

/* Moves the handshake on and decrypts into out[0..cap): *got bytes. A
 * full out leaves the rest inside, for the next call. */
int tls_session_read(tls_session *s, char *out, size_t cap, size_t *got);

/* Whether plaintext may still be inside (read again once there is room). */
bool tls_session_has_plaintext(tls_session *s);

/* Encrypts all of p[0..n); TLS_OK or TLS_FAILED. */
int tls_session_write(tls_session *s, const char *p, size_t n);

/* Ciphertext waiting to be sent, and taking up to cap bytes of it. */
size_t tls_session_pending(tls_session *s);
size_t tls_session_take(tls_session *s, char *out, size_t cap);

/* The CN of the peer's verified certificate into out; false if none. */
bool tls_session_peer_cn(tls_session *s, char *out, size_t cap);

/* Why the last failure happened, for a log line. */
const char *tls_session_error(void);

/* ---- the Raft bus (--tls-cluster): mutual TLS between members ---------
 *
 * Both ends show a certificate that chains to --tls-ca-cert-file. The
 * connector checks that the acceptor's names the IP it dialled; the
 * acceptor checks, once the peer's hello says which member it is, that
 * its certificate names that member's IP (tls_cert_has_ip): a certificate
 * from the same CA is not enough to speak as any member. */
int tls_bus_ctx_init(tls_ctx *server, tls_ctx *client, const config *cfg);
/* A client-side session that accepts only a certificate naming ip. */
tls_session *tls_session_new_client(tls_ctx *t, const char *ip);
/* The peer's verified certificate (a reference the caller frees with
 * tls_cert_free), or NULL. */
void *tls_session_peer_cert(tls_session *s);
bool tls_cert_has_ip(const void *cert, const char *ip);
/* Whether the context's own certificate names ip (a node's own bus IP). */
bool tls_ctx_cert_has_ip(tls_ctx *t, const char *ip);
void tls_cert_free(void *cert);

#endif
