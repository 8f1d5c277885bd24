/* seq_snapshot_users — the users' part of a snapshot (version 5 on), after
 * the permanent keys: default_set u8, n_users u32, and per user name_len
 * u8, name, flags u8 (1 on, 2 nopass), n_hashes u8 and each hash (len u16,
 * bytes), n_patterns u8 and each pattern (len u16, bytes), n_rules u8 and
 * each rule: allow u8, category u8, command_len u8, command. Users are
 * written in the state's order (the log's), so equal states write equal
 * bytes. The reader trusts nothing: each count against its limit and the
 * bytes left, each user against seqUserValid, names unique. Pure: no I/O. */
#include "seq_bytes.h"
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static size_t seqUserSize(const seq_user *u)
{
    size_t n = 1 + u->name_len + 1 + 1 + 1 + 1;
    for (size_t i = 0; i < u->n_hashes; i++) {
        n += 2 + strlen(u->hashes[i]);
    }
    for (size_t i = 0; i < u->n_patterns; i++) {
        n += 2 + strlen(u->patterns[i]);
    }
    for (size_t i = 0; i < u->n_rules; i++) {
        n += 3 + strlen(u->rules[i].command);
    }
    return n;
}

size_t seqUsersSize(const seq_state *s)
{
    size_t n = 1 + 4;
    for (const seq_user *u = s->users; u != NULL; u = u->hh.next) {
        n += seqUserSize(u);
    }
    return n;
}

static void seqPutText(seq_writer *w, const char *text)
{
    size_t len = strlen(text);
    assert(len <= UINT16_MAX);
    seq_put_u16(w, (uint16_t)len);
    seq_put_bytes(w, text, len);
}

void seqWriteUsers(const seq_state *s, seq_writer *w)
{
    seq_put_u8(w, s->acl_default_set ? 1 : 0);
    seq_put_u32(w, (uint32_t)s->n_users);
    for (const seq_user *u = s->users; u != NULL; u = u->hh.next) {
        assert(seqUserValid(u));
        seq_put_u8(w, (uint8_t)u->name_len);
        seq_put_bytes(w, u->name, u->name_len);
        seq_put_u8(w, (uint8_t)((u->enabled ? 1 : 0) | (u->nopass ? 2 : 0)));
        seq_put_u8(w, (uint8_t)u->n_hashes);
        for (size_t i = 0; i < u->n_hashes; i++) {
            seqPutText(w, u->hashes[i]);
        }
        seq_put_u8(w, (uint8_t)u->n_patterns);
        for (size_t i = 0; i < u->n_patterns; i++) {
            seqPutText(w, u->patterns[i]);
        }
        seq_put_u8(w, (uint8_t)u->n_rules);
        for (size_t i = 0; i < u->n_rules; i++) {
            const seq_acl_rule *r = &u->rules[i];
            size_t len = strlen(r->command);
            seq_put_u8(w, r->allow ? 1 : 0);
            seq_put_u8(w, (uint8_t)r->category);
            seq_put_u8(w, (uint8_t)len);
            seq_put_bytes(w, r->command, len);
        }
    }
}

/* A u16-length text of at most max bytes, as a malloc'd string. */
static char *seqGetText(seq_reader *r, size_t max)
{
    size_t len = seq_get_u16(r);
    const uint8_t *p = len <= max ? seq_get_bytes(r, len) : NULL;
    if (p == NULL || r->bad || memchr(p, '\0', len) != NULL) {
        r->bad = true;
        return NULL;
    }
    return seqStrdup((const char *)p, len);
}

/* Reads the lists of u; false on anything malformed (u owns what was read). */
static bool seqReadUserLists(seq_user *u, seq_reader *r)
{
    size_t n = seq_get_u8(r);
    if (n > SEQ_ACL_HASHES_MAX) {
        return false;
    }
    for (size_t i = 0; i < n && !r->bad; i++) {
        u->hashes[u->n_hashes] = seqGetText(r, SEQ_ACL_TOKEN_MAX - 1);
        u->n_hashes += u->hashes[u->n_hashes] != NULL ? 1 : 0;
    }
    n = seq_get_u8(r);
    if (r->bad || n > SEQ_ACL_PATTERNS_MAX) {
        return false;
    }
    for (size_t i = 0; i < n && !r->bad; i++) {
        u->patterns[u->n_patterns] = seqGetText(r, SEQ_NAME_MAX);
        u->n_patterns += u->patterns[u->n_patterns] != NULL ? 1 : 0;
    }
    n = seq_get_u8(r);
    if (r->bad || n > SEQ_ACL_RULES_MAX) {
        return false;
    }
    for (size_t i = 0; i < n && !r->bad; i++) {
        seq_acl_rule *rule = &u->rules[u->n_rules++];
        uint8_t allow = seq_get_u8(r);
        rule->allow = allow == 1;
        rule->category = seq_get_u8(r);
        size_t len = seq_get_u8(r);
        const uint8_t *p = len <= SEQ_ACL_COMMAND_MAX ? seq_get_bytes(r, len) : NULL;
        if (allow > 1 || (len > 0 && p == NULL)) {
            return false;
        }
        memcpy(rule->command, p != NULL ? (const char *)p : "", len);
        rule->command[len] = '\0';
    }
    return !r->bad;
}

static bool seqReadUser(seq_state *s, seq_reader *r)
{
    size_t len = seq_get_u8(r);
    const uint8_t *name = seq_get_bytes(r, len);
    uint8_t flags = seq_get_u8(r);
    if (r->bad || !seq_user_valid((const char *)name, len) || flags > 3) {
        return false;
    }
    seq_user *found = NULL;
    HASH_FIND(hh, s->users, name, len, found);
    if (found != NULL) {
        return false; /* a name twice */
    }
    seq_user *u = seqUserNew((const char *)name, len, false);
    u->enabled = (flags & 1) != 0;
    u->nopass = (flags & 2) != 0;
    if (!seqReadUserLists(u, r) || !seqUserValid(u) || s->n_users >= SEQ_USERS_MAX) {
        seqUserFree(u);
        return false;
    }
    seqUserAdd(s, u);
    return true;
}

bool seqReadUsers(seq_state *s, seq_reader *r)
{
    uint8_t default_set = seq_get_u8(r);
    size_t n = seq_get_u32(r);
    if (r->bad || default_set > 1 || n > SEQ_USERS_MAX) {
        return false;
    }
    /* the state a decoder starts from holds the first default user:
     * the snapshot's users replace it */
    seq_user *u, *tmp;
    HASH_ITER(hh, s->users, u, tmp)
    {
        HASH_DEL(s->users, u);
        seqUserFree(u);
    }
    s->n_users = 0;
    s->acl_default_set = default_set == 1;
    for (size_t i = 0; i < n; i++) {
        if (!seqReadUser(s, r)) {
            return false;
        }
    }
    return true; /* seq_state_valid checks that the default user is there */
}
