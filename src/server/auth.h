/* auth — who a client is. For now one user, `default`, whose password
 * comes from --requirepass-file (Redis's requirepass, read from a file so
 * it never shows in argv): it is kept in memory only as a scrypt hash
 * (password.h), checked on a thread of its own, so a login never stalls
 * the loop, nor libuv's thread pool (libraft's disk work runs there: a
 * hundred guessers on it stalled every NEXT for 2 s). First logins are
 * checked before retries (a password that passed before is remembered:
 * see remembered below), and a wrong one is answered later each time
 * (per connection: 50 ms doubling to 2 s), so guessing is slow for the
 * guesser and no one else.
 *
 * Keeps: without a password file every client is `default` and logged in
 * (as Redis without requirepass); with one, a client is logged in only
 * after a check that passed, and a node's proven forward link is a node's
 * (its clients logged in where they connected). */
#ifndef SEQD_AUTH_H
#define SEQD_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "password.h"

#define AUTH_USER_DEFAULT "default"
#define AUTH_DELAY_FIRST_MS 50
#define AUTH_DELAY_MAX_MS 2000

typedef struct auth_job auth_job;

typedef struct auth {
    uv_loop_t *loop;
    bool required; /* a password file was given */
    char hash[PASSWORD_HASH_MAX];
    uint64_t successes, failures; /* INFO stats */
    uint64_t in_flight;           /* checks queued, running, or waiting out a delay */
    /* The last password that passed, as HMAC-SHA256 under a random key of
     * this process (never written anywhere): a login with it again is
     * answered without a second scrypt. The trade: someone who can read
     * this process's memory could test guesses against it at HMAC speed
     * (but could as well read the password file). Wrong passwords are
     * never remembered, so guessing stays at scrypt speed. */
    uint8_t process_key[32];
    uint8_t remembered[32];
    bool has_remembered;
    /* the checker thread and its queues (under lock) */
    bool started, stopping;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uv_async_t async; /* the thread's "done" to the loop */
    auth_job *first_head, *first_tail; /* logins of connections without a failure */
    auth_job *retry_head, *retry_tail; /* the others */
    auth_job *done_head, *done_tail;   /* checked, for the loop */
} auth;

/* Reads the password from path (its first line; a final newline is not
 * part of it), or sets up no authentication when path is empty. Returns 0,
 * or -1 after printing why (a missing, unreadable or empty file). */
int auth_init(auth *a, uv_loop_t *loop, const char *path);

/* Starts the checker thread (when a password is required); 0 or a libuv
 * error. auth_stop answers what is still queued as refused, stops the
 * thread and closes its handle (at shutdown, on the loop thread). */
int auth_start(auth *a);
void auth_stop(auth *a);

/* Told once, on the loop thread, whether user/password are right. */
typedef void (*auth_done_fn)(void *ctx, bool ok);

/* Checks user and password (copied) on the thread pool; done runs after
 * the check (and after delay_ms more when it failed). */
void auth_check(auth *a, const char *user, size_t user_len, const char *pw, size_t pw_len,
                unsigned delay_ms, auth_done_fn done, void *ctx);

/* The delay before the answer to a connection's n-th failed login. */
unsigned auth_delay_ms(unsigned failures);

#endif
