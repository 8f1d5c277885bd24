/* doc_format — document number formats: parsing a format, printing a
 * number by it, and finding a number in a printed text (see doc_format.h).
 * Keeps: a parsed format has exactly one {n}, at most one of every other
 * placeholder, a check only after {n}, and prints at most DOC_TEXT_MAX
 * bytes. */
#include "doc_format.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check_digit.h"

#define DOC_MATCH_STEPS_MAX 100000 /* a bound on the backtracking of doc_match */

static bool docPrintable(char c)
{
    return c >= 0x20 && c < 0x7f;
}

bool doc_label_valid(const char *p, size_t len)
{
    if (p == NULL || len == 0 || len > DOC_LABEL_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!docPrintable(p[i])) {
            return false;
        }
    }
    return true;
}

static bool docWordIs(const char *p, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(p, word, len) == 0;
}

/* {check:ALG[:RULE][:all]}: body is what follows "check:". */
static int docParseCheck(const char *body, size_t len, doc_token *t, const char **why)
{
    const char *parts[4];
    size_t lens[4], n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || body[i] == ':') {
            if (n == 4) {
                *why = "too many options in {check:...}";
                return -1;
            }
            parts[n] = body + start;
            lens[n++] = i - start;
            start = i + 1;
        }
    }
    t->kind = DOC_CHECK;
    t->alg = (uint8_t)check_alg_named(parts[0], lens[0]);
    if (t->alg == CHECK_NONE) {
        *why = "unknown check algorithm (luhn, verhoeff, damm, mod97, mod11)";
        return -1;
    }
    bool has_rule = false;
    for (size_t i = 1; i < n; i++) {
        if (docWordIs(parts[i], lens[i], "all") && !t->over_all) {
            t->over_all = true;
        } else if (t->alg == CHECK_MOD11 && !has_rule && docWordIs(parts[i], lens[i], "skip")) {
            t->none_char = 0;
            has_rule = true;
        } else if (t->alg == CHECK_MOD11 && !has_rule && lens[i] == 1 &&
                   docPrintable(parts[i][0]) && parts[i][0] != ' ') {
            t->none_char = parts[i][0];
            has_rule = true;
        } else {
            *why = "bad option in {check:...} (:all, and for mod11 :skip or one character)";
            return -1;
        }
    }
    if (t->alg == CHECK_MOD11 && !has_rule) {
        *why = "mod11 must say what a remainder of 10 prints: {check:mod11:skip}, "
               "{check:mod11:X} or {check:mod11:-}";
        return -1;
    }
    return 0;
}

/* One placeholder's body (between the braces) into t. */
static int docParsePlaceholder(const char *body, size_t len, doc_token *t, const char **why)
{
    memset(t, 0, sizeof(*t));
    if (docWordIs(body, len, "n")) {
        t->kind = DOC_NUMBER;
    } else if (len > 2 && memcmp(body, "n:", 2) == 0) {
        unsigned w = 0;
        for (size_t i = 2; i < len; i++) {
            if (body[i] < '0' || body[i] > '9' || w > DOC_WIDTH_MAX) {
                w = DOC_WIDTH_MAX + 1;
                break;
            }
            w = w * 10 + (unsigned)(body[i] - '0');
        }
        if (w < 1 || w > DOC_WIDTH_MAX) {
            *why = "{n:W} takes a width W from 1 to 19";
            return -1;
        }
        t->kind = DOC_NUMBER;
        t->width = (uint8_t)w;
    } else if (docWordIs(body, len, "period")) {
        t->kind = DOC_PERIOD;
    } else if (docWordIs(body, len, "label")) {
        t->kind = DOC_LABEL;
    } else if (docWordIs(body, len, "name")) {
        t->kind = DOC_NAME;
    } else if (len > 6 && memcmp(body, "check:", 6) == 0) {
        return docParseCheck(body + 6, len - 6, t, why);
    } else {
        *why = "unknown placeholder (n, n:W, period, label, name, check:ALG)";
        return -1;
    }
    return 0;
}

static int docPush(doc_format *f, const doc_token *t, const char **why)
{
    if (f->n_tokens == DOC_TOKENS_MAX) {
        *why = "too many parts in the format";
        return -1;
    }
    f->tokens[f->n_tokens++] = *t;
    return 0;
}

/* Appends literal byte c (merging with a literal just before). */
static int docPushLiteral(doc_format *f, size_t *lit_len, char c, const char **why)
{
    doc_token *last = f->n_tokens > 0 ? &f->tokens[f->n_tokens - 1] : NULL;
    assert(*lit_len < DOC_FORMAT_MAX);
    f->lit[*lit_len] = c;
    if (last != NULL && last->kind == DOC_LITERAL && last->off + last->len == *lit_len) {
        last->len++;
        (*lit_len)++;
        return 0;
    }
    doc_token t = {.kind = DOC_LITERAL, .off = (uint16_t)*lit_len, .len = 1};
    (*lit_len)++;
    return docPush(f, &t, why);
}

