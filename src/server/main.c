/* main — wiring and lifecycle only: flags, the data directory and its lock,
 * the event loop, signals, and an orderly shutdown.
 *
 * Shutdown (SIGTERM/SIGINT, or a disk error): stop accepting and reading,
 * let every command already read reach its reply (or fail cleanly if it
 * never reached the log), then close Raft and exit — 0 on a signal, 1 after
 * a disk error. A second signal exits at once. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "auth.h"
#include "tls.h"
#include "batch.h"
#include "commands.h"
#include "config.h"
#include "conn.h"
#include "forward.h"
#include "cache.h"
#include "log.h"
#include "node.h"
#include "http.h"
#include "notify.h"
#include "peer_proof.h"
#include "restore.h"
#include "tool_backup.h"
#include "undelivered.h"

#define SHUTDOWN_POLL_MS 10
#define SHUTDOWN_GRACE_MS 5000

typedef struct server {
    uv_loop_t loop;
    config cfg;
    node node;
    batcher batcher;
    forwarder forwarder;
    cache cache;
    undelivered undelivered;
    auth auth;
    tls_ctx tls; /* the TLS port's certificate, key and CA */
    conn_server conns;
    command_env env;
    server_stats stats;
    metrics metrics;
    http_server http; /* --http-port */
    restore restore;  /* a directory seeded by seqd restore */
    notify notify;    /* systemd's READY=1 and STOPPING=1 */
    uv_signal_t sigterm, sigint;
    uv_timer_t shutdown_timer;
    uint64_t shutdown_started_ms;
    bool stopping, closing_raft;
    int exit_code;
    int lock_fd;
} server;

static server srv; /* one per process; reached from signal and libuv callbacks */

/* A batch result: for a client connection, or for the server's own
 * requests (tagged BATCH_TAG_INTERNAL, owner a batch_internal). */
static void onBatchDone(void *owner, uint64_t tag, const seq_result *res, int err)
{
    if ((tag & BATCH_TAG_INTERNAL) != 0) {
        ((batch_internal *)owner)->done(owner, tag, res, err);
    } else {
        conn_on_done(owner, tag, res, err);
    }
}

static void onForwarded(void *owner, uint64_t tag, const char *reply, size_t len, int err)
{
    if ((tag & BATCH_TAG_INTERNAL) != 0) {
        ((forward_internal *)owner)->done(owner, tag, reply, len, err);
        return;
    }
    conn_on_forwarded(owner, tag, reply, len, err);
}

/* An entry of ours committed after we gave up on it: its numbers reached
 * no client. */
/* An entry this version cannot apply (a newer writer, or a bug): applying
 * the rest without it would make this replica diverge, so the node stops
 * at once, saying which entry; every replica of this version stops at the
 * same entry. Upgrade the node and start it again. */
static void onHalt(uint64_t index, const char *why)
{
    log_error("fsm: log entry %llu cannot be applied by seqd %s (%s): this node stops here; "
              "upgrade it and start it again",
              (unsigned long long)index, SEQD_VERSION, why);
    exit(3);
}

/* This node's data directory belongs to another cluster than its peers'
 * (node.c): it never served, and must not. */
static void onRefuse(const char *why)
{
    log_error("%s", why);
    exit(2);
}

/* A forwarded reply that came after its client was told "outcome
 * unknown": its numbers reached nobody. */
static void onForwardLost(void *ctx, const char *name, const char *reply, size_t len)
{
    size_t n = 0;
    seq_run *runs = conn_reply_runs(reply, len, &n);
    if (runs != NULL) {
        undelivered_report(ctx, name, strlen(name), runs, n, 0, false, undelivered_period_of(NULL),
                           "reply undelivered: it came after the client was told the outcome "
                           "is unknown");
        free(runs);
    }
}

static void onOrphan(void *ctx, const seq_cmd *cmd, const seq_result *res)
{
    (void)ctx;
    undelivered_report(&srv.undelivered, cmd->name, cmd->name_len, res->runs, res->n_runs,
                       cmd->op == SEQ_OP_RESERVE ? res->grant : 0, true, undelivered_period_of(res),
                       "reply lost to a leadership change (fate unknown)");
}

