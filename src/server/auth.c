/* auth — logins checked against the replicated users, SETUSER's hashes,
 * and the default user's seed (see auth.h). */
#include "auth.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer_proof.h"

int auth_init(auth *a, uv_loop_t *loop, const char *path)
{
    memset(a, 0, sizeof(*a));
    a->loop = loop;
    if (peer_nonce(a->process_key) != 0 || peer_nonce(a->process_key + 16) != 0) {
        fprintf(stderr, "seqd: no randomness for the login key\n");
        return -1;
    }
    if (path == NULL || path[0] == '\0') {
        return 0;
    }
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        fprintf(stderr, "seqd: --requirepass-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[PASSWORD_MAX + 2];
    size_t len = fread(line, 1, sizeof(line) - 1, fp);
    bool failed = ferror(fp) != 0;
    fclose(fp);
    line[len] = '\0';
    char *nl = memchr(line, '\n', len);
    if (nl != NULL) {
        len = (size_t)(nl - line);
    }
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (failed || len == 0 || len > PASSWORD_MAX) {
        fprintf(stderr, "seqd: --requirepass-file %s: wants a password of 1 to %d bytes on its "
                        "first line\n", path, PASSWORD_MAX);
        OPENSSL_cleanse(line, sizeof(line));
        return -1;
    }
    int rv = password_hash(line, len, a->file_hash);
    OPENSSL_cleanse(line, sizeof(line));
    if (rv != 0) {
        fprintf(stderr, "seqd: cannot hash the password of %s\n", path);
        return -1;
    }
    a->has_file = true;
    return 0;
}

unsigned auth_delay_ms(unsigned failures)
{
    if (failures == 0) {
        return 0;
    }
    unsigned ms = AUTH_DELAY_FIRST_MS;
    for (unsigned i = 1; i < failures && ms < AUTH_DELAY_MAX_MS; i++) {
        ms *= 2;
    }
    return ms < AUTH_DELAY_MAX_MS ? ms : AUTH_DELAY_MAX_MS;
}

/* One job, from the loop to the checker thread and back: a login to
 * check, or SETUSER's passwords to hash. Passwords are wiped once used. */
typedef struct auth_job {
    struct auth_job *next;
    uv_timer_t timer;
    auth *a;
    bool hashing;
    /* a login */
    seq_login_info who;
    bool ok;
    bool cached;     /* answered from a remembered login, no scrypt */
    uint8_t mac[32]; /* user and password under the process's key */
    char matched[SEQ_ACL_TOKEN_MAX]; /* the hash the password matched */
    unsigned delay_ms;
    auth_done_fn done;
    /* hashing */
    auth_secret *secrets;
    size_t n_secrets;
    auth_hashed_fn hashed;
    void *ctx;
    size_t pw_len;
    char pw[];
} auth_job;

static void authPush(auth_job **head, auth_job **tail, auth_job *j)
{
    j->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = j;
    } else {
        *head = j;
    }
    *tail = j;
}

static auth_job *authPop(auth_job **head, auth_job **tail)
{
    auth_job *j = *head;
    if (j != NULL) {
        *head = j->next;
        if (*head == NULL) {
            *tail = NULL;
        }
        j->next = NULL;
    }
    return j;
}

/* What an unknown user's login is checked against: a well-formed hash
 * that no password is known to match (its key is not scrypt's output for
 * any password anyone wrote down). */
#define AUTH_NOBODY_HASH                                                                  \
    "$scrypt$N=16384,r=8,p=1$5d1e0a7b3c9f42e88a61f0c2d4b7e913$"                           \
    "c0ffee00000000000000000000000000000000000000000000000000000000ee"

/* A login on the checker thread: against each of the user's hashes; an
 * unknown or disabled user costs one scrypt too (against a hash nobody's
 * password has), so timing tells no names. */
