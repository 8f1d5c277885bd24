/* conn — the client server: accepting connections (within --max-clients,
 * plus a headroom for other nodes' forward links), closing them, and
 * freeing them once nothing refers to them. The rest of a connection's
 * life is in conn_input.c, conn_slots.c, conn_output.c and conn_report.c
 * (see conn_internal.h).
 *
 * Invariants: every open connection is on the server's list, and its
 * memory is freed only in its close callback's wake and once refs == 0; a
 * connection is closed once, and closing reports the numbers of replies
 * none of whose bytes left. */
#include "conn_internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void *connXrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        log_error("conn: out of memory (%zu bytes)", n);
        abort();
    }
    return q;
}

void connMaybeFree(conn *c)
{
    if (!c->handle_closed || c->refs > 0) {
        return;
    }
    connUndirty(c);
    for (size_t i = 0; i < c->n_slots; i++) {
        free(c->slots[(c->head + i) & (c->slots_cap - 1)].data);
        free(c->slots[(c->head + i) & (c->slots_cap - 1)].report);
        connReportFree(&c->slots[(c->head + i) & (c->slots_cap - 1)].rep);
    }
    for (size_t i = 0; i < c->n_reports; i++) {
        connReportFree(&c->reports[i]);
    }
    free(c->reports);
    free(c->slots);
    free(c->in);
    tls_session_free(c->tls);
    resp_buf_free(&c->out);
    resp_buf_free(&c->wbuf);
    free(c);
}

static void connOnClose(uv_handle_t *h)
{
    conn *c = h->data;
    conn_server *s = c->srv;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->env->stats->connected_clients--;
    c->handle_closed = true;
    connMaybeFree(c);
}

void connClose(conn *c)
{
    if (c->closing) {
        return;
    }
    /* Replies none of whose bytes left: the client cannot have their
     * numbers (one partly written counts as delivered: it may be enough). */
    const char *cause = "reply undelivered: the client disconnected";
    for (size_t i = 0; i < c->n_reports; i++) {
        if (c->reports[i].begin >= c->sent_total) {
            connReportLost(c, &c->reports[i], cause);
        } else {
            connReportFree(&c->reports[i]);
        }
    }
    c->n_reports = 0;
    for (size_t i = 0; i < c->n_slots; i++) {
        connReportLost(c, &c->slots[(c->head + i) & (c->slots_cap - 1)].rep, cause);
    }
    c->closing = true;
    c->reading = false;
    assert(c->n_reports == 0);
    if (c->reset_on_close) {
        uv_tcp_close_reset(&c->tcp, connOnClose);
    } else {
        uv_close((uv_handle_t *)&c->tcp, connOnClose);
    }
}

/* Whether the peer of tcp is off the loopback interface (127.0.0.0/8,
 * ::1, or ::ffff:127.x): what protected mode keeps out. Unknown counts
 * as remote. */
static bool connIsRemote(uv_tcp_t *tcp)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0) {
        return true;
    }
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) != 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
            return false;
        }
        return !(IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    }
    return true;
}

static void connOnConnection(uv_stream_t *server, int status)
{
    conn_server *s = server->data;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error("conn: out of memory");
        abort();
    }
    c->srv = s;
    c->proto = 2;
    c->client.id = ++s->env->stats->next_client_id;
    /* not logged in: the first request logs it in as the default user
     * while that one needs no password (commands_dispatch) */
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->env->stats->connected_clients++;
    s->env->stats->total_connections++;
    c->slots_cap = CONN_SLOTS_INITIAL;
    c->slots = connXrealloc(NULL, sizeof(conn_slot) * c->slots_cap);
    resp_buf_init(&c->out, s->cfg->client_output_max);
    resp_buf_init(&c->wbuf, s->cfg->client_output_max);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        connClose(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->client.remote = connIsRemote(&c->tcp);
    if ((uv_tcp_t *)server >= s->tls_listeners && (uv_tcp_t *)server < s->tls_listeners + CONFIG_BIND_MAX) {
        c->tls = tls_session_new(s->tls);
        if (c->tls == NULL) {
            connClose(c);
            return;
        }
        c->tls_deadline_ms = uv_now(s->loop) + s->cfg->tls_handshake_timeout_ms;
    }
    /* Past --max-clients a connection is kept only if it is another node's
     * forward link (its first request names it: see connDispatch), within
     * a small headroom: a full leader must not refuse its own followers. */
    c->over_limit = s->env->stats->connected_clients > s->cfg->max_clients;
    if (s->env->stats->connected_clients > s->cfg->max_clients + CONN_NODE_HEADROOM ||
        s->env->shutting_down) {
        s->env->stats->rejected_connections++;
        static const char msg[] = "-ERR max number of clients reached\r\n";
        uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        connClose(c);
        return;
    }
    c->reading = true;
    connReadStart(c);
}

