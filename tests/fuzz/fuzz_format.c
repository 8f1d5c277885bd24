/* fuzz_format — libFuzzer target for document formats (src/core/doc_format.c,
 * check_digit.c, period.c). The input's first byte splits it into a format
 * and a text. A format the parser takes must print every number of a few
 * (the int64 edges among them) within DOC_TEXT_MAX bytes, and each printed
 * text must read back to its number (doc_match with the exact reading);
 * any text at all must be matched or refused in bounded time, never read
 * past its end. Period texts must read back to their period. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_digit.h"
#include "doc_format.h"
#include "period.h"

static void fuzzFail(const char *what)
{
    fprintf(stderr, "fuzz_format: %s\n", what);
    abort();
}

typedef struct exact {
    const doc_format *f;
    doc_parts parts;
    const char *text;
    size_t len;
} exact;

static bool acceptExact(void *ctx, const doc_found *found)
{
    exact *x = ctx;
    doc_parts p = x->parts;
    p.n = found->n;
    return doc_diagnose(x->f, &p, x->text, x->len) == DOC_EXACT;
}

static bool acceptAny(void *ctx, const doc_found *found)
{
    (void)ctx;
    (void)found;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t split = data[0] % size;
    const char *fmt = (const char *)data + 1;
    size_t fmt_len = split > 0 ? split - 1 : 0;
    const char *text = (const char *)data + (split > 0 ? split : 1);
    size_t text_len = size - (split > 0 ? split : 1);
    doc_format f;
    const char *why = NULL;
    if (doc_format_parse(fmt, fmt_len, &f, &why) != 0) {
        if (why == NULL) {
            fuzzFail("a refusal without a reason");
        }
    } else {
        int64_t numbers[] = {0, 1, -1, INT64_MAX, INT64_MIN, 202043200000017LL, (int64_t)size};
        for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
            doc_parts parts = {numbers[i], "2026-03", 7, "CAF-1", 5, "inv", 3};
            char out[DOC_TEXT_MAX + 1];
            int len = doc_render(&f, &parts, out, NULL, NULL);
            if (len < 0) {
                continue; /* mod11:skip */
            }
            if ((size_t)len > DOC_TEXT_MAX || strlen(out) != (size_t)len) {
                fuzzFail("a printed number too long, or not its length");
            }
            exact x = {&f, parts, out, (size_t)len};
            doc_found found;
            if (doc_match(&f, DOC_PERIOD_MONTH, "inv", 3, out, (size_t)len, acceptExact, &x,
                          &found) != 0 ||
                found.n != numbers[i]) {
                fuzzFail("a printed number did not read back");
            }
        }
        doc_found found;
        (void)doc_match(&f, DOC_PERIOD_YEAR, "inv", 3, text, text_len, acceptAny, NULL, &found);
    }
    /* check digits over any digits; periods read back */
    char digits[64];
    size_t nd = 0;
    for (size_t i = 0; i < size && nd < sizeof(digits); i++) {
        digits[nd++] = (char)('0' + data[i] % 10);
    }
    for (int alg = CHECK_LUHN; alg <= CHECK_MOD11; alg++) {
        int c = check_compute(alg, digits, nd);
        if (c < 0 || c > 98) {
            fuzzFail("a check value out of bounds");
        }
        (void)check_valid(alg, digits, nd);
    }
    int64_t wall = 0;
    memcpy(&wall, data, size < 8 ? size : 8);
    for (int kind = PERIOD_YEARLY; kind <= PERIOD_MONTHLY; kind++) {
        int64_t p = period_of(wall, kind, data[0] % 27 * 60 - 720);
        char ptext[PERIOD_TEXT_MAX];
        size_t plen = period_text(p, kind, ptext);
        int64_t back;
        if (p >= 0 && p < (kind == PERIOD_YEARLY ? 10000 : 120000) &&
            (!period_parse(ptext, plen, kind, &back) || back != p)) {
            fuzzFail("a period did not read back");
        }
    }
    return 0;
}