int doc_format_parse(const char *text, size_t len, doc_format *f, const char **why)
{
    memset(f, 0, sizeof(*f));
    if (text == NULL || len == 0 || len > DOC_FORMAT_MAX) {
        *why = "a format is 1 to 128 bytes";
        return -1;
    }
    size_t lit_len = 0;
    unsigned seen[DOC_CHECK + 1] = {0};
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!docPrintable(c)) {
            *why = "a format is printable ASCII";
            return -1;
        }
        if ((c == '{' || c == '}') && i + 1 < len && text[i + 1] == c) {
            if (docPushLiteral(f, &lit_len, c, why) != 0) {
                return -1;
            }
            i++;
            continue;
        }
        if (c == '}') {
            *why = "a '}' without its '{' (write }} for a literal brace)";
            return -1;
        }
        if (c != '{') {
            if (docPushLiteral(f, &lit_len, c, why) != 0) {
                return -1;
            }
            continue;
        }
        const char *close = memchr(text + i + 1, '}', len - i - 1);
        if (close == NULL) {
            *why = "a '{' without its '}' (write {{ for a literal brace)";
            return -1;
        }
        doc_token t;
        if (docParsePlaceholder(text + i + 1, (size_t)(close - text - i - 1), &t, why) != 0) {
            return -1;
        }
        if (seen[t.kind]++ > 0) {
            *why = "each placeholder may appear once";
            return -1;
        }
        if (t.kind == DOC_CHECK && seen[DOC_NUMBER] == 0) {
            *why = "{check:...} must come after {n}";
            return -1;
        }
        f->has_period |= t.kind == DOC_PERIOD;
        f->has_label |= t.kind == DOC_LABEL;
        f->skips |= t.kind == DOC_CHECK && t.alg == CHECK_MOD11 && t.none_char == 0;
        if (docPush(f, &t, why) != 0) {
            return -1;
        }
        i = (size_t)(close - text);
    }
    if (seen[DOC_NUMBER] != 1) {
        *why = "a format must hold {n} (or {n:W}) once";
        return -1;
    }
    return 0;
}

/* The decimal digits of |n|, zero-padded to width, into out; their count. */
static size_t docDigits(int64_t n, unsigned width, char *out)
{
    uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    char rev[24];
    size_t k = 0;
    do {
        rev[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    while (k < width) {
        rev[k++] = '0';
    }
    for (size_t i = 0; i < k; i++) {
        out[i] = rev[k - 1 - i];
    }
    return k;
}

/* Appends p[0..len) to out at *at (DOC_TEXT_MAX bounds every format). */
static void docAppend(char *out, size_t *at, const char *p, size_t len)
{
    assert(*at + len <= DOC_TEXT_MAX);
    if (len > 0) {
        memcpy(out + *at, p, len);
    }
    *at += len;
}

/* The check characters of t over digits[0..n); 0 chars: no number. */
static size_t docCheckChars(const doc_token *t, const char *digits, size_t n, char out[2])
{
    int v = check_compute(t->alg, digits, n);
    assert(v >= 0);
    if (t->alg == CHECK_MOD97) {
        out[0] = (char)('0' + v / 10);
        out[1] = (char)('0' + v % 10);
        return 2;
    }
    if (t->alg == CHECK_MOD11 && v == CHECK_MOD11_NONE) {
        if (t->none_char == 0) {
            return 0;
        }
        out[0] = t->none_char;
        return 1;
    }
    out[0] = (char)('0' + v);
    return 1;
}

int doc_render(const doc_format *f, const doc_parts *parts, char *out, size_t *check_at,
               size_t *check_len)
{
    size_t at = 0;
    char ndigits[24];
    size_t n_ndigits = 0;
    if (check_at != NULL) {
        *check_at = 0;
        *check_len = 0;
    }
    for (size_t i = 0; i < f->n_tokens; i++) {
        const doc_token *t = &f->tokens[i];
        switch (t->kind) {
        case DOC_LITERAL: docAppend(out, &at, f->lit + t->off, t->len); break;
        case DOC_NUMBER:
            if (parts->n < 0) {
                docAppend(out, &at, "-", 1);
            }
            n_ndigits = docDigits(parts->n, t->width, ndigits);
            docAppend(out, &at, ndigits, n_ndigits);
            break;
        case DOC_PERIOD:
            docAppend(out, &at, parts->period, parts->period != NULL ? parts->period_len : 0);
            break;
        case DOC_LABEL:
            docAppend(out, &at, parts->label, parts->label != NULL ? parts->label_len : 0);
            break;
        case DOC_NAME: docAppend(out, &at, parts->name, parts->name_len); break;
        case DOC_CHECK: {
            char digits[DOC_TEXT_MAX];
            size_t nd = 0;
            if (t->over_all) {
                for (size_t k = 0; k < at; k++) {
                    if (out[k] >= '0' && out[k] <= '9') {
                        digits[nd++] = out[k];
                    }
                }
            } else {
                memcpy(digits, ndigits, n_ndigits);
                nd = n_ndigits;
            }
            char c[2];
            size_t nc = nd > 0 ? docCheckChars(t, digits, nd, c) : 0;
            if (nc == 0) {
                out[0] = '\0';
                return -1; /* mod11:skip: this number gets no document number */
            }
            if (check_at != NULL) {
                *check_at = at;
                *check_len = nc;
            }
            docAppend(out, &at, c, nc);
            break;
        }
        default: assert(!"doc_render: a token of no kind"); break;
        }
    }
    out[at] = '\0';
    return (int)at;
}

typedef struct doc_matcher {
    const doc_format *f;
    int period_shape;
    const char *name;
    size_t name_len;
    const char *text;
    size_t len;
    unsigned steps;
    doc_accept_fn accept;
    void *ctx;
    doc_found *out; /* the reading being built */
} doc_matcher;

static bool docAllDigits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
    }
    return true;
}