/* mkdir -p: every missing parent too. */
static int makeDirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* One seqd per directory: two writers on one Raft log would corrupt it. */
static int lockDir(const char *dir)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/seqd.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char other[32] = "";
        ssize_t n = pread(fd, other, sizeof(other) - 1, 0);
        other[n > 0 ? n : 0] = '\0';
        other[strcspn(other, "\n")] = '\0';
        log_error("another seqd (pid %s) is using %s", other[0] ? other : "?", dir);
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        log_error("cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void onHandleClosed(uv_handle_t *h)
{
    (void)h;
}

static void onNodeClosed(node *n)
{
    (void)n;
    uv_close((uv_handle_t *)&srv.sigterm, onHandleClosed);
    uv_close((uv_handle_t *)&srv.sigint, onHandleClosed);
    uv_close((uv_handle_t *)&srv.shutdown_timer, onHandleClosed);
}

static void onShutdownTick(uv_timer_t *t)
{
    (void)t;
    if (srv.closing_raft) {
        return;
    }
    batcher_flush(&srv.batcher);
    size_t forwarding = srv.env.forwarder != NULL ? srv.forwarder.n_pending : 0;
    bool done = srv.batcher.n_pending_cmds == 0 && forwarding == 0 &&
                conn_server_idle(&srv.conns);
    bool late = uv_now(&srv.loop) - srv.shutdown_started_ms >= SHUTDOWN_GRACE_MS;
    if (!done && !late) {
        return;
    }
    if (!done) {
        log_warn("shutdown: %zu commands still pending after %d ms; closing anyway",
                 srv.batcher.n_pending_cmds, SHUTDOWN_GRACE_MS);
    }
    uv_timer_stop(&srv.shutdown_timer);
    srv.closing_raft = true;
    batcher_stop(&srv.batcher, BATCH_ERR_SHUTDOWN);
    if (srv.env.forwarder != NULL) {
        forwarder_stop(&srv.forwarder, BATCH_ERR_SHUTDOWN);
    }
    conn_server_close_all(&srv.conns);
    node_close(&srv.node, onNodeClosed);
}

static void beginShutdown(int exit_code)
{
    if (srv.stopping) {
        return;
    }
    srv.stopping = true;
    srv.exit_code = exit_code;
    srv.env.shutting_down = true;
    srv.shutdown_started_ms = uv_now(&srv.loop);
    conn_server_stop_listening(&srv.conns);
    conn_server_pause_all(&srv.conns);
    notify_stopping(&srv.notify);
    http_stop(&srv.http);
    restore_stop(&srv.restore);
    auth_stop(&srv.auth); /* logins still queued are refused, so every one is answered */
    cache_stop(&srv.cache); /* what was served reaches the log before the batcher drains */
    /* From a timer, never from inside a raft callback (see libraft notes). */
    uv_timer_start(&srv.shutdown_timer, onShutdownTick, 0, SHUTDOWN_POLL_MS);
}

static void onSignal(uv_signal_t *h, int signum)
{
    (void)h;
    if (srv.stopping) {
        log_warn("second signal %d: exiting now", signum);
        _exit(1);
    }
    log_info("signal %d: finishing in-flight requests, then exiting", signum);
    beginShutdown(0);
}

static void onFatal(void *ctx)
{
    (void)ctx;
    log_error("disk error: this node stops serving and exits; restart it when the disk is fixed");
    beginShutdown(1);
}

static uint64_t processNonce(void)
{
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce) || nonce == 0) {
        nonce = ((uint64_t)getpid() << 32) ^ (uint64_t)uv_hrtime() ^ 1;
    }
    return nonce;
}

/* The data directory, made when missing and locked for this process. */
static int openDataDir(void)
{
    if (makeDirs(srv.cfg.dir) != 0) {
        log_error("cannot create data directory %s: %s", srv.cfg.dir, strerror(errno));
        return -1;
    }
    srv.lock_fd = lockDir(srv.cfg.dir);
    return srv.lock_fd < 0 ? -1 : 0;
}

/* The client port, the batcher and the signals: all before the log is
 * loaded, so a busy port fails fast and a signal that arrives while the
 * log loads is handled once the loop runs, in order. */
static int startFrontDoor(void)
{
    uv_loop_init(&srv.loop);
    srv.env.auth = &srv.auth;
    if (auth_start(&srv.auth, &srv.node, &srv.batcher) != 0) {
        log_error("cannot start the login checker thread");
        return -1;
    }
    srv.stats.start_ms = uv_now(&srv.loop);
    srv.env.cfg = &srv.cfg;
    srv.env.node = &srv.node;
    srv.env.batcher = &srv.batcher;
    srv.env.stats = &srv.stats;
    metrics_init(&srv.metrics);
    srv.env.metrics = &srv.metrics;
    srv.env.restoring = &srv.restore.pending;
    srv.auth.hold = &srv.restore.pending;
    srv.env.reply_raw = conn_reply_raw;
    int rv = conn_server_start(&srv.conns, &srv.loop, &srv.cfg, &srv.env, &srv.tls);
    if (rv != 0) {
        log_error("cannot listen on %s port %d%s%.0d: %s", srv.cfg.bind, srv.cfg.port,
                  srv.cfg.tls_port != 0 ? " or TLS port " : "", srv.cfg.tls_port, uv_strerror(rv));
        return -1;
    }
    rv = batcher_init(&srv.batcher, &srv.loop, &srv.node, &srv.cfg, processNonce(),
                      onBatchDone, onFatal, NULL);
    if (rv != 0) {
        log_error("batcher: %s", uv_strerror(rv));
        return -1;
    }
    uv_signal_init(&srv.loop, &srv.sigterm);
    uv_signal_init(&srv.loop, &srv.sigint);
    uv_signal_start(&srv.sigterm, onSignal, SIGTERM);
    uv_signal_start(&srv.sigint, onSignal, SIGINT);
    return 0;
}

