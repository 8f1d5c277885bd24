/* Unit tests for document numbers (src/core/check_digit.c, doc_format.c,
 * period.c): every check algorithm against published vectors and against
 * the errors it is known to catch (every single-digit substitution, every
 * adjacent transposition, exhaustively over seeded random numbers);
 * formats at the int64 edges and every padding width, printed and read
 * back; periods at every offset from -12:00 to +14:00 in 15-minute steps,
 * across leap years and 29 February, checked against libc's gmtime_r (an
 * oracle that shares no code with the core). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_digit.h"
#include "doc_format.h"
#include "period.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- check digits ------------------------------------------------------- */

static int compute(int alg, const char *s)
{
    return check_compute(alg, s, strlen(s));
}

static void test_published_vectors(void **state)
{
    (void)state;
    assert_int_equal(compute(CHECK_LUHN, "7992739871"), 3);   /* ISO/IEC 7812's example */
    assert_true(check_valid(CHECK_LUHN, "79927398713", 11));
    assert_false(check_valid(CHECK_LUHN, "79927398710", 11));
    assert_true(check_valid(CHECK_LUHN, "4111111111111111", 16)); /* a test card number */
    assert_int_equal(compute(CHECK_DAMM, "572"), 4);          /* Damm's example */
    assert_true(check_valid(CHECK_DAMM, "5724", 4));
    assert_int_equal(compute(CHECK_VERHOEFF, "236"), 3);      /* Verhoeff's example */
    assert_true(check_valid(CHECK_VERHOEFF, "2363", 4));
    assert_int_equal(compute(CHECK_VERHOEFF, "12345"), 1);
    assert_int_equal(compute(CHECK_MOD11, "1234"), 3);        /* weights 5 4 3 2: 30 mod 11 = 8 */
    assert_true(check_valid(CHECK_MOD11, "12343", 5));
    /* An IBAN passes MOD 97-10 once its first four characters move to the
     * end and letters become 10..35: GB82WEST12345698765432. */
    const char *iban = "GB82WEST12345698765432";
    char digits[64];
    size_t n = 0;
    for (size_t i = 0; i < 22; i++) {
        char c = iban[(i + 4) % 22];
        if (c >= 'A' && c <= 'Z') {
            n += (size_t)sprintf(digits + n, "%d", c - 'A' + 10);
        } else {
            digits[n++] = c;
        }
    }
    assert_true(check_valid(CHECK_MOD97, digits, n));
    /* its check digits, computed from the rest: MOD 97-10 over
     * WEST12345698765432GB gives the 82 the IBAN carries */
    assert_int_equal(check_compute(CHECK_MOD97, digits, n - 2), 82);
    digits[3] = digits[3] == '9' ? '0' : (char)(digits[3] + 1);
    assert_false(check_valid(CHECK_MOD97, digits, n));
    assert_int_equal(compute(CHECK_LUHN, "12a"), -1);
    assert_int_equal(check_alg_named("luhn", 4), CHECK_LUHN);
    assert_int_equal(check_alg_named("LUHN", 4), CHECK_NONE);
}

static void random_digits(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)('0' + rnd() % 10);
    }
}

/* Appends alg's check to digits[0..n) in full; the new length (0: none). */
static size_t with_check(int alg, const char *digits, size_t n, char *full)
{
    int c = check_compute(alg, digits, n);
    memcpy(full, digits, n);
    if (alg == CHECK_MOD97) {
        full[n] = (char)('0' + c / 10);
        full[n + 1] = (char)('0' + c % 10);
        return n + 2;
    }
    if (c == CHECK_MOD11_NONE) {
        return 0;
    }
    full[n] = (char)('0' + c);
    return n + 1;
}

/* Every single-digit substitution and adjacent transposition of numbers
 * with their check is caught, but Luhn's one blind spot (09 <-> 90). */
