/* cmd_cluster — the commands of the cluster: FWD (a follower's forwarded
 * request, taken only inside its term and deadline, with who asked:
 * FWD term deadline [@user|?default] command ...), ROLE, CLUSTER NODES,
 * CLOCK, ADD and REMOVE. Keeps: a forwarded request outside its window is
 * refused with TRYAGAIN and never takes effect. */
#include "commands_internal.h"
#include "log.h"
#include "membership.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void membershipDone(void *ctx, void *owner, uint64_t tag, int status, const char *msg);

void fwdCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 4); /* its row in command_table */
    int64_t term, deadline_ms;
    if (!call->client->forward_link) {
        cmd_error(call, "ERR FWD is sent between seqd nodes only");
        return;
    }
    if (call->window.term != 0) {
        cmd_error(call, "ERR FWD inside FWD");
        return;
    }
    if (!cmd_parse_i64(&call->argv[1], &term) || term < 1 || !cmd_parse_i64(&call->argv[2], &deadline_ms)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (!node_is_leader(env->node) || (uint64_t)term != raft_current_term(&env->node->raft)) {
        cmd_error(call, "TRYAGAIN this node does not lead the term the request was forwarded "
                          "for; it was not applied, retry");
        return;
    }
    if (clock_wall_ms() > deadline_ms) {
        cmd_error(call, "TRYAGAIN the forwarded request arrived past its deadline; it was not "
                          "applied, retry");
        return;
    }
    call->window = (batch_window){(uint64_t)term, deadline_ms};
    call->argv += 3;
    call->argc -= 3;
    bool provisional = call->argv[0].len > 1 && call->argv[0].ptr[0] == '?';
    if (call->argv[0].len > 1 && (call->argv[0].ptr[0] == '@' || provisional)) {
        /* who asked: logged in on the follower (@), or taken there as the
         * default user while it caught up (?): then this node's users, the
         * newest, decide */
        if (call->argc < 2 || !seq_user_valid(call->argv[0].ptr + 1, call->argv[0].len - 1)) {
            cmd_error(call, "ERR FWD with a bad user");
            return;
        }
        if (provisional && !(call->argv[0].len - 1 == strlen(AUTH_USER_DEFAULT) &&
                             memcmp(call->argv[0].ptr + 1, AUTH_USER_DEFAULT, call->argv[0].len - 1) == 0 &&
                             auth_need_of(env->auth) != AUTH_NEEDED)) {
            /* (a leader still applying its own log judges by what it has:
             * every committed entry is in it) */
            env->stats->noauth_refused++;
            cmd_error(call, "NOAUTH Authentication required.");
            return;
        }
        call->user = call->argv[0].ptr + 1;
        call->user_len = call->argv[0].len - 1;
        call->provisional = provisional;
        call->forwarded_user = true; /* its rights are judged here, by the newest users */
        call->argv++;
        call->argc--;
    }
    env->stats->total_commands--; /* one request, counted once */
    commands_dispatch(env, call);
}

void roleCommand(command_env *env, command_call *call)
{
    assert(call->argc == 1); /* its row in command_table */
    bool leader = node_is_leader(env->node);
    char where[48];
    bool known = node_leader_client(env->node, where, sizeof(where));
    raft_id leader_id = 0;
    const char *leader_raft = NULL;
    raft_leader(&env->node->raft, &leader_id, &leader_raft);
    resp_write_array(call->out, 4);
    resp_write_cstr(call->out, leader ? "leader" : "follower");
    if (known) {
        resp_write_cstr(call->out, where);
    } else {
        resp_write_null(call->out, call->proto);
    }
    resp_write_int(call->out, (int64_t)raft_current_term(&env->node->raft));
    resp_write_int(call->out, (int64_t)leader_id);
}

