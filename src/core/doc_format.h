/* doc_format — how a sequence prints its numbers as document numbers
 * ("POL-A-{n}-{check:luhn}", "{period}/{n:6}"), and how a printed number is
 * read back.
 *
 * A format is literal text with placeholders:
 *   {n}        the number, in decimal (a minus sign first when negative)
 *   {n:W}      the number zero-padded to W digits (1..19); wider numbers print whole
 *   {period}   the number's period: 2026 (yearly) or 2026-03 (monthly)
 *   {label}    the label of the range the number lies in ("" without one)
 *   {name}     the sequence's name
 *   {check:ALG[:RULE][:all]}
 *              a check over the digits of {n} as printed (zero padding
 *              included, the sign not), or with :all over every digit
 *              printed to its left. ALG: luhn verhoeff damm mod97 mod11.
 *              mod11 names what a remainder of 10 does: :skip (the number
 *              gets no document number: the sequence skips it) or one
 *              character to print (:X, :-).
 *   {{ and }}  a literal brace.
 * {n} appears exactly once, each other placeholder at most once, {check}
 * after {n}. Literals are printable ASCII (spaces allowed).
 *
 * Reading a printed number back (doc_match) only finds where {n} and
 * {period} are; whether the text is exactly what the format prints for
 * that number (its padding, label, name and check) is decided by printing
 * the number again and comparing (doc_diagnose): one rendering rule, used
 * both ways. Pure: no I/O, no allocation; everything is bounded. */
#ifndef SEQD_DOC_FORMAT_H
#define SEQD_DOC_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOC_FORMAT_MAX 128 /* bytes in a format */
#define DOC_TOKENS_MAX 32  /* literals and placeholders in one format */
#define DOC_LABEL_MAX 64   /* bytes in a range's label */
#define DOC_WIDTH_MAX 19   /* {n:W} */
#define DOC_PERIOD_TEXT_MAX 32 /* PERIOD_TEXT_MAX (period.h) */
/* bytes in a printed number: literals + {n} + {period} + {label} + {name} + check */
#define DOC_TEXT_MAX (DOC_FORMAT_MAX + 20 + DOC_PERIOD_TEXT_MAX + DOC_LABEL_MAX + 200 + 2)

enum doc_token_kind {
    DOC_LITERAL = 1,
    DOC_NUMBER = 2,
    DOC_PERIOD = 3,
    DOC_LABEL = 4,
    DOC_NAME = 5,
    DOC_CHECK = 6,
};

typedef struct doc_token {
    uint8_t kind;      /* enum doc_token_kind */
    uint8_t width;     /* DOC_NUMBER: zero-padded to width digits (0: none) */
    uint8_t alg;       /* DOC_CHECK: enum check_alg */
    bool over_all;     /* DOC_CHECK: over every digit printed before it */
    char none_char;    /* DOC_CHECK mod11: printed for a remainder of 10; 0: skip */
    uint16_t off, len; /* DOC_LITERAL: its bytes in doc_format.lit */
} doc_token;

typedef struct doc_format {
    doc_token tokens[DOC_TOKENS_MAX];
    size_t n_tokens;
    char lit[DOC_FORMAT_MAX]; /* the literals' bytes, unescaped */
    bool has_period, has_label;
    bool skips; /* a mod11:skip check: some numbers get no document number */
} doc_format;

/* What one number is printed from (the pointers are the caller's). */
typedef struct doc_parts {
    int64_t n;
    const char *period; /* "2026" or "2026-03"; NULL: the sequence has no periods */
    size_t period_len;
    const char *label;
    size_t label_len;
    const char *name;
    size_t name_len;
} doc_parts;

/* Parses text[0..len) into *f. 0, or -1 with *why a static message
 * saying what is wrong. */
int doc_format_parse(const char *text, size_t len, doc_format *f, const char **why);

/* A label: 1..DOC_LABEL_MAX printable ASCII bytes (spaces allowed). */
bool doc_label_valid(const char *p, size_t len);

/* Prints parts by f into out (DOC_TEXT_MAX + 1 bytes), NUL-terminated.
 * Returns the length, or -1 when the number gets no document number
 * (mod11:skip and a remainder of 10). check_at/check_len (may be NULL)
 * say where the check's characters are (0, 0 without a check). */
int doc_render(const doc_format *f, const doc_parts *parts, char *out, size_t *check_at,
               size_t *check_len);

/* How the period placeholder reads: DOC_PERIOD_YEAR "2026", or
 * DOC_PERIOD_MONTH "2026-03". */
enum doc_period_shape { DOC_PERIOD_NONE = 0, DOC_PERIOD_YEAR = 1, DOC_PERIOD_MONTH = 2 };

/* Where text might hold a number printed by f: the number and the period
 * text (pointing into text). A text can be read more than one way (a
 * label with digits in it, say), so doc_match offers each reading to
 * accept, in a fixed order, until accept takes one: 0 then, with *out that
 * reading; -1 when text cannot be f's or accept took none. */
typedef struct doc_found {
    int64_t n;
    const char *period;
    size_t period_len;
} doc_found;

typedef bool (*doc_accept_fn)(void *ctx, const doc_found *found);

int doc_match(const doc_format *f, int period_shape, const char *name, size_t name_len,
              const char *text, size_t len, doc_accept_fn accept, void *ctx, doc_found *out);

/* Whether text is what f prints for parts: DOC_EXACT, DOC_BAD_CHECK (the
 * same but for the check characters), DOC_OTHER (something else: padding,
 * label, literal text), or DOC_NO_NUMBER (the number gets none). */
enum doc_verdict { DOC_EXACT = 0, DOC_BAD_CHECK = 1, DOC_OTHER = 2, DOC_NO_NUMBER = 3 };
int doc_diagnose(const doc_format *f, const doc_parts *parts, const char *text, size_t len);

#endif
