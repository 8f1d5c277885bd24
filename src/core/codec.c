/* codec — log entries to bytes and back (format in codec.h). */
#include "codec.h"

#include "doc_format.h"

#include <assert.h>
#include <string.h>

/* One row per op names the fields of its command in the order they are
 * written: the layout of codec.h, in one place, for the writer, the reader
 * and the size alike. An op whose extended fields are in use writes its op
 * byte | CODEC_EXTENDED and adds them after its plain fields; entries
 * without them keep the original layout. */
#define CODEC_EXTENDED 0x80
/* A command that names who asked (seq_cmd.user) has op byte | CODEC_BY
 * and user_len u8, user after its name. Ops stay below 0x40. */
#define CODEC_BY 0x40
#define CODEC_FIELDS_MAX 10
/* Wire ops that decode as another op: a CREATE or an ADDRANGE with a
 * document part (codec.h) */
#define CODEC_WIRE_CREATE_DOC 27
#define CODEC_WIRE_ADDRANGE_DOC 28

typedef enum codec_field {
    CODEC_END = 0,
    CODEC_MIN,         /* min i64 */
    CODEC_MAX,         /* max i64 */
    CODEC_START,       /* has_start u8, start i64 (0 when absent) */
    CODEC_TTL,         /* ttl_ms i64 */
    CODEC_COUNT,       /* count u32 */
    CODEC_TERM,        /* term u64 */
    CODEC_NODE,        /* node u64 */
    CODEC_FRESH,       /* has_start u8: a new block holder */
    CODEC_TRUSTED,     /* count u8: 1 when the report is the applying process's own */
    CODEC_GRANT,       /* has_start u8, then term u64 (the grant; 0 when absent) */
    CODEC_KEY,         /* key_len u16, key */
    CODEC_TEXT,        /* text_len u16, text */
    CODEC_MODE,        /* mode u8 */
    CODEC_CACHE,       /* cache u32 */
    CODEC_WARN,        /* warn u64 */
    CODEC_WINDOW,      /* flags u8 (1 not_before, 2 not_after), not_before i64, not_after i64 */
    CODEC_INCARNATION, /* incarnation u64, never 0 (0 is the plain layout) */
    CODEC_RULES,       /* text_len u16 (<= SEQ_ACL_TEXT_MAX), text */
    CODEC_FORMAT,      /* format_len u8 (<= DOC_FORMAT_MAX), format */
    CODEC_LABEL,       /* label_len u8 (<= DOC_LABEL_MAX), label */
    CODEC_PERIODS,     /* period_kind u8, tz_minutes i16 (as u16) */
    CODEC_PERIOD,      /* period_kind u8, period i64 (in use: has_period) */
    CODEC_TEXT_REPLY,  /* u8 1 (in use: text_reply) */
    CODEC_DOC_TEXT,    /* text_len u16 (<= DOC_TEXT_MAX), text */
} codec_field;

typedef struct codec_layout {
    uint8_t op; /* on the wire */
    uint8_t as; /* the op it decodes as (0: op) */
    uint8_t plain[CODEC_FIELDS_MAX];    /* codec_field, CODEC_END-terminated */
    uint8_t extended[CODEC_FIELDS_MAX]; /* after plain, with op | CODEC_EXTENDED */
} codec_layout;

