/* seq_keys — idempotency keys. A retained key (strict NEXT ... KEY)
 * remembers the runs it got for the retention time, in a FIFO along which
 * the elapsed clock never goes back, so expiry pops from the front. A
 * permanent key (gapless) names one number of one incarnation until that
 * number is released or its sequence dropped, and is found both by key and
 * by number. Keeps: n_keys counts the FIFO, n_pkeys the permanent keys; a
 * key's hash includes its incarnation, so a dropped incarnation's keys can
 * never match a later CREATE's. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void seqKeyFree(seq_key_entry *e)
{
    free(e->hkey);
    free(e->runs);
    free(e);
}

static void seqKeyRemoveOldest(seq_state *s)
{
    seq_key_entry *e = s->oldest_key;
    assert(e != NULL);
    s->oldest_key = e->newer;
    if (s->oldest_key == NULL) {
        s->newest_key = NULL;
    }
    HASH_DEL(s->keys, e);
    s->n_keys--;
    seqKeyFree(e);
}

void seqKeysExpire(seq_state *s, int64_t retention_ms)
{
    assert(retention_ms >= 0);
    /* Expire in insertion order, along which the elapsed clock never goes
     * back. The age is computed in uint64: the int64 difference can
     * overflow. */
    while (s->oldest_key != NULL) {
        assert(!s->oldest_key->permanent);
        assert(s->oldest_key->inserted_el_ms <= s->elapsed_ms);
        uint64_t age_ms = (uint64_t)s->elapsed_ms - (uint64_t)s->oldest_key->inserted_el_ms;
        if (age_ms < (uint64_t)retention_ms) {
            break;
        }
        seqKeyRemoveOldest(s);
    }
}

void seq_key_insert(seq_state *s, seq_key_entry *e)
{
    e->newer = NULL;
    if (s->newest_key != NULL) {
        assert(s->newest_key->inserted_el_ms <= e->inserted_el_ms);
        s->newest_key->newer = e;
    } else {
        s->oldest_key = e;
    }
    s->newest_key = e;
    HASH_ADD_KEYPTR(hh, s->keys, e->hkey, e->hkey_len, e);
    s->n_keys++;
}

void seq_pkey_insert(seq_state *s, seq_key_entry *e)
{
    assert(e->permanent && e->n_runs == 1 && e->runs[0].first == e->runs[0].last);
    HASH_ADD_KEYPTR(hh, s->keys, e->hkey, e->hkey_len, e);
    HASH_ADD(hn, s->keys_by_number, nkey, sizeof(e->nkey), e);
    s->n_pkeys++;
}

size_t seqKeyHash(uint8_t *out, uint64_t incarnation, const char *key,
                         size_t key_len)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(incarnation >> (8 * i));
    }
    memcpy(out + 8, key, key_len);
    return 8 + key_len;
}

void seqNumberKey(uint8_t out[24], uint64_t incarnation, int64_t period, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(incarnation >> (8 * i));
        out[8 + i] = (uint8_t)((uint64_t)v >> (8 * i));
        out[16 + i] = (uint8_t)((uint64_t)period >> (8 * i));
    }
}

seq_key_entry *seqKeyFind(const seq_state *s, uint64_t incarnation, const char *key,
                          size_t key_len)
{
    assert(key_len <= SEQ_KEY_MAX);
    uint8_t hkey[8 + SEQ_KEY_MAX];
    size_t hkey_len = seqKeyHash(hkey, incarnation, key, key_len);
    seq_key_entry *e = NULL;
    HASH_FIND(hh, s->keys, hkey, hkey_len, e);
    return e;
}

seq_key_entry *seqPkeyByNumber(const seq_state *s, uint64_t incarnation, int64_t period,
                               int64_t v)
{
    uint8_t nkey[24];
    seqNumberKey(nkey, incarnation, period, v);
    seq_key_entry *e = NULL;
    HASH_FIND(hn, s->keys_by_number, nkey, sizeof(nkey), e);
    return e;
}

void seqPkeyDelete(seq_state *s, seq_key_entry *e)
{
    assert(e->permanent);
    HASH_DELETE(hh, s->keys, e);
    HASH_DELETE(hn, s->keys_by_number, e);
    s->n_pkeys--;
    seqKeyFree(e);
}

seq_key_entry *seqKeyNew(const uint8_t *hkey, size_t hkey_len, seq_now now,
                                uint32_t count, const seq_run *runs, size_t n_runs, int64_t period)
{
    seq_key_entry *e = seq_xcalloc(1, sizeof(*e));
    e->period = period;
    e->hkey = seq_xmalloc(hkey_len);
    memcpy(e->hkey, hkey, hkey_len);
    e->hkey_len = hkey_len;
    e->inserted_ms = now.wall;
    e->inserted_el_ms = now.el;
    e->count = count;
    e->runs = seq_xmalloc(sizeof(*runs) * n_runs);
    memcpy(e->runs, runs, sizeof(*runs) * n_runs);
    e->n_runs = n_runs;
    return e;
}

int seqKeyHolds(const seq_state *s, const seq_sequence *q, const seq_cmd *cmd, int64_t v)
{
    if (cmd->key_len == 0) {
        return SEQ_OK;
    }
    if (!seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    const seq_key_entry *e = seqKeyFind(s, q->incarnation, cmd->key, cmd->key_len);
    /* the same number of another period is another number (q->period is
     * the period the command runs in: a closed one's book when swapped in) */
    return e != NULL && e->permanent && e->runs[0].first == v && e->period == q->period
               ? SEQ_OK
               : SEQ_ERR_KEY_MISMATCH;
}

void seqPkeyRelease(seq_state *s, uint64_t incarnation, int64_t period, int64_t v)
{
    seq_key_entry *held = seqPkeyByNumber(s, incarnation, period, v);
    if (held != NULL) {
        seqPkeyDelete(s, held);
    }
}

void seqPkeysDropIncarnation(seq_state *s, uint64_t incarnation)
{
    uint8_t inc[24];
    seqNumberKey(inc, incarnation, 0, 0);
    seq_key_entry *e, *tmp;
    HASH_ITER(hh, s->keys, e, tmp)
    {
        if (e->permanent && memcmp(e->hkey, inc, 8) == 0) {
            seqPkeyDelete(s, e);
        }
    }
}
