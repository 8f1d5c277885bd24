/* seq — the entry point of the sequence state machine (seq_apply), and
 * what every concept file shares: memory that never fails, the validation
 * of names, keys and reasons, results, the state itself and its clocks.
 * See seq.h for the guarantees and seq_internal.h for the invariants of the
 * data; each command lives in the file of its concept.
 *
 * Arithmetic at the int64 edges: a range may span the whole int64 domain
 * (2^64 numbers), so widths and offsets are computed in uint64 as
 * differences, never as max - min + 1, and totals in unsigned __int128.
 * A failed command returns before the first change to the state. */
#include "seq_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *seq_xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        /* A replica that skipped a command would diverge: stop instead. */
        fprintf(stderr, "seq: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

void *seq_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL) {
        fprintf(stderr, "seq: out of memory (%zu x %zu bytes)\n", n, size);
        abort();
    }
    return p;
}

void *seq_xrealloc(void *p, size_t n)
{
    void *grown = realloc(p, n == 0 ? 1 : n);
    if (grown == NULL) {
        fprintf(stderr, "seq: out of memory (%zu bytes)\n", n);
        abort();
    }
    return grown;
}

const char *seq_status_text(int status)
{
    switch (status) {
    case SEQ_OK: return "OK";
    case SEQ_ERR_NAME: return "ERR invalid sequence name (1-200 printable ASCII bytes, no spaces)";
    case SEQ_ERR_KEY: return "ERR invalid key (1-200 printable ASCII bytes, no spaces)";
    case SEQ_ERR_RANGE: return "ERR invalid range: min must not exceed max and START must lie in [min, max]";
    case SEQ_ERR_COUNT: return "ERR COUNT must be between 1 and 1000000";
    case SEQ_ERR_EXISTS: return "EXISTS sequence exists with a different definition";
    case SEQ_ERR_NOSEQ: return "NOSEQ no such sequence";
    case SEQ_ERR_OVERLAP: return "ERR range overlaps a range of the sequence";
    case SEQ_ERR_EXHAUSTED: return "EXHAUSTED not enough numbers left in the sequence's ranges";
    case SEQ_ERR_TOO_MANY: return "ERR limit reached (ranges or formats per sequence, sequences, history intervals, or ledger runs)";
    case SEQ_ERR_KEYS_FULL: return "ERR idempotency key table is full, retry later or without KEY";
    case SEQ_ERR_KEY_REUSED: return "ERR key was used before with a different COUNT";
    case SEQ_ERR_BADCMD: return "ERR unknown command in log entry";
    case SEQ_ERR_NOTISSUED: return "ERR the sequence has not issued that number";
    case SEQ_ERR_REASON: return "ERR invalid reason (1-200 printable ASCII bytes, spaces allowed)";
    case SEQ_ERR_MODE: return "ERR the command does not apply to the sequence's mode";
    case SEQ_ERR_NOTRESERVED: return "ERR the number is not reserved";
    case SEQ_ERR_EXPIRED: return "ERR the reservation ran out (its TTL passed); RESERVE again";
    case SEQ_ERR_TTL: return "ERR TTL must be between 1 and 2592000 seconds";
    case SEQ_ERR_WINDOW: return "ERR NOTBEFORE must not be later than NOTAFTER";
    case SEQ_ERR_CACHED: return "ERR the number is in the leader's cache block and was not served yet";
    case SEQ_ERR_KEY_VOIDED: return "ERR the number this KEY got was voided";
    case SEQ_ERR_KEY_MISMATCH: return "ERR the number is not held by that KEY (its reservation may have run out and gone to another caller)";
    case SEQ_ERR_STALE: return "TRYAGAIN the sequence was dropped and created again meanwhile";
    case SEQ_ERR_USER: return "ERR invalid user name (1-64 printable ASCII bytes, no spaces)";
    case SEQ_ERR_NOUSER: return "ERR no such user";
    case SEQ_ERR_ACL_RULE: return "ERR invalid ACL rule";
    case SEQ_ERR_ACL_DEFAULT: return "ERR The 'default' user cannot be removed";
    case SEQ_ERR_FORMAT: return "ERR invalid FORMAT for this sequence ({period} needs a sequence with a PERIOD)";
    case SEQ_ERR_LABEL: return "ERR invalid LABEL (1-64 printable ASCII bytes)";
    case SEQ_ERR_PERIOD: return "ERR no such period: the sequence has no periods, or that one has not begun";
    case SEQ_ERR_NOT_FORMAT: return "NOTFORMAT not this sequence's document number format";
    case SEQ_ERR_BAD_CHECK: return "BADCHECK wrong check digit";
    case SEQ_ERR_OUTSIDE: return "OUTSIDE the number lies outside the sequence's ranges";
    case SEQ_ERR_PERIOD_FIXED: return "ERR a sequence that had periods is created again only with the same PERIOD and TZ (its periods never go back)";
    case SEQ_ERR_SKIPPED: return "ERR the number has no document number: its check has no digit, so the sequence skips it";
    default: return "ERR unknown error";
    }
}