static const codec_layout codec_layouts[] = {
    {SEQ_OP_CREATE, 0, {CODEC_MIN, CODEC_MAX, CODEC_START},
     {CODEC_MODE, CODEC_CACHE, CODEC_WARN, CODEC_WINDOW}},
    {SEQ_OP_ADDRANGE, 0, {CODEC_MIN, CODEC_MAX}, {CODEC_WINDOW}},
    {SEQ_OP_NEXT, 0, {CODEC_COUNT, CODEC_KEY}, {CODEC_TEXT_REPLY}},
    {SEQ_OP_DESCRIBE, 0, {0}, {CODEC_PERIOD}},
    {SEQ_OP_LIST, 0, {0}, {0}},
    {SEQ_OP_DROP, 0, {0}, {0}},
    {SEQ_OP_VOID, 0, {CODEC_MIN, CODEC_TEXT}, {0}},
    {SEQ_OP_GAPS, 0, {CODEC_MIN, CODEC_MAX}, {CODEC_PERIOD}},
    {SEQ_OP_LOOKUP, 0, {CODEC_MIN}, {CODEC_PERIOD}},
    {SEQ_OP_LOOKUP_KEY, 0, {CODEC_KEY}, {0}},
    {SEQ_OP_RESERVE, 0, {CODEC_TTL, CODEC_KEY}, {0}},
    {SEQ_OP_CONFIRM, 0, {CODEC_MIN, CODEC_KEY}, {CODEC_PERIOD}},
    {SEQ_OP_RELEASE, 0, {CODEC_MIN, CODEC_KEY}, {CODEC_PERIOD}},
    {SEQ_OP_ALLOCBLOCK, 0, {CODEC_COUNT, CODEC_TERM, CODEC_NODE, CODEC_FRESH}, {CODEC_INCARNATION}},
    {SEQ_OP_USED, 0, {CODEC_COUNT, CODEC_TERM, CODEC_NODE}, {CODEC_INCARNATION}},
    {SEQ_OP_RECOVER, 0, {CODEC_TERM, CODEC_NODE}, {0}},
    {SEQ_OP_UNDELIVERED, 0, {CODEC_MIN, CODEC_MAX, CODEC_TRUSTED, CODEC_GRANT, CODEC_TEXT},
     {CODEC_PERIOD}},
    {SEQ_OP_SERVED, 0, {CODEC_MIN, CODEC_MAX, CODEC_TERM, CODEC_NODE}, {CODEC_INCARNATION}},
    {SEQ_OP_ACL_SETUSER, 0, {CODEC_FRESH, CODEC_RULES}, {0}},
    {SEQ_OP_ACL_DELUSER, 0, {CODEC_RULES}, {0}},
    {SEQ_OP_ACL_GETUSER, 0, {0}, {0}},
    {SEQ_OP_ACL_LIST, 0, {0}, {0}},
    {SEQ_OP_ACL_USERS, 0, {0}, {0}},
    {SEQ_OP_SETFORMAT, 0, {CODEC_FORMAT}, {0}},
    {SEQ_OP_RENDER, 0, {CODEC_MIN}, {CODEC_PERIOD}},
    {SEQ_OP_PARSE, 0, {CODEC_DOC_TEXT}, {0}},
    {CODEC_WIRE_CREATE_DOC, SEQ_OP_CREATE,
     {CODEC_MIN, CODEC_MAX, CODEC_START, CODEC_MODE, CODEC_CACHE, CODEC_WARN, CODEC_WINDOW,
      CODEC_FORMAT, CODEC_LABEL, CODEC_PERIODS},
     {0}},
    {CODEC_WIRE_ADDRANGE_DOC, SEQ_OP_ADDRANGE, {CODEC_MIN, CODEC_MAX, CODEC_WINDOW, CODEC_LABEL},
     {0}},
};

/* The row of wire op op, or NULL. */
static const codec_layout *codecLayout(uint8_t op)
{
    for (size_t i = 0; i < sizeof(codec_layouts) / sizeof(codec_layouts[0]); i++) {
        if (codec_layouts[i].op == op) {
            return &codec_layouts[i];
        }
    }
    return NULL;
}

/* The row a command is written by: a CREATE or ADDRANGE with a document
 * part takes its own wire op, so older entries keep their layout. */
static const codec_layout *codecLayoutFor(const seq_cmd *cmd)
{
    bool doc = cmd->label_len > 0 ||
               (cmd->op == SEQ_OP_CREATE && (cmd->format_len > 0 || cmd->period_kind != 0));
    if (doc && cmd->op == SEQ_OP_CREATE) {
        return codecLayout(CODEC_WIRE_CREATE_DOC);
    }
    if (doc && cmd->op == SEQ_OP_ADDRANGE) {
        return codecLayout(CODEC_WIRE_ADDRANGE_DOC);
    }
    return codecLayout(cmd->op);
}

/* Whether a field holds something other than what its absence reads as:
 * an extended field in use is what makes an entry take the extended layout. */
