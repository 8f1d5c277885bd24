/* check_digit — the check digits a document number may carry, computed over
 * a string of decimal digits: Luhn (ISO/IEC 7812-1), Verhoeff, Damm,
 * ISO 7064 MOD 97-10 (two digits) and MOD 11 (weights 2..7 from the right).
 *
 * What each one catches (tests/unit/core/test_format.c proves it):
 *  - Luhn: every single-digit substitution; every adjacent transposition but
 *    09 <-> 90;
 *  - Verhoeff, Damm, MOD 97-10: every single-digit substitution and every
 *    adjacent transposition;
 *  - MOD 11: every single-digit substitution and adjacent transposition of
 *    numbers that have a check digit (a remainder of 10 has none: the
 *    format says what happens then, see doc_format.h).
 * Pure: no I/O, no allocation; the digits are bounded by the caller. */
#ifndef SEQD_CHECK_DIGIT_H
#define SEQD_CHECK_DIGIT_H

#include <stdbool.h>
#include <stddef.h>

enum check_alg {
    CHECK_NONE = 0,
    CHECK_LUHN = 1,
    CHECK_VERHOEFF = 2,
    CHECK_DAMM = 3,
    CHECK_MOD97 = 4, /* two digits, 02..98 */
    CHECK_MOD11 = 5, /* 0..9, or CHECK_MOD11_NONE */
};

#define CHECK_MOD11_NONE 10 /* MOD 11's remainder that has no digit */

/* The algorithm named name ("luhn", "verhoeff", "damm", "mod97",
 * "mod11"; lower case), or CHECK_NONE. */
int check_alg_named(const char *name, size_t len);
const char *check_alg_name(int alg);

/* The check value of digits[0..len) (ASCII '0'..'9' only, len >= 1): 0..9
 * for Luhn, Verhoeff and Damm, 2..98 for MOD 97-10, 0..10 for MOD 11 (10:
 * CHECK_MOD11_NONE). -1 when a byte is not a digit. */
int check_compute(int alg, const char *digits, size_t len);

/* Whether digits[0..len) end in a correct check for the digits before
 * them (one digit; two for MOD 97-10, where the whole string must be 1
 * modulo 97: what an IBAN is checked by once its letters are numbers).
 * MOD 11 takes no digit for a remainder of 10: such strings are never
 * valid here. */
bool check_valid(int alg, const char *digits, size_t len);

#endif
