/* seq_check — the whole-state invariants, checked in one place: by the
 * snapshot decoder for every state it accepts (a damaged snapshot that
 * satisfies every record's own check must still form a valid state), and
 * in test builds (SEQ_CHECK_INVARIANTS) after every apply. Keeps nothing
 * itself: it only reads. What it checks, beyond each sequence's invariants
 * (seq_sequence_valid, seq_internal.h):
 *  - incarnations: none 0 or past the state's counter, no two live
 *    sequences share one; n_live and n_sequences count what is there;
 *  - every key names an incarnation already handed out;
 *  - retained keys: the FIFO holds exactly n_keys keys, none permanent, in
 *    elapsed-time order, none from the future; each covers exactly its
 *    count of numbers and, when its incarnation is live, that incarnation
 *    is strict and issued every one of them;
 *  - permanent keys: exactly n_pkeys, each naming one number that its live
 *    gapless incarnation issued, found under that number. */
#include "seq_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int seqIncarnationCompare(const void *a, const void *b)
{
    const seq_sequence *x = *(const seq_sequence *const *)a;
    const seq_sequence *y = *(const seq_sequence *const *)b;
    return x->incarnation < y->incarnation ? -1 : x->incarnation > y->incarnation;
}

void seqOwnerIndexBuild(const seq_state *s, seq_owner_index *ix)
{
    ix->by_incarnation = seq_xmalloc(sizeof(*ix->by_incarnation) * (s->n_live + 1));
    ix->n = 0;
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (q->live && ix->n <= s->n_live) {
            ix->by_incarnation[ix->n++] = q;
        }
    }
    qsort(ix->by_incarnation, ix->n, sizeof(*ix->by_incarnation), seqIncarnationCompare);
}

bool seqIncarnationsValid(const seq_state *s, const seq_owner_index *ix)
{
    size_t live = 0, all = 0;
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        if (q->incarnation == 0 || q->incarnation > s->incarnations) {
            return false;
        }
        live += q->live ? 1 : 0;
        all++;
    }
    if (live != s->n_live || live != ix->n || all != s->n_sequences) {
        return false;
    }
    for (size_t i = 1; i < ix->n; i++) {
        if (ix->by_incarnation[i - 1]->incarnation == ix->by_incarnation[i]->incarnation) {
            return false;
        }
    }
    return true;
}

const seq_sequence *seqOwnerFind(const seq_owner_index *ix, uint64_t incarnation)
{
    assert(ix != NULL && (ix->n == 0 || ix->by_incarnation != NULL));
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t at = ix->by_incarnation[mid]->incarnation;
        if (at == incarnation) {
            return ix->by_incarnation[mid];
        }
        if (at < incarnation) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

uint64_t seqKeyIncarnation(const uint8_t *hkey)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | hkey[i];
    }
    return v;
}

/* A retained key's runs cover exactly its count; a live owner is strict
 * and issued them. */
static bool seqRetainedKeyValid(const seq_key_entry *e, const seq_owner_index *ix)
{
    if (e->permanent || e->hkey_len <= 8 || e->hkey_len > 8 + SEQ_KEY_MAX || e->n_runs == 0) {
        return false;
    }
    const seq_sequence *owner = seqOwnerFind(ix, seqKeyIncarnation(e->hkey));
    if (owner != NULL && owner->mode != SEQ_MODE_STRICT) {
        return false;
    }
    uint64_t covered = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const seq_run *r = &e->runs[i];
        uint64_t span = (uint64_t)r->last - (uint64_t)r->first;
        if (r->first > r->last || span >= e->count || covered + span + 1 > e->count) {
            return false;
        }
        covered += span + 1;
        /* a key of an earlier period names numbers of that period's book */
        bool here = owner != NULL && e->period == owner->period;
        if (owner != NULL && e->period > owner->period) {
            return false;
        }
        if (here && (!seq_issued(owner, r->first) || !seq_issued(owner, r->last))) {
            return false;
        }
    }
    return covered == e->count;
}

/* A permanent key names one number its live gapless owner issued, and is
 * filed under it. */
static bool seqPermanentKeyValid(const seq_state *s, const seq_key_entry *e,
                                 const seq_owner_index *ix)
{
    if (e->hkey_len <= 8 || e->hkey_len > 8 + SEQ_KEY_MAX || e->n_runs != 1 || e->count != 1 ||
        e->runs[0].first != e->runs[0].last) {
        return false;
    }
    uint64_t incarnation = seqKeyIncarnation(e->hkey);
    const seq_sequence *owner = seqOwnerFind(ix, incarnation);
    return owner != NULL && owner->mode == SEQ_MODE_GAPLESS && e->period <= owner->period &&
           (e->period < owner->period || seq_issued(owner, e->runs[0].first)) &&
           seqPkeyByNumber(s, incarnation, e->period, e->runs[0].first) == e;
}

