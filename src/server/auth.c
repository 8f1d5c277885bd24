/* auth — the default user's password and the check of a login (see
 * auth.h). */
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
    int rv = password_hash(line, len, a->hash);
    OPENSSL_cleanse(line, sizeof(line));
    if (rv != 0) {
        fprintf(stderr, "seqd: cannot hash the password of %s\n", path);
        return -1;
    }
    if (peer_nonce(a->process_key) != 0 || peer_nonce(a->process_key + 16) != 0) {
        fprintf(stderr, "seqd: no randomness for the login key\n");
        return -1;
    }
    a->required = true;
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

/* One check, from the loop to the checker thread and back; the password
 * is wiped once checked. */
typedef struct auth_job {
    struct auth_job *next;
    uv_timer_t timer;
    auth *a;
    bool known_user;
    bool ok;
    bool cached; /* answered from the remembered login, no scrypt */
    uint8_t mac[32]; /* the password's MAC under the process's key (see auth.h) */
    unsigned delay_ms;
    auth_done_fn done;
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
        /* an unknown user costs the same scrypt, so timing tells no names */
        bool match = password_check(a->hash, j->pw, j->pw_len);
        j->ok = match && j->known_user;
        OPENSSL_cleanse(j->pw, j->pw_len);
        pthread_mutex_lock(&a->lock);
        authPush(&a->done_head, &a->done_tail, j);
        uv_async_send(&a->async);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static void authFinish(auth_job *j)
{
    auth *a = j->a;
    assert(a->in_flight > 0);
    a->in_flight--;
    if (j->ok) {
        a->successes++;
        if (!j->cached) {
            memcpy(a->remembered, j->mac, sizeof(a->remembered));
            a->has_remembered = true;
        }
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

/* A checked login back on the loop: answered now, or after its delay. */
static void authAnswer(auth_job *j)
{
    if (!j->ok && j->delay_ms > 0 && !j->a->stopping) {
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

int auth_start(auth *a)
{
    if (!a->required) {
        return 0;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    int rv = uv_async_init(a->loop, &a->async, authChecked);
    if (rv != 0) {
        return rv;
    }
    a->async.data = a;
    if (pthread_create(&a->thread, NULL, authThread, a) != 0) {
        uv_close((uv_handle_t *)&a->async, NULL);
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
    /* what the thread did not get to is refused now: every login is answered */
    authChecked(&a->async);
    auth_job *j;
    while ((j = authPop(&a->first_head, &a->first_tail)) != NULL ||
           (j = authPop(&a->retry_head, &a->retry_tail)) != NULL) {
        OPENSSL_cleanse(j->pw, j->pw_len);
        j->ok = false;
        authAnswer(j);
    }
    uv_close((uv_handle_t *)&a->async, NULL);
}

void auth_check(auth *a, const char *user, size_t user_len, const char *pw, size_t pw_len,
                unsigned delay_ms, auth_done_fn done, void *ctx)
{
    assert(a->required && a->started && done != NULL);
    if (pw_len > PASSWORD_MAX) {
        pw_len = PASSWORD_MAX + 1; /* never matches: password_hash refuses it */
    }
    auth_job *j = malloc(sizeof(*j) + pw_len + 1);
    if (j == NULL) {
        log_error("auth: out of memory");
        abort();
    }
    memset(j, 0, sizeof(*j));
    j->a = a;
    j->known_user = user_len == strlen(AUTH_USER_DEFAULT) &&
                    memcmp(user, AUTH_USER_DEFAULT, user_len) == 0;
    j->delay_ms = delay_ms;
    j->done = done;
    j->ctx = ctx;
    j->pw_len = pw_len;
    if (pw_len <= PASSWORD_MAX) {
        memcpy(j->pw, pw, pw_len);
    } else {
        memset(j->pw, 0, pw_len);
    }
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), a->process_key, sizeof(a->process_key), (const uint8_t *)j->pw,
         pw_len <= PASSWORD_MAX ? pw_len : 0, j->mac, &mac_len);
    assert(mac_len == sizeof(j->mac));
    a->in_flight++;
    pthread_mutex_lock(&a->lock);
    if (j->known_user && a->has_remembered && peer_mac_equal(j->mac, a->remembered)) {
        /* the password that passed before: no second scrypt (a reconnect
         * storm after a failover would otherwise queue one per client) */
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
