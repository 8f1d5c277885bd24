/* cmd_server — server and connection commands, answered at once from this
 * node: PING, ECHO, QUIT, SELECT, CLIENT, CONFIG GET and INFO (one
 * function per INFO section); HELLO and AUTH are cmd_auth.c. None of them
 * reaches the log. */
#include "commands_internal.h"

#include <assert.h>
#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"

void pingCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 1); /* its row in command_table */
    (void)env;
    if (call->argc == 1) {
        resp_write_simple(call->out, "PONG");
    } else if (call->argc == 2) {
        resp_write_bulk(call->out, call->argv[1].ptr, call->argv[1].len);
    } else {
        cmd_error(call, "ERR wrong number of arguments for 'ping' command");
    }
}

void echoCommand(command_env *env, command_call *call)
{
    assert(call->argc == 2); /* its row in command_table */
    (void)env;
    resp_write_bulk(call->out, call->argv[1].ptr, call->argv[1].len);
}

void quitCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 1); /* its row in command_table */
    (void)env;
    resp_write_simple(call->out, "OK");
    call->close = true;
}

void selectCommand(command_env *env, command_call *call)
{
    assert(call->argc == 2); /* its row in command_table */
    (void)env;
    int64_t db;
    if (cmd_parse_i64(&call->argv[1], &db) && db == 0) {
        resp_write_simple(call->out, "OK");
    } else {
        cmd_error(call, "ERR seqd has only database 0");
    }
}

void clientCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    (void)env;
    const resp_arg *sub = &call->argv[1];
    if (cmd_arg_is(sub, "SETNAME") && call->argc == 3) {
        const resp_arg *name = &call->argv[2];
        bool ok = name->len <= CLIENT_NAME_MAX;
        for (size_t i = 0; ok && i < name->len; i++) {
            ok = name->ptr[i] > 0x20 && name->ptr[i] < 0x7f;
        }
        if (!ok) {
            cmd_error(call, "ERR Client names cannot contain spaces, newlines or special "
                              "characters, and are at most 64 bytes");
            return;
        }
        memcpy(call->client->name, name->ptr, name->len);
        call->client->name[name->len] = '\0';
        resp_write_simple(call->out, "OK");
    } else if (cmd_arg_is(sub, "SETINFO") && call->argc == 4) {
        resp_write_simple(call->out, "OK");
    } else if (cmd_arg_is(sub, "GETNAME") && call->argc == 2) {
        if (call->client->name[0] == '\0') {
            resp_write_null(call->out, call->proto);
        } else {
            resp_write_cstr(call->out, call->client->name);
        }
    } else if (cmd_arg_is(sub, "ID") && call->argc == 2) {
        resp_write_int(call->out, (int64_t)call->client->id);
    } else {
        cmd_error(call, "ERR CLIENT supports SETNAME name, GETNAME, SETINFO attr value and ID");
    }
}

/* What CONFIG GET names beside the flags: redis-benchmark and other
 * clients probe persistence, which in seqd is always on (every reply
 * follows an fsync of its log entry). */
static const char *const config_compat[][2] = {
    {"save", ""}, {"appendonly", "yes"}, {"appendfsync", "always"}};
#define CONFIG_COMPAT_N (sizeof(config_compat) / sizeof(config_compat[0]))

