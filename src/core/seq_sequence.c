/* seq_sequence — sequences and their tombstones: CREATE (idempotent for
 * the same definition), ADDRANGE (disjoint from every range), DROP (the
 * numbers issued join the burned history, so a later CREATE of the name
 * never issues them again), and the per-sequence invariant check. Keeps:
 * incarnations grow by one per CREATE and are never reused; a tombstone
 * holds only its name, incarnation and burned history. */
#include "seq_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

/* Frees the ranges and their labels. */
static void seqSpansFree(seq_sequence *q)
{
    for (size_t i = 0; i < q->n_ranges; i++) {
        free(q->ranges[i].label);
    }
    free(q->ranges);
    q->ranges = NULL;
    q->n_ranges = 0;
}

void seqSequenceFree(seq_sequence *q)
{
    assert(q != NULL);
    seqLedgerClear(q);
    seqPeriodFree(q);
    seqDocFree(q);
    free(q->block);
    free(q->name);
    seqSpansFree(q);
    free(q->burned);
    free(q);
}

static seq_sequence *seqFind(const seq_state *s, const char *name, size_t len)
{
    seq_sequence *q = NULL;
    HASH_FIND(hh, s->by_name, name, len, q);
    return q;
}

seq_sequence *seqFindLive(const seq_state *s, const char *name, size_t len)
{
    seq_sequence *q = seqFind(s, name, len);
    return q != NULL && q->live ? q : NULL;
}

seq_sequence *seq_sequence_add(seq_state *s, const char *name, size_t len)
{
    assert(seq_name_valid(name, len));
    assert(seqFind(s, name, len) == NULL);
    seq_sequence *q = seq_xcalloc(1, sizeof(*q));
    q->name = seq_xmalloc(len + 1);
    memcpy(q->name, name, len);
    q->name[len] = '\0';
    q->name_len = len;
    q->open_from = INT64_MIN;
    q->none_reissuable_before = INT64_MIN;
    HASH_ADD_KEYPTR(hh, s->by_name, q->name, q->name_len, q);
    s->n_sequences++;
    return q;
}

int seq_mode_of(const seq_state *s, const char *name, size_t len)
{
    const seq_sequence *q = seqFindLive(s, name, len);
    return q == NULL ? -1 : q->mode;
}

bool seq_cached_info(const seq_state *s, const char *name, size_t len, uint32_t *cache,
                     uint64_t *incarnation)
{
    const seq_sequence *q = seqFindLive(s, name, len);
    if (q == NULL || q->mode != SEQ_MODE_CACHED) {
        return false;
    }
    *cache = q->cache;
    *incarnation = q->incarnation;
    return true;
}

bool seqOverlap(int64_t a_min, int64_t a_max, int64_t b_min, int64_t b_max)
{
    return a_min <= b_max && b_min <= a_max;
}

int seqRangeCompare(const void *a, const void *b)
{
    const seq_range *x = a, *y = b;
    return x->min < y->min ? -1 : x->min > y->min;
}

