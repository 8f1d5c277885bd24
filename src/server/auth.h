/* auth — who a client is. The users live in the replicated state
 * (seq_acl.c), so a user made on any node logs in on every node; this
 * module checks a login against them, makes the hashes ACL SETUSER
 * proposes, and seeds the default user's password from --requirepass-file
 * (Redis's requirepass, read from a file so it never shows in argv) once:
 * the leader proposes it while the state says the default user was never
 * set, and until that entry is applied the file's password is what the
 * default user needs on this node.
 *
 * Passwords are kept only as scrypt hashes (password.h) and checked on a
 * thread of its own, so a login never stalls the loop, nor libuv's thread
 * pool (libraft's disk work runs there: a hundred guessers on it stalled
 * every NEXT for 2 s). First logins are checked before retries (a
 * password that passed before is remembered: see auth_remembered below),
 * and a wrong one is answered later each time (per connection: 50 ms
 * doubling to 2 s), so guessing is slow for the guesser and no one else.
 *
 * Keeps: a client is logged in only after a check that passed, or as the
 * default user while that one needs no password (auth_required); an
 * unknown user costs the same scrypt as a known one, so timing tells no
 * names; a node's proven forward link is a node's (its clients logged in
 * where they connected). */
#ifndef SEQD_AUTH_H
#define SEQD_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "batch.h"
#include "node.h"
#include "password.h"
#include "seq.h"

#define AUTH_USER_DEFAULT SEQ_USER_DEFAULT
#define AUTH_DELAY_FIRST_MS 50
#define AUTH_DELAY_MAX_MS 2000
#define AUTH_REMEMBERED 64 /* logins remembered (see below) */
#define AUTH_SEED_EVERY_MS 500

typedef struct auth_job auth_job;

/* A login that passed, as HMAC-SHA256 of user and password under a random
 * key of this process (never written anywhere), and the hash it matched:
 * a login with them again, while the user still has that hash, is
 * answered without a second scrypt. The trade: someone who can read this
 * process's memory could test guesses against it at HMAC speed (but could
 * as well read the password file). Wrong passwords are never remembered,
 * so guessing stays at scrypt speed. */
typedef struct auth_remembered {
    bool used;
    uint8_t mac[32];
    char hash[SEQ_ACL_TOKEN_MAX];
} auth_remembered;

typedef struct auth {
    uv_loop_t *loop;
    node *node;       /* whose state holds the users */
    batcher *batcher; /* where the seed goes */
    bool has_file;    /* --requirepass-file was given */
    const bool *hold; /* while true, the seed waits (a restore is pending) */
    char file_hash[PASSWORD_HASH_MAX];
    uint64_t successes, failures; /* INFO stats */
    uint64_t in_flight;           /* checks queued, running, or waiting out a delay */
    uint8_t process_key[32];
    auth_remembered remembered[AUTH_REMEMBERED];
    size_t remembered_next;
    /* the seed of the default user's password (see above) */
    uv_timer_t seed_timer;
    batch_internal seed_base;
    bool seed_inflight;
    /* the checker thread and its queues (under lock) */
    bool started, stopping;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uv_async_t async; /* the thread's "done" to the loop */
    auth_job *first_head, *first_tail; /* logins of connections without a failure */
    auth_job *retry_head, *retry_tail; /* the others, and hashing */
    auth_job *done_head, *done_tail;   /* checked, for the loop */
} auth;

/* Reads the password from path (its first line; a final newline is not
 * part of it), or none when path is empty. Returns 0, or -1 after
 * printing why (a missing, unreadable or empty file). */
int auth_init(auth *a, uv_loop_t *loop, const char *path);

/* Starts the checker thread and the seed timer; 0 or a libuv error.
 * auth_stop answers what is still queued as refused, stops the thread
 * and closes its handles (at shutdown, on the loop thread). */
int auth_start(auth *a, node *n, batcher *b);
void auth_stop(auth *a);

/* Whether a client must log in. */
enum auth_need {
    AUTH_OPEN = 0,   /* no: the default user is on and needs no password */
    AUTH_NEEDED = 1, /* yes: the default user is off or has a password, or this
                      * node's file says so while the seed is not applied */
    /* not known yet: this node has no cluster identity yet, or has not
     * applied what it knows to be committed (a new member catching up, a
     * restart), and its state says the default user is open: a password
     * set since may not have reached it */
    AUTH_CATCHING_UP = 2,
};
int auth_need_of(const auth *a);
#define auth_required(a) (auth_need_of(a) != AUTH_OPEN)

/* What a login as user needs: the replicated user, with the file's
 * password for the default user while the seed is not applied. */
void auth_login_info(const auth *a, const char *user, size_t len, seq_login_info *out);

/* Told once, on the loop thread, whether the login passed. */
typedef void (*auth_done_fn)(void *ctx, bool ok);

/* Checks password against who (copied) on the checker thread; done runs
 * after the check (and after delay_ms more when it failed). */
void auth_check(auth *a, const char *user, size_t user_len, const seq_login_info *who,
                const char *pw, size_t pw_len, unsigned delay_ms, auth_done_fn done, void *ctx);

/* The delay before the answer to a connection's n-th failed login. */
unsigned auth_delay_ms(unsigned failures);

/* ACL SETUSER's passwords, made ready for the log on the checker thread:
 * each `>password` becomes a new hash, each `<password` the hash of who
 * it matches ("" when none does). */
typedef struct auth_secret {
    bool find; /* <password */
    char *pw;  /* the caller's copy: wiped once used */
    size_t len;
    char hash[SEQ_ACL_TOKEN_MAX]; /* out */
} auth_secret;

/* Told once, on the loop thread: secrets[i].hash filled (ok), or a hash
 * could not be made (no randomness, out of memory). secrets is the
 * caller's array, kept alive until then; the passwords are wiped. */
typedef void (*auth_hashed_fn)(void *ctx, bool ok);
void auth_hash(auth *a, auth_secret *secrets, size_t n, const seq_login_info *who,
               auth_hashed_fn done, void *ctx);

#endif
