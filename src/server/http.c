/* http — /metrics, /health and /ready on libmicrohttpd's thread (see
 * http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics_text.h"

static uint64_t monotonicMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- on the loop thread ---- */

static void httpHeartbeat(uv_timer_t *t)
{
    http_server *h = t->data;
    atomic_store(&h->loop_seen_ms, monotonicMs());
}

/* Woken by the HTTP thread: one rendering for every request asked so far. */
static void httpRender(uv_async_t *a)
{
    http_server *h = a->data;
    pthread_mutex_lock(&h->mu);
    uint64_t target = h->asked;
    pthread_mutex_unlock(&h->mu);
    size_t len = 0;
    char *text = metrics_text(h->env, h->max_sequences, &len);
    char why[sizeof(h->why)];
    bool ready = metrics_ready(h->env, why, sizeof(why));
    pthread_mutex_lock(&h->mu);
    free(h->text);
    h->text = text;
    h->text_len = text != NULL ? len : 0;
    h->ready = ready;
    memcpy(h->why, why, sizeof(why));
    h->rendered = target;
    pthread_cond_broadcast(&h->done);
    pthread_mutex_unlock(&h->mu);
}

/* ---- on the HTTP thread ---- */

static enum MHD_Result httpReply(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_UNAUTHORIZED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"seqd\"");
    }
    enum MHD_Result rv = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rv;
}