static void authCheckLogin(auth_job *j)
{
    const seq_login_info *w = &j->who;
    bool match = false;
    if (w->exists && w->enabled && w->nopass) {
        match = true; /* as Redis: a nopass user takes any password */
    } else if (!w->exists || !w->enabled || w->n_hashes == 0) {
        (void)password_check(AUTH_NOBODY_HASH, j->pw, j->pw_len);
    } else {
        for (size_t i = 0; i < w->n_hashes && !match; i++) {
            match = password_check(w->hashes[i], j->pw, j->pw_len);
            if (match) {
                snprintf(j->matched, sizeof(j->matched), "%s", w->hashes[i]);
            }
        }
    }
    j->ok = match && w->exists && w->enabled;
    OPENSSL_cleanse(j->pw, j->pw_len);
}

/* SETUSER's secrets on the checker thread: new hashes, or the hash a
 * password to remove matches. */
static void authHashSecrets(auth_job *j)
{
    j->ok = true;
    for (size_t i = 0; i < j->n_secrets; i++) {
        auth_secret *x = &j->secrets[i];
        x->hash[0] = '\0';
        if (!x->find) {
            char h[PASSWORD_HASH_MAX];
            if (password_hash(x->pw, x->len, h) != 0) {
                j->ok = false;
            } else {
                snprintf(x->hash, sizeof(x->hash), "%s", h);
            }
        }
        for (size_t k = 0; x->find && k < j->who.n_hashes && x->hash[0] == '\0'; k++) {
            if (password_check(j->who.hashes[k], x->pw, x->len)) {
                snprintf(x->hash, sizeof(x->hash), "%s", j->who.hashes[k]);
            }
        }
        OPENSSL_cleanse(x->pw, x->len);
    }
}

/* The checker thread: first logins before retries (a connection that
 * failed waits behind those that have not), one scrypt at a time. */
static void *authThread(void *arg)
{
    auth *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->stopping && a->first_head == NULL && a->retry_head == NULL) {
            pthread_cond_wait(&a->wake, &a->lock);
        }
        if (a->stopping) {
            break;
        }
        auth_job *j = authPop(&a->first_head, &a->first_tail);
        if (j == NULL) {
            j = authPop(&a->retry_head, &a->retry_tail);
        }
        pthread_mutex_unlock(&a->lock);
        if (j->hashing) {
            authHashSecrets(j);
        } else {
            authCheckLogin(j);
        }
        pthread_mutex_lock(&a->lock);
        authPush(&a->done_head, &a->done_tail, j);
        uv_async_send(&a->async);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* A login that passed, remembered (the oldest entry makes room). */
static void authRemember(auth *a, const auth_job *j)
{
    if (j->cached || j->matched[0] == '\0') {
        return; /* already remembered, or a nopass user: nothing to save */
    }
    auth_remembered *r = &a->remembered[a->remembered_next];
    a->remembered_next = (a->remembered_next + 1) % AUTH_REMEMBERED;
    r->used = true;
    memcpy(r->mac, j->mac, sizeof(r->mac));
    snprintf(r->hash, sizeof(r->hash), "%s", j->matched);
}

/* Whether mac is remembered with a hash who still has. */
static bool authRemembered(const auth *a, const uint8_t mac[32], const seq_login_info *who)
{
    if (!who->exists || !who->enabled) {
        return false;
    }
    for (size_t i = 0; i < AUTH_REMEMBERED; i++) {
        const auth_remembered *r = &a->remembered[i];
        if (!r->used || !peer_mac_equal(r->mac, mac)) {
            continue;
        }
        for (size_t k = 0; k < who->n_hashes; k++) {
            if (strcmp(who->hashes[k], r->hash) == 0) {
                return true;
            }
        }
    }
    return false;
}

static void authFinish(auth_job *j)
{
    auth *a = j->a;
    if (j->hashing) {
        j->hashed(j->ctx, j->ok);
        return;
    }
    assert(a->in_flight > 0);
    a->in_flight--;
    if (j->ok) {
        a->successes++;
        authRemember(a, j);
    } else {
        a->failures++;
    }
    j->done(j->ctx, j->ok);
}

static void authTimerClosed(uv_handle_t *h)
{
    free(h->data);
}

static void authDelayed(uv_timer_t *t)
{
    auth_job *j = t->data;
    authFinish(j);
    uv_close((uv_handle_t *)&j->timer, authTimerClosed);
}

