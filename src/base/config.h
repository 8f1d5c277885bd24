/* config — command-line flags and the named limits of the server.
 *
 * Every limit has a default, a flag, and a range it is checked against at
 * start-up, so nothing later has to wonder whether a value is sane. */
#ifndef SEQD_CONFIG_H
#define SEQD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQD_VERSION "0.1.0"
#define CONFIG_CLUSTER_MAX 7 /* members named by --cluster */
#define CONFIG_BIND_MAX 8    /* addresses named by --bind */

/* A cluster member: where clients reach it and where its Raft bus listens.
 * Its Raft id is derived from the bus address, so every node computes the
 * same ids from the same list, and CLUSTER ADD needs no id from anyone. */
typedef struct config_member {
    uint64_t id;
    char client[32]; /* "a.b.c.d:port" */
    char raft[32];   /* "a.b.c.d:raftport" */
} config_member;

/* Parses "a.b.c.d:port" or "a.b.c.d:port@raftport" (raft port defaults to
 * port + 10000). Returns 0, or -1 when malformed. */
int config_member_parse(const char *text, config_member *m);

/* The Raft id of a bus address "a.b.c.d:port": the IPv4 address and port
 * packed into 48 bits, never 0. Returns 0 when malformed. */
uint64_t config_raft_id(const char *raft_address);

typedef struct config {
    char bind[64]; /* the node's own address: the first of binds */
    char binds[CONFIG_BIND_MAX][64]; /* every address the client ports listen on */
    int n_binds;
    char config_file[1024]; /* --config: "" for none */
    int port;
    int raft_port;
    char dir[1024];
    int n_members; /* 0: single node */
    config_member members[CONFIG_CLUSTER_MAX];
    int self; /* index of this node in members, or -1: it joins later (CLUSTER ADD) */
    bool join_existing; /* --initial-cluster-state existing: never bootstrap */
    size_t max_clients;
    size_t max_pipeline;      /* replies pending per client */
    size_t client_output_max; /* bytes of replies buffered per client */
    size_t query_max;         /* bytes of unparsed input per client */
    size_t args_max, bulk_max, inline_max;
    int64_t key_retention_ms;
    int64_t reserve_ttl_ms; /* RESERVE without TTL */
    size_t max_keys;
    unsigned snapshot_threshold, snapshot_trailing;
    size_t batch_max;    /* commands in one log entry */
    size_t max_inflight; /* log entries proposed but not yet applied */
    unsigned request_timeout_ms; /* longest wait for a leader */
    unsigned election_timeout_ms, heartbeat_ms;
    unsigned max_clock_offset_ms; /* a leader's clock vs its followers' (0: unchecked) */
    int log_level;
    int log_format; /* enum log_format */
    char requirepass_file[1024]; /* "" : no password (every client is the default user) */
    char cluster_secret_file[1024]; /* "" : the Raft bus checks identity only */
    bool cluster_insecure;          /* --cluster-insecure yes: non-loopback members without one */
    bool protected_mode;            /* no password: only loopback clients (Redis's protected-mode) */
    bool has_cluster_secret;        /* loaded from the file at start (main) */
    /* TLS for clients, with Redis's flag names (server/tls.h) */
    int tls_port;                 /* 0: none */
    char tls_cert_file[1024], tls_key_file[1024], tls_ca_cert_file[1024];
    int tls_auth_clients;         /* CONFIG_TLS_AUTH_*: ask for client certificates */
    bool tls_auth_clients_user;   /* --tls-auth-clients-user CN: a certificate's CN logs in */
    unsigned tls_handshake_timeout_ms;
    bool tls_cluster;             /* --tls-cluster yes: mutual TLS on the Raft bus */
    /* metrics and health over HTTP (server/http.h) */
    int http_port;                /* 0: none */
    char http_token_file[1024];   /* "" : no bearer token */
    bool http_tls;
    size_t metrics_max_sequences; /* sequences with series of their own */
    uint8_t cluster_secret[32];
} config;

enum { CONFIG_TLS_AUTH_NO = 0, CONFIG_TLS_AUTH_YES = 1, CONFIG_TLS_AUTH_OPTIONAL = 2 };

/* Fills c with defaults, then the file of --config PATH if one is given
 * (config_file.c), then argv over it. Returns 0; 1 when --help or
 * --version printed what was asked (exit 0); -1 after printing an error
 * that names the bad flag, or the file and line, to stderr (exit 2). */
int config_parse(config *c, int argc, char **argv);

/* The flags by name without their dashes, as the config file and CONFIG
 * GET know them: the i-th, NULL past the last. */
const char *config_key(size_t i);

/* The value in force of key (a name without dashes) into out, written as
 * the flag takes it; false when there is no such key. */
bool config_show(const config *c, const char *key, char *out, size_t cap);

/* Sets key (without dashes) from value as its flag would: 0, or
 * CONFIG_SET_UNKNOWN (nothing printed), or CONFIG_SET_BAD after printing
 * why to stderr. */
enum { CONFIG_SET_UNKNOWN = -1, CONFIG_SET_BAD = -2 };
int config_set(config *c, const char *key, const char *value);

/* config_file.c: applies every `key value` line of path (see there). 0,
 * or -1 after printing the file, the line and why to stderr. */
int config_file_load(config *c, const char *path);

#endif