static bool codecFieldInUse(codec_field f, const seq_cmd *cmd)
{
    switch (f) {
    case CODEC_MODE: return cmd->mode != 0;
    case CODEC_CACHE: return cmd->cache != 0;
    case CODEC_WARN: return cmd->warn != 0;
    case CODEC_WINDOW: return cmd->has_not_before || cmd->has_not_after;
    case CODEC_INCARNATION: return cmd->incarnation != 0;
    case CODEC_PERIOD: return cmd->has_period;
    case CODEC_TEXT_REPLY: return cmd->text_reply;
    default: return true;
    }
}

static bool codecExtended(const codec_layout *l, const seq_cmd *cmd)
{
    for (size_t i = 0; l != NULL && i < CODEC_FIELDS_MAX && l->extended[i] != CODEC_END; i++) {
        if (codecFieldInUse((codec_field)l->extended[i], cmd)) {
            return true;
        }
    }
    return false;
}

static size_t codecFieldSize(codec_field f, const seq_cmd *cmd)
{
    switch (f) {
    case CODEC_MIN:
    case CODEC_MAX:
    case CODEC_TTL:
    case CODEC_TERM:
    case CODEC_NODE:
    case CODEC_WARN:
    case CODEC_INCARNATION: return 8;
    case CODEC_START:
    case CODEC_GRANT: return 1 + 8;
    case CODEC_COUNT:
    case CODEC_CACHE: return 4;
    case CODEC_FRESH:
    case CODEC_TRUSTED:
    case CODEC_MODE: return 1;
    case CODEC_KEY: return 2 + cmd->key_len;
    case CODEC_TEXT:
    case CODEC_RULES: return 2 + cmd->text_len;
    case CODEC_WINDOW: return 1 + 8 + 8;
    case CODEC_FORMAT: return 1 + cmd->format_len;
    case CODEC_LABEL: return 1 + cmd->label_len;
    case CODEC_PERIODS: return 1 + 2;
    case CODEC_PERIOD: return 1 + 8;
    case CODEC_TEXT_REPLY: return 1;
    case CODEC_DOC_TEXT: return 2 + cmd->text_len;
    default: return 0;
    }
}

static void codecPutField(seq_writer *w, codec_field f, const seq_cmd *cmd)
{
    switch (f) {
    case CODEC_MIN: seq_put_i64(w, cmd->min); break;
    case CODEC_MAX: seq_put_i64(w, cmd->max); break;
    case CODEC_START:
        seq_put_u8(w, cmd->has_start ? 1 : 0);
        seq_put_i64(w, cmd->has_start ? cmd->start : 0);
        break;
    case CODEC_TTL: seq_put_i64(w, cmd->ttl_ms); break;
    case CODEC_COUNT: seq_put_u32(w, cmd->count); break;
    case CODEC_TERM: seq_put_u64(w, cmd->term); break;
    case CODEC_NODE: seq_put_u64(w, cmd->node); break;
    case CODEC_FRESH: seq_put_u8(w, cmd->has_start ? 1 : 0); break;
    case CODEC_TRUSTED: seq_put_u8(w, cmd->count == 1 ? 1 : 0); break;
    case CODEC_GRANT:
        seq_put_u8(w, cmd->has_start ? 1 : 0);
        seq_put_u64(w, cmd->has_start ? cmd->term : 0);
        break;
    case CODEC_KEY:
        assert(cmd->key_len <= SEQ_KEY_MAX);
        seq_put_u16(w, (uint16_t)cmd->key_len);
        seq_put_bytes(w, cmd->key, cmd->key_len);
        break;
    case CODEC_TEXT:
        assert(cmd->text_len <= SEQ_REASON_MAX);
        seq_put_u16(w, (uint16_t)cmd->text_len);
        seq_put_bytes(w, cmd->text, cmd->text_len);
        break;
    case CODEC_RULES:
        assert(cmd->text_len <= SEQ_ACL_TEXT_MAX);
        seq_put_u16(w, (uint16_t)cmd->text_len);
        seq_put_bytes(w, cmd->text, cmd->text_len);
        break;
    case CODEC_MODE: seq_put_u8(w, cmd->mode); break;
    case CODEC_CACHE: seq_put_u32(w, cmd->cache); break;
    case CODEC_WARN: seq_put_u64(w, cmd->warn); break;
    case CODEC_WINDOW:
        seq_put_u8(w, (uint8_t)((cmd->has_not_before ? 1 : 0) | (cmd->has_not_after ? 2 : 0)));
        seq_put_i64(w, cmd->has_not_before ? cmd->not_before : 0);
        seq_put_i64(w, cmd->has_not_after ? cmd->not_after : 0);
        break;
    case CODEC_INCARNATION: seq_put_u64(w, cmd->incarnation); break;
    case CODEC_FORMAT:
        assert(cmd->format_len <= DOC_FORMAT_MAX);
        seq_put_u8(w, (uint8_t)cmd->format_len);
        seq_put_bytes(w, cmd->format, cmd->format_len);
        break;
    case CODEC_LABEL:
        assert(cmd->label_len <= DOC_LABEL_MAX);
        seq_put_u8(w, (uint8_t)cmd->label_len);
        seq_put_bytes(w, cmd->label, cmd->label_len);
        break;
    case CODEC_PERIODS:
        seq_put_u8(w, cmd->period_kind);
        seq_put_u16(w, (uint16_t)cmd->tz_minutes);
        break;
    case CODEC_PERIOD:
        seq_put_u8(w, cmd->period_kind);
        seq_put_i64(w, cmd->period);
        break;
    case CODEC_TEXT_REPLY: seq_put_u8(w, 1); break;
    case CODEC_DOC_TEXT:
        assert(cmd->text_len <= DOC_TEXT_MAX);
        seq_put_u16(w, (uint16_t)cmd->text_len);
        seq_put_bytes(w, cmd->text, cmd->text_len);
        break;
    default: assert(!"codec: a field without a writer"); break;
    }
}