/* Whether a key matches any of CONFIG GET's patterns (globs, any case). */
static bool configWanted(const command_call *call, const char *key)
{
    for (size_t i = 2; i < call->argc; i++) {
        char pattern[128];
        const resp_arg *a = &call->argv[i];
        if (a->len < sizeof(pattern)) {
            for (size_t k = 0; k < a->len; k++) { /* the keys are lower case */
                pattern[k] = (char)tolower((unsigned char)a->ptr[k]);
            }
            pattern[a->len] = '\0';
            if (fnmatch(pattern, key, 0) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* CONFIG GET pattern [pattern ...], as Redis 7: every flag whose name
 * (without dashes, as the config file has it) matches, with the value in
 * force. Nothing is settable at run time. */
void configCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    if (!cmd_arg_is(&call->argv[1], "GET") || call->argc < 3) {
        cmd_error(call, "ERR CONFIG supports only GET pattern [pattern ...]; seqd is configured "
                        "by flags and --config");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; config_key(i) != NULL; i++) {
        n += configWanted(call, config_key(i));
    }
    for (size_t i = 0; i < CONFIG_COMPAT_N; i++) {
        n += configWanted(call, config_compat[i][0]);
    }
    resp_write_map(call->out, n, call->proto);
    char value[CONFIG_CLUSTER_MAX * 64 + 1100];
    for (size_t i = 0; config_key(i) != NULL; i++) {
        if (configWanted(call, config_key(i))) {
            bool known = config_show(env->cfg, config_key(i), value, sizeof(value));
            assert(known);
            resp_write_cstr(call->out, config_key(i));
            resp_write_cstr(call->out, value);
        }
    }
    for (size_t i = 0; i < CONFIG_COMPAT_N; i++) {
        if (configWanted(call, config_compat[i][0])) {
            resp_write_cstr(call->out, config_compat[i][0]);
            resp_write_cstr(call->out, config_compat[i][1]);
        }
    }
}

static bool infoWants(const command_call *call, const char *section)
{
    if (call->argc < 2) {
        return true;
    }
    for (size_t i = 1; i < call->argc; i++) {
        if (cmd_arg_is(&call->argv[i], section) || cmd_arg_is(&call->argv[i], "all") ||
            cmd_arg_is(&call->argv[i], "everything") || cmd_arg_is(&call->argv[i], "default")) {
            return true;
        }
    }
    return false;
}

/* The INFO text being built: at most INFO_TEXT_MAX bytes, cut (never
 * overrun) when a section does not fit. */
#define INFO_TEXT_MAX 16384
typedef struct info_text {
    char buf[INFO_TEXT_MAX];
    size_t n; /* < INFO_TEXT_MAX */
} info_text;

__attribute__((format(printf, 2, 3))) static void infoAdd(info_text *t, const char *fmt, ...)
{
    assert(t->n < sizeof(t->buf));
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(t->buf + t->n, sizeof(t->buf) - t->n, fmt, ap);
    va_end(ap);
    if (w > 0) {
        t->n += (size_t)w < sizeof(t->buf) - t->n ? (size_t)w : sizeof(t->buf) - t->n - 1;
    }
    assert(t->n < sizeof(t->buf));
}

typedef struct info_warned {
    info_text *text;
    size_t count;
} info_warned;

/* One line per sequence at or below its WARN threshold (as many as fit). */
static void infoWarned(void *ctx, const char *name, uint64_t left, uint64_t warn)
{
    info_warned *w = ctx;
    w->count++;
    if (w->text->n + 300 < sizeof(w->text->buf)) {
        infoAdd(w->text, "warn:%s:remaining=%llu,warn=%llu\r\n", name, (unsigned long long)left,
                (unsigned long long)warn);
    }
}

static void infoServer(command_env *env, info_text *t)
{
    uv_loop_t *loop = env->batcher->loop;
    infoAdd(t,
            "# Server\r\nseqd_version:%s\r\nprocess_id:%d\r\ntcp_port:%d\r\n"
            "raft_port:%d\r\nuptime_in_seconds:%llu\r\n\r\n",
            SEQD_VERSION, (int)getpid(), env->cfg->port, env->cfg->raft_port,
            (unsigned long long)((uv_now(loop) - env->stats->start_ms) / 1000));
}

static void infoClients(command_env *env, info_text *t)
{
    infoAdd(t, "# Clients\r\nconnected_clients:%llu\r\nmaxclients:%zu\r\n\r\n",
            (unsigned long long)env->stats->connected_clients, env->cfg->max_clients);
}

static void infoCluster(command_env *env, info_text *t)
{
    char leader_at[48] = "";
    if (!node_leader_client(env->node, leader_at, sizeof(leader_at))) {
        leader_at[0] = '\0';
    }
    char cluster_hex[40], waiting[256];
    identity_cluster_hex(&env->node->ident, cluster_hex, sizeof(cluster_hex));
    node_waiting_for(env->node, waiting, sizeof(waiting));
    infoAdd(t,
            "# Cluster\r\ncluster_enabled:%d\r\nmembers:%u\r\nleader_client_address:%s\r\n"
            "forwarded_requests:%llu\r\ncluster_id:%s\r\ncluster_formed:%d\r\n"
            "cluster_waiting_for:%s\r\ndata_dir_kind:%s\r\nbus_refused_connections:%llu"
            "\r\nbus_tls:%d\r\nbus_refused_certificates:%llu\r\n\r\n",
            env->forwarder != NULL ? 1 : 0, env->node->raft.configuration.n, leader_at,
            (unsigned long long)(env->forwarder != NULL ? env->forwarder->forwarded : 0),
            cluster_hex, node_formed(env->node) ? 1 : 0, waiting,
            env->node->ident.kind == IDENTITY_SINGLE ? "single" : "cluster",
            (unsigned long long)env->node->transport.refused_incoming,
            env->node->transport.tls_server != NULL ? 1 : 0,
            (unsigned long long)env->node->transport.refused_certs);
}

static void infoRaft(command_env *env, info_text *t)
{
    struct raft *r = &env->node->raft;
    infoAdd(t,
            "# Raft\r\nrole:%s\r\nnode_id:%llu\r\nraft_term:%llu\r\n"
            "raft_commit_index:%llu\r\nraft_last_applied:%llu\r\nraft_last_index:%llu\r\n"
            "snapshot_threshold:%u\r\nsnapshot_threshold_now:%u\r\nsnapshots_taken:%llu\r\n"
            "entries_in_flight:%zu\r\nfailed:%d\r\n\r\n",
            node_is_leader(env->node) ? "leader" : "follower", (unsigned long long)env->node->id,
            (unsigned long long)raft_current_term(r), (unsigned long long)raft_commit_index(r),
            (unsigned long long)raft_last_applied(r), (unsigned long long)raft_last_index(r),
            env->cfg->snapshot_threshold, env->node->snapshot_threshold,
            (unsigned long long)env->node->fsm.snapshots, env->batcher->n_inflight,
            env->batcher->failed ? 1 : 0);
}

static void infoStats(command_env *env, info_text *t)
{
    const server_stats *st = env->stats;
    const fsm *f = &env->node->fsm;
    infoAdd(t,
            "# Stats\r\ntotal_connections_received:%llu\r\nrejected_connections:%llu\r\n"
            "total_commands_processed:%llu\r\nprotocol_errors:%llu\r\n"
            "output_limit_drops:%llu\r\nlog_entries_proposed:%llu\r\n"
            "log_commands_proposed:%llu\r\nlog_entries_applied:%llu\r\n"
            "numbers_issued:%llu\r\npeer_proofs_refused:%llu\r\n"
            "acl_access_denied_auth:%llu\r\nacl_access_denied_cmd:%llu\r\n"
            "acl_access_denied_key:%llu\r\nnoauth_refused:%llu\r\nacl_users:%llu\r\n"
            "tls_handshakes:%llu\r\ntls_failed:%llu\r\ntls_handshake_timeouts:%llu\r\n\r\n",
            (unsigned long long)st->total_connections,
            (unsigned long long)st->rejected_connections, (unsigned long long)st->total_commands,
            (unsigned long long)st->protocol_errors, (unsigned long long)st->output_limit_drops,
            (unsigned long long)env->batcher->entries_proposed,
            (unsigned long long)env->batcher->commands_proposed,
            (unsigned long long)f->entries_applied, (unsigned long long)f->numbers_issued,
            (unsigned long long)st->peer_proofs_refused,
            (unsigned long long)(env->auth != NULL ? env->auth->failures : 0),
            (unsigned long long)st->acl_denied_cmd, (unsigned long long)st->acl_denied_key,
            (unsigned long long)st->noauth_refused, (unsigned long long)seq_count_users(f->state),
            (unsigned long long)st->tls_established, (unsigned long long)st->tls_failed,
            (unsigned long long)st->tls_timeouts);
}

static void infoKeyspace(command_env *env, info_text *t)
{
    const seq_state *s = env->node->fsm.state;
    infoAdd(t,
            "# Keyspace\r\nsequences:%zu\r\nidempotency_keys:%zu\r\ngapless_keys:%zu\r\n"
            "max_keys:%zu\r\nkey_retention_seconds:%lld\r\n\r\n",
            seq_count_live(s), seq_count_keys(s), seq_count_pkeys(s), env->cfg->max_keys,
            (long long)(env->cfg->key_retention_ms / 1000));
}

static void infoWarnings(command_env *env, info_text *t)
{
    info_warned warned = {t, 0};
    infoAdd(t, "# Warnings\r\n");
    seq_each_warned(env->node->fsm.state, infoWarned, &warned);
    infoAdd(t, "sequences_at_warn:%zu\r\n\r\n", warned.count);
}

/* docs/clock.md: what each of these means */
static void infoClock(command_env *env, info_text *t)
{
    const fsm *f = &env->node->fsm;
    const clock_watch *cw = &env->batcher->clock;
    size_t agree = node_clock_agreeing(env->node);
    bool ok = node_clock_ok(env->node);
    infoAdd(t,
            "# Clock\r\nclock_replicated_ms:%lld\r\nclock_elapsed_ms:%lld\r\n"
            "clock_local_ms:%lld\r\nclock_offset_ms:%lld\r\nclock_jumps:%llu\r\n"
            "clock_last_jump_ms:%lld\r\nclock_leader_steps:%llu\r\n"
            "clock_last_step_ms:%lld\r\nmax_clock_offset_ms:%u\r\n"
            "clock_followers_agreeing:%zu\r\nclock_ok:%d\r\n\r\n",
            (long long)seq_clock_ms(f->state), (long long)seq_elapsed_ms(f->state),
            (long long)clock_wall_ms(), (long long)(f->has_offset ? f->clock_offset_ms : 0),
            (unsigned long long)cw->jumps, (long long)cw->last_jump_ms,
            (unsigned long long)f->clock_leader_steps, (long long)f->clock_last_step_ms,
            env->cfg->max_clock_offset_ms, agree, ok ? 1 : 0);
}

static void infoCache(command_env *env, info_text *t)
{
    infoAdd(t,
            "# Cache\r\ncached_numbers_served:%llu\r\ncached_blocks:%llu\r\n"
            "undelivered_reports:%llu\r\nlost_used_reports:%llu\r\n\r\n",
            (unsigned long long)env->cache->served, (unsigned long long)env->cache->blocks,
            (unsigned long long)(env->undelivered != NULL ? env->undelivered->reported : 0),
            (unsigned long long)(env->undelivered != NULL ? env->undelivered->served : 0));
}

/* The sections in the order INFO writes them; `also` is a second name
 * that selects the section (Cluster and Raft come together). A section
 * that needs the state (or the cache) is left out while there is none. */
typedef struct info_section {
    const char *name, *also;
    void (*write)(command_env *env, info_text *t);
    bool needs_state, needs_cache;
} info_section;

static const info_section info_sections[] = {
    {"server", NULL, infoServer, false, false},
    {"clients", NULL, infoClients, false, false},
    {"raft", "cluster", infoCluster, false, false},
    {"raft", "cluster", infoRaft, false, false},
    {"stats", NULL, infoStats, false, false},
    {"keyspace", NULL, infoKeyspace, true, false},
    {"warnings", NULL, infoWarnings, true, false},
    {"clock", NULL, infoClock, true, false},
    {"cache", NULL, infoCache, false, true},
};

void infoCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 1); /* its row in command_table */
    info_text text;
    info_text *t = &text;
    t->n = 0;
    bool has_state = env->node->fsm.state != NULL;
    for (size_t i = 0; i < sizeof(info_sections) / sizeof(info_sections[0]); i++) {
        const info_section *sec = &info_sections[i];
        bool wanted = infoWants(call, sec->name) || (sec->also != NULL && infoWants(call, sec->also));
        if (wanted && (!sec->needs_state || has_state) && (!sec->needs_cache || env->cache != NULL)) {
            sec->write(env, t);
        }
    }
    resp_write_bulk(call->out, t->buf, t->n);
}

/* BACKUP: the whole state at this node's applied index, as the file
 * `seqd backup` writes (base/backup.h), in one bulk reply. Taken between
 * two applies on the loop, so it is one consistent point in time. */
void backupCommand(command_env *env, command_call *call)
{
    node *n = env->node;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    backup_meta m = {.index = raft_last_applied(&n->raft),
                     .term = raft_current_term(&n->raft),
                     .taken_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                     .has_cluster = n->ident.has_cluster};
    memcpy(m.cluster, n->ident.cluster, sizeof(m.cluster));
    snprintf(m.version, sizeof(m.version), "%s", SEQD_VERSION);
    snprintf(m.node, sizeof(m.node), "%.40s:%d", env->cfg->bind, env->cfg->port);
    size_t len = 0;
    uint8_t *file = backup_encode(n->fsm.state, &m, &len);
    if (file == NULL) {
        cmd_error(call, "ERR out of memory for the backup");
        return;
    }
    if (len + 64 > env->cfg->client_output_max) {
        char why[96];
        snprintf(why, sizeof(why), "%zu bytes", len);
        cmd_errorf(call, "ERR the backup is %s, past --client-output-max", why);
    } else {
        resp_write_bulk(call->out, (const char *)file, len);
    }
    free(file);
}