/* Binds and listens on address:port (IPv4 or IPv6) with tcp. */
static int connListen(conn_server *s, uv_tcp_t *tcp, const char *address, int port)
{
    struct sockaddr_storage addr;
    bool v6 = strchr(address, ':') != NULL;
    int rv = v6 ? uv_ip6_addr(address, port, (struct sockaddr_in6 *)&addr)
                : uv_ip4_addr(address, port, (struct sockaddr_in *)&addr);
    if (rv != 0) {
        return rv;
    }
    uv_tcp_init(s->loop, tcp);
    tcp->data = s;
    /* [::] serves IPv6 only: 0.0.0.0 can be bound beside it */
    rv = uv_tcp_bind(tcp, (const struct sockaddr *)&addr, v6 ? UV_TCP_IPV6ONLY : 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)tcp, 511, connOnConnection);
    }
    if (rv != 0) {
        uv_close((uv_handle_t *)tcp, NULL);
    }
    return rv;
}

int conn_server_start(conn_server *s, uv_loop_t *loop, const config *cfg, command_env *env,
                      tls_ctx *tls)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->env = env;
    s->limits.args_max = cfg->args_max;
    s->limits.bulk_max = cfg->bulk_max;
    s->limits.inline_max = cfg->inline_max;
    s->argv = calloc(cfg->args_max + 4, sizeof(resp_arg));
    s->inline_scratch = malloc(cfg->inline_max);
    if (s->argv == NULL || s->inline_scratch == NULL) {
        return UV_ENOMEM;
    }
    resp_buf_init(&s->scratch, cfg->client_output_max);
    for (int i = 0; cfg->port != 0 && i < cfg->n_binds; i++) {
        int rv = connListen(s, &s->listeners[i], cfg->binds[i], cfg->port);
        if (rv != 0) {
            return rv;
        }
        s->n_listening++;
    }
    if (cfg->tls_port != 0) {
        assert(tls != NULL && tls->ctx != NULL);
        s->tls = tls;
        s->tls_scratch = malloc(CONN_TLS_READ_CHUNK);
        if (s->tls_scratch == NULL) {
            return UV_ENOMEM;
        }
        for (int i = 0; i < cfg->n_binds; i++) {
            int rv = connListen(s, &s->tls_listeners[i], cfg->binds[i], cfg->tls_port);
            if (rv != 0) {
                return rv;
            }
            s->n_tls_listening++;
        }
        uv_timer_init(loop, &s->tls_sweep);
        s->tls_sweep.data = s;
        uv_timer_start(&s->tls_sweep, connTlsSweep, CONN_TLS_SWEEP_MS, CONN_TLS_SWEEP_MS);
        s->tls_sweeping = true;
    }
    uv_prepare_init(loop, &s->flusher);
    s->flusher.data = s;
    uv_prepare_start(&s->flusher, connOnPrepare);
    return 0;
}

void conn_server_stop_listening(conn_server *s)
{
    for (; s->n_listening > 0; s->n_listening--) {
        uv_close((uv_handle_t *)&s->listeners[s->n_listening - 1], NULL);
    }
    for (; s->n_tls_listening > 0; s->n_tls_listening--) {
        uv_close((uv_handle_t *)&s->tls_listeners[s->n_tls_listening - 1], NULL);
    }
    if (s->tls_sweeping) {
        s->tls_sweeping = false;
        uv_timer_stop(&s->tls_sweep);
        uv_close((uv_handle_t *)&s->tls_sweep, NULL);
    }
}

void conn_server_pause_all(conn_server *s)
{
    for (conn *c = s->conns; c != NULL; c = c->next) {
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
    }
}

bool conn_server_idle(const conn_server *s)
{
    for (const conn *c = s->conns; c != NULL; c = c->next) {
        if (!c->closing && (c->refs > 0 || c->writing || c->out.len > 0)) {
            return false;
        }
    }
    return true;
}

void conn_server_close_all(conn_server *s)
{
    for (conn *c = s->conns; c != NULL; c = c->next) {
        connClose(c);
    }
    uv_prepare_stop(&s->flusher);
    uv_close((uv_handle_t *)&s->flusher, NULL);
}

void conn_server_free(conn_server *s)
{
    free(s->argv);
    s->argv = NULL;
    free(s->inline_scratch);
    s->inline_scratch = NULL;
    resp_buf_free(&s->scratch);
    free(s->tls_scratch);
    s->tls_scratch = NULL;
}
