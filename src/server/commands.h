/* commands — the command table: each command's name, arity and handler,
 * argument checking, and the formatting of every reply.
 *
 * A handler either writes its reply at once (into call->out) or hands one
 * sequence command to the batcher and marks the call deferred; the reply of
 * a deferred call is formatted by commands_format_result when its entry has
 * been applied. Bad arguments get an error reply and change nothing: they
 * never reach the log. */
#ifndef SEQD_COMMANDS_H
#define SEQD_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "batch.h"
#include "cache.h"
#include "config.h"
#include "forward.h"
#include "metrics.h"
#include "node.h"
#include "peer_proof.h"
#include "resp.h"
#include "undelivered.h"

/* How a deferred result is shown; stored by the connection per reply. */
enum reply_style {
    STYLE_OK = 1,      /* +OK */
    STYLE_NUMBER = 2,  /* NEXT name, INCR name: :n */
    STYLE_RUNS = 3,    /* NEXT name COUNT k: flat array of first/last pairs */
    STYLE_DESCRIBE = 4,
    STYLE_LIST = 5,
    STYLE_GAPS = 6,   /* array of [first, last, state, reason, time_ms, user] */
    STYLE_LOOKUP = 7, /* number, state (and reason, time for a voided one) */
    STYLE_LOOKUP_KEY = 8, /* the runs a key got, or nil */
    STYLE_COUNT = 9,      /* :issued (ACL DELUSER: users removed) */
    STYLE_ACL_USER = 10,  /* ACL GETUSER: a map, or nil */
    STYLE_TEXT = 11,      /* NEXT ... TEXT, RENDER: a bulk string */
    STYLE_TEXTS = 12,     /* NEXT ... COUNT k TEXT: an array of bulk strings */
    STYLE_PARSE = 13,     /* PARSE, LOOKUP of a printed number: a map */
};

typedef struct server_stats {
    uint64_t start_ms;
    uint64_t connected_clients;
    uint64_t total_connections;
    uint64_t rejected_connections;
    uint64_t total_commands;
    uint64_t protocol_errors;
    uint64_t output_limit_drops;
    uint64_t peer_proofs_refused; /* CLUSTER PEER with a wrong proof */
    uint64_t noauth_refused;      /* commands refused before a login */
    uint64_t acl_denied_cmd;      /* NOPERM for a command */
    uint64_t acl_denied_key;      /* NOPERM for a sequence */
    uint64_t tls_established;     /* TLS handshakes completed */
    uint64_t tls_failed;          /* TLS sessions closed on an error (plaintext, a bad certificate) */
    uint64_t tls_timeouts;        /* TLS handshakes past --tls-handshake-timeout-ms */
    uint64_t next_client_id;
} server_stats;

/* What every handler may use; owned by the server for its whole life. */
typedef struct command_env {
    const config *cfg;
    node *node;
    batcher *batcher;
    server_stats *stats;
    forwarder *forwarder; /* NULL on a single node */
    cache *cache;         /* the leader's cached-mode blocks */
    undelivered *undelivered; /* reports of replies that found no client */
    auth *auth;               /* who may log in */
    metrics *metrics;         /* what /metrics shows (metrics.h) */
    const bool *restoring;    /* a backup's state is about to replace this one (restore.h) */
    /* Completes a deferred call with a ready reply (CLUSTER ADD/REMOVE). */
    void (*reply_raw)(void *owner, uint64_t tag, const char *reply, size_t len);
    bool shutting_down;
} command_env;

#define CLIENT_NAME_MAX 64
#define COMMANDS_DEFAULT_CACHE 1000 /* CREATE ... MODE cached without CACHE */