/* A key's incarnation was handed out: one not handed out yet would belong
 * to the next CREATE of some name, and replay for it. */
static bool seqKeyIncarnationHandedOut(const seq_state *s, const seq_key_entry *e)
{
    uint64_t incarnation = e->hkey_len > 8 ? seqKeyIncarnation(e->hkey) : 0;
    return incarnation != 0 && incarnation <= s->incarnations;
}

static bool seqKeysValid(const seq_state *s, const seq_owner_index *ix)
{
    size_t fifo = 0;
    const seq_key_entry *prev = NULL;
    for (const seq_key_entry *e = s->oldest_key; e != NULL; e = e->newer) {
        if (fifo++ >= s->n_keys || !seqRetainedKeyValid(e, ix) ||
            e->inserted_el_ms > s->elapsed_ms ||
            (prev != NULL && prev->inserted_el_ms > e->inserted_el_ms)) {
            return false;
        }
        prev = e;
    }
    if (fifo != s->n_keys || prev != s->newest_key) {
        return false;
    }
    size_t permanent = 0, all = 0;
    for (const seq_key_entry *e = s->keys; e != NULL; e = e->hh.next) {
        all++;
        if (!seqKeyIncarnationHandedOut(s, e)) {
            return false;
        }
        if (e->permanent) {
            permanent++;
            if (!seqPermanentKeyValid(s, e, ix)) {
                return false;
            }
        }
    }
    return permanent == s->n_pkeys && all == s->n_keys + s->n_pkeys &&
           HASH_CNT(hn, s->keys_by_number) == s->n_pkeys;
}

/* Every user valid, counted, unique (the hash finds each by its name),
 * the default among them. */
static bool seqUsersValid(const seq_state *s)
{
    size_t n = 0;
    bool has_default = false;
    for (const seq_user *u = s->users; u != NULL; u = u->hh.next) {
        if (!seqUserValid(u)) {
            return false;
        }
        seq_user *found = NULL;
        HASH_FIND(hh, s->users, u->name, u->name_len, found);
        if (found != u) {
            return false;
        }
        has_default = has_default || strcmp(u->name, SEQ_USER_DEFAULT) == 0;
        n++;
    }
    return has_default && n == s->n_users && n <= SEQ_USERS_MAX;
}

/* seq_state_valid, saying which invariant broke (*why, for the crash). */
static bool seqStateValidWhy(const seq_state *s, const char **why)
{
    seq_owner_index ix;
    seqOwnerIndexBuild(s, &ix);
    *why = "incarnations or counts of sequences";
    bool ok = seqIncarnationsValid(s, &ix);
    for (const seq_sequence *q = s->by_name; ok && q != NULL; q = q->hh.next) {
        *why = q->name;
        ok = seq_sequence_valid(q);
    }
    if (ok) {
        *why = "keys";
        ok = seqKeysValid(s, &ix);
    }
    free(ix.by_incarnation);
    if (ok) {
        *why = "users";
        ok = seqUsersValid(s);
    }
    return ok;
}

bool seq_state_valid(const seq_state *s)
{
    assert(s != NULL);
    const char *why;
    return seqStateValidWhy(s, &why);
}

/* The work one check does, in elements visited. */
static uint64_t seqCheckCost(const seq_state *s)
{
    uint64_t n = s->n_sequences + s->n_keys + s->n_pkeys;
    for (const seq_sequence *q = s->by_name; q != NULL; q = q->hh.next) {
        n += q->n_ranges + q->n_burned + q->n_ledger + q->n_block;
    }
    return n;
}

void seqCheckAfterApply(seq_state *s, uint8_t op)
{
    /* Every apply while the state is small; on a large one, after a number
     * of applies that grows with its size, so a test that builds a ledger
     * of 50,000 runs stays linear: each check costs O(size), and one runs
     * every size / SEQ_CHECK_WORK applies. */
    if (s->check_countdown > 0) {
        s->check_countdown--;
        return;
    }
    const char *why;
    if (!seqStateValidWhy(s, &why)) {
        /* Crash loudly, with context: a transition broke an invariant. */
        fprintf(stderr, "seq: op %u left the state invalid: %s (see seq_check.c)\n", op, why);
        abort();
    }
    s->check_countdown = seqCheckCost(s) / SEQ_CHECK_WORK;
}