bool seq_sequence_valid(const seq_sequence *q)
{
    if (q->n_burned > SEQ_BURNED_MAX) {
        return false;
    }
    for (size_t i = 0; i < q->n_burned; i++) {
        if (q->burned[i].min > q->burned[i].max) {
            return false;
        }
        /* sorted, disjoint and not adjacent */
        if (i > 0 && (q->burned[i - 1].max == INT64_MAX ||
                      q->burned[i - 1].max + 1 >= q->burned[i].min)) {
            return false;
        }
    }
    if (!q->live) {
        return q->n_ranges == 0 && q->n_ledger == 0 && q->n_block == 0;
    }
    if (q->n_ranges == 0 || q->n_ranges > SEQ_RANGES_MAX || q->cur > q->n_ranges ||
        q->mode > SEQ_MODE_CACHED || (q->mode == SEQ_MODE_CACHED) != (q->cache > 0) ||
        q->cache > SEQ_CACHE_MAX) {
        return false;
    }
    /* The first range is the CREATE's, and its cursor starts at START:
     * numbers below START were never issued here, so a cursor below it
     * would issue numbers seq_issued denies. */
    const seq_span *first = &q->ranges[0];
    if (first->min != q->def_min || first->max != q->def_max ||
        (q->def_has_start && (q->def_start < q->def_min || q->def_start > q->def_max ||
                              (!first->full && first->next < q->def_start)))) {
        return false;
    }
    /* Disjointness on a sorted copy: O(n log n), not O(n^2), since this
     * also guards every decoded snapshot. */
    seq_range *sorted = seq_xmalloc(sizeof(seq_range) * q->n_ranges);
    bool ok = true;
    for (size_t i = 0; i < q->n_ranges; i++) {
        const seq_span *r = &q->ranges[i];
        sorted[i].min = r->min;
        sorted[i].max = r->max;
        ok = ok && r->min <= r->max && r->not_before <= r->not_after &&
             (r->full || (r->min <= r->next && r->next <= r->max)) && (i >= q->cur || r->full);
    }
    qsort(sorted, q->n_ranges, sizeof(seq_range), seqRangeCompare);
    for (size_t i = 1; i < q->n_ranges && ok; i++) {
        ok = !seqOverlap(sorted[i - 1].min, sorted[i - 1].max, sorted[i].min, sorted[i].max);
    }
    free(sorted);
    return ok && seqLedgerValid(q);
}

/* Adds the numbers this incarnation issued to the burned history. Returns
 * SEQ_ERR_TOO_MANY, changing nothing, when the merged history would not
 * fit. */
static int seqBurnHistory(seq_sequence *q)
{
    assert(q->live && q->n_ranges >= 1);
    size_t n_iv = 0;
    seq_range *iv = seqIssuedIntervals(q, &n_iv);
    size_t n = q->n_burned + n_iv;
    seq_range *all = seq_xmalloc(sizeof(*all) * (n + 1));
    if (q->n_burned > 0) { /* q->burned is NULL before the first DROP */
        memcpy(all, q->burned, sizeof(*all) * q->n_burned);
    }
    if (n_iv > 0) {
        memcpy(all + q->n_burned, iv, sizeof(*all) * n_iv);
    }
    free(iv);
    /* Numbers below START were never issued here, but START says they
     * were taken elsewhere (a migrated series): a re-CREATE skips them too. */
    if (q->def_has_start && q->def_start > q->ranges[0].min) {
        all[n].min = q->ranges[0].min;
        all[n].max = q->def_start - 1;
        n++;
    }
    qsort(all, n, sizeof(*all), seqRangeCompare);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && (all[m - 1].max == INT64_MAX || all[m - 1].max + 1 >= all[i].min)) {
            if (all[i].max > all[m - 1].max) {
                all[m - 1].max = all[i].max;
            }
        } else {
            all[m++] = all[i];
        }
    }
    if (m > SEQ_BURNED_MAX) {
        free(all);
        return SEQ_ERR_TOO_MANY;
    }
    free(q->burned);
    q->burned = all;
    q->n_burned = m;
    return SEQ_OK;
}

static void seqSpanInit(seq_span *r, const seq_cmd *cmd)
{
    assert(cmd->min <= cmd->max);
    r->min = cmd->min;
    r->max = cmd->max;
    r->not_before = cmd->has_not_before ? cmd->not_before : INT64_MIN;
    r->not_after = cmd->has_not_after ? cmd->not_after : INT64_MAX;
    r->next = cmd->min;
    r->full = false;
    r->label = cmd->label_len > 0 ? seqStrdup(cmd->label, cmd->label_len) : NULL;
}