/* Whether p[0..n) reads as a number (optional '-', 1..19 digits, in int64). */
static bool docReadNumber(const char *p, size_t n, int64_t *v)
{
    bool neg = n > 0 && p[0] == '-';
    size_t k = n - (neg ? 1 : 0);
    if (k == 0 || k > 19 || !docAllDigits(p + (neg ? 1 : 0), k)) {
        return false;
    }
    uint64_t u = 0;
    for (size_t i = neg ? 1 : 0; i < n; i++) {
        u = u * 10 + (uint64_t)(p[i] - '0'); /* 19 digits fit in uint64 */
    }
    if (u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
        return false;
    }
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/* Tries token i at text position at and everything after it. */
static bool docMatchFrom(doc_matcher *m, size_t i, size_t at)
{
    if (++m->steps > DOC_MATCH_STEPS_MAX) {
        return false;
    }
    if (i == m->f->n_tokens) {
        return at == m->len && m->accept(m->ctx, m->out);
    }
    const doc_token *t = &m->f->tokens[i];
    size_t left = m->len - at;
    const char *p = m->text + at;
    switch (t->kind) {
    case DOC_LITERAL:
        return left >= t->len && memcmp(p, m->f->lit + t->off, t->len) == 0 &&
               docMatchFrom(m, i + 1, at + t->len);
    case DOC_NAME:
        return left >= m->name_len && memcmp(p, m->name, m->name_len) == 0 &&
               docMatchFrom(m, i + 1, at + m->name_len);
    case DOC_PERIOD: {
        size_t w = m->period_shape == DOC_PERIOD_MONTH ? 7 : 4;
        bool ok = m->period_shape != DOC_PERIOD_NONE && left >= w && docAllDigits(p, 4) &&
                  (w == 4 || (p[4] == '-' && docAllDigits(p + 5, 2)));
        if (!ok) {
            return false;
        }
        m->out->period = p;
        m->out->period_len = w;
        return docMatchFrom(m, i + 1, at + w);
    }
    case DOC_CHECK: {
        size_t w = t->alg == CHECK_MOD97 ? 2 : 1;
        return left >= w && docMatchFrom(m, i + 1, at + w);
    }
    case DOC_LABEL:
        for (size_t k = 0; k <= DOC_LABEL_MAX && k <= left; k++) {
            if (docMatchFrom(m, i + 1, at + k)) {
                return true;
            }
        }
        return false;
    case DOC_NUMBER:
        /* longest first: a number followed by a digit literal takes what it can */
        for (size_t k = left < 20 ? left : 20; k >= 1; k--) {
            int64_t v;
            if (!docReadNumber(p, k, &v)) {
                continue;
            }
            m->out->n = v;
            if (docMatchFrom(m, i + 1, at + k)) {
                return true;
            }
        }
        return false;
    default: return false;
    }
}

int doc_match(const doc_format *f, int period_shape, const char *name, size_t name_len,
              const char *text, size_t len, doc_accept_fn accept, void *ctx, doc_found *out)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL || len > DOC_TEXT_MAX) {
        return -1;
    }
    doc_matcher m = {f, period_shape, name, name_len, text, len, 0, accept, ctx, out};
    return docMatchFrom(&m, 0, 0) ? 0 : -1;
}

int doc_diagnose(const doc_format *f, const doc_parts *parts, const char *text, size_t len)
{
    char printed[DOC_TEXT_MAX + 1];
    size_t check_at, check_len;
    int n = doc_render(f, parts, printed, &check_at, &check_len);
    if (n < 0) {
        return DOC_NO_NUMBER;
    }
    if ((size_t)n != len) {
        return DOC_OTHER;
    }
    if (memcmp(printed, text, len) == 0) {
        return DOC_EXACT;
    }
    bool same_but_check = memcmp(printed, text, check_at) == 0 &&
                          memcmp(printed + check_at + check_len, text + check_at + check_len,
                                 len - check_at - check_len) == 0;
    return check_len > 0 && same_but_check ? DOC_BAD_CHECK : DOC_OTHER;
}