/* Reads a u8 that must be 0 or 1. */
static int codecGetFlag(seq_reader *r, bool *flag)
{
    uint8_t v = seq_get_u8(r);
    *flag = v == 1;
    return v > 1 ? -1 : 0;
}

/* Reads a u16 length, at most max, and that many bytes (pointing into the
 * entry). */
static int codecGetBytes(seq_reader *r, size_t max, const char **p, size_t *len)
{
    *len = seq_get_u16(r);
    if (*len > max) {
        return -1;
    }
    *p = (const char *)seq_get_bytes(r, *len);
    return 0;
}

/* Reads a u8 length, at most max, and that many bytes. */
static int codecGetShort(seq_reader *r, size_t max, const char **p, size_t *len)
{
    *len = seq_get_u8(r);
    if (*len > max) {
        return -1;
    }
    *p = (const char *)seq_get_bytes(r, *len);
    return 0;
}

static int codecGetField(seq_reader *r, codec_field f, seq_cmd *cmd)
{
    switch (f) {
    case CODEC_MIN: cmd->min = seq_get_i64(r); return 0;
    case CODEC_MAX: cmd->max = seq_get_i64(r); return 0;
    case CODEC_START: {
        int rv = codecGetFlag(r, &cmd->has_start);
        cmd->start = seq_get_i64(r);
        return rv;
    }
    case CODEC_TTL: cmd->ttl_ms = seq_get_i64(r); return 0;
    case CODEC_COUNT: cmd->count = seq_get_u32(r); return 0;
    case CODEC_TERM: cmd->term = seq_get_u64(r); return 0;
    case CODEC_NODE: cmd->node = seq_get_u64(r); return 0;
    case CODEC_FRESH: return codecGetFlag(r, &cmd->has_start);
    case CODEC_TRUSTED: {
        bool trusted;
        int rv = codecGetFlag(r, &trusted);
        cmd->count = trusted ? 1 : 0;
        return rv;
    }
    case CODEC_GRANT: {
        int rv = codecGetFlag(r, &cmd->has_start);
        cmd->term = seq_get_u64(r);
        return rv;
    }
    case CODEC_KEY: return codecGetBytes(r, SEQ_KEY_MAX, &cmd->key, &cmd->key_len);
    case CODEC_TEXT: return codecGetBytes(r, SEQ_REASON_MAX, &cmd->text, &cmd->text_len);
    case CODEC_RULES: return codecGetBytes(r, SEQ_ACL_TEXT_MAX, &cmd->text, &cmd->text_len);
    case CODEC_MODE: cmd->mode = seq_get_u8(r); return 0;
    case CODEC_CACHE: cmd->cache = seq_get_u32(r); return 0;
    case CODEC_WARN: cmd->warn = seq_get_u64(r); return 0;
    case CODEC_WINDOW: {
        uint8_t flags = seq_get_u8(r);
        cmd->has_not_before = (flags & 1) != 0;
        cmd->has_not_after = (flags & 2) != 0;
        cmd->not_before = seq_get_i64(r);
        cmd->not_after = seq_get_i64(r);
        return flags > 3 ? -1 : 0;
    }
    case CODEC_INCARNATION:
        cmd->incarnation = seq_get_u64(r);
        return cmd->incarnation == 0 ? -1 : 0; /* 0 is written as the plain layout */
    case CODEC_FORMAT: return codecGetShort(r, DOC_FORMAT_MAX, &cmd->format, &cmd->format_len);
    case CODEC_LABEL: return codecGetShort(r, DOC_LABEL_MAX, &cmd->label, &cmd->label_len);
    case CODEC_PERIODS:
        cmd->period_kind = seq_get_u8(r);
        cmd->tz_minutes = (int16_t)seq_get_u16(r);
        return 0;
    case CODEC_PERIOD:
        cmd->has_period = true;
        cmd->period_kind = seq_get_u8(r);
        cmd->period = seq_get_i64(r);
        return 0;
    case CODEC_TEXT_REPLY: {
        bool on;
        int rv = codecGetFlag(r, &on);
        cmd->text_reply = on;
        return rv != 0 || !on ? -1 : 0; /* 0 is written as the plain layout */
    }
    case CODEC_DOC_TEXT: return codecGetBytes(r, DOC_TEXT_MAX, &cmd->text, &cmd->text_len);
    default: return -1;
    }
}

