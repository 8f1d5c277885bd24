/* seq_doc — document numbers in the state machine: a sequence's formats
 * (CREATE ... FORMAT, SETFORMAT), the labels of its ranges, the texts of
 * NEXT ... TEXT, RENDER and PARSE. Keeps: a number prints by the format in
 * force when the cursor first reached it, for the sequence's whole life
 * (formats are only ever added, never changed or removed); a number whose
 * format's mod11:skip check has no digit is never issued (the take plan
 * passes over it, and GAPS and LOOKUP list it as skipped, derived from the
 * format rather than stored). Everything here is a function of the state
 * and the command (doc_format.c does the printing). */
#include "seq_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_digit.h"
#include "period.h"

_Static_assert(sizeof(((seq_range_info *)0)->label) == DOC_LABEL_MAX + 1,
               "seq.h's label room is doc_format.h's label length");

/* Whether number v of range i, in period, is at or after format d's marks. */
static bool seqDocFrom(const seq_doc_format *d, int64_t period, size_t i, int64_t v)
{
    if (period != d->from_period) {
        return period > d->from_period;
    }
    if (i >= d->n_marks) {
        return true; /* a range added after the format: all of it */
    }
    return !d->marks[i].full && v >= d->marks[i].next;
}

/* The first number of range i that format d covers in period (false:
 * none). */
static bool seqDocStart(const seq_sequence *q, const seq_doc_format *d, int64_t period, size_t i,
                        int64_t *start)
{
    if (period != d->from_period || i >= d->n_marks) {
        *start = seqSpanLow(q, i);
        return period >= d->from_period;
    }
    *start = d->marks[i].next;
    return !d->marks[i].full && d->marks[i].next <= q->ranges[i].max;
}

bool seqDocCovers(const seq_sequence *q, size_t k, size_t i, int64_t *first, int64_t *last)
{
    assert(k < q->n_formats && i < q->n_ranges);
    if (!seqDocStart(q, &q->formats[k], q->period, i, first)) {
        return false;
    }
    *last = q->ranges[i].max;
    /* the next format's start ends it (formats' starts only grow); a next
     * format that covers nothing of range i leaves it the rest */
    int64_t next_start;
    if (k + 1 < q->n_formats && seqDocStart(q, &q->formats[k + 1], q->period, i, &next_start)) {
        if (next_start <= *first) {
            return false;
        }
        *last = next_start - 1;
    }
    return true;
}

static const seq_doc_format *seqDocFormatAt(const seq_sequence *q, int64_t period, size_t i,
                                            int64_t v)
{
    for (size_t k = q->n_formats; k-- > 0;) {
        if (seqDocFrom(&q->formats[k], period, i, v)) {
            return &q->formats[k];
        }
    }
    return NULL;
}

const seq_doc_format *seqDocFormatOf(const seq_sequence *q, size_t i, int64_t v)
{
    return seqDocFormatAt(q, q->period, i, v);
}

/* {n}: how a number prints without a format (into the caller's f). */
static const doc_format *seqDocPlain(doc_format *f)
{
    const char *why;
    int rv = doc_format_parse("{n}", 3, f, &why);
    assert(rv == 0);
    (void)rv;
    return f;
}

/* Prints v of range i in period by f into out; its length, or -1 (skipped). */
static int seqDocPrint(const seq_sequence *q, const doc_format *f, int64_t period, size_t i,
                       int64_t v, char *out)
{
    char ptext[PERIOD_TEXT_MAX];
    size_t plen = q->period_kind != PERIOD_NONE ? period_text(period, q->period_kind, ptext) : 0;
    const char *label = i < q->n_ranges ? q->ranges[i].label : NULL;
    doc_parts parts = {v, plen > 0 ? ptext : NULL, plen, label, label != NULL ? strlen(label) : 0,
                       q->name, q->name_len};
    return doc_render(f, &parts, out, NULL, NULL);
}

/* The document number of v (range i, period) into out; -1 when skipped. */
static int seqDocRender(const seq_sequence *q, int64_t period, size_t i, int64_t v, char *out)
{
    const seq_doc_format *d = seqDocFormatAt(q, period, i, v);
    doc_format plain;
    return seqDocPrint(q, d != NULL ? &d->parsed : seqDocPlain(&plain), period, i, v, out);
}