static void test_errors_caught(void **state)
{
    (void)state;
    const int algs[] = {CHECK_LUHN, CHECK_VERHOEFF, CHECK_DAMM, CHECK_MOD97, CHECK_MOD11};
    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        int alg = algs[a];
        size_t caught_swaps = 0, luhn_blind = 0;
        for (int round = 0; round < 2000; round++) {
            char digits[24], full[26];
            size_t n = 1 + rnd() % 18;
            random_digits(digits, n);
            size_t len = with_check(alg, digits, n, full);
            if (len == 0) {
                continue; /* mod11 without a digit: nothing printed to mistype */
            }
            assert_true(check_valid(alg, full, len));
            for (size_t i = 0; i < len; i++) {
                for (char d = '0'; d <= '9'; d++) {
                    if (d == full[i]) {
                        continue;
                    }
                    char bad[26];
                    memcpy(bad, full, len);
                    bad[i] = d;
                    if (check_valid(alg, bad, len)) {
                        fail_msg("%s missed a substitution at %zu in %.*s", check_alg_name(alg), i,
                                 (int)len, full);
                    }
                }
            }
            for (size_t i = 0; i + 1 < len; i++) {
                if (full[i] == full[i + 1]) {
                    continue;
                }
                char bad[26];
                memcpy(bad, full, len);
                bad[i] = full[i + 1];
                bad[i + 1] = full[i];
                bool blind = alg == CHECK_LUHN && ((full[i] == '0' && full[i + 1] == '9') ||
                                                   (full[i] == '9' && full[i + 1] == '0'));
                if (check_valid(alg, bad, len)) {
                    if (!blind) {
                        fail_msg("%s missed a transposition at %zu in %.*s", check_alg_name(alg),
                                 i, (int)len, full);
                    }
                    luhn_blind++;
                } else {
                    caught_swaps++;
                }
            }
        }
        assert_true(caught_swaps > 1000);
        if (alg == CHECK_LUHN) {
            assert_true(luhn_blind > 0); /* the blind spot is real, so the test can tell */
        }
    }
}

/* ---- formats ------------------------------------------------------------ */

static int render(const char *fmt, int64_t n, const char *period, const char *label, char *out)
{
    doc_format f;
    const char *why = NULL;
    if (doc_format_parse(fmt, strlen(fmt), &f, &why) != 0) {
        fail_msg("format %s: %s", fmt, why);
    }
    doc_parts parts = {n, period, period ? strlen(period) : 0, label, label ? strlen(label) : 0,
                       "invoices", 8};
    return doc_render(&f, &parts, out, NULL, NULL);
}

static void test_format_render(void **state)
{
    (void)state;
    char out[DOC_TEXT_MAX + 1];
    assert_true(render("POL-A-{n}-{check:luhn}", 7992739871, NULL, NULL, out) > 0);
    assert_string_equal(out, "POL-A-7992739871-3");
    render("{period}/{n:6}", 123, "2026", NULL, out);
    assert_string_equal(out, "2026/000123");
    render("ATCUD:{label}-{n}", 123, NULL, "ABCD1234", out);
    assert_string_equal(out, "ATCUD:ABCD1234-123");
    render("{name}#{n}{check:damm}", 572, NULL, NULL, out);
    assert_string_equal(out, "invoices#5724");
    render("{{{n}}}", 5, NULL, NULL, out);
    assert_string_equal(out, "{5}");
    render("X{n:3}{check:mod11:-}", 1234, NULL, NULL, out);
    assert_string_equal(out, "X12343");
    render("{n}{check:mod97}", 1, NULL, NULL, out);
    assert_true(check_valid(CHECK_MOD97, out, strlen(out)));
    /* over every digit to the left: the period's too */
    render("{period}{n:4}{check:luhn:all}", 17, "2026", NULL, out);
    assert_true(check_valid(CHECK_LUHN, out, strlen(out)));
    assert_string_equal(out, "202600177");
    render("{period}{n:4}{check:luhn}", 17, "2026", NULL, out);
    assert_string_equal(out, "202600174"); /* Luhn of 0017 */
    /* the int64 edges */
    render("{n}", INT64_MIN, NULL, NULL, out);
    assert_string_equal(out, "-9223372036854775808");
    render("{n:19}{check:verhoeff}", INT64_MAX, NULL, NULL, out);
    assert_int_equal(strlen(out), 20);
    assert_true(check_valid(CHECK_VERHOEFF, out, 20));
    render("{n:5}", -42, NULL, NULL, out);
    assert_string_equal(out, "-00042");
    /* mod11: a remainder of 10 */
    int64_t ten = -1;
    for (int64_t v = 1; v < 100 && ten < 0; v++) {
        char d[24];
        int k = sprintf(d, "%" PRId64, v);
        if (check_compute(CHECK_MOD11, d, (size_t)k) == CHECK_MOD11_NONE) {
            ten = v;
        }
    }
    assert_true(ten > 0);
    assert_int_equal(render("{n}{check:mod11:skip}", ten, NULL, NULL, out), -1);
    render("{n}{check:mod11:X}", ten, NULL, NULL, out);
    assert_int_equal(out[strlen(out) - 1], 'X');
}