/* A checked job back on the loop: answered now, or after its delay. */
static void authAnswer(auth_job *j)
{
    if (!j->hashing && !j->ok && j->delay_ms > 0 && !j->a->stopping) {
        uv_timer_init(j->a->loop, &j->timer);
        j->timer.data = j;
        uv_timer_start(&j->timer, authDelayed, j->delay_ms, 0);
        return;
    }
    authFinish(j);
    free(j);
}

static void authChecked(uv_async_t *h)
{
    auth *a = h->data;
    pthread_mutex_lock(&a->lock);
    auth_job *list = a->done_head;
    a->done_head = a->done_tail = NULL;
    pthread_mutex_unlock(&a->lock);
    while (list != NULL) {
        auth_job *next = list->next;
        authAnswer(list);
        list = next;
    }
}

/* ---- the default user's seed ---------------------------------------- */

static void authSeedDone(void *owner, uint64_t tag, const seq_result *res, int err)
{
    (void)tag;
    auth *a = (auth *)((char *)owner - offsetof(auth, seed_base));
    a->seed_inflight = false;
    if (err == BATCH_OK && res != NULL && res->status == SEQ_OK) {
        log_info("acl: the default user's password from --requirepass-file is in the log");
    }
}

/* While the state says the default user was never set, the leader with a
 * password file proposes it (again after a failed try). */
static void authSeedTick(uv_timer_t *t)
{
    auth *a = t->data;
    if (!a->has_file || a->seed_inflight || a->batcher == NULL || !a->node->started ||
        (a->hold != NULL && *a->hold) ||
        !node_is_leader(a->node) ||
        seq_acl_default_set(a->node->fsm.state) || a->batcher->failed) {
        return;
    }
    char rules[16 + PASSWORD_HASH_MAX];
    snprintf(rules, sizeof(rules), "resetpass #%s", a->file_hash);
    seq_cmd cmd = {.op = SEQ_OP_ACL_SETUSER,
                   .name = AUTH_USER_DEFAULT,
                   .name_len = strlen(AUTH_USER_DEFAULT),
                   .has_start = true,
                   .text = rules,
                   .text_len = strlen(rules)};
    a->seed_inflight = true;
    batcher_submit(a->batcher, &cmd, &a->seed_base, BATCH_TAG_INTERNAL);
}

int auth_start(auth *a, node *n, batcher *b)
{
    a->node = n;
    a->batcher = b;
    a->seed_base.done = authSeedDone;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    int rv = uv_async_init(a->loop, &a->async, authChecked);
    if (rv != 0) {
        return rv;
    }
    a->async.data = a;
    uv_timer_init(a->loop, &a->seed_timer);
    a->seed_timer.data = a;
    uv_timer_start(&a->seed_timer, authSeedTick, AUTH_SEED_EVERY_MS, AUTH_SEED_EVERY_MS);
    if (pthread_create(&a->thread, NULL, authThread, a) != 0) {
        uv_close((uv_handle_t *)&a->async, NULL);
        uv_close((uv_handle_t *)&a->seed_timer, NULL);
        return UV_EAGAIN;
    }
    a->started = true;
    return 0;
}

void auth_stop(auth *a)
{
    if (!a->started) {
        return;
    }
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    a->started = false;
    /* what the thread did not get to is refused now: every job is answered */
    authChecked(&a->async);
    auth_job *j;
    while ((j = authPop(&a->first_head, &a->first_tail)) != NULL ||
           (j = authPop(&a->retry_head, &a->retry_tail)) != NULL) {
        OPENSSL_cleanse(j->pw, j->pw_len);
        for (size_t i = 0; i < j->n_secrets; i++) {
            OPENSSL_cleanse(j->secrets[i].pw, j->secrets[i].len);
        }
        j->ok = false;
        authAnswer(j);
    }
    uv_close((uv_handle_t *)&a->async, NULL);
    uv_timer_stop(&a->seed_timer);
    uv_close((uv_handle_t *)&a->seed_timer, NULL);
}

/* ---- questions -------------------------------------------------------- */

static bool authSettled(const auth *a)
{
    const node *n = a->node;
    return n != NULL && n->started && n->fsm.has_cluster && raft_last_applied((struct raft *)&n->raft) >= n->raft.commit_index;
}