/* Whether cmd must name its user: it is not the one the entry named last. */
static bool codecNamesUser(const seq_cmd *cmd, const codec_by *by)
{
    return cmd->user_len != by->user_len ||
           (cmd->user_len > 0 && memcmp(cmd->user, by->user, cmd->user_len) != 0);
}

size_t codec_cmd_size(const seq_cmd *cmd)
{
    codec_by none = {.user_len = 0};
    return codec_cmd_size_by(cmd, &none);
}

size_t codec_cmd_size_by(const seq_cmd *cmd, const codec_by *by)
{
    size_t n = 1 + 2 + cmd->name_len + (codecNamesUser(cmd, by) ? 1 + cmd->user_len : 0);
    const codec_layout *l = codecLayoutFor(cmd);
    if (l == NULL) {
        return n;
    }
    bool ext = codecExtended(l, cmd);
    for (size_t i = 0; i < CODEC_FIELDS_MAX && l->plain[i] != CODEC_END; i++) {
        n += codecFieldSize((codec_field)l->plain[i], cmd);
    }
    for (size_t i = 0; ext && i < CODEC_FIELDS_MAX && l->extended[i] != CODEC_END; i++) {
        n += codecFieldSize((codec_field)l->extended[i], cmd);
    }
    return n;
}

void codec_put_header(seq_writer *w, const codec_header *h)
{
    seq_put_u8(w, CODEC_VERSION);
    seq_put_i64(w, h->time_ms);
    seq_put_i64(w, h->retention_ms);
    seq_put_u64(w, h->origin);
    seq_put_u64(w, h->batch_seq);
    seq_put_u32(w, h->n_cmds);
    seq_put_u64(w, h->keys_max);
    seq_put_i64(w, h->mono_ms);
}

seq_stamp codec_stamp(const codec_header *h)
{
    seq_stamp st = {
        .wall_ms = h->time_ms,
        .mono_ms = h->mono_ms,
        .origin = h->origin,
        .retention_ms = h->retention_ms,
        .keys_max = h->keys_max,
    };
    return st;
}

void codec_put_cmd(seq_writer *w, const seq_cmd *cmd)
{
    codec_by none = {.user_len = 0};
    codec_put_cmd_by(w, cmd, &none);
}