/* The label, format and period options of CREATE and ADDRANGE. */
static int seqCheckDocCmd(const seq_cmd *cmd)
{
    if (cmd->label_len > 0 && !doc_label_valid(cmd->label, cmd->label_len)) {
        return SEQ_ERR_LABEL;
    }
    if (cmd->op != SEQ_OP_CREATE) {
        return SEQ_OK;
    }
    if (cmd->period_kind > PERIOD_MONTHLY || cmd->tz_minutes < PERIOD_TZ_MIN ||
        cmd->tz_minutes > PERIOD_TZ_MAX || (cmd->period_kind == PERIOD_NONE && cmd->tz_minutes != 0)) {
        return SEQ_ERR_PERIOD;
    }
    if (cmd->period_kind != PERIOD_NONE && cmd->mode == SEQ_MODE_CACHED) {
        return SEQ_ERR_MODE; /* blocks served from memory know no entry's clock */
    }
    if (cmd->format_len > 0) {
        return seqDocFormatCheck(cmd, cmd->format, cmd->format_len, cmd->period_kind);
    }
    return SEQ_OK;
}

/* Whether a live q was created with cmd's label, format and period. */
static bool seqSameDoc(const seq_sequence *q, const seq_cmd *cmd)
{
    const char *label = q->ranges[0].label;
    size_t label_len = label != NULL ? strlen(label) : 0;
    const seq_doc_format *first = q->n_formats > 0 ? &q->formats[0] : NULL;
    bool first_is_create = first != NULL && first->from_period == INT64_MIN;
    size_t format_len = first_is_create ? first->len : 0;
    return label_len == cmd->label_len && (label_len == 0 || memcmp(label, cmd->label, label_len) == 0) &&
           format_len == cmd->format_len &&
           (format_len == 0 || memcmp(first->text, cmd->format, format_len) == 0) &&
           q->period_kind == cmd->period_kind && q->tz_minutes == cmd->tz_minutes;
}

static int seqCheckRangeCmd(const seq_cmd *cmd)
{
    if (cmd->min > cmd->max) {
        return SEQ_ERR_RANGE;
    }
    if (cmd->has_not_before && cmd->has_not_after && cmd->not_before > cmd->not_after) {
        return SEQ_ERR_WINDOW;
    }
    return SEQ_OK;
}

