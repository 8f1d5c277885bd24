/* config — command-line flags and limits (see config.h). */
#include "config.h"

#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "resp.h"
#include "seq.h"

static const char usage[] =
    "usage: seqd [--port N] [--bind ADDR] [--dir PATH] [options]\n"
    "  --port N                 client port (7379)\n"
    "  --config PATH            a file of `key value` lines, one per flag (flags override it)\n"
    "  --bind \"ADDR [ADDR...]\"  IPv4 or IPv6 addresses the client ports listen on; the\n"
    "                           first is the node's own (127.0.0.1)\n"
    "  --dir PATH               data directory: Raft log and snapshots (./seqd-data)\n"
    "  --raft-port N            Raft bus port (port + 10000; a single node opens it once it has members)\n"
    "  --cluster A:P[@R],...    founding members' client addresses (and Raft ports, default\n"
    "                           P + 10000); a node not in the list waits to be added\n"
    "  --max-clients N          concurrent clients (10000)\n"
    "  --max-pipeline N         replies pending per client before reading pauses (10000)\n"
    "  --client-output-max B    reply bytes buffered per client before it is dropped (67108864)\n"
    "  --key-retention S        seconds an idempotency KEY is remembered (86400)\n"
    "  --reserve-ttl S          default TTL of a gapless RESERVE, 0 = none (300)\n"
    "  --max-keys N             idempotency keys held at once (1000000)\n"
    "  --snapshot-threshold N   log entries between snapshots (65536)\n"
    "  --snapshot-trailing N    entries kept behind a snapshot (32768)\n"
    "  --batch-max N            commands in one log entry (4096)\n"
    "  --max-inflight N         log entries in flight (256)\n"
    "  --request-timeout-ms N   longest wait for a leader before TRYAGAIN (5000)\n"
    "  --election-timeout-ms N  Raft election timeout (500)\n"
    "  --heartbeat-ms N         Raft heartbeat (50)\n"
    "  --max-clock-offset-ms N  a leader whose wall clock is further than this from its\n"
    "                           followers' does not serve writes (500; 0 = unchecked)\n"
    "  --log-level L            debug, info, warn or error (info)\n"
    "  --log-format F           text or json, one object per line (text); under systemd each\n"
    "                           line carries its priority for the journal\n"
    "  --requirepass-file PATH  the default user's password, on the file's first line: clients\n"
    "                           must AUTH (none)\n"
    "  --cluster-secret-file PATH  a secret every member shares: each Raft bus connection\n"
    "                           proves both ends know it (none)\n"
    "  --cluster-insecure yes|no  allow non-loopback --cluster members without a secret (no)\n"
    "  --protected-mode yes|no  without a password, refuse clients that are not on loopback (yes)\n"
    "  --tls-port N             also serve clients over TLS (1.2, 1.3) on this port (0: none);\n"
    "                           --port 0 serves TLS only\n"
    "  --tls-cert-file PATH     the server's certificate chain (PEM)\n"
    "  --tls-key-file PATH      its private key (PEM)\n"
    "  --tls-ca-cert-file PATH  CA certificates that client certificates must chain to\n"
    "  --tls-auth-clients yes|no|optional  ask clients for a certificate (yes)\n"
    "  --tls-auth-clients-user CN|off  a verified client certificate logs in as the user its\n"
    "                           CN names (off)\n"
    "  --tls-handshake-timeout-ms N  longest TLS handshake (5000)\n"
    "  --tls-cluster yes|no     mutual TLS on the Raft bus: each member's certificate (the same\n"
    "                           --tls-cert-file) must name its bus IP (no)\n"
    "  --http-port N            serve /metrics, /health and /ready over HTTP (0: none)\n"
    "  --http-token-file PATH   /metrics and /ready need 'Authorization: Bearer <the file's\n"
    "                           first line>' (none: loopback clients only, in protected mode)\n"
    "  --http-tls yes|no        HTTPS with --tls-cert-file and --tls-key-file (no)\n"
    "  --metrics-max-sequences N  sequences with series of their own; the rest are summed (100)\n"
    "  --version, --help\n";