void auth_login_info(const auth *a, const char *user, size_t len, seq_login_info *out)
{
    seq_acl_login_info(a->node->fsm.state, user, len, out);
    bool is_default = len == strlen(AUTH_USER_DEFAULT) && memcmp(user, AUTH_USER_DEFAULT, len) == 0;
    if (is_default && a->has_file && !seq_acl_default_set(a->node->fsm.state)) {
        out->nopass = false;
        out->n_hashes = 1;
        snprintf(out->hashes[0], sizeof(out->hashes[0]), "%s", a->file_hash);
    }
}

int auth_need_of(const auth *a)
{
    const seq_state *st = a->node->fsm.state;
    if ((a->has_file && !seq_acl_default_set(st)) ||
        !seq_acl_user_open(st, AUTH_USER_DEFAULT, strlen(AUTH_USER_DEFAULT))) {
        return AUTH_NEEDED;
    }
    return authSettled(a) ? AUTH_OPEN : AUTH_CATCHING_UP;
}

/* ---- jobs ------------------------------------------------------------- */

static auth_job *authJobNew(auth *a, size_t pw_len)
{
    auth_job *j = malloc(sizeof(*j) + pw_len + 1);
    if (j == NULL) {
        log_error("auth: out of memory");
        abort();
    }
    memset(j, 0, sizeof(*j));
    j->a = a;
    return j;
}

void auth_check(auth *a, const char *user, size_t user_len, const seq_login_info *who,
                const char *pw, size_t pw_len, unsigned delay_ms, auth_done_fn done, void *ctx)
{
    assert(a->started && done != NULL);
    if (pw_len > PASSWORD_MAX) {
        pw_len = PASSWORD_MAX + 1; /* never matches: password_hash refuses it */
    }
    auth_job *j = authJobNew(a, pw_len);
    j->who = *who;
    j->delay_ms = delay_ms;
    j->done = done;
    j->ctx = ctx;
    j->pw_len = pw_len;
    if (pw_len <= PASSWORD_MAX) {
        memcpy(j->pw, pw, pw_len);
    } else {
        memset(j->pw, 0, pw_len);
    }
    /* the MAC covers the user's name too: one password of two users is
     * two logins */
    uint8_t buf[SEQ_USER_MAX + 1 + PASSWORD_MAX];
    size_t n = user_len <= SEQ_USER_MAX ? user_len : SEQ_USER_MAX;
    memcpy(buf, user, n);
    buf[n] = 0;
    size_t pw_used = pw_len <= PASSWORD_MAX ? pw_len : 0;
    memcpy(buf + n + 1, j->pw, pw_used);
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), a->process_key, sizeof(a->process_key), buf, n + 1 + pw_used, j->mac, &mac_len);
    OPENSSL_cleanse(buf, sizeof(buf));
    assert(mac_len == sizeof(j->mac));
    a->in_flight++;
    pthread_mutex_lock(&a->lock);
    if (authRemembered(a, j->mac, who)) {
        /* a login that passed before: no second scrypt (a reconnect storm
         * after a failover would otherwise queue one per client) */
        j->ok = true;
        j->cached = true;
        OPENSSL_cleanse(j->pw, j->pw_len);
        authPush(&a->done_head, &a->done_tail, j);
        pthread_mutex_unlock(&a->lock);
        uv_async_send(&a->async);
        return;
    }
    if (delay_ms > AUTH_DELAY_FIRST_MS) { /* it failed before on its connection */
        authPush(&a->retry_head, &a->retry_tail, j);
    } else {
        authPush(&a->first_head, &a->first_tail, j);
    }
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

void auth_hash(auth *a, auth_secret *secrets, size_t n, const seq_login_info *who,
               auth_hashed_fn done, void *ctx)
{
    assert(a->started && done != NULL);
    auth_job *j = authJobNew(a, 0);
    j->hashing = true;
    j->secrets = secrets;
    j->n_secrets = n;
    j->who = *who;
    j->hashed = done;
    j->ctx = ctx;
    pthread_mutex_lock(&a->lock);
    authPush(&a->retry_head, &a->retry_tail, j); /* behind the first logins */
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}
