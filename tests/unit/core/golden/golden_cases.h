/* golden_cases — the log entries of entries.bin: every op, every layout
 * (header v1 and v2; CREATE plain, with START, extended 0x81; ADDRANGE
 * plain and windowed 0x82; ALLOCBLOCK and USED with and without the
 * incarnation, op | 0x80; the ACL ops; commands that name who asked,
 * op | 0x40, also with 0x80). Shared by gen_entries (which wrote the file) and
 * test_golden (which decodes it and compares with these). */
#ifndef SEQD_GOLDEN_CASES_H
#define SEQD_GOLDEN_CASES_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"

typedef struct golden_case {
    const char *what;
    bool header_v1;
    codec_header header;
    seq_cmd cmd;
} golden_case;

#define GOLDEN_HDR                                                                                 \
    {.time_ms = 1764672000123, .retention_ms = 86400000, .origin = 0x1122334455667788ull,        \
     .batch_seq = 42, .n_cmds = 1, .keys_max = 1000000, .mono_ms = 987654321}
#define GOLDEN_N(s) .name = s, .name_len = sizeof(s) - 1
#define GOLDEN_K(s) .key = s, .key_len = sizeof(s) - 1
#define GOLDEN_T(s) .text = s, .text_len = sizeof(s) - 1
#define GOLDEN_U(s) .user = s, .user_len = sizeof(s) - 1

