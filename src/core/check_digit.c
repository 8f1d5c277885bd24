/* check_digit — check digit algorithms over decimal digit strings (see
 * check_digit.h). The Verhoeff and Damm tables are the published ones:
 * Verhoeff's dihedral group D5 with its position permutation, and Damm's
 * totally anti-symmetric quasigroup of order 10. */
#include "check_digit.h"

#include <string.h>

static const unsigned char verhoeff_d[10][10] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
    {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
    {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
    {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
    {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
};

static const unsigned char verhoeff_p[8][10] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
    {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
    {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
    {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
};

static const unsigned char verhoeff_inv[10] = {0, 4, 3, 2, 1, 5, 6, 7, 8, 9};

static const unsigned char damm_table[10][10] = {
    {0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
    {4, 2, 0, 6, 8, 7, 1, 3, 5, 9}, {1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
    {6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
    {5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
    {9, 4, 3, 8, 6, 1, 7, 2, 0, 5}, {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

static const struct {
    const char *name;
    int alg;
} check_names[] = {
    {"luhn", CHECK_LUHN},   {"verhoeff", CHECK_VERHOEFF}, {"damm", CHECK_DAMM},
    {"mod97", CHECK_MOD97}, {"mod11", CHECK_MOD11},
};

int check_alg_named(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(check_names) / sizeof(check_names[0]); i++) {
        if (strlen(check_names[i].name) == len && memcmp(check_names[i].name, name, len) == 0) {
            return check_names[i].alg;
        }
    }
    return CHECK_NONE;
}

const char *check_alg_name(int alg)
{
    for (size_t i = 0; i < sizeof(check_names) / sizeof(check_names[0]); i++) {
        if (check_names[i].alg == alg) {
            return check_names[i].name;
        }
    }
    return "";
}

static bool checkDigits(const char *p, size_t len)
{
    if (p == NULL || len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
    }
    return true;
}

/* The Luhn sum with every second digit from the right doubled, starting
 * with the rightmost (double_first) or the one before it. */
static unsigned luhnSum(const char *p, size_t len, bool double_first)
{
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(p[len - 1 - i] - '0');
        if ((i % 2 == 0) == double_first) {
            d *= 2;
            d = d > 9 ? d - 9 : d;
        }
        sum += d;
    }
    return sum;
}

/* Verhoeff's running check over p, whose rightmost digit takes position
 * offset (1 when a check digit is still to come after it). */
static unsigned verhoeffRun(const char *p, size_t len, size_t offset)
{
    unsigned c = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(p[len - 1 - i] - '0');
        c = verhoeff_d[c][verhoeff_p[(i + offset) % 8][d]];
    }
    return c;
}

static unsigned dammRun(const char *p, size_t len)
{
    unsigned interim = 0;
    for (size_t i = 0; i < len; i++) {
        interim = damm_table[interim][p[i] - '0'];
    }
    return interim;
}

static unsigned mod97Of(const char *p, size_t len)
{
    unsigned r = 0;
    for (size_t i = 0; i < len; i++) {
        r = (r * 10 + (unsigned)(p[i] - '0')) % 97;
    }
    return r;
}

/* The MOD 11 weighted sum, weights 2, 3, ..., 7, 2, ... from the right. */
static unsigned mod11Sum(const char *p, size_t len)
{
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum = (sum + (unsigned)(p[len - 1 - i] - '0') * (unsigned)(2 + i % 6)) % 11;
    }
    return sum;
}

int check_compute(int alg, const char *digits, size_t len)
{
    if (!checkDigits(digits, len)) {
        return -1;
    }
    switch (alg) {
    case CHECK_LUHN: return (int)((10 - luhnSum(digits, len, true) % 10) % 10);
    case CHECK_VERHOEFF: return verhoeff_inv[verhoeffRun(digits, len, 1)];
    case CHECK_DAMM: return (int)dammRun(digits, len);
    case CHECK_MOD97: {
        /* ISO 7064 MOD 97-10: 98 - (n * 100 mod 97) */
        unsigned r = (mod97Of(digits, len) * 100) % 97;
        return (int)(98 - r);
    }
    case CHECK_MOD11: {
        unsigned c = (11 - mod11Sum(digits, len)) % 11;
        return (int)c; /* 10: CHECK_MOD11_NONE */
    }
    default: return -1;
    }
}

bool check_valid(int alg, const char *digits, size_t len)
{
    size_t width = alg == CHECK_MOD97 ? 2 : 1;
    if (!checkDigits(digits, len) || len <= width) {
        return false;
    }
    switch (alg) {
    case CHECK_LUHN: return luhnSum(digits, len, false) % 10 == 0;
    case CHECK_VERHOEFF: return verhoeffRun(digits, len, 0) == 0;
    case CHECK_DAMM: return dammRun(digits, len) == 0;
    case CHECK_MOD97: return mod97Of(digits, len) == 1;
    case CHECK_MOD11: return check_compute(CHECK_MOD11, digits, len - 1) == digits[len - 1] - '0';
    default: return false;
    }
}
