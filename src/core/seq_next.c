/* seq_next — NEXT: dispatches by mode, and numbers strict (and cached, when
 * a leader without a block asks the log) sequences. With KEY, a repeat
 * within the retention answers the same runs, never new ones, and never a
 * voided number. All or nothing: a NEXT that cannot take COUNT numbers
 * takes none. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void seqCopyRuns(seq_result *out, const seq_run *runs, size_t n)
{
    assert(runs != NULL && n >= 1);
    assert(out->n_runs == 0);
    /* One run is the common case: keep it inside the result, no malloc. */
    out->runs = n == 1 ? &out->run_inline : seq_xmalloc(sizeof(*runs) * n);
    memcpy(out->runs, runs, sizeof(*runs) * n);
    out->n_runs = n;
}

/* NEXT in strict mode (and in cached mode when it reaches the log, which
 * only a leader without a block does: the block path is ALLOCBLOCK/USED). */
static int seqNextStrict(seq_state *s, seq_sequence *q, const seq_cmd *cmd, seq_result *out)
{
    assert(q->live && q->mode != SEQ_MODE_GAPLESS);
    assert(cmd->count >= 1 && cmd->count <= SEQ_COUNT_MAX);
    uint8_t hkey[8 + SEQ_KEY_MAX];
    size_t hkey_len = 0;
    if (cmd->key_len > 0) {
        hkey_len = seqKeyHash(hkey, q->incarnation, cmd->key, cmd->key_len);
        seq_key_entry *e = NULL;
        HASH_FIND(hh, s->keys, hkey, hkey_len, e);
        if (e != NULL) {
            if (e->count != cmd->count) {
                return SEQ_ERR_KEY_REUSED;
            }
            if (seqRunsVoided(q, e->runs, e->n_runs)) {
                return SEQ_ERR_KEY_VOIDED; /* never answer a voided number as valid */
            }
            seqCopyRuns(out, e->runs, e->n_runs);
            out->replayed = true;
            if (q->n_ledger > 0 && seqLedgerRoom(q, e->n_runs)) {
                seqUnknownDelivered(q, e->runs, e->n_runs);
            }
            return SEQ_OK;
        }
        if (s->n_keys >= s->keys_max) { /* the limit the entry's stamp carries */
            return SEQ_ERR_KEYS_FULL;
        }
    }
    seq_take tk;
    seqTakeInit(&tk, q);
    int rv = seqTakePlan(q, s->clock_ms, cmd->count, false, &tk);
    if (rv != SEQ_OK) {
        seqExhausted(q, s->clock_ms, out);
        seqTakeFree(&tk);
        return rv;
    }
    seqTakeApply(q, &tk);
    seqCopyRuns(out, tk.runs, tk.n_runs);
    if (hkey_len > 0) {
        seq_key_insert(s, seqKeyNew(hkey, hkey_len, seqNow(s), cmd->count, tk.runs, tk.n_runs,
                                        q->period));
    }
    seqRateAdd(q, s->clock_ms, cmd->count);
    seqWarnCheck(q, seqNow(s), out);
    seqTakeFree(&tk);
    return SEQ_OK;
}

int seqNext(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (cmd->count < 1 || cmd->count > SEQ_COUNT_MAX) {
        return SEQ_ERR_COUNT;
    }
    if (cmd->key_len > 0 && !seq_key_valid(cmd->key, cmd->key_len)) {
        return SEQ_ERR_KEY;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (q->mode == SEQ_MODE_GAPLESS) {
        return seqGaplessTake(s, q, cmd, false, out);
    }
    if (q->mode == SEQ_MODE_CACHED && cmd->key_len > 0) {
        return SEQ_ERR_MODE; /* a block served from memory cannot replay keys */
    }
    return seqNextStrict(s, q, cmd, out);
}
