/* membership — runtime membership changes (see membership.h). */
#include "membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

typedef struct membership_req {
    struct raft_change change; /* untouched until its callback */
    node *n;
    raft_id id;
    void *ctx;
    void *owner;
    uint64_t tag;
    membership_cb cb;
} membership_req;

const char *membership_role_name(int role)
{
    switch (role) {
    case RAFT_VOTER: return "voter";
    case RAFT_STANDBY: return "standby";
    case RAFT_SPARE: return "spare";
    default: return "unknown";
    }
}

static const struct raft_server *membershipFind(node *n, raft_id id)
{
    const struct raft_configuration *c = &n->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            return &c->servers[i];
        }
    }
    return NULL;
}

static void membershipFinish(membership_req *m, int status, const char *msg)
{
    m->cb(m->ctx, m->owner, m->tag, status, msg);
    free(m);
}

static void membershipAssigned(struct raft_change *req, int status)
{
    membership_req *m = req->data;
    if (status == 0) {
        log_info("membership: %llx is a voter", (unsigned long long)m->id);
    }
    membershipFinish(m, status, status == 0 ? "OK" : raft_strerror(status));
}

static void membershipAdded(struct raft_change *req, int status)
{
    membership_req *m = req->data;
    if (status != 0) {
        membershipFinish(m, status, raft_strerror(status));
        return;
    }
    /* raft_assign catches the new server up before it counts as a voter. */
    int rv = raft_assign(&m->n->raft, &m->change, m->id, RAFT_VOTER, membershipAssigned);
    if (rv != 0) {
        membershipFinish(m, rv, raft_errmsg(&m->n->raft));
    }
}

static void membershipRemoved(struct raft_change *req, int status)
{
    membership_req *m = req->data;
    if (status == 0) {
        log_info("membership: %llx removed", (unsigned long long)m->id);
    }
    membershipFinish(m, status, status == 0 ? "OK" : raft_strerror(status));
}

static membership_req *membershipNew(node *n, raft_id id, void *ctx, void *owner, uint64_t tag,
                                     membership_cb cb)
{
    membership_req *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        log_error("membership: out of memory");
        abort();
    }
    m->n = n;
    m->id = id;
    m->ctx = ctx;
    m->owner = owner;
    m->tag = tag;
    m->cb = cb;
    m->change.data = m;
    return m;
}

/* Parses a client address into the member it names: a founding member as
 * --cluster gave it (it may have its own Raft port), any other with its
 * Raft bus at port + 10000. */
static int membershipParse(node *n, const char *client_address, config_member *out,
                           const char **msg)
{
    if (config_member_parse(client_address, out) != 0 || strchr(client_address, '@') != NULL) {
        *msg = "ERR wants a.b.c.d:port; the node's Raft bus must be at port + 10000";
        return RAFT_INVALID;
    }
    for (int i = 0; i < n->cfg->n_members; i++) {
        if (strcmp(n->cfg->members[i].client, out->client) == 0) {
            *out = n->cfg->members[i];
        }
    }
    return 0;
}

int membership_add(node *n, const char *client_address, void *ctx, void *owner, uint64_t tag,
                   membership_cb cb, const char **msg)
{
    config_member want;
    int rv = membershipParse(n, client_address, &want, msg);
    if (rv != 0) {
        return rv;
    }
    const struct raft_server *s = membershipFind(n, want.id);
    if (s != NULL && s->role == RAFT_VOTER) {
        *msg = "OK";
        return RAFT_DUPLICATEID; /* caller treats as success */
    }
    membership_req *m = membershipNew(n, want.id, ctx, owner, tag, cb);
    if (s != NULL) {
        rv = raft_assign(&n->raft, &m->change, want.id, RAFT_VOTER, membershipAssigned);
    } else {
        rv = raft_add(&n->raft, &m->change, want.id, want.raft, membershipAdded);
    }
    if (rv != 0) {
        *msg = raft_errmsg(&n->raft);
        free(m);
        return rv;
    }
    log_info("membership: adding %s (Raft %s, id %llx)", want.client, want.raft,
             (unsigned long long)want.id);
    return 0;
}

int membership_remove(node *n, const char *client_address, void *ctx, void *owner,
                      uint64_t tag, membership_cb cb, const char **msg)
{
    config_member want;
    int rv = membershipParse(n, client_address, &want, msg);
    if (rv != 0) {
        return rv;
    }
    if (membershipFind(n, want.id) == NULL) {
        *msg = "OK";
        return RAFT_NOTFOUND; /* caller treats as success: nothing to remove */
    }
    membership_req *m = membershipNew(n, want.id, ctx, owner, tag, cb);
    rv = raft_remove(&n->raft, &m->change, want.id, membershipRemoved);
    if (rv != 0) {
        *msg = raft_errmsg(&n->raft);
        free(m);
        return rv;
    }
    log_info("membership: removing %s (id %llx)", want.client, (unsigned long long)want.id);
    return 0;
}