bool seqDocSkips(const seq_sequence *q, size_t i, int64_t v)
{
    const seq_doc_format *d = seqDocFormatOf(q, i, v);
    if (d == NULL || !d->parsed.skips) {
        return false;
    }
    char out[DOC_TEXT_MAX + 1];
    return seqDocPrint(q, &d->parsed, q->period, i, v, out) < 0;
}

bool seqDocMaySkip(const seq_sequence *q)
{
    return q->n_formats > 0 && q->formats[q->n_formats - 1].parsed.skips;
}

bool seqIssuedDoc(const seq_sequence *q, int64_t v)
{
    if (!seq_issued(q, v)) {
        return false;
    }
    long i = q->n_formats > 0 ? seqSpanOf(q, v) : -1;
    return i < 0 || !seqDocSkips(q, (size_t)i, v);
}

int seqDocFormatCheck(const seq_cmd *cmd, const char *text, size_t len, uint8_t period_kind)
{
    (void)cmd;
    doc_format f;
    const char *why;
    if (doc_format_parse(text, len, &f, &why) != 0 ||
        (f.has_period && period_kind == PERIOD_NONE)) {
        return SEQ_ERR_FORMAT;
    }
    return SEQ_OK;
}

void seqDocFormatPush(seq_sequence *q, const char *text, size_t len)
{
    assert(q->n_formats < SEQ_FORMATS_MAX);
    q->formats = seq_xrealloc(q->formats, sizeof(*q->formats) * (q->n_formats + 1));
    seq_doc_format *d = &q->formats[q->n_formats];
    memset(d, 0, sizeof(*d));
    const char *why;
    int rv = doc_format_parse(text, len, &d->parsed, &why);
    assert(rv == 0); /* checked before */
    (void)rv;
    d->text = seqStrdup(text, len);
    d->len = len;
    if (q->n_formats == 0 && q->issued == 0 && q->n_closed == 0) {
        /* the first format of a sequence that issued nothing: all of it */
        d->from_period = INT64_MIN;
    } else {
        d->from_period = q->period;
        d->n_marks = q->n_ranges;
        d->marks = seq_xmalloc(sizeof(*d->marks) * q->n_ranges);
        for (size_t i = 0; i < q->n_ranges; i++) {
            d->marks[i].next = q->ranges[i].next;
            d->marks[i].full = q->ranges[i].full;
        }
    }
    q->n_formats++;
}

void seqDocFree(seq_sequence *q)
{
    for (size_t k = 0; k < q->n_formats; k++) {
        free(q->formats[k].text);
        free(q->formats[k].marks);
    }
    free(q->formats);
    q->formats = NULL;
    q->n_formats = 0;
}

void seqDocTexts(const seq_sequence *q, seq_result *out)
{
    assert(out->n_texts == 0);
    uint64_t n = 0;
    for (size_t k = 0; k < out->n_runs; k++) {
        n += (uint64_t)out->runs[k].last - (uint64_t)out->runs[k].first + 1;
    }
    assert(n >= 1 && n <= SEQ_TEXT_COUNT_MAX);
    /* one allocation per result: the pointers, then room for every text
     * (at most 1,000 of DOC_TEXT_MAX bytes: 431 kB for the largest) */
    char **texts = seq_xmalloc(n * (sizeof(char *) + DOC_TEXT_MAX + 1));
    char *at = (char *)(texts + n);
    int64_t period = out->has_period ? out->period : q->period;
    for (size_t k = 0; k < out->n_runs; k++) {
        long i = seqSpanOf(q, out->runs[k].first);
        for (int64_t v = out->runs[k].first;; v++) {
            int len = seqDocRender(q, period, i < 0 ? 0 : (size_t)i, v, at);
            if (len < 0) {
                /* cannot happen (an issued number has a document number), but
                 * an assert here would stop every replica on this entry */
                doc_format plain;
                len = doc_render(seqDocPlain(&plain), &(doc_parts){.n = v}, at, NULL, NULL);
            }
            texts[out->n_texts++] = at;
            at += (len < 0 ? 0 : (size_t)len) + 1;
            if (v == out->runs[k].last) {
                break;
            }
        }
    }
    out->texts = texts;
}