static int startRaft(void)
{
    srv.node.fsm_halt = onHalt;
    srv.node.refuse = onRefuse;
    restore_hook(&srv.restore, &srv.node);
    int rv = node_start(&srv.node, &srv.loop, &srv.cfg, batcher_claim, &srv.batcher);
    if (rv == NODE_REFUSED) {
        return -1; /* node_start said why */
    }
    if (rv != 0) {
        log_error("cannot start Raft in %s (is the directory writable? is raft port %d free?)",
                  srv.cfg.dir, srv.cfg.raft_port);
        return -1;
    }
    return 0;
}

/* What serves beside the batcher once Raft runs: the forwarder (clusters
 * only), the cached-mode blocks and the undelivered reports. */
static int startServices(void)
{
    if (srv.cfg.n_members > 0) {
        int rv = forwarder_init(&srv.forwarder, &srv.loop, &srv.node, &srv.cfg, onForwarded);
        if (rv != 0) {
            log_error("forwarder: %s", uv_strerror(rv));
            return -1;
        }
        srv.env.forwarder = &srv.forwarder;
    }
    cache_init(&srv.cache, &srv.batcher, &srv.node, onBatchDone);
    srv.env.cache = &srv.cache;
    srv.node.on_role = cache_on_role;
    srv.node.role_ctx = &srv.cache;
    undelivered_init(&srv.undelivered, &srv.batcher, &srv.node, srv.env.forwarder);
    srv.cache.reports = &srv.undelivered;
    srv.env.undelivered = &srv.undelivered;
    if (srv.env.forwarder != NULL) {
        srv.forwarder.lost = onForwardLost;
        srv.forwarder.lost_ctx = &srv.undelivered;
    }
    srv.node.fsm.origin = srv.batcher.origin;
    srv.node.fsm.orphan = onOrphan;
    srv.batcher.metrics = &srv.metrics;
    restore_start(&srv.restore, &srv.loop);
    notify_start(&srv.notify, &srv.loop, &srv.env);
    uv_timer_init(&srv.loop, &srv.shutdown_timer);
    if (srv.cfg.http_port != 0 && http_start(&srv.http, &srv.loop, &srv.env, &srv.cfg) != 0) {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a vanished peer must not kill the server */
    if (argc > 1 && (strcmp(argv[1], "backup") == 0 || strcmp(argv[1], "inspect") == 0 ||
                     strcmp(argv[1], "restore") == 0)) {
        return tool_main(argc - 1, argv + 1); /* tool_backup.h */
    }
    int rv = config_parse(&srv.cfg, argc, argv);
    if (rv != 0) {
        return rv > 0 ? 0 : 2;
    }
    log_set_level(srv.cfg.log_level);
    log_set_format(srv.cfg.log_format);
    /* a bad password file is a bad flag: exit 2, before anything is made */
    if (auth_init(&srv.auth, &srv.loop, srv.cfg.requirepass_file) != 0 ||
        tls_ctx_init(&srv.tls, &srv.cfg) != 0) {
        return 2;
    }
    if (srv.cfg.cluster_secret_file[0] != '\0') {
        if (peer_secret_load(srv.cfg.cluster_secret_file, srv.cfg.cluster_secret) != 0) {
            return 2;
        }
        srv.cfg.has_cluster_secret = true;
    }
    if (openDataDir() != 0 || restore_load(&srv.restore, srv.cfg.dir) != 0 ||
        startFrontDoor() != 0 || startRaft() != 0 ||
        startServices() != 0) {
        return 1;
    }
    char binds[CONFIG_BIND_MAX * 64];
    config_show(&srv.cfg, "bind", binds, sizeof(binds));
    log_info("seqd %s listening on %s port %d%s%.0d, data in %s%s%s", SEQD_VERSION, binds,
             srv.cfg.port, srv.cfg.tls_port != 0 ? ", TLS port " : "", srv.cfg.tls_port,
             srv.cfg.dir, srv.cfg.config_file[0] != '\0' ? ", config " : "", srv.cfg.config_file);

    uv_run(&srv.loop, UV_RUN_DEFAULT);

    conn_server_free(&srv.conns);
    cache_free(&srv.cache);
    rv = uv_loop_close(&srv.loop);
    if (rv != 0) {
        log_warn("event loop closed with handles open: %s", uv_strerror(rv));
    }
    close(srv.lock_fd);
    log_info("seqd stopped");
    return srv.exit_code;
}