/* What a connection keeps about its client for CLIENT and HELLO. */
typedef struct command_client {
    uint64_t id; /* unique for the server's life, from 1 */
    char name[CLIENT_NAME_MAX + 1];
    /* Another node, proven by CLUSTER CHALLENGE and CLUSTER PEER (never by
     * a name): its requests are never forwarded again, and the node-only
     * commands (FWD, UNDELIVERED, CLUSTER CLOCK) are accepted from it. */
    bool forward_link;
    uint64_t peer_id;  /* the Raft id it proved, when forward_link */
    bool has_nonce;    /* a CLUSTER CHALLENGE waits for its one answer */
    bool authenticated; /* logged in (at once while the default user needs no password) */
    char user[SEQ_USER_MAX + 1]; /* as whom, when authenticated */
    size_t user_len;
    bool remote;        /* connected from an address that is not loopback */
    unsigned auth_failures; /* wrong logins on this connection: each answered later */
    int proto_after_auth;   /* HELLO n AUTH ...: the protocol once the check passed */
    uint8_t peer_nonce[PEER_NONCE_BYTES];
} command_client;

typedef struct command_call {
    /* in */
    size_t argc;
    const resp_arg *argv;
    int proto;     /* 2 or 3 */
    void *owner;   /* the connection, for a deferred reply */
    uint64_t tag;  /* its reply slot */
    resp_buf *out; /* where an immediate reply goes */
    command_client *client;
    bool logged_pending; /* this connection has earlier requests in the log, unanswered */
    batch_window window; /* FWD: the window the forwarded request may take effect in */
    /* who asked, for the log (the client's user; FWD: the one the follower
     * logged in); set by commands_dispatch when empty */
    const char *user;
    size_t user_len;
    /* not logged in, taken as the default user while this node catches
     * up (commands_dispatch): the leader has the last word */
    bool provisional;
    /* FWD named who asked: this node judges the request by that user */
    bool forwarded_user;
    /* out */
    int command;    /* its row in the command table (commands_name), -1: unknown */
    bool deferred;  /* reply comes later, with style */
    bool via_cache; /* deferred behind a cached-mode block, not in the log */
    uint8_t style;
    bool close;     /* close the connection after this reply (QUIT) */
    bool off_log;   /* deferred, but not through the log (a login being checked) */
    int new_proto;  /* HELLO switched protocol: 2 or 3, else 0 */
    /* A NEXT or RESERVE without KEY forwarded to the leader: its sequence,
     * to report the numbers should the reply find the client gone. */
    resp_arg report_name;
    /* A cached NEXT answered at once from memory: its runs (malloc'd, the
     * connection takes them), to report should the reply never leave. */
    seq_run *report_runs;
    size_t report_n_runs;
} command_call;

/* The command table's rows by index, for the metrics: how many, and the
 * name of the i-th (NULL past the last). */
size_t commands_count(void);
const char *commands_name(size_t i);

/* Runs one request (argc >= 1). Never fails: every outcome is a reply. */
void commands_dispatch(command_env *env, command_call *call);

/* The path a request would take: through this node (its log or cache),
 * through the forward link of one protocol to the leader, or none (it is
 * answered here at once, from nothing a pipeline orders). One connection's
 * requests take effect in the order sent only if a request waits while
 * earlier ones of that connection are still out on another path (conn.c). */
enum command_lane {
    COMMAND_LANE_NONE = 0,
    COMMAND_LANE_LOCAL = 1,
    COMMAND_LANE_FORWARD2 = 2,
    COMMAND_LANE_FORWARD3 = 3,
    COMMAND_LANE_AUTH = 4, /* a login being checked: every later request waits */
};
#define COMMAND_LANES 5
int commands_lane(command_env *env, const command_call *call);

/* Formats the reply of a deferred call. res is valid when err == BATCH_OK. */
/* NEXT ... TEXT of numbers a cached block served (no entry printed them):
 * out->texts from res->runs, printed from the state (out may be res). */
void commands_render_texts(command_env *env, const char *name, size_t name_len,
                           const seq_result *res, seq_result *out);
void commands_format_result(const seq_result *res, int err, uint8_t style, int proto,
                            resp_buf *out);

#endif
