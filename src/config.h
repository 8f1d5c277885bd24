/* config — command-line flags and the named limits of the server.
 *
 * Every limit has a default, a flag, and a range it is checked against at
 * start-up, so nothing later has to wonder whether a value is sane. */
#ifndef SEQD_CONFIG_H
#define SEQD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define SEQD_VERSION "0.1.0"
#define CONFIG_CLUSTER_MAX 7 /* members named by --cluster */

typedef struct config {
    char bind[64];
    int port;
    int raft_port;
    char dir[1024];
    int n_members; /* 0: single node */
    char members[CONFIG_CLUSTER_MAX][64]; /* "a.b.c.d:port" client addresses */
    size_t max_clients;
    size_t max_pipeline;      /* replies pending per client */
    size_t client_output_max; /* bytes of replies buffered per client */
    size_t query_max;         /* bytes of unparsed input per client */
    size_t args_max, bulk_max, inline_max;
    int64_t key_retention_ms;
    size_t max_keys;
    unsigned snapshot_threshold, snapshot_trailing;
    size_t batch_max;    /* commands in one log entry */
    size_t max_inflight; /* log entries proposed but not yet applied */
    unsigned request_timeout_ms; /* longest wait for a leader */
    unsigned election_timeout_ms, heartbeat_ms;
    int log_level;
} config;

/* Fills c with defaults, then applies argv. Returns 0; 1 when --help or
 * --version printed what was asked (exit 0); -1 after printing an error
 * that names the bad flag to stderr (exit 2). */
int config_parse(config *c, int argc, char **argv);

#endif