int seqSetFormat(seq_state *s, const seq_cmd *cmd)
{
    seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    int rv = seqDocFormatCheck(cmd, cmd->format, cmd->format_len, q->period_kind);
    if (rv != SEQ_OK) {
        return rv;
    }
    const seq_doc_format *last = q->n_formats > 0 ? &q->formats[q->n_formats - 1] : NULL;
    if (last != NULL && last->len == cmd->format_len && memcmp(last->text, cmd->format, last->len) == 0) {
        return SEQ_OK; /* the same again: nothing changes (a retry) */
    }
    if (q->n_formats == SEQ_FORMATS_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    seqDocFormatPush(q, cmd->format, cmd->format_len);
    return SEQ_OK;
}

/* RENDER in the period swapped in. */
static int seqRenderHere(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    assert(q != NULL);
    long i = seqSpanOf(q, cmd->min);
    if (i < 0 || !seq_issued(q, cmd->min) || seqInBlock(q, cmd->min)) {
        return SEQ_ERR_NOTISSUED;
    }
    char text[DOC_TEXT_MAX + 1];
    int len = seqDocRender(q, q->period, (size_t)i, cmd->min, text);
    if (len < 0) {
        return SEQ_ERR_SKIPPED;
    }
    out->text = seqStrdup(text, (size_t)len);
    out->has_period = q->period_kind != PERIOD_NONE;
    out->period = q->period;
    out->period_kind = q->period_kind;
    out->number = cmd->min;
    return SEQ_OK;
}

int seqRender(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (seqFindLive(s, cmd->name, cmd->name_len) == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    return seqInPeriod(s, cmd, seqRenderHere, out);
}

/* PARSE: one pass over the readings of a text; the exact one is taken,
 * and of the others the best verdict is kept (a wrong check digit in the
 * ranges, then a number outside them), so every format is matched once. */
enum { PARSE_NONE = 0, PARSE_OUTSIDE = 1, PARSE_BAD_CHECK = 2 };

typedef struct seq_parse_try {
    const seq_sequence *q;
    const doc_format *f;
    const seq_doc_format *d; /* NULL: the plain format */
    const char *text;
    size_t len;
    int best;       /* the best verdict seen short of an exact reading */
    int64_t period; /* of the exact reading */
} seq_parse_try;

static bool seqParseAccept(void *ctx, const doc_found *found)
{
    seq_parse_try *t = ctx;
    const seq_sequence *q = t->q;
    int64_t period = q->period;
    if (found->period != NULL &&
        !period_parse(found->period, found->period_len, q->period_kind, &period)) {
        return false;
    }
    long i = seqSpanOf(q, found->n);
    /* in range: only the format that prints that number there */
    if (i >= 0 && seqDocFormatAt(q, period, (size_t)i, found->n) != t->d) {
        return false;
    }
    char ptext[PERIOD_TEXT_MAX];
    size_t plen = q->period_kind != PERIOD_NONE ? period_text(period, q->period_kind, ptext) : 0;
    const char *label = i >= 0 ? q->ranges[i].label : NULL;
    doc_parts parts = {found->n, plen > 0 ? ptext : NULL, plen, label,
                       label != NULL ? strlen(label) : 0, q->name, q->name_len};
    int verdict = doc_diagnose(t->f, &parts, t->text, t->len);
    if (verdict == DOC_EXACT && i >= 0) {
        t->period = period;
        return true;
    }
    int seen = i < 0 && (verdict == DOC_EXACT || verdict == DOC_BAD_CHECK) ? PARSE_OUTSIDE
               : verdict == DOC_BAD_CHECK && i >= 0                        ? PARSE_BAD_CHECK
                                                                           : PARSE_NONE;
    t->best = seen > t->best ? seen : t->best;
    return false;
}

/* The formats a text may be printed by: newest first, then the plain
 * {n} when some numbers were issued before the first format. */
static size_t seqParseFormats(const seq_sequence *q, const seq_doc_format **out)
{
    size_t n = 0;
    for (size_t k = q->n_formats; k-- > 0;) {
        out[n++] = &q->formats[k];
    }
    if (q->n_formats == 0 || q->formats[0].from_period != INT64_MIN) {
        out[n++] = NULL;
    }
    return n;
}

static int seqLookupHere(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    return seqLookup(s, cmd, out);
}

int seqParse(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL) {
        return SEQ_ERR_NOSEQ;
    }
    if (cmd->text == NULL || cmd->text_len == 0 || cmd->text_len > DOC_TEXT_MAX) {
        return SEQ_ERR_NOT_FORMAT;
    }
    const seq_doc_format *formats[SEQ_FORMATS_MAX + 1];
    size_t n_formats = seqParseFormats(q, formats);
    int shape = q->period_kind == PERIOD_MONTHLY  ? DOC_PERIOD_MONTH
                : q->period_kind == PERIOD_YEARLY ? DOC_PERIOD_YEAR
                                                  : DOC_PERIOD_NONE;
    int best = PARSE_NONE;
    for (size_t k = 0; k < n_formats; k++) {
        doc_format plain;
        seq_parse_try t = {q, formats[k] != NULL ? &formats[k]->parsed : seqDocPlain(&plain),
                           formats[k], cmd->text, cmd->text_len, PARSE_NONE, 0};
        doc_found found;
        int matched = doc_match(t.f, shape, q->name, q->name_len, cmd->text, cmd->text_len,
                                seqParseAccept, &t, &found);
        best = t.best > best ? t.best : best;
        if (matched != 0) {
            continue;
        }
        /* the number's state in its period, as LOOKUP tells it */
        seq_cmd look = *cmd;
        look.op = SEQ_OP_LOOKUP;
        look.min = found.n;
        look.has_period = q->period_kind != PERIOD_NONE;
        look.period_kind = q->period_kind;
        look.period = t.period;
        int rv = SEQ_OK;
        if (t.period > seqPeriodNow(s, q) && look.has_period) {
            /* a period still to come: nothing issued in it, nothing known */
            out->state = SEQ_NUM_NOT_ISSUED;
            out->time_ms = INT64_MIN;
            out->until_ms = INT64_MAX;
        } else {
            rv = seqInPeriod(s, &look, seqLookupHere, out);
        }
        if (rv != SEQ_OK) {
            return rv;
        }
        out->number = found.n;
        out->has_period = look.has_period;
        out->period = t.period;
        out->period_kind = q->period_kind;
        out->text = seqStrdup(cmd->text, cmd->text_len);
        return SEQ_OK;
    }
    return best == PARSE_BAD_CHECK ? SEQ_ERR_BAD_CHECK
           : best == PARSE_OUTSIDE ? SEQ_ERR_OUTSIDE
                                   : SEQ_ERR_NOT_FORMAT;
}

int seqLookupAnyForm(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    const seq_sequence *q = seqFindLive(s, cmd->name, cmd->name_len);
    if (q == NULL || cmd->has_period || q->n_formats == 0 || seqSpanOf(q, cmd->min) >= 0) {
        return seqInPeriod(s, cmd, seqLookupHere, out);
    }
    /* outside the ranges: perhaps the printed form of a digits-only
     * format (an integer argument is written canonically, so its decimal
     * is the text the caller typed) */
    char text[24];
    int len = snprintf(text, sizeof(text), "%" PRId64, cmd->min);
    assert(len > 0 && (size_t)len < sizeof(text));
    seq_cmd parse = *cmd;
    parse.op = SEQ_OP_PARSE;
    parse.text = text;
    parse.text_len = (size_t)len;
    int rv = seqParse(s, &parse, out);
    if (rv == SEQ_ERR_NOT_FORMAT || rv == SEQ_ERR_BAD_CHECK || rv == SEQ_ERR_OUTSIDE) {
        /* not a document number (PARSE wrote nothing): LOOKUP's answer */
        return seqInPeriod(s, cmd, seqLookupHere, out);
    }
    return rv;
}

int seq_render_current(const seq_state *s, const char *name, size_t len, int64_t v, char *out)
{
    const seq_sequence *q = seqFindLive(s, name, len);
    long i = q != NULL ? seqSpanOf(q, v) : -1;
    if (i < 0 || !seq_issued(q, v)) {
        return -1;
    }
    return seqDocRender(q, q->period, (size_t)i, v, out);
}