static void clusterNodes(command_env *env, command_call *call)
{
    const struct raft_configuration *c = &env->node->raft.configuration;
    raft_id leader_id = 0;
    const char *leader_raft = NULL;
    raft_leader(&env->node->raft, &leader_id, &leader_raft);
    resp_write_array(call->out, c->n);
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *srv = &c->servers[i];
        char client[48] = "";
        if (!node_client_address(env->node, srv->id, srv->address, client, sizeof(client))) {
            client[0] = '\0';
        }
        /* On the leader, how far each member's log is known to match: a
         * member that stops advancing (a full or failing disk) shows here. */
        raft_index match = 0;
        bool known = node_is_leader(env->node) &&
                     raft_match_index(&env->node->raft, srv->id, &match) == 0;
        resp_write_array(call->out, 6);
        resp_write_int(call->out, (int64_t)srv->id);
        resp_write_cstr(call->out, client);
        resp_write_cstr(call->out, srv->address);
        resp_write_cstr(call->out, membership_role_name(srv->role));
        resp_write_cstr(call->out, srv->id == leader_id ? "leader" : "follower");
        if (known) {
            resp_write_int(call->out, (int64_t)match);
        } else {
            resp_write_null(call->out, call->proto);
        }
    }
}

/* CLUSTER NODES | ADD a.b.c.d:port | REMOVE a.b.c.d:port */
/* CLUSTER CLOCK id wall_ms: a follower's wall clock, sent to the leader
 * over its forward link a few times a second (docs/clock.md). Only a
 * node's link may say it; elsewhere it changes nothing. */
static void clusterClock(command_env *env, command_call *call)
{
    int64_t id, wall_ms;
    if (!call->client->forward_link) {
        cmd_error(call, "ERR CLUSTER CLOCK is sent between seqd nodes only");
        return;
    }
    if (!cmd_parse_i64(&call->argv[2], &id) || id <= 0 || !cmd_parse_i64(&call->argv[3], &wall_ms)) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (node_is_leader(env->node)) {
        node_clock_report(env->node, (uint64_t)id, wall_ms);
    }
    resp_write_simple(call->out, "OK");
}

/* CLUSTER CHALLENGE: a fresh nonce for this connection, which the node
 * behind it answers with CLUSTER PEER (peer_proof.h). */
static void clusterChallenge(command_call *call)
{
    if (peer_nonce(call->client->peer_nonce) != 0) {
        cmd_error(call, "ERR no randomness for a challenge");
        return;
    }
    call->client->has_nonce = true;
    char hex[PEER_NONCE_HEX + 1];
    peer_hex(call->client->peer_nonce, PEER_NONCE_BYTES, hex);
    resp_write_bulk(call->out, hex, PEER_NONCE_HEX);
}

/* CLUSTER PEER id proof: the connection is another node's once its proof
 * of the last challenge holds. One answer per challenge, and a wrong one
 * closes the connection: a node never gets it wrong, and a guesser gets one
 * try per connection. */
static void clusterPeer(command_env *env, command_call *call)
{
    int64_t id;
    bool challenged = call->client->has_nonce;
    call->client->has_nonce = false; /* a nonce answers one proof */
    const fsm *f = &env->node->fsm;
    if (!cmd_parse_i64(&call->argv[2], &id) || id <= 0) {
        cmd_error(call, cmd_err_integer);
        return;
    }
    if (!challenged) {
        cmd_error(call, "ERR CLUSTER PEER answers a CLUSTER CHALLENGE");
        call->close = true;
        return;
    }
    if (!f->has_peer_key) {
        cmd_error(call, "TRYAGAIN this node has no peer key yet (its log is behind); retry");
        return;
    }
    if (!peer_proof_check(f->peer_key, call->client->peer_nonce, (uint64_t)id,
                          call->argv[3].ptr, call->argv[3].len)) {
        env->stats->peer_proofs_refused++;
        log_warn("a connection (client id %llu) failed its peer proof as node %lld: closed",
                 (unsigned long long)call->client->id, (long long)id);
        cmd_error(call, "ERR peer proof refused");
        call->close = true;
        return;
    }
    call->client->forward_link = true;
    call->client->peer_id = (uint64_t)id;
    resp_write_simple(call->out, "OK");
}

/* CLUSTER LOGININFO user, from a follower's proven link: what a login as
 * user needs, from this node's users (the leader's, the newest), so that a
 * user made a moment ago on any node logs in on every node. Bulk strings:
 * exists, enabled, nopass, default_set (0/1), then the hashes. */