static void test_format_errors(void **state)
{
    (void)state;
    const char *bad[] = {"",          "no number",       "{n}{n}",          "{n:0}",
                         "{n:20}",    "{n:x}",           "{check:luhn}{n}", "{n}{check:md5}",
                         "{n}{check:mod11}", "{n}{check:luhn:skip}", "{n",  "n}",
                         "{what}",    "{n}{period}{period}", "{n}\x01",    "{n}{check:mod11:XY}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc_format f;
        const char *why = NULL;
        if (doc_format_parse(bad[i], strlen(bad[i]), &f, &why) == 0) {
            fail_msg("format %s was taken", bad[i]);
        }
        assert_non_null(why);
    }
    char longest[DOC_FORMAT_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    memcpy(longest, "{n}", 3);
    doc_format f;
    const char *why;
    assert_int_equal(doc_format_parse(longest, DOC_FORMAT_MAX, &f, &why), 0);
    assert_int_equal(doc_format_parse(longest, DOC_FORMAT_MAX + 1, &f, &why), -1);
}

static bool accept_any(void *ctx, const doc_found *found)
{
    (void)ctx;
    (void)found;
    return true;
}

/* Takes the reading that prints back exactly (what the core does). */
typedef struct exact_ctx {
    const doc_format *f;
    doc_parts parts;
    const char *text;
    size_t len;
} exact_ctx;

static bool accept_exact(void *ctx, const doc_found *found)
{
    exact_ctx *x = ctx;
    doc_parts p = x->parts;
    p.n = found->n;
    return doc_diagnose(x->f, &p, x->text, x->len) == DOC_EXACT;
}

/* Printed, then read back: every width, both signs, the int64 edges. */
static void test_format_round_trip(void **state)
{
    (void)state;
    const char *fmts[] = {"{n}", "POL-A-{n}-{check:luhn}", "{period}/{n:W}", "{label}{n:W}{check:mod97}",
                          "{name}-{n:W}{check:damm}", "{n:W}{check:verhoeff:all}{label}",
                          "{period}{n:W}{check:mod11:X}"};
    int64_t edges[] = {0, 1, -1, 9, 10, 99, 100, 999999, INT64_MAX, INT64_MIN, INT64_MAX - 1,
                       INT64_MIN + 1, 202043200000017LL};
    for (size_t fi = 0; fi < sizeof(fmts) / sizeof(fmts[0]); fi++) {
        for (unsigned w = 1; w <= DOC_WIDTH_MAX; w++) {
            char fmt[64];
            const char *at = strstr(fmts[fi], ":W");
            if (at == NULL && w > 1) {
                break;
            }
            if (at != NULL) {
                snprintf(fmt, sizeof(fmt), "%.*s:%u%s", (int)(at - fmts[fi]), fmts[fi], w, at + 2);
            } else {
                snprintf(fmt, sizeof(fmt), "%s", fmts[fi]);
            }
            doc_format f;
            const char *why;
            assert_int_equal(doc_format_parse(fmt, strlen(fmt), &f, &why), 0);
            for (size_t k = 0; k < sizeof(edges) / sizeof(edges[0]) + 50; k++) {
                int64_t n = k < sizeof(edges) / sizeof(edges[0]) ? edges[k] : (int64_t)rnd();
                doc_parts parts = {n, "2026", 4, "CAF-7", 5, "inv", 3};
                char out[DOC_TEXT_MAX + 1];
                int len = doc_render(&f, &parts, out, NULL, NULL);
                if (len < 0) {
                    continue;
                }
                doc_found found;
                exact_ctx x = {&f, parts, out, (size_t)len};
                if (doc_match(&f, DOC_PERIOD_YEAR, "inv", 3, out, (size_t)len, accept_exact, &x,
                              &found) != 0) {
                    fail_msg("%s: %s did not read back", fmt, out);
                }
                assert_int_equal(found.n, n);
                assert_int_equal(doc_diagnose(&f, &parts, out, (size_t)len), DOC_EXACT);
                if (f.has_period) {
                    assert_int_equal(found.period_len, 4);
                    assert_memory_equal(found.period, "2026", 4);
                }
            }
        }
    }
}

static void test_diagnose(void **state)
{
    (void)state;
    doc_format f;
    const char *why;
    const char *fmt = "POL-A-{n}-{check:luhn}";
    assert_int_equal(doc_format_parse(fmt, strlen(fmt), &f, &why), 0);
    doc_found found;
    const char *typo = "POL-A-202043200000017-2";
    assert_int_equal(doc_match(&f, 0, "p", 1, typo, strlen(typo), accept_any, NULL, &found), 0);
    assert_int_equal(found.n, 202043200000017LL);
    doc_parts parts = {found.n, NULL, 0, NULL, 0, "p", 1};
    assert_int_equal(doc_diagnose(&f, &parts, typo, strlen(typo)), DOC_BAD_CHECK);
    /* a swapped pair in the number: another number, whose check is wrong */
    const char *swapped = "POL-A-202043200000071-1";
    assert_int_equal(doc_match(&f, 0, "p", 1, swapped, strlen(swapped), accept_any, NULL, &found), 0);
    parts.n = found.n;
    char out[DOC_TEXT_MAX + 1];
    doc_render(&f, &parts, out, NULL, NULL);
    assert_int_equal(doc_diagnose(&f, &parts, swapped, strlen(swapped)),
                     strcmp(out, swapped) == 0 ? DOC_EXACT : DOC_BAD_CHECK);
    assert_int_equal(doc_match(&f, 0, "p", 1, "POL-B-1-1", 9, accept_any, NULL, &found), -1);
    assert_int_equal(doc_match(&f, 0, "p", 1, "POL-A--1", 8, accept_any, NULL, &found), -1);
    /* leading zeros are not how {n} prints */
    const char *padded = "POL-A-0017-4";
    assert_int_equal(doc_match(&f, 0, "p", 1, padded, strlen(padded), accept_any, NULL, &found), 0);
    parts.n = found.n;
    assert_int_equal(doc_diagnose(&f, &parts, padded, strlen(padded)), DOC_OTHER);
    /* a hostile text: long runs of digits and dashes end in a bounded time */
    char hostile[DOC_TEXT_MAX + 1];
    memset(hostile, '1', sizeof(hostile));
    const char *lf = "{label}{n}{label}";
    (void)lf;
    const char *fmt2 = "{label}{n}-{n:3}";
    assert_int_equal(doc_format_parse(fmt2, strlen(fmt2), &f, &why), -1);
    const char *fmt3 = "{label}{n}{name}{period}";
    assert_int_equal(doc_format_parse(fmt3, strlen(fmt3), &f, &why), 0);
    assert_int_equal(doc_match(&f, DOC_PERIOD_YEAR, "1", 1, hostile, DOC_TEXT_MAX, accept_any, NULL, &found), -1);
    assert_int_equal(doc_match(&f, DOC_PERIOD_YEAR, "1", 1, hostile, DOC_TEXT_MAX + 1, accept_any, NULL, &found), -1);
}

/* ---- periods -------------------------------------------------------------- */

/* The oracle: libc's calendar, from the instant moved by the offset. */
static void libc_period(int64_t wall_ms, int tz, int64_t *year, int *month)
{
    int64_t s = wall_ms / 1000 - (wall_ms % 1000 < 0 ? 1 : 0) + (int64_t)tz * 60;
    time_t t = (time_t)s;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    *year = tm.tm_year + 1900LL;
    *month = tm.tm_mon + 1;
}

static void test_periods_every_offset(void **state)
{
    (void)state;
    /* instants around the new year, 29 February and month ends, 1900..2400 */
    for (int tz = PERIOD_TZ_MIN; tz <= PERIOD_TZ_MAX; tz += 15) {
        for (int round = 0; round < 400; round++) {
            int64_t year = 1900 + (int64_t)(rnd() % 500);
            int month = 1 + (int)(rnd() % 12);
            int64_t id = year * 12 + month - 1;
            int64_t start = period_start_ms(id, PERIOD_MONTHLY, tz);
            int64_t probes[] = {start - 1, start, start + 1, start + 86400000LL * 28,
                                start + (int64_t)(rnd() % (86400000LL * 31))};
            for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
                int64_t y;
                int m;
                libc_period(probes[k], tz, &y, &m);
                assert_int_equal(period_of(probes[k], PERIOD_YEARLY, tz), y);
                assert_int_equal(period_of(probes[k], PERIOD_MONTHLY, tz), y * 12 + m - 1);
            }
            assert_int_equal(period_of(start, PERIOD_MONTHLY, tz), id);
            assert_int_equal(period_of(start - 1, PERIOD_MONTHLY, tz), id - 1);
            int64_t ystart = period_start_ms(year, PERIOD_YEARLY, tz);
            assert_int_equal(period_of(ystart, PERIOD_YEARLY, tz), year);
            assert_int_equal(period_of(ystart - 1, PERIOD_YEARLY, tz), year - 1);
        }
    }
}