static int configInt(const char *flag, const char *text, long long lo, long long hi,
                     long long *out)
{
    if (text == NULL) {
        fprintf(stderr, "seqd: %s needs a value\n", flag);
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "seqd: %s must be an integer in [%lld, %lld], got '%s'\n", flag, lo,
                hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses "a.b.c.d:port" into its parts; -1 unless exactly that. */
static int configParseHostPort(const char *text, unsigned ip[4], unsigned *port, char *tail)
{
    int used = 0;
    if (sscanf(text, "%3u.%3u.%3u.%3u:%5u%n", &ip[0], &ip[1], &ip[2], &ip[3], port, &used) != 5) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (ip[i] > 255) {
            return -1;
        }
    }
    if (*port == 0 || *port > 65535) {
        return -1;
    }
    *tail = text[used];
    return used;
}

uint64_t config_raft_id(const char *raft_address)
{
    unsigned ip[4], port;
    char tail;
    int used = configParseHostPort(raft_address, ip, &port, &tail);
    if (used < 0 || tail != '\0') {
        return 0;
    }
    uint64_t addr = (uint64_t)ip[0] << 24 | ip[1] << 16 | ip[2] << 8 | ip[3];
    return addr << 16 | port;
}

int config_member_parse(const char *text, config_member *m)
{
    unsigned ip[4], port, raft_port;
    char tail;
    int used = configParseHostPort(text, ip, &port, &tail);
    if (used < 0) {
        return -1;
    }
    if (tail == '\0') {
        raft_port = port + 10000;
    } else {
        char end;
        if (tail != '@' || sscanf(text + used + 1, "%5u%c", &raft_port, &end) != 1 ||
            raft_port == 0) {
            return -1;
        }
    }
    if (raft_port > 65535) {
        return -1;
    }
    snprintf(m->client, sizeof(m->client), "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3], port);
    snprintf(m->raft, sizeof(m->raft), "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3], raft_port);
    m->id = config_raft_id(m->raft);
    return 0;
}

static int configCluster(config *c, const char *text)
{
    char copy[CONFIG_CLUSTER_MAX * 64];
    if (text == NULL || strlen(text) >= sizeof(copy)) {
        fprintf(stderr, "seqd: --cluster needs a list of at most %d addresses\n",
                CONFIG_CLUSTER_MAX);
        return -1;
    }
    strcpy(copy, text);
    c->n_members = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (c->n_members == CONFIG_CLUSTER_MAX) {
            fprintf(stderr, "seqd: --cluster names more than %d members\n", CONFIG_CLUSTER_MAX);
            return -1;
        }
        config_member *m = &c->members[c->n_members];
        if (config_member_parse(tok, m) != 0) {
            fprintf(stderr, "seqd: --cluster wants a.b.c.d:port[@raftport] addresses, got '%s'\n",
                    tok);
            return -1;
        }
        for (int i = 0; i < c->n_members; i++) {
            if (c->members[i].id == m->id || strcmp(c->members[i].client, m->client) == 0) {
                fprintf(stderr, "seqd: --cluster names %s twice\n", m->client);
                return -1;
            }
        }
        c->n_members++;
    }
    return 0;
}

static void configDefaults(config *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->bind, "127.0.0.1");
    strcpy(c->binds[0], c->bind);
    c->n_binds = 1;
    c->port = 7379;
    c->raft_port = 0;
    strcpy(c->dir, "./seqd-data");
    c->max_clients = 10000;
    c->max_pipeline = 10000;
    c->client_output_max = 64u << 20;
    c->args_max = 64;
    c->bulk_max = 64u << 10;
    c->inline_max = 64u << 10;
    /* Any request within args_max x bulk_max fits in the query buffer. */
    c->query_max = 8u << 20;
    c->key_retention_ms = 86400 * 1000LL;
    c->reserve_ttl_ms = 300 * 1000LL;
    c->max_keys = SEQ_KEYS_MAX_DEFAULT;
    c->snapshot_threshold = 65536;
    /* Long enough that a follower back from a restart usually catches up
     * from the log: libraft 0.22.1 can crash when an InstallSnapshot meets a
     * follower's own snapshot in progress (docs/libraft.md). */
    c->snapshot_trailing = 32768;
    c->batch_max = CODEC_BATCH_MAX;
    c->max_inflight = 256;
    c->request_timeout_ms = 5000;
    /* libraft's 1000/100 failed over in 2.3-5.2 s on this kind of machine;
     * 500/50 with pre-vote keeps failover near 1 s without spurious
     * elections when the cores are busy. */
    c->election_timeout_ms = 400;
    c->heartbeat_ms = 50;
    c->max_clock_offset_ms = 500; /* CockroachDB's default --max-offset */
    c->log_level = LOG_INFO;
    c->protected_mode = true;
    c->tls_auth_clients = CONFIG_TLS_AUTH_YES; /* as Redis */
    c->tls_handshake_timeout_ms = 5000;
    c->metrics_max_sequences = 100;
}

/* The flags that take text rather than an integer: each checks its value
 * and names the flag in its error. */
/* --bind "A [B ...]": numeric IPv4 or IPv6 addresses, separated by
 * blanks or commas (Redis's bind takes a list too). The first is the
 * node's own (the address --cluster knows it by); each is kept in its
 * canonical form. */
static int configBind(config *c, const char *flag, const char *v)
{
    (void)flag;
    char copy[CONFIG_BIND_MAX * 64];
    if (v == NULL || strlen(v) >= sizeof(copy)) {
        fprintf(stderr, "seqd: --bind wants at most %d numeric IPv4 or IPv6 addresses\n",
                CONFIG_BIND_MAX);
        return -1;
    }
    strcpy(copy, v);
    c->n_binds = 0;
    char *save = NULL;
    for (char *a = strtok_r(copy, " ,\t", &save); a != NULL; a = strtok_r(NULL, " ,\t", &save)) {
        unsigned char raw[16];
        bool v6 = strchr(a, ':') != NULL;
        if (c->n_binds == CONFIG_BIND_MAX || inet_pton(v6 ? AF_INET6 : AF_INET, a, raw) != 1) {
            fprintf(stderr, "seqd: --bind wants at most %d numeric IPv4 or IPv6 addresses, got "
                            "'%s'\n", CONFIG_BIND_MAX, a);
            return -1;
        }
        char *out = c->binds[c->n_binds];
        inet_ntop(v6 ? AF_INET6 : AF_INET, raw, out, sizeof(c->binds[0]));
        for (int i = 0; i < c->n_binds; i++) {
            if (strcmp(c->binds[i], out) == 0) {
                fprintf(stderr, "seqd: --bind names %s twice\n", out);
                return -1;
            }
        }
        c->n_binds++;
    }
    if (c->n_binds == 0) {
        fprintf(stderr, "seqd: --bind wants an address\n");
        return -1;
    }
    snprintf(c->bind, sizeof(c->bind), "%s", c->binds[0]);
    return 0;
}

static int configDir(config *c, const char *flag, const char *v)
{
    (void)flag;
    /* 64 bytes stay free for the file names the node puts under it. */
    if (v == NULL || v[0] == '\0' || strlen(v) >= sizeof(c->dir) - 64) {
        fprintf(stderr, "seqd: --dir needs a path shorter than %zu bytes\n", sizeof(c->dir) - 64);
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "%s", v);
    return 0;
}

static int configClusterFlag(config *c, const char *flag, const char *v)
{
    (void)flag;
    return configCluster(c, v);
}

static int configInitialState(config *c, const char *flag, const char *v)
{
    (void)flag;
    if (v == NULL || (strcmp(v, "new") != 0 && strcmp(v, "existing") != 0)) {
        fprintf(stderr, "seqd: --initial-cluster-state must be new or existing\n");
        return -1;
    }
    c->join_existing = strcmp(v, "existing") == 0;
    return 0;
}

static int configTlsAuthClients(config *c, const char *flag, const char *v)
{
    (void)flag;
    static const char *names[] = {"no", "yes", "optional"};
    for (int i = 0; i < 3 && v != NULL; i++) {
        if (strcmp(v, names[i]) == 0) {
            c->tls_auth_clients = i;
            return 0;
        }
    }
    fprintf(stderr, "seqd: --tls-auth-clients must be yes, no or optional\n");
    return -1;
}

static int configTlsAuthClientsUser(config *c, const char *flag, const char *v)
{
    (void)flag;
    if (v == NULL || (strcmp(v, "CN") != 0 && strcmp(v, "off") != 0)) {
        fprintf(stderr, "seqd: --tls-auth-clients-user must be CN or off\n");
        return -1;
    }
    c->tls_auth_clients_user = strcmp(v, "CN") == 0;
    return 0;
}

static int configLogLevel(config *c, const char *flag, const char *v)
{
    (void)flag;
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int l = 0; l < 4 && v != NULL; l++) {
        if (strcmp(v, names[l]) == 0) {
            c->log_level = l;
            return 0;
        }
    }
    fprintf(stderr, "seqd: --log-level must be debug, info, warn or error\n");
    return -1;
}