void codec_put_cmd_by(seq_writer *w, const seq_cmd *cmd, codec_by *who)
{
    assert(cmd->name_len <= SEQ_NAME_MAX);
    const codec_layout *l = codecLayoutFor(cmd);
    bool ext = codecExtended(l, cmd);
    assert(cmd->op < CODEC_BY && cmd->user_len <= SEQ_USER_MAX);
    bool by = codecNamesUser(cmd, who);
    uint8_t wire = l != NULL ? l->op : cmd->op;
    seq_put_u8(w, (uint8_t)(wire | (ext ? CODEC_EXTENDED : 0) | (by ? CODEC_BY : 0)));
    seq_put_u16(w, (uint16_t)cmd->name_len);
    seq_put_bytes(w, cmd->name, cmd->name_len);
    if (by) {
        seq_put_u8(w, (uint8_t)cmd->user_len);
        seq_put_bytes(w, cmd->user, cmd->user_len);
        if (cmd->user_len > 0) {
            memcpy(who->user, cmd->user, cmd->user_len);
        }
        who->user[cmd->user_len] = '\0';
        who->user_len = cmd->user_len;
    }
    for (size_t i = 0; l != NULL && i < CODEC_FIELDS_MAX && l->plain[i] != CODEC_END; i++) {
        codecPutField(w, (codec_field)l->plain[i], cmd);
    }
    for (size_t i = 0; ext && i < CODEC_FIELDS_MAX && l->extended[i] != CODEC_END; i++) {
        codecPutField(w, (codec_field)l->extended[i], cmd);
    }
}

int codec_get_header(seq_reader *r, codec_header *h)
{
    memset(h, 0, sizeof(*h));
    uint8_t version = seq_get_u8(r);
    if (version != CODEC_VERSION && version != CODEC_VERSION_V1) {
        return -1;
    }
    h->time_ms = seq_get_i64(r);
    h->retention_ms = seq_get_i64(r);
    h->origin = seq_get_u64(r);
    h->batch_seq = seq_get_u64(r);
    h->n_cmds = seq_get_u32(r);
    h->keys_max = SEQ_KEYS_MAX_DEFAULT;
    h->mono_ms = h->time_ms;
    if (version >= 2) {
        h->keys_max = seq_get_u64(r);
        h->mono_ms = seq_get_i64(r);
    }
    if (r->bad || h->n_cmds > CODEC_BATCH_MAX) {
        return -1;
    }
    return 0;
}

int codec_get_cmd(seq_reader *r, seq_cmd *cmd)
{
    codec_by none = {.user_len = 0};
    return codec_get_cmd_by(r, cmd, &none);
}

int codec_get_cmd_by(seq_reader *r, seq_cmd *cmd, codec_by *who)
{
    memset(cmd, 0, sizeof(*cmd));
    uint8_t op = seq_get_u8(r);
    bool ext = (op & CODEC_EXTENDED) != 0;
    bool by = (op & CODEC_BY) != 0;
    cmd->op = (uint8_t)(op & ~(CODEC_EXTENDED | CODEC_BY));
    const codec_layout *l = codecLayout(cmd->op);
    if (l == NULL || (ext && l->extended[0] == CODEC_END)) {
        return -1;
    }
    if (l->as != 0) {
        cmd->op = l->as;
    }
    if (codecGetBytes(r, SEQ_NAME_MAX, &cmd->name, &cmd->name_len) != 0) {
        return -1;
    }
    if (by) {
        size_t len = seq_get_u8(r);
        const char *user = len > 0 ? (const char *)seq_get_bytes(r, len) : NULL;
        if (len > 0 && !seq_user_valid(user, len)) {
            return -1;
        }
        if (len > 0) {
            memcpy(who->user, user, len);
        }
        who->user[len] = '\0';
        who->user_len = len;
        cmd->user = user; /* into the entry */
        cmd->user_len = len;
    } else if (who->user_len > 0) {
        cmd->user = who->user; /* named before in the entry: who's copy */
        cmd->user_len = who->user_len;
    }
    for (size_t i = 0; i < CODEC_FIELDS_MAX && l->plain[i] != CODEC_END; i++) {
        if (codecGetField(r, (codec_field)l->plain[i], cmd) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; ext && i < CODEC_FIELDS_MAX && l->extended[i] != CODEC_END; i++) {
        if (codecGetField(r, (codec_field)l->extended[i], cmd) != 0) {
            return -1;
        }
    }
    return r->bad ? -1 : 0;
}