static const golden_case golden_table[] = {
    {"CREATE, header v1", true, GOLDEN_HDR, {.op = SEQ_OP_CREATE, GOLDEN_N("a"), .min = 1, .max = 100}},
    {"CREATE", false, GOLDEN_HDR, {.op = SEQ_OP_CREATE, GOLDEN_N("a"), .min = 1, .max = 100}},
    {"CREATE START", false, GOLDEN_HDR,
     {.op = SEQ_OP_CREATE, GOLDEN_N("b"), .min = 500, .max = 599, .has_start = true, .start = 510}},
    {"CREATE extended", false, GOLDEN_HDR,
     {.op = SEQ_OP_CREATE, GOLDEN_N("w"), .min = -5, .max = 9000000000000000000, .mode = SEQ_MODE_CACHED,
      .cache = 10, .warn = 5, .has_not_before = true, .not_before = 2000000000000,
      .has_not_after = true, .not_after = 2100000000999}},
    {"ADDRANGE", false, GOLDEN_HDR, {.op = SEQ_OP_ADDRANGE, GOLDEN_N("a"), .min = 1000, .max = 1009}},
    {"ADDRANGE windowed", false, GOLDEN_HDR,
     {.op = SEQ_OP_ADDRANGE, GOLDEN_N("a"), .min = 2000, .max = 2009, .has_not_after = true,
      .not_after = 2100000000000}},
    {"NEXT, header v1", true, GOLDEN_HDR, {.op = SEQ_OP_NEXT, GOLDEN_N("a"), .count = 1}},
    {"NEXT COUNT KEY", false, GOLDEN_HDR,
     {.op = SEQ_OP_NEXT, GOLDEN_N("a"), .count = 10, GOLDEN_K("order-17")}},
    {"DESCRIBE", false, GOLDEN_HDR, {.op = SEQ_OP_DESCRIBE, GOLDEN_N("a")}},
    {"LIST", false, GOLDEN_HDR, {.op = SEQ_OP_LIST}},
    {"DROP", false, GOLDEN_HDR, {.op = SEQ_OP_DROP, GOLDEN_N("z")}},
    {"VOID", false, GOLDEN_HDR,
     {.op = SEQ_OP_VOID, GOLDEN_N("a"), .min = 7, GOLDEN_T("cancelled by customer")}},
    {"GAPS", false, GOLDEN_HDR, {.op = SEQ_OP_GAPS, GOLDEN_N("a"), .min = 1, .max = 100}},
    {"LOOKUP", false, GOLDEN_HDR, {.op = SEQ_OP_LOOKUP, GOLDEN_N("a"), .min = 3}},
    {"LOOKUP KEY", false, GOLDEN_HDR, {.op = SEQ_OP_LOOKUP_KEY, GOLDEN_N("a"), GOLDEN_K("k1")}},
    {"RESERVE", false, GOLDEN_HDR,
     {.op = SEQ_OP_RESERVE, GOLDEN_N("g"), .ttl_ms = 600000, GOLDEN_K("r1")}},
    {"CONFIRM", false, GOLDEN_HDR, {.op = SEQ_OP_CONFIRM, GOLDEN_N("g"), .min = 5, GOLDEN_K("r1")}},
    {"RELEASE", false, GOLDEN_HDR, {.op = SEQ_OP_RELEASE, GOLDEN_N("g"), .min = 6}},
    {"ALLOCBLOCK", false, GOLDEN_HDR,
     {.op = SEQ_OP_ALLOCBLOCK, GOLDEN_N("ca"), .count = 10, .term = 3, .node = 0xabcdef0001ull,
      .has_start = true}},
    {"ALLOCBLOCK incarnation", false, GOLDEN_HDR,
     {.op = SEQ_OP_ALLOCBLOCK, GOLDEN_N("ca"), .count = 10, .term = 3, .node = 0xabcdef0001ull,
      .incarnation = 9}},
    {"USED", false, GOLDEN_HDR,
     {.op = SEQ_OP_USED, GOLDEN_N("ca"), .count = 4, .term = 3, .node = 0xabcdef0001ull}},
    {"USED incarnation", false, GOLDEN_HDR,
     {.op = SEQ_OP_USED, GOLDEN_N("ca"), .count = 4, .term = 3, .node = 0xabcdef0001ull,
      .incarnation = 9}},
    {"RECOVER", false, GOLDEN_HDR, {.op = SEQ_OP_RECOVER, .term = 4, .node = 0xabcdef0000ull}},
    {"UNDELIVERED", false, GOLDEN_HDR,
     {.op = SEQ_OP_UNDELIVERED, GOLDEN_N("g"), .min = 7, .max = 9, .count = 1, .has_start = true,
      .term = 12, GOLDEN_T("reply undelivered: the client disconnected")}},
    /* users (snapshot v5's time): ACL ops, and commands that name who asked (op | 0x40) */
    {"ACL SETUSER seed", false, GOLDEN_HDR,
     {.op = SEQ_OP_ACL_SETUSER, GOLDEN_N("default"), .has_start = true,
      GOLDEN_T("resetpass #$scrypt$N=16384,r=8,p=1$00112233445566778899aabbccddeeff$"
               "00000000000000000000000000000000000000000000000000000000000000ff")}},
    {"ACL SETUSER by", false, GOLDEN_HDR,
     {.op = SEQ_OP_ACL_SETUSER, GOLDEN_N("sales"), GOLDEN_T("on ~policies-* -@all +@issue +@read"),
      GOLDEN_U("admin")}},
    {"ACL DELUSER", false, GOLDEN_HDR, {.op = SEQ_OP_ACL_DELUSER, GOLDEN_T("sales ops")}},
    {"ACL GETUSER", false, GOLDEN_HDR, {.op = SEQ_OP_ACL_GETUSER, GOLDEN_N("sales")}},
    {"ACL LIST", false, GOLDEN_HDR, {.op = SEQ_OP_ACL_LIST}},
    {"ACL USERS", false, GOLDEN_HDR, {.op = SEQ_OP_ACL_USERS}},
    {"VOID by", false, GOLDEN_HDR,
     {.op = SEQ_OP_VOID, GOLDEN_N("a"), .min = 9, GOLDEN_T("torn"), GOLDEN_U("clerk")}},
    {"CREATE extended by", false, GOLDEN_HDR,
     {.op = SEQ_OP_CREATE, GOLDEN_N("inv"), .min = 1, .max = 999999, .mode = SEQ_MODE_GAPLESS,
      GOLDEN_U("boss")}},
    /* document numbers (snapshot v6's time): CREATE and ADDRANGE with a
     * document part (wire ops 27 and 28), PERIOD p (op | 0x80), TEXT, and
     * the new ops */
    {"CREATE document", false, GOLDEN_HDR,
     {.op = SEQ_OP_CREATE, GOLDEN_N("inv"), .min = 1, .max = 999999, .mode = SEQ_MODE_GAPLESS,
      .format = "{period}/{n:6}-{check:mod97}", .format_len = 28, .label = "PT-ABCD", .label_len = 7,
      .period_kind = 1, .tz_minutes = 60, .has_not_after = true, .not_after = 2100000000999}},
    {"ADDRANGE labelled", false, GOLDEN_HDR,
     {.op = SEQ_OP_ADDRANGE, GOLDEN_N("inv"), .min = 2000000, .max = 2000009, .label = "PT-EFGH",
      .label_len = 7}},
    {"NEXT TEXT", false, GOLDEN_HDR,
     {.op = SEQ_OP_NEXT, GOLDEN_N("inv"), .count = 3, GOLDEN_K("o-1"), .text_reply = true}},
    {"GAPS PERIOD", false, GOLDEN_HDR,
     {.op = SEQ_OP_GAPS, GOLDEN_N("inv"), .min = 1, .max = 9, .has_period = true, .period_kind = 1,
      .period = 2026}},
    {"CONFIRM PERIOD", false, GOLDEN_HDR,
     {.op = SEQ_OP_CONFIRM, GOLDEN_N("inv"), .min = 2, .has_period = true, .period_kind = 2,
      .period = 24314}},
    {"SETFORMAT", false, GOLDEN_HDR,
     {.op = SEQ_OP_SETFORMAT, GOLDEN_N("inv"), .format = "ATCUD:{label}-{n}", .format_len = 17}},
    {"RENDER", false, GOLDEN_HDR, {.op = SEQ_OP_RENDER, GOLDEN_N("inv"), .min = 2}},
    {"PARSE", false, GOLDEN_HDR, {.op = SEQ_OP_PARSE, GOLDEN_N("inv"), GOLDEN_T("2026/000002-92")}},
    {"UNDELIVERED PERIOD", false, GOLDEN_HDR,
     {.op = SEQ_OP_UNDELIVERED, GOLDEN_N("inv"), .min = 4, .max = 5, .count = 1,
      GOLDEN_T("reply undelivered: the client disconnected"), .has_period = true, .period_kind = 1,
      .period = 2026}},
};

static inline const golden_case *golden_cases(size_t *n)
{
    *n = sizeof(golden_table) / sizeof(golden_table[0]);
    return golden_table;
}

#endif