/* How the text flags are shown (CONFIG GET): as the flag takes them. */
static void configShowBind(const config *c, char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < c->n_binds && n < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i > 0 ? " " : "", c->binds[i]);
        n += w > 0 ? (size_t)w : 0;
    }
}

static void configShowDir(const config *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s", c->dir);
}

static void configShowCluster(const config *c, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < c->n_members && n < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i > 0 ? "," : "", c->members[i].client);
        n += w > 0 ? (size_t)w : 0;
    }
}

static void configShowInitialState(const config *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s", c->join_existing ? "existing" : "new");
}

static void configShowLogLevel(const config *c, char *out, size_t cap)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    snprintf(out, cap, "%s", names[c->log_level]);
}

static int configLogFormat(config *c, const char *flag, const char *v)
{
    (void)flag;
    if (v == NULL || (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)) {
        fprintf(stderr, "seqd: --log-format must be text or json\n");
        return -1;
    }
    c->log_format = strcmp(v, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
    return 0;
}

static void configShowLogFormat(const config *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s", c->log_format == LOG_FORMAT_JSON ? "json" : "text");
}

static void configShowTlsAuthClients(const config *c, char *out, size_t cap)
{
    static const char *names[] = {"no", "yes", "optional"};
    snprintf(out, cap, "%s", names[c->tls_auth_clients]);
}

static void configShowTlsAuthClientsUser(const config *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s", c->tls_auth_clients_user ? "CN" : "off");
}

/* One row per flag that takes a value: an integer flag names its field, its
 * range and the unit it is scaled by (seconds to ms); a yes/no flag its
 * bool; a path its buffer; any other text flag the functions that check,
 * store and show it. Adding a flag is adding a row. */
typedef enum {
    CONFIG_INT,
    CONFIG_UNSIGNED,
    CONFIG_SIZE,
    CONFIG_INT64,
    CONFIG_YESNO,
    CONFIG_PATH,
    CONFIG_CUSTOM,
} config_type;

typedef struct config_option {
    const char *flag;
    config_type type;
    size_t offset, cap; /* the field, and a path's buffer size */
    long long lo, hi, scale;
    int (*set_text)(config *c, const char *flag, const char *value);
    void (*show)(const config *c, char *out, size_t cap);
} config_option;

#define CONFIG_NUMBER(flag, type, field, lo, hi, scale)                                            \
    {flag, type, offsetof(config, field), 0, lo, hi, scale, NULL, NULL}
#define CONFIG_YESNO(flag, field) {flag, CONFIG_YESNO, offsetof(config, field), 0, 0, 0, 1, NULL, NULL}
#define CONFIG_PATH(flag, field)                                                                   \
    {flag, CONFIG_PATH, offsetof(config, field), sizeof(((config *)0)->field), 0, 0, 1, NULL, NULL}
#define CONFIG_TEXT(flag, set, show) {flag, CONFIG_CUSTOM, 0, 0, 0, 0, 1, set, show}

static const config_option config_options[] = {
    /* 55535 leaves room for the Raft port's default, port + 10000. */
    CONFIG_NUMBER("--port", CONFIG_INT, port, 0, 55535, 1), /* 0: TLS only */
    CONFIG_NUMBER("--raft-port", CONFIG_INT, raft_port, 1, 65535, 1),
    CONFIG_TEXT("--bind", configBind, configShowBind),
    CONFIG_TEXT("--dir", configDir, configShowDir),
    CONFIG_TEXT("--cluster", configClusterFlag, configShowCluster),
    CONFIG_NUMBER("--max-clients", CONFIG_SIZE, max_clients, 1, 1000000, 1),
    CONFIG_NUMBER("--max-pipeline", CONFIG_SIZE, max_pipeline, 1, 1000000, 1),
    CONFIG_NUMBER("--client-output-max", CONFIG_SIZE, client_output_max, 1 << 16, 1LL << 34, 1),
    CONFIG_NUMBER("--key-retention", CONFIG_INT64, key_retention_ms, 1, 366LL * 86400, 1000),
    CONFIG_NUMBER("--reserve-ttl", CONFIG_INT64, reserve_ttl_ms, 0, SEQ_TTL_MAX_MS / 1000, 1000),
    CONFIG_NUMBER("--max-keys", CONFIG_SIZE, max_keys, 0, 100000000, 1),
    CONFIG_NUMBER("--snapshot-threshold", CONFIG_UNSIGNED, snapshot_threshold, 16, 100000000, 1),
    CONFIG_NUMBER("--snapshot-trailing", CONFIG_UNSIGNED, snapshot_trailing, 16, 100000000, 1),
    CONFIG_NUMBER("--batch-max", CONFIG_SIZE, batch_max, 1, CODEC_BATCH_MAX, 1),
    CONFIG_NUMBER("--max-inflight", CONFIG_SIZE, max_inflight, 1, 65536, 1),
    CONFIG_NUMBER("--request-timeout-ms", CONFIG_UNSIGNED, request_timeout_ms, 10, 600000, 1),
    CONFIG_NUMBER("--election-timeout-ms", CONFIG_UNSIGNED, election_timeout_ms, 50, 60000, 1),
    CONFIG_NUMBER("--max-clock-offset-ms", CONFIG_UNSIGNED, max_clock_offset_ms, 0, 3600000, 1),
    CONFIG_NUMBER("--heartbeat-ms", CONFIG_UNSIGNED, heartbeat_ms, 10, 60000, 1),
    CONFIG_TEXT("--initial-cluster-state", configInitialState, configShowInitialState),
    CONFIG_TEXT("--log-level", configLogLevel, configShowLogLevel),
    CONFIG_TEXT("--log-format", configLogFormat, configShowLogFormat),
    CONFIG_PATH("--requirepass-file", requirepass_file),
    CONFIG_PATH("--cluster-secret-file", cluster_secret_file),
    CONFIG_YESNO("--cluster-insecure", cluster_insecure),
    CONFIG_YESNO("--protected-mode", protected_mode),
    CONFIG_NUMBER("--tls-port", CONFIG_INT, tls_port, 0, 55535, 1),
    CONFIG_PATH("--tls-cert-file", tls_cert_file),
    CONFIG_PATH("--tls-key-file", tls_key_file),
    CONFIG_PATH("--tls-ca-cert-file", tls_ca_cert_file),
    CONFIG_TEXT("--tls-auth-clients", configTlsAuthClients, configShowTlsAuthClients),
    CONFIG_TEXT("--tls-auth-clients-user", configTlsAuthClientsUser, configShowTlsAuthClientsUser),
    CONFIG_YESNO("--tls-cluster", tls_cluster),
    CONFIG_NUMBER("--tls-handshake-timeout-ms", CONFIG_UNSIGNED, tls_handshake_timeout_ms, 100, 600000, 1),
    CONFIG_NUMBER("--http-port", CONFIG_INT, http_port, 0, 65535, 1),
    CONFIG_PATH("--http-token-file", http_token_file),
    CONFIG_YESNO("--http-tls", http_tls),
    CONFIG_NUMBER("--metrics-max-sequences", CONFIG_SIZE, metrics_max_sequences, 0, 100000, 1),
};

static const config_option *configFindOption(const char *flag)
{
    for (size_t i = 0; i < sizeof(config_options) / sizeof(config_options[0]); i++) {
        if (strcmp(config_options[i].flag, flag) == 0) {
            return &config_options[i];
        }
    }
    return NULL;
}

static int configApply(config *c, const config_option *o, const char *value)
{
    char *field = (char *)c + o->offset;
    switch (o->type) {
    case CONFIG_CUSTOM:
        return o->set_text(c, o->flag, value);
    case CONFIG_YESNO:
        if (value == NULL || (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)) {
            fprintf(stderr, "seqd: %s must be yes or no\n", o->flag);
            return -1;
        }
        *(bool *)(void *)field = strcmp(value, "yes") == 0;
        return 0;
    case CONFIG_PATH:
        if (value == NULL || value[0] == '\0' || strlen(value) >= o->cap) {
            fprintf(stderr, "seqd: %s needs a path shorter than %zu bytes\n", o->flag, o->cap);
            return -1;
        }
        snprintf(field, o->cap, "%s", value);
        return 0;
    default:
        break;
    }
    long long n = 0;
    if (configInt(o->flag, value, o->lo, o->hi, &n) != 0) {
        return -1;
    }
    assert(o->scale >= 1 && n <= LLONG_MAX / o->scale);
    n *= o->scale;
    switch (o->type) {
    case CONFIG_INT:
        *(int *)(void *)field = (int)n;
        break;
    case CONFIG_UNSIGNED:
        *(unsigned *)(void *)field = (unsigned)n;
        break;
    case CONFIG_SIZE:
        *(size_t *)(void *)field = (size_t)n;
        break;
    case CONFIG_INT64:
        *(int64_t *)(void *)field = (int64_t)n;
        break;
    default:
        assert(false);
    }
    return 0;
}

/* The value in force of one row, as its flag takes it. */
static void configShowOption(const config *c, const config_option *o, char *out, size_t cap)
{
    const char *field = (const char *)c + o->offset;
    long long n = 0;
    switch (o->type) {
    case CONFIG_CUSTOM:
        o->show(c, out, cap);
        return;
    case CONFIG_YESNO:
        snprintf(out, cap, "%s", *(const bool *)(const void *)field ? "yes" : "no");
        return;
    case CONFIG_PATH:
        snprintf(out, cap, "%s", field);
        return;
    case CONFIG_INT:
        n = *(const int *)(const void *)field;
        break;
    case CONFIG_UNSIGNED:
        n = *(const unsigned *)(const void *)field;
        break;
    case CONFIG_SIZE:
        n = (long long)*(const size_t *)(const void *)field;
        break;
    case CONFIG_INT64:
        n = (long long)*(const int64_t *)(const void *)field;
        break;
    }
    snprintf(out, cap, "%lld", n / o->scale);
}

const char *config_key(size_t i)
{
    if (i >= sizeof(config_options) / sizeof(config_options[0])) {
        return NULL;
    }
    return config_options[i].flag + 2;
}

bool config_show(const config *c, const char *key, char *out, size_t cap)
{
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s", key);
    const config_option *o = configFindOption(flag);
    if (o == NULL || cap == 0) {
        return false;
    }
    out[0] = '\0';
    configShowOption(c, o, out, cap);
    return true;
}

int config_set(config *c, const char *key, const char *value)
{
    char flag[64];
    if (snprintf(flag, sizeof(flag), "--%s", key) >= (int)sizeof(flag)) {
        return CONFIG_SET_UNKNOWN;
    }
    const config_option *o = configFindOption(flag);
    if (o == NULL) {
        return CONFIG_SET_UNKNOWN;
    }
    return configApply(c, o, value) == 0 ? 0 : CONFIG_SET_BAD;
}

/* What only the flags together can say: the Raft port's default, and the
 * combinations that cannot work. */
static int configCheckTls(const config *c)
{
    if (c->port == 0 && c->tls_port == 0) {
        fprintf(stderr, "seqd: --port 0 serves TLS only: give --tls-port too\n");
        return -1;
    }
    if (c->tls_port != 0 && (c->tls_cert_file[0] == '\0' || c->tls_key_file[0] == '\0')) {
        fprintf(stderr, "seqd: --tls-port needs --tls-cert-file and --tls-key-file\n");
        return -1;
    }
    if (c->tls_port != 0 && c->tls_port == c->port) {
        fprintf(stderr, "seqd: --tls-port must differ from --port\n");
        return -1;
    }
    if (c->tls_port != 0 && c->tls_auth_clients != CONFIG_TLS_AUTH_NO && c->tls_ca_cert_file[0] == '\0') {
        fprintf(stderr, "seqd: --tls-auth-clients %s needs --tls-ca-cert-file (or --tls-auth-clients no)\n",
                c->tls_auth_clients == CONFIG_TLS_AUTH_YES ? "yes" : "optional");
        return -1;
    }
    if (c->tls_cluster && (c->tls_cert_file[0] == '\0' || c->tls_key_file[0] == '\0' ||
                           c->tls_ca_cert_file[0] == '\0')) {
        fprintf(stderr, "seqd: --tls-cluster yes needs --tls-cert-file, --tls-key-file and "
                        "--tls-ca-cert-file (the node's certificate names its bus IP)\n");
        return -1;
    }
    if (c->http_tls && (c->tls_cert_file[0] == '\0' || c->tls_key_file[0] == '\0')) {
        fprintf(stderr, "seqd: --http-tls yes needs --tls-cert-file and --tls-key-file\n");
        return -1;
    }
    if (c->http_port != 0 && (c->http_port == c->port || c->http_port == c->tls_port)) {
        fprintf(stderr, "seqd: --http-port must differ from the client ports\n");
        return -1;
    }
    if (c->port == 0 && c->n_members > 0) {
        /* followers forward to the leader's plain client port */
        fprintf(stderr, "seqd: a cluster member needs its plain --port (its followers forward there)\n");
        return -1;
    }
    return 0;
}

static int configCheckTogether(config *c)
{
    if (configCheckTls(c) != 0) {
        return -1;
    }
    if (c->raft_port == 0) {
        c->raft_port = (c->port != 0 ? c->port : c->tls_port) + 10000;
    }
    if (c->raft_port > 65535) {
        fprintf(stderr, "seqd: the Raft port (port + 10000) is past 65535: set --raft-port\n");
        return -1;
    }
    if (c->join_existing && c->n_members == 0) {
        fprintf(stderr, "seqd: --initial-cluster-state existing needs --cluster (the members "
                        "of the cluster it joins, itself among them)\n");
        return -1;
    }
    if (c->n_members > 0 && strchr(c->bind, ':') != NULL) {
        fprintf(stderr, "seqd: a cluster member's first --bind must be IPv4 (the address "
                        "--cluster and the Raft bus know it by); IPv6 may follow it\n");
        return -1;
    }
    if (c->heartbeat_ms >= c->election_timeout_ms) {
        fprintf(stderr, "seqd: --heartbeat-ms must be below --election-timeout-ms\n");
        return -1;
    }
    /* A bus that leaves the machine must not take any peer's word for it. */
    for (int i = 0; i < c->n_members && c->cluster_secret_file[0] == '\0' && !c->cluster_insecure &&
                    !c->tls_cluster;
         i++) {
        if (strncmp(c->members[i].raft, "127.", 4) != 0) {
            fprintf(stderr, "seqd: --cluster names %s, which is not a loopback address: give every "
                            "member --cluster-secret-file (or --cluster-insecure yes on a network "
                            "only the members can reach)\n", c->members[i].client);
            return -1;
        }
    }
    return 0;
}

/* Finds this node in --cluster by its own client address; a node that is
 * there must agree with the list about its Raft bus. */
static int configFindSelf(config *c)
{
    c->self = -1;
    char me[80];
    snprintf(me, sizeof(me), "%s:%d", c->bind, c->port);
    for (int i = 0; i < c->n_members; i++) {
        if (strcmp(c->members[i].client, me) == 0) {
            c->self = i;
        }
    }
    char my_raft[80];
    snprintf(my_raft, sizeof(my_raft), "%s:%d", c->bind, c->raft_port);
    if (c->self >= 0 && strcmp(c->members[c->self].raft, my_raft) != 0) {
        fprintf(stderr, "seqd: --cluster says %s has its Raft bus at %s, but this node's is %s\n",
                me, c->members[c->self].raft, my_raft);
        return -1;
    }
    return 0;
}

/* --config PATH anywhere in argv: the file goes first, the other flags
 * over it. 0 (also without one), or -1 after printing why. */
static int configLoadFileFlag(config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") != 0) {
            continue;
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0' ||
            strlen(argv[i + 1]) >= sizeof(c->config_file)) {
            fprintf(stderr, "seqd: --config needs a path shorter than %zu bytes\n",
                    sizeof(c->config_file));
            return -1;
        }
        if (c->config_file[0] != '\0') {
            fprintf(stderr, "seqd: --config given twice\n");
            return -1;
        }
        snprintf(c->config_file, sizeof(c->config_file), "%s", argv[i + 1]);
        i++;
    }
    return c->config_file[0] == '\0' ? 0 : config_file_load(c, c->config_file);
}

int config_parse(config *c, int argc, char **argv)
{
    assert(c != NULL && argc >= 1);
    configDefaults(c);
    for (int i = 1; i < argc; i += 2) { /* every other flag takes a value */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("seqd %s\n", SEQD_VERSION);
            return 1;
        }
    }
    if (configLoadFileFlag(c, argc, argv) != 0) {
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--config") == 0) {
            i++; /* read above */
            continue;
        }
        const config_option *o = configFindOption(f);
        if (o == NULL) {
            fprintf(stderr, "seqd: unknown flag '%s' (see --help)\n", f);
            return -1;
        }
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        i++; /* every other flag takes a value */
        if (configApply(c, o, value) != 0) {
            return -1;
        }
    }
    if (configCheckTogether(c) != 0) {
        return -1;
    }
    int rv = configFindSelf(c);
    assert(rv != 0 || (c->raft_port > 0 && c->raft_port <= 65535));
    return rv;
}