static enum MHD_Result httpText(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return httpReply(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static bool httpFromLoopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return false;
    }
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* Whether this request may see /metrics or /ready (see http.h). */
static bool httpAllowed(http_server *h, struct MHD_Connection *c)
{
    if (h->token_len == 0) {
        return !h->protected_mode || httpFromLoopback(c);
    }
    const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    static const char prefix[] = "Bearer ";
    if (header == NULL || strncmp(header, prefix, sizeof(prefix) - 1) != 0) {
        return false;
    }
    const char *given = header + sizeof(prefix) - 1;
    return strlen(given) == h->token_len && CRYPTO_memcmp(given, h->token, h->token_len) == 0;
}

/* Asks the loop for a fresh rendering and waits for it; false when the
 * loop did not answer in time (the caller holds nothing then). */
static bool httpAwaitRendering(http_server *h)
{
    pthread_mutex_lock(&h->mu);
    uint64_t mine = ++h->asked;
    uv_async_send(&h->wake);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += HTTP_RENDER_WAIT_MS / 1000;
    int rv = 0;
    while (h->rendered < mine && !h->closing && rv != ETIMEDOUT) {
        rv = pthread_cond_timedwait(&h->done, &h->mu, &deadline);
    }
    bool ok = h->rendered >= mine && !h->closing;
    if (!ok) {
        pthread_mutex_unlock(&h->mu);
    }
    return ok; /* locked when ok */
}

static enum MHD_Result httpHealth(http_server *h, struct MHD_Connection *c)
{
    uint64_t seen = atomic_load(&h->loop_seen_ms);
    if (monotonicMs() - seen > HTTP_LOOP_STALLED_MS) {
        return httpText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the event loop has not turned for 2 s\n");
    }
    return httpText(c, MHD_HTTP_OK, "OK\n");
}

static enum MHD_Result httpHandle(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    (void)version;
    (void)upload;
    http_server *h = cls;
    if (*state == NULL) {
        *state = h; /* headers seen: answer on the next call, after any body */
        return MHD_YES;
    }
    if (*upload_len > 0) {
        *upload_len = 0; /* a body is read and ignored */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return httpText(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    }
    if (strcmp(url, "/health") == 0 || strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0) {
        return httpHealth(h, c);
    }
    bool scrape = strcmp(url, "/metrics") == 0;
    bool ready = strcmp(url, "/ready") == 0 || strcmp(url, "/readyz") == 0;
    if (!scrape && !ready) {
        return httpText(c, MHD_HTTP_NOT_FOUND, "not found: /metrics, /health, /ready\n");
    }
    if (!httpAllowed(h, c)) {
        return httpText(c, MHD_HTTP_UNAUTHORIZED,
                        h->token_len > 0 ? "a bearer token is required (--http-token-file)\n"
                                         : "protected mode: only loopback clients without "
                                           "--http-token-file\n");
    }
    if (!httpAwaitRendering(h)) {
        return httpText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the event loop did not answer in 2 s\n");
    }
    enum MHD_Result rv;
    if (scrape) {
        rv = h->text != NULL ? httpReply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                                         h->text, h->text_len)
                             : MHD_NO;
    } else {
        char body[sizeof(h->why) + 2];
        snprintf(body, sizeof(body), "%s\n", h->why);
        rv = httpText(c, h->ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    pthread_mutex_unlock(&h->mu);
    return rv;
}

/* ---- start and stop ---- */

/* A whole small file into a malloc'd, NUL-terminated string; NULL after
 * logging why. */
static char *httpReadFile(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        log_error("--http: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > max) {
        log_error("--http: %s is over %zu bytes", path, max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int httpLoadSecrets(http_server *h, const config *cfg)
{
    if (cfg->http_token_file[0] != '\0') {
        size_t n = 0;
        char *tok = httpReadFile(cfg->http_token_file, HTTP_TOKEN_MAX + 2, &n);
        if (tok == NULL) {
            return -1;
        }
        while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r')) {
            n--;
        }
        if (n == 0 || n > HTTP_TOKEN_MAX) {
            log_error("--http-token-file %s: the token must be 1 to %d bytes", cfg->http_token_file,
                      HTTP_TOKEN_MAX);
            free(tok);
            return -1;
        }
        memcpy(h->token, tok, n);
        h->token_len = n;
        OPENSSL_cleanse(tok, n);
        free(tok);
    }
    if (cfg->http_tls) {
        size_t n = 0;
        h->tls_cert = httpReadFile(cfg->tls_cert_file, 1 << 20, &n);
        h->tls_key = h->tls_cert != NULL ? httpReadFile(cfg->tls_key_file, 1 << 20, &n) : NULL;
        if (h->tls_key == NULL) {
            return -1;
        }
    }
    return 0;
}

int http_start(http_server *h, uv_loop_t *loop, const command_env *env, const config *cfg)
{
    memset(h, 0, sizeof(*h));
    h->env = env;
    h->max_sequences = cfg->metrics_max_sequences;
    h->protected_mode = cfg->protected_mode;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&h->done, &attr);
    pthread_condattr_destroy(&attr);
    if (httpLoadSecrets(h, cfg) != 0) {
        return -1;
    }
    uv_async_init(loop, &h->wake, httpRender);
    h->wake.data = h;
    uv_timer_init(loop, &h->heartbeat);
    h->heartbeat.data = h;
    atomic_store(&h->loop_seen_ms, monotonicMs());
    uv_timer_start(&h->heartbeat, httpHeartbeat, 250, 250);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    bool v6 = strchr(cfg->bind, ':') != NULL;
    if (v6) {
        uv_ip6_addr(cfg->bind, cfg->http_port, (struct sockaddr_in6 *)&addr);
    } else {
        uv_ip4_addr(cfg->bind, cfg->http_port, (struct sockaddr_in *)&addr);
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) |
                     (cfg->http_tls ? MHD_USE_TLS : 0);
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->http_port, NULL, NULL, httpHandle, h, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        cfg->http_tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, h->tls_key, MHD_OPTION_END);
    if (h->daemon == NULL) {
        log_error("cannot serve HTTP on %s port %d (in use, or the TLS files are unusable)",
                  cfg->bind, cfg->http_port);
        return -1;
    }
    log_info("http: /metrics, /health and /ready on %s%s%s:%d", cfg->http_tls ? "https://" : "http://",
             v6 ? "[" : "", cfg->bind, cfg->http_port);
    return 0;
}

void http_stop(http_server *h)
{
    if (h->daemon != NULL) {
        pthread_mutex_lock(&h->mu);
        h->closing = true; /* a request waiting for the loop gives up */
        pthread_cond_broadcast(&h->done);
        pthread_mutex_unlock(&h->mu);
        MHD_stop_daemon(h->daemon);
        h->daemon = NULL;
        uv_timer_stop(&h->heartbeat);
        uv_close((uv_handle_t *)&h->heartbeat, NULL);
        uv_close((uv_handle_t *)&h->wake, NULL);
    }
    free(h->text);
    h->text = NULL;
    free(h->tls_cert);
    free(h->tls_key);
    h->tls_cert = h->tls_key = NULL;
}