static void clusterLoginInfo(command_env *env, command_call *call)
{
    if (!call->client->forward_link) {
        cmd_error(call, "ERR CLUSTER LOGININFO is sent between seqd nodes only");
        return;
    }
    if (!node_is_leader(env->node)) {
        cmd_error(call, "TRYAGAIN this node is not the leader");
        return;
    }
    seq_login_info who;
    auth_login_info(env->auth, call->argv[2].ptr, call->argv[2].len, &who);
    if (!seq_user_valid(call->argv[2].ptr, call->argv[2].len)) {
        who.exists = false;
    }
    resp_write_array(call->out, 4 + who.n_hashes);
    resp_write_cstr(call->out, who.exists ? "1" : "0");
    resp_write_cstr(call->out, who.enabled ? "1" : "0");
    resp_write_cstr(call->out, who.nopass ? "1" : "0");
    resp_write_cstr(call->out, seq_acl_default_set(env->node->fsm.state) ? "1" : "0");
    for (size_t i = 0; i < who.n_hashes; i++) {
        resp_write_cstr(call->out, who.hashes[i]);
    }
}

void clusterCommand(command_env *env, command_call *call)
{
    assert(call->argc >= 2); /* its row in command_table */
    const resp_arg *sub = &call->argv[1];
    if (cmd_arg_is(sub, "NODES") && call->argc == 2) {
        clusterNodes(env, call);
        return;
    }
    if (cmd_arg_is(sub, "CLOCK") && call->argc == 4) {
        clusterClock(env, call);
        return;
    }
    if (cmd_arg_is(sub, "CHALLENGE") && call->argc == 2) {
        clusterChallenge(call);
        return;
    }
    if (cmd_arg_is(sub, "PEER") && call->argc == 4) {
        clusterPeer(env, call);
        return;
    }
    if (cmd_arg_is(sub, "LOGININFO") && call->argc == 3) {
        clusterLoginInfo(env, call);
        return;
    }
    bool add = cmd_arg_is(sub, "ADD");
    if ((!add && !cmd_arg_is(sub, "REMOVE")) || call->argc != 3) {
        cmd_error(call, "ERR syntax: CLUSTER NODES | CLUSTER ADD a.b.c.d:port | CLUSTER "
                          "REMOVE a.b.c.d:port");
        return;
    }
    if (cmd_must_forward(env, call)) {
        cmd_forward(env, call);
        return;
    }
    if (!node_is_leader(env->node)) {
        cmd_error(call, "TRYAGAIN this node is not the leader; retry");
        return;
    }
    if (add && env->cfg->n_members == 0 && strchr(env->cfg->bind, ':') != NULL) {
        cmd_error(call, "ERR a single node whose first --bind is IPv6 cannot grow into a cluster "
                        "(the Raft bus is IPv4): restart it with an IPv4 address first");
        return;
    }
    if (add && env->cfg->n_members == 0 && !env->cfg->has_cluster_secret &&
        !env->cfg->cluster_insecure && strncmp(env->cfg->bind, "127.", 4) != 0) {
        /* growing would open a bus off loopback that takes any peer's word */
        cmd_error(call, "ERR a single node bound off loopback grows into a cluster only with "
                        "--cluster-secret-file (or --cluster-insecure yes)");
        return;
    }
    char address[48];
    if (call->argv[2].len >= sizeof(address)) {
        cmd_error(call, "ERR wants a.b.c.d:port");
        return;
    }
    memcpy(address, call->argv[2].ptr, call->argv[2].len);
    address[call->argv[2].len] = '\0';
    const char *msg = NULL;
    int rv = add ? membership_add(env->node, address, env, call->owner, call->tag, membershipDone,
                                    &msg)
                 : membership_remove(env->node, address, env, call->owner, call->tag,
                                       membershipDone, &msg);
    if (rv == RAFT_DUPLICATEID || rv == RAFT_NOTFOUND) {
        resp_write_simple(call->out, "OK"); /* already as asked */
    } else if (rv != 0) {
        char text[200];
        snprintf(text, sizeof(text), "%s%s", strncmp(msg, "ERR", 3) == 0 ? "" : "ERR ", msg);
        cmd_error(call, text);
    } else {
        call->deferred = true;
    }
}

static void membershipDone(void *ctx, void *owner, uint64_t tag, int status, const char *msg)
{
    command_env *env = ctx;
    char text[256];
    int n;
    if (status == 0) {
        n = snprintf(text, sizeof(text), "+OK\r\n");
    } else {
        n = snprintf(text, sizeof(text), "-%s %s\r\n",
                     status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER ? "TRYAGAIN" : "ERR",
                     msg);
    }
    env->reply_raw(owner, tag, text, (size_t)n);
}