int seqCreate(seq_state *s, const seq_cmd *cmd)
{
    if (cmd->has_start && (cmd->start < cmd->min || cmd->start > cmd->max)) {
        return SEQ_ERR_RANGE;
    }
    int rv = seqCheckRangeCmd(cmd);
    if (rv == SEQ_OK) {
        rv = seqCheckDocCmd(cmd);
    }
    if (rv != SEQ_OK) {
        return rv;
    }
    if (cmd->mode > SEQ_MODE_CACHED || (cmd->mode == SEQ_MODE_CACHED) != (cmd->cache > 0) ||
        cmd->cache > SEQ_CACHE_MAX) {
        return SEQ_ERR_MODE;
    }
    seq_sequence *q = seqFind(s, cmd->name, cmd->name_len);
    if (q != NULL && q->live) {
        /* START min means the same as no START. */
        int64_t had = q->def_has_start ? q->def_start : q->def_min;
        int64_t asks = cmd->has_start ? cmd->start : cmd->min;
        seq_cmd bounds = *cmd;
        bounds.label_len = 0;
        seq_span want;
        seqSpanInit(&want, &bounds);
        bool same = q->def_min == cmd->min && q->def_max == cmd->max && had == asks &&
                    q->mode == cmd->mode && q->cache == cmd->cache && q->warn == cmd->warn &&
                    q->ranges[0].not_before == want.not_before &&
                    q->ranges[0].not_after == want.not_after && seqSameDoc(q, cmd);
        return same ? SEQ_OK : SEQ_ERR_EXISTS;
    }
    /* A name that had periods keeps their kind and offset for good: its
     * tombstone's period and burned numbers are counted in them, and a
     * series of another kind (or none) in between would lose them. */
    if (q != NULL && !q->live && q->period_kind != PERIOD_NONE &&
        (cmd->period_kind != q->period_kind || cmd->tz_minutes != q->tz_minutes)) {
        return SEQ_ERR_PERIOD_FIXED;
    }
    if (q == NULL) {
        if (s->n_sequences >= SEQ_SEQUENCES_MAX) {
            return SEQ_ERR_TOO_MANY;
        }
        q = seq_sequence_add(s, cmd->name, cmd->name_len);
    }
    q->live = true;
    q->incarnation = ++s->incarnations;
    q->def_min = cmd->min;
    q->def_max = cmd->max;
    q->def_has_start = cmd->has_start;
    q->def_start = cmd->has_start ? cmd->start : 0;
    q->mode = cmd->mode;
    q->cache = cmd->cache;
    q->warn = cmd->warn;
    q->warned = false;
    q->grants = 0;
    /* A tombstone decoded from a snapshot still owns an empty array. */
    free(q->ranges);
    q->ranges = seq_xmalloc(sizeof(seq_span));
    seqSpanInit(&q->ranges[0], cmd);
    if (cmd->has_start) {
        q->ranges[0].next = cmd->start;
    }
    q->n_ranges = 1;
    q->cur = 0;
    q->issued = 0;
    /* A name's periods never go back: a tombstone's period holds, and its
     * burned numbers count only in that period (a later one numbers anew). */
    bool was_periodic = q->period_kind != PERIOD_NONE; /* and of this kind: checked above */
    int64_t before = q->period;
    q->period_kind = cmd->period_kind;
    q->tz_minutes = cmd->tz_minutes;
    q->period = 0;
    if (q->period_kind != PERIOD_NONE) {
        q->period = period_of(s->clock_ms, q->period_kind, q->tz_minutes);
        if (was_periodic && q->period > before) {
            free(q->burned); /* numbers of an earlier period: this one numbers anew */
            q->burned = NULL;
            q->n_burned = 0;
        } else if (was_periodic) {
            q->period = before;
        }
        /* a plain incarnation's burned numbers stay burned: never issued again */
    }
    if (cmd->format_len > 0) {
        seqDocFormatPush(q, cmd->format, cmd->format_len);
    }
    memset(q->rate_minute, 0, sizeof(q->rate_minute));
    memset(q->rate_count, 0, sizeof(q->rate_count));
    s->n_live++;
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}

int seqAddRange(seq_state *s, const seq_cmd *cmd)
{
    int rv = seqCheckRangeCmd(cmd);
    if (rv == SEQ_OK) {
        rv = seqCheckDocCmd(cmd);
    }
    if (rv != SEQ_OK) {
        return rv;
    }
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    for (size_t i = 0; i < q->n_ranges; i++) {
        if (seqOverlap(cmd->min, cmd->max, q->ranges[i].min, q->ranges[i].max)) {
            return SEQ_ERR_OVERLAP;
        }
    }
    if (q->n_ranges >= SEQ_RANGES_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    seq_span *grown = seq_xrealloc(q->ranges, sizeof(*grown) * (q->n_ranges + 1));
    q->ranges = grown;
    seqSpanInit(&q->ranges[q->n_ranges], cmd);
    q->n_ranges++;
    seqPeriodAddRange(q);
    if (q->warned && seqLeft(q, seqNow(s)) > q->warn) {
        q->warned = false;
    }
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}

int seqDrop(seq_state *s, const seq_cmd *cmd)
{
    assert(cmd->op == SEQ_OP_DROP);
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int rv = seqBurnHistory(q);
    if (rv != SEQ_OK) {
        return rv;
    }
    /* The burned history now covers every number the ledger and the block
     * held. Permanent keys of this incarnation can never match again (the
     * next CREATE has a new incarnation): free them. */
    if (q->mode == SEQ_MODE_GAPLESS) {
        seqPkeysDropIncarnation(s, q->incarnation);
    }
    seqLedgerClear(q);
    free(q->block);
    q->block = NULL;
    q->n_block = 0;
    seqSpansFree(q);
    seqPeriodFree(q);
    seqDocFree(q);
    q->cur = 0;
    q->issued = 0;
    q->live = false;
    q->warned = false;
    s->n_live--;
    assert(seq_sequence_valid(q));
    return SEQ_OK;
}
