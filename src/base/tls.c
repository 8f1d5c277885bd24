/* tls — OpenSSL sessions over memory BIOs (see tls.h). */
#include "tls.h"

#include <assert.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tlsPrintErrors(const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
    }
    fprintf(stderr, "seqd: %s %s: %s\n", what, path, buf[0] != '\0' ? buf : "unreadable");
    ERR_clear_error();
}

int tls_ctx_init(tls_ctx *t, const config *cfg)
{
    memset(t, 0, sizeof(*t));
    if (cfg->tls_port == 0) {
        return 0;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        fprintf(stderr, "seqd: cannot make a TLS context\n");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
        tlsPrintErrors("--tls-cert-file", cfg->tls_cert_file);
        goto err;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1) {
        tlsPrintErrors("--tls-key-file", cfg->tls_key_file);
        goto err;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tlsPrintErrors("--tls-key-file does not match --tls-cert-file:", cfg->tls_key_file);
        goto err;
    }
    if (cfg->tls_ca_cert_file[0] != '\0' &&
        SSL_CTX_load_verify_locations(ctx, cfg->tls_ca_cert_file, NULL) != 1) {
        tlsPrintErrors("--tls-ca-cert-file", cfg->tls_ca_cert_file);
        goto err;
    }
    int mode = SSL_VERIFY_NONE;
    if (cfg->tls_auth_clients == CONFIG_TLS_AUTH_YES) {
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    } else if (cfg->tls_auth_clients == CONFIG_TLS_AUTH_OPTIONAL) {
        mode = SSL_VERIFY_PEER;
    }
    SSL_CTX_set_verify(ctx, mode, NULL);
    /* sessions are not resumed across connections: no cache to bound */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    t->ctx = ctx;
    return 0;
err:
    SSL_CTX_free(ctx);
    return -1;
}

void tls_ctx_free(tls_ctx *t)
{
    SSL_CTX_free(t->ctx);
    t->ctx = NULL;
}

tls_session *tls_session_new(tls_ctx *t)
{
    assert(t->ctx != NULL);
    tls_session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->ssl = SSL_new(t->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (s->ssl == NULL || s->rbio == NULL || s->wbio == NULL) {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
        SSL_free(s->ssl);
        free(s);
        return NULL;
    }
    BIO_set_mem_eof_return(s->rbio, -1); /* empty: "want more", not end of file */
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_accept_state(s->ssl);
    return s;
}

void tls_session_free(tls_session *s)
{
    if (s != NULL) {
        SSL_free(s->ssl); /* and its BIOs */
        free(s);
    }
}

void tls_session_feed(tls_session *s, const char *p, size_t n)
{
    if (!s->failed && n > 0) {
        BIO_write(s->rbio, p, (int)n);
    }
}

/* SSL_get_error of rv: TLS_OK when it only wants more bytes. */
static int tlsJudge(tls_session *s, int rv)
{
    int e = SSL_get_error(s->ssl, rv);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return TLS_OK;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return TLS_CLOSED;
    }
    s->failed = true;
    return TLS_FAILED;
}

int tls_session_read(tls_session *s, char *out, size_t cap, size_t *got)
{
    *got = 0;
    if (s->failed) {
        return TLS_FAILED;
    }
    if (!s->established) {
        int rv = SSL_do_handshake(s->ssl);
        if (rv != 1) {
            return tlsJudge(s, rv);
        }
        s->established = true;
    }
    while (*got < cap) {
        size_t n = 0;
        int rv = SSL_read_ex(s->ssl, out + *got, cap - *got, &n);
        if (rv != 1) {
            return tlsJudge(s, 0);
        }
        *got += n;
    }
    return TLS_OK;
}

bool tls_session_has_plaintext(tls_session *s)
{
    return !s->failed && s->established && (SSL_pending(s->ssl) > 0 || BIO_ctrl_pending(s->rbio) > 0);
}

int tls_session_write(tls_session *s, const char *p, size_t n)
{
    if (s->failed || !s->established) {
        return TLS_FAILED;
    }
    size_t done = 0;
    while (done < n) {
        size_t w = 0;
        if (SSL_write_ex(s->ssl, p + done, n - done, &w) != 1) {
            s->failed = true;
            return TLS_FAILED;
        }
        done += w;
    }
    return TLS_OK;
}

size_t tls_session_pending(tls_session *s)
{
    return BIO_ctrl_pending(s->wbio);
}

size_t tls_session_take(tls_session *s, char *out, size_t cap)
{
    int n = BIO_read(s->wbio, out, (int)(cap > (size_t)INT32_MAX ? INT32_MAX : cap));
    return n > 0 ? (size_t)n : 0;
}

bool tls_session_peer_cn(tls_session *s, char *out, size_t cap)
{
    if (!s->established || SSL_get_verify_result(s->ssl) != X509_V_OK) {
        return false;
    }
    X509 *cert = SSL_get1_peer_certificate(s->ssl);
    if (cert == NULL) {
        return false;
    }
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)cap);
    X509_free(cert);
    return n > 0 && (size_t)n < cap && strlen(out) == (size_t)n; /* no NUL inside */
}

/* A context for one side of the bus: the node's certificate, the CA, and
 * a certificate required of the peer. */
static SSL_CTX *tlsBusCtx(const config *cfg, bool server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_load_verify_locations(ctx, cfg->tls_ca_cert_file, NULL) != 1) {
        tlsPrintErrors("--tls-cluster: the node's certificate, key or CA:", cfg->tls_cert_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (server) {
        SSL_CTX_set_num_tickets(ctx, 0);
    }
    return ctx;
}

int tls_bus_ctx_init(tls_ctx *server, tls_ctx *client, const config *cfg)
{
    memset(server, 0, sizeof(*server));
    memset(client, 0, sizeof(*client));
    server->ctx = tlsBusCtx(cfg, true);
    client->ctx = server->ctx != NULL ? tlsBusCtx(cfg, false) : NULL;
    if (client->ctx == NULL) {
        tls_ctx_free(server);
        return -1;
    }
    return 0;
}

tls_session *tls_session_new_client(tls_ctx *t, const char *ip)
{
    tls_session *s = tls_session_new(t);
    if (s == NULL) {
        return NULL;
    }
    SSL_set_connect_state(s->ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), ip) != 1) {
        tls_session_free(s);
        return NULL;
    }
    return s;
}

void *tls_session_peer_cert(tls_session *s)
{
    if (!s->established || SSL_get_verify_result(s->ssl) != X509_V_OK) {
        return NULL;
    }
    return SSL_get1_peer_certificate(s->ssl);
}

bool tls_cert_has_ip(const void *cert, const char *ip)
{
    return cert != NULL && X509_check_ip_asc((X509 *)cert, ip, 0) == 1;
}

bool tls_ctx_cert_has_ip(tls_ctx *t, const char *ip)
{
    return tls_cert_has_ip(SSL_CTX_get0_certificate(t->ctx), ip);
}

void tls_cert_free(void *cert)
{
    X509_free(cert);
}

const char *tls_session_error(void)
{
    static char buf[160];
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        return "closed";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    return buf;
}