static bool seqPrintable(const char *p, size_t len, size_t max)
{
    if (p == NULL || len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

bool seq_name_valid(const char *name, size_t len)
{
    return seqPrintable(name, len, SEQ_NAME_MAX);
}

bool seq_key_valid(const char *key, size_t len)
{
    return seqPrintable(key, len, SEQ_KEY_MAX);
}

bool seq_reason_valid(const char *reason, size_t len)
{
    if (reason == NULL || len == 0 || len > SEQ_REASON_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)reason[i];
        if (c < 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

char *seqStrdup(const char *p, size_t len)
{
    assert(p != NULL || len == 0);
    char *d = seq_xmalloc(len + 1);
    memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

void seq_result_free(seq_result *r)
{
    assert(r != NULL);
    if (r->runs != &r->run_inline) {
        free(r->runs);
    }
    free(r->name);
    free(r->ranges);
    for (size_t i = 0; i < r->n_names; i++) {
        free(r->names[i]);
    }
    free(r->names);
    for (size_t i = 0; i < r->n_ledger; i++) {
        free(r->ledger[i].reason);
    }
    free(r->ledger);
    free(r->reason);
    free(r->key);
    free(r->texts);
    free(r->text);
    free(r->format);
    memset(r, 0, sizeof(*r));
}

seq_state *seq_state_new(void)
{
    seq_state *s = seq_xcalloc(1, sizeof(*s));
    s->keys_max = SEQ_KEYS_MAX_DEFAULT;
    s->clock_ms = INT64_MIN;
    seqUserAdd(s, seqUserNew(SEQ_USER_DEFAULT, strlen(SEQ_USER_DEFAULT), true));
    return s;
}

void seq_state_free(seq_state *s)
{
    if (s == NULL) {
        return;
    }
    seq_key_entry *e, *etmp;
    HASH_CLEAR(hn, s->keys_by_number);
    HASH_ITER(hh, s->keys, e, etmp)
    {
        HASH_DEL(s->keys, e);
        seqKeyFree(e);
    }
    seq_sequence *q, *qtmp;
    HASH_ITER(hh, s->by_name, q, qtmp)
    {
        HASH_DEL(s->by_name, q);
        seqSequenceFree(q);
    }
    seq_user *u, *utmp;
    HASH_ITER(hh, s->users, u, utmp)
    {
        HASH_DEL(s->users, u);
        seqUserFree(u);
    }
    free(s);
}

size_t seq_count_live(const seq_state *s)
{
    return s->n_live;
}

size_t seq_count_keys(const seq_state *s)
{
    return s->n_keys;
}

size_t seq_count_pkeys(const seq_state *s)
{
    return s->n_pkeys;
}

int64_t seq_clock_ms(const seq_state *s)
{
    return s->clock_ms;
}

int64_t seq_elapsed_ms(const seq_state *s)
{
    return s->elapsed_ms;
}

void seq_stamp_entry(seq_state *s, const seq_stamp *st)
{
    assert(s != NULL && st != NULL);
    int64_t elapsed_before = s->elapsed_ms;
    bool same = s->stamped && st->origin == s->stamp_origin;
    if (same && st->mono_ms > s->stamp_mono_ms) {
        /* in uint64: the difference of two int64 may not fit in one */
        uint64_t step = (uint64_t)st->mono_ms - (uint64_t)s->stamp_mono_ms;
        uint64_t room = (uint64_t)INT64_MAX - (uint64_t)s->elapsed_ms;
        s->elapsed_ms = step >= room ? INT64_MAX : s->elapsed_ms + (int64_t)step;
    }
    if (!same || st->mono_ms > s->stamp_mono_ms) {
        s->stamp_mono_ms = st->mono_ms;
    }
    /* The wall clock is the stamp's, up or down: a clock error lasts no
     * longer than the clock that had it (nothing kept depends on the wall
     * clock growing: TTLs and retention run on the elapsed clock). */
    s->clock_ms = st->wall_ms;
    s->stamp_origin = st->origin;
    s->stamped = true;
    s->keys_max = st->keys_max;
    seqKeysExpire(s, st->retention_ms < 0 ? 0 : st->retention_ms);
    assert(s->elapsed_ms >= elapsed_before); /* the elapsed clock never goes back */
}

void seq_tick(seq_state *s, int64_t now_ms, int64_t retention_ms)
{
    if (s->stamped && now_ms < s->clock_ms) {
        now_ms = s->clock_ms; /* one clock that never goes back, as documented */
    }
    seq_stamp st = {
        .wall_ms = now_ms,
        .mono_ms = now_ms,
        .origin = 0,
        .retention_ms = retention_ms,
        .keys_max = s->keys_max,
    };
    seq_stamp_entry(s, &st);
}


seq_now seqNow(const seq_state *s)
{
    return (seq_now){s->clock_ms, s->elapsed_ms};
}

int64_t seqWallOf(seq_now now, int64_t el)
{
    __int128 w = (__int128)now.wall + ((__int128)el - now.el);
    return w > INT64_MAX ? INT64_MAX : w < INT64_MIN ? INT64_MIN : (int64_t)w;
}

/* The commands that may run in an earlier period (seqInPeriod), in its
 * signature. */
static int seqDescribeAny(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    return seqDescribe(s, cmd, out);
}

static int seqGapsAny(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    return seqGaps(s, cmd, out);
}

static int seqConfirmAny(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    (void)out;
    return seqConfirm(s, cmd);
}

static int seqUndeliveredAny(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    (void)out;
    return seqUndelivered(s, cmd);
}

static int seqReleaseAny(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    (void)out;
    return seqRelease(s, cmd);
}

int seq_apply(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    assert(s != NULL && cmd != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->op = cmd->op;
    out->opens_ms = INT64_MAX;
    int rv;
    bool names_user = cmd->op >= SEQ_OP_ACL_SETUSER && cmd->op <= SEQ_OP_ACL_USERS;
    if (cmd->op != SEQ_OP_LIST && cmd->op != SEQ_OP_RECOVER && !names_user &&
        !seq_name_valid(cmd->name, cmd->name_len)) {
        out->status = SEQ_ERR_NAME;
        return out->status;
    }
    bool on_sequence = cmd->op != SEQ_OP_LIST && cmd->op != SEQ_OP_RECOVER && !names_user &&
                       cmd->op != SEQ_OP_CREATE;
    seq_sequence *q = on_sequence ? seqFindLive(s, cmd->name, cmd->name_len) : NULL;
    if (q != NULL) {
        seqPeriodCatchUp(s, q); /* the entry's clock may have closed its period */
        seqSettleSkipped(q);
    }
    bool handled = false;
    if (cmd->op == SEQ_OP_NEXT && cmd->text_reply && cmd->count > SEQ_TEXT_COUNT_MAX) {
        rv = SEQ_ERR_COUNT; /* each number a string: a lower cap */
        goto done;
    }
    if (q != NULL && (cmd->op == SEQ_OP_NEXT || cmd->op == SEQ_OP_RESERVE)) {
        rv = seqKeyedElsewhere(s, q, cmd, cmd->op == SEQ_OP_RESERVE, out, &handled);
        if (handled) {
            goto done;
        }
    }
    switch (cmd->op) {
    case SEQ_OP_CREATE: rv = seqCreate(s, cmd); break;
    case SEQ_OP_ADDRANGE: rv = seqAddRange(s, cmd); break;
    case SEQ_OP_NEXT: rv = seqNext(s, cmd, out); break;
    case SEQ_OP_DESCRIBE: rv = seqInPeriod(s, cmd, seqDescribeAny, out); break;
    case SEQ_OP_LIST: rv = seqList(s, cmd, out); break;
    case SEQ_OP_DROP: rv = seqDrop(s, cmd); break;
    case SEQ_OP_VOID: rv = seqVoid(s, cmd); break;
    case SEQ_OP_GAPS: rv = seqInPeriod(s, cmd, seqGapsAny, out); break;
    case SEQ_OP_LOOKUP: rv = seqLookupAnyForm(s, cmd, out); break;
    case SEQ_OP_LOOKUP_KEY: rv = seqLookupKey(s, cmd, out); break;
    case SEQ_OP_RESERVE: rv = seqReserve(s, cmd, out); break;
    case SEQ_OP_CONFIRM: rv = seqInPeriod(s, cmd, seqConfirmAny, out); break;
    case SEQ_OP_RELEASE: rv = seqInPeriod(s, cmd, seqReleaseAny, out); break;
    case SEQ_OP_ALLOCBLOCK: rv = seqAllocBlock(s, cmd, out); break;
    case SEQ_OP_USED: rv = seqUsed(s, cmd); break;
    case SEQ_OP_RECOVER: rv = seqRecover(s, cmd); break;
    case SEQ_OP_UNDELIVERED:
        /* A report must name its numbers' period: without one, after a
         * boundary, they would be read as the new period's. The numbers
         * then stay final (a gap is never worse than a number issued twice). */
        rv = q != NULL && q->period_kind != 0 && !cmd->has_period
                 ? SEQ_OK
                 : seqInPeriod(s, cmd, seqUndeliveredAny, out);
        break;
    case SEQ_OP_SERVED: rv = seqServed(s, cmd); break;
    case SEQ_OP_ACL_SETUSER: rv = seqAclSetUser(s, cmd); break;
    case SEQ_OP_ACL_DELUSER: rv = seqAclDelUser(s, cmd, out); break;
    case SEQ_OP_ACL_GETUSER: rv = seqAclGetUser(s, cmd, out); break;
    case SEQ_OP_ACL_LIST: rv = seqAclList(s, true, out); break;
    case SEQ_OP_ACL_USERS: rv = seqAclList(s, false, out); break;
    case SEQ_OP_SETFORMAT: rv = seqSetFormat(s, cmd); break;
    case SEQ_OP_RENDER: rv = seqRender(s, cmd, out); break;
    case SEQ_OP_PARSE: rv = seqParse(s, cmd, out); break;
    default: rv = SEQ_ERR_BADCMD; break;
    }
done:
    if (rv == SEQ_OK && q != NULL && (cmd->op == SEQ_OP_NEXT || cmd->op == SEQ_OP_RESERVE)) {
        if (!out->has_period && q->period_kind != 0) {
            out->has_period = true;
            out->period = q->period;
        }
        out->period_kind = q->period_kind;
        if (cmd->text_reply && cmd->op == SEQ_OP_NEXT) {
            seqDocTexts(q, out);
        }
    }
    out->status = rv;
    assert(rv == SEQ_OK || out->n_runs == 0); /* a failed command hands out nothing */
#ifdef SEQ_CHECK_INVARIANTS
    seqCheckAfterApply(s, cmd->op);
#endif
    return rv;
}