static void test_period_boundaries(void **state)
{
    (void)state;
    /* 2026-12-31T23:59:59.999Z is 2026 at +00:00, 2027 at +00:01 */
    int64_t last_ms = 1798761599999LL;
    assert_int_equal(period_of(last_ms, PERIOD_YEARLY, 0), 2026);
    assert_int_equal(period_of(last_ms + 1, PERIOD_YEARLY, 0), 2027);
    assert_int_equal(period_of(last_ms, PERIOD_YEARLY, 1), 2027);
    assert_int_equal(period_of(last_ms, PERIOD_YEARLY, -60), 2026);
    /* at +14:00 the new year comes 14 hours early; at -12:00, 12 late */
    assert_int_equal(period_of(last_ms + 1 - 14 * 3600000LL, PERIOD_YEARLY, 14 * 60), 2027);
    assert_int_equal(period_of(last_ms - 14 * 3600000LL, PERIOD_YEARLY, 14 * 60), 2026);
    assert_int_equal(period_of(last_ms + 12 * 3600000LL, PERIOD_YEARLY, -12 * 60), 2026);
    assert_int_equal(period_of(last_ms + 1 + 12 * 3600000LL, PERIOD_YEARLY, -12 * 60), 2027);
    /* 29 February: 2024 and 2000 have one, 2100 and 1900 do not */
    assert_int_equal(period_start_ms(2024 * 12 + 2, PERIOD_MONTHLY, 0) -
                         period_start_ms(2024 * 12 + 1, PERIOD_MONTHLY, 0),
                     29 * 86400000LL);
    assert_int_equal(period_start_ms(2000 * 12 + 2, PERIOD_MONTHLY, 0) -
                         period_start_ms(2000 * 12 + 1, PERIOD_MONTHLY, 0),
                     29 * 86400000LL);
    assert_int_equal(period_start_ms(2100 * 12 + 2, PERIOD_MONTHLY, 0) -
                         period_start_ms(2100 * 12 + 1, PERIOD_MONTHLY, 0),
                     28 * 86400000LL);
    assert_int_equal(period_start_ms(2025, PERIOD_YEARLY, 0) - period_start_ms(2024, PERIOD_YEARLY, 0),
                     366 * 86400000LL);
    /* the ends of int64 time saturate instead of overflowing */
    assert_true(period_of(INT64_MIN, PERIOD_YEARLY, PERIOD_TZ_MIN) < 0);
    assert_true(period_of(INT64_MAX, PERIOD_MONTHLY, PERIOD_TZ_MAX) > 2026 * 12);
    char text[PERIOD_TEXT_MAX];
    assert_int_equal(period_text(2026, PERIOD_YEARLY, text), 4);
    assert_string_equal(text, "2026");
    period_text(2026 * 12 + 2, PERIOD_MONTHLY, text);
    assert_string_equal(text, "2026-03");
    /* any id a snapshot holds prints and has a start, without overflow
     * (UBSan watches the unit tests): the ends of int64 and next to them */
    period_text(INT64_MIN, PERIOD_MONTHLY, text);
    assert_string_equal(text, "-768614336404564651-05");
    period_text(INT64_MAX, PERIOD_MONTHLY, text);
    assert_string_equal(text, "768614336404564650-08");
    period_text(INT64_MIN, PERIOD_YEARLY, text);
    assert_string_equal(text, "-9223372036854775808");
    for (int64_t k = 0; k < 13; k++) {
        for (int kind = PERIOD_YEARLY; kind <= PERIOD_MONTHLY; kind++) {
            assert_true(period_text(INT64_MIN + k, kind, text) < PERIOD_TEXT_MAX);
            assert_true(period_text(INT64_MAX - k, kind, text) < PERIOD_TEXT_MAX);
            assert_int_equal(period_start_ms(INT64_MIN + k, kind, PERIOD_TZ_MAX), INT64_MIN);
            assert_int_equal(period_start_ms(INT64_MAX - k, kind, PERIOD_TZ_MIN), INT64_MAX);
        }
    }
    /* and the limit sits past every year an int64 of ms reaches */
    assert_true(period_start_ms(period_of(INT64_MAX, PERIOD_YEARLY, 0), PERIOD_YEARLY, 0) < INT64_MAX);
    assert_true(period_start_ms(period_of(INT64_MIN, PERIOD_YEARLY, 0) + 1, PERIOD_YEARLY, 0) > INT64_MIN);
    int64_t id;
    assert_true(period_parse("2026-03", 7, PERIOD_MONTHLY, &id));
    assert_int_equal(id, 2026 * 12 + 2);
    assert_false(period_parse("2026-13", 7, PERIOD_MONTHLY, &id));
    assert_false(period_parse("2026", 4, PERIOD_MONTHLY, &id));
    assert_true(period_parse("2026", 4, PERIOD_YEARLY, &id));
    assert_false(period_parse("20x6", 4, PERIOD_YEARLY, &id));
    int tz;
    assert_true(period_tz_parse("+14:00", 6, &tz));
    assert_int_equal(tz, 840);
    assert_true(period_tz_parse("-12:00", 6, &tz));
    assert_int_equal(tz, -720);
    assert_true(period_tz_parse("+05:45", 6, &tz));
    assert_int_equal(tz, 345);
    assert_false(period_tz_parse("+14:01", 6, &tz));
    assert_false(period_tz_parse("-12:30", 6, &tz));
    assert_false(period_tz_parse("+1:00", 5, &tz));
    assert_false(period_tz_parse("+01:60", 6, &tz));
    char tzt[8];
    period_tz_text(-570, tzt);
    assert_string_equal(tzt, "-09:30");
}

int main(void)
{
    const char *env = getenv("SEQ_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("seed=%" PRIu64 "\n", seed);
    rng_state = seed * 2654435761u + 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_vectors), cmocka_unit_test(test_errors_caught),
        cmocka_unit_test(test_format_render),     cmocka_unit_test(test_format_errors),
        cmocka_unit_test(test_format_round_trip), cmocka_unit_test(test_diagnose),
        cmocka_unit_test(test_periods_every_offset), cmocka_unit_test(test_period_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
