/* seq_acl — users and permissions, replicated like the sequences: who may
 * log in (on or off, nopass or password hashes), which sequences they may
 * touch (fnmatch globs on names) and which commands they may run (rules,
 * the last that matches deciding, as Redis's ACL).
 *
 * Keeps (seq_internal.h): the default user always exists; every user is
 * valid (seqUserValid) after every command; SETUSER applies all its rules
 * or none (it works on a copy); the rules stay compacted, so a user is
 * bounded however many SETUSERs it gets. The core never sees a password:
 * `>password` and `<password` are refused here (the server turns them into
 * #hash and !hash before it proposes). */
#include "seq_internal.h"

#include <assert.h>
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    unsigned category;
} seq_categories[] = {
    {"read", SEQ_CAT_READ},   {"issue", SEQ_CAT_ISSUE},     {"void", SEQ_CAT_VOID},
    {"admin", SEQ_CAT_ADMIN}, {"cluster", SEQ_CAT_CLUSTER}, {"acl", SEQ_CAT_ACL},
    {"all", SEQ_CAT_ALL},
};
#define SEQ_CATEGORIES (sizeof(seq_categories) / sizeof(seq_categories[0]))

unsigned seq_acl_category_named(const char *name, size_t len)
{
    for (size_t i = 0; i < SEQ_CATEGORIES; i++) {
        if (strlen(seq_categories[i].name) == len && strncasecmp(name, seq_categories[i].name, len) == 0) {
            return seq_categories[i].category;
        }
    }
    return 0;
}

const char *seq_acl_category_name(unsigned category)
{
    for (size_t i = 0; i < SEQ_CATEGORIES; i++) {
        if (seq_categories[i].category == category) {
            return seq_categories[i].name;
        }
    }
    return "";
}

static bool seqPrintableNoSpace(const char *p, size_t len, size_t max)
{
    if (len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

bool seq_user_valid(const char *name, size_t len)
{
    return name != NULL && seqPrintableNoSpace(name, len, SEQ_USER_MAX);
}

static bool seqWord(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(tok, word, len) == 0;
}

/* A command rule's name: [a-zA-Z|], one '|' at most, not at an end. */
static bool seqCommandNameValid(const char *p, size_t len)
{
    if (len == 0 || len > SEQ_ACL_COMMAND_MAX || p[0] == '|' || p[len - 1] == '|') {
        return false;
    }
    size_t bars = 0;
    for (size_t i = 0; i < len; i++) {
        bars += p[i] == '|' ? 1 : 0;
        if (p[i] != '|' && !isalpha((unsigned char)p[i])) {
            return false;
        }
    }
    return bars <= 1;
}

int seq_acl_token_kind(const char *tok, size_t len)
{
    static const struct {
        const char *word;
        int kind;
    } words[] = {
        {"on", SEQ_ACL_T_ON},
        {"off", SEQ_ACL_T_OFF},
        {"nopass", SEQ_ACL_T_NOPASS},
        {"resetpass", SEQ_ACL_T_RESETPASS},
        {"allkeys", SEQ_ACL_T_ALLKEYS},
        {"resetkeys", SEQ_ACL_T_RESETKEYS},
        {"allcommands", SEQ_ACL_T_ALLCOMMANDS},
        {"nocommands", SEQ_ACL_T_NOCOMMANDS},
        {"reset", SEQ_ACL_T_RESET},
        {"allchannels", SEQ_ACL_T_CHANNELS},
        {"resetchannels", SEQ_ACL_T_CHANNELS},
    };
    if (tok == NULL || len == 0 || len > SEQ_ACL_TOKEN_MAX) {
        return SEQ_ACL_T_BAD;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (seqWord(tok, len, words[i].word)) {
            return words[i].kind;
        }
    }
    switch (tok[0]) {
    case '>': return SEQ_ACL_T_PASSWORD; /* any bytes: it is hashed */
    case '<': return SEQ_ACL_T_UNPASSWORD;
    case '#': return seqPrintableNoSpace(tok + 1, len - 1, SEQ_ACL_TOKEN_MAX) ? SEQ_ACL_T_HASH : SEQ_ACL_T_BAD;
    case '!': return seqPrintableNoSpace(tok + 1, len - 1, SEQ_ACL_TOKEN_MAX) ? SEQ_ACL_T_UNHASH : SEQ_ACL_T_BAD;
    case '~': return seqPrintableNoSpace(tok + 1, len - 1, SEQ_NAME_MAX) ? SEQ_ACL_T_PATTERN : SEQ_ACL_T_BAD;
    case '&': return len == 2 && tok[1] == '*' ? SEQ_ACL_T_CHANNELS : SEQ_ACL_T_BAD;
    case '+':
    case '-':
        if (len > 2 && tok[1] == '@') {
            if (seq_acl_category_named(tok + 2, len - 2) == 0) {
                return SEQ_ACL_T_BAD;
            }
            return tok[0] == '+' ? SEQ_ACL_T_ALLOW_CATEGORY : SEQ_ACL_T_DENY_CATEGORY;
        }
        if (!seqCommandNameValid(tok + 1, len - 1)) {
            return SEQ_ACL_T_BAD;
        }
        return tok[0] == '+' ? SEQ_ACL_T_ALLOW_COMMAND : SEQ_ACL_T_DENY_COMMAND;
    default: return SEQ_ACL_T_BAD;
    }
}

/* ---- users ------------------------------------------------------------- */

seq_user *seqUserNew(const char *name, size_t len, bool as_default)
{
    assert(seq_user_valid(name, len));
    seq_user *u = seq_xcalloc(1, sizeof(*u));
    u->name = seqStrdup(name, len);
    u->name_len = len;
    if (as_default) {
        u->enabled = true;
        u->nopass = true;
        u->patterns[u->n_patterns++] = seqStrdup("*", 1);
        u->rules[u->n_rules++] = (seq_acl_rule){.allow = true, .category = SEQ_CAT_ALL};
    }
    return u;
}

static void seqUserClearHashes(seq_user *u)
{
    for (size_t i = 0; i < u->n_hashes; i++) {
        free(u->hashes[i]);
    }
    u->n_hashes = 0;
}

static void seqUserClearPatterns(seq_user *u)
{
    for (size_t i = 0; i < u->n_patterns; i++) {
        free(u->patterns[i]);
    }
    u->n_patterns = 0;
}

void seqUserFree(seq_user *u)
{
    if (u == NULL) {
        return;
    }
    seqUserClearHashes(u);
    seqUserClearPatterns(u);
    free(u->name);
    free(u);
}

static seq_user *seqUserCopy(const seq_user *from)
{
    seq_user *u = seq_xcalloc(1, sizeof(*u));
    *u = *from;
    memset(&u->hh, 0, sizeof(u->hh));
    u->name = seqStrdup(from->name, from->name_len);
    for (size_t i = 0; i < from->n_hashes; i++) {
        u->hashes[i] = seqStrdup(from->hashes[i], strlen(from->hashes[i]));
    }
    for (size_t i = 0; i < from->n_patterns; i++) {
        u->patterns[i] = seqStrdup(from->patterns[i], strlen(from->patterns[i]));
    }
    return u;
}

void seqUserAdd(seq_state *s, seq_user *u)
{
    HASH_ADD_KEYPTR(hh, s->users, u->name, u->name_len, u);
    s->n_users++;
}

static seq_user *seqUserFind(const seq_state *s, const char *name, size_t len)
{
    seq_user *u = NULL;
    HASH_FIND(hh, s->users, name, len, u);
    return u;
}

/* Index of text among list[0..n), or n. */
static size_t seqFindText(char *const *list, size_t n, const char *text, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(list[i]) == len && memcmp(list[i], text, len) == 0) {
            return i;
        }
    }
    return n;
}

static void seqRemoveText(char **list, size_t *n, size_t at)
{
    assert(at < *n);
    free(list[at]);
    memmove(&list[at], &list[at + 1], (*n - at - 1) * sizeof(list[0]));
    (*n)--;
}

/* Appends rule r, dropping what it overrides: every earlier rule when it
 * is on all commands, else the earlier rule on its own target. A deny-all
 * leaves no rules (nothing is allowed without one). */
static int seqUserPushRule(seq_user *u, seq_acl_rule r)
{
    if (r.category == SEQ_CAT_ALL) {
        u->n_rules = 0;
        if (r.allow) {
            u->rules[u->n_rules++] = r;
        }
        return SEQ_OK;
    }
    for (size_t i = 0; i < u->n_rules; i++) {
        const seq_acl_rule *e = &u->rules[i];
        if (e->category == r.category && strcmp(e->command, r.command) == 0) {
            memmove(&u->rules[i], &u->rules[i + 1], (u->n_rules - i - 1) * sizeof(u->rules[0]));
            u->n_rules--;
            break;
        }
    }
    if (u->n_rules == SEQ_ACL_RULES_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    u->rules[u->n_rules++] = r;
    return SEQ_OK;
}

static int seqUserAddHash(seq_user *u, const char *hash, size_t len)
{
    if (seqFindText(u->hashes, u->n_hashes, hash, len) < u->n_hashes) {
        u->nopass = false;
        return SEQ_OK;
    }
    if (u->n_hashes == SEQ_ACL_HASHES_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    u->hashes[u->n_hashes++] = seqStrdup(hash, len);
    u->nopass = false;
    return SEQ_OK;
}

static int seqUserAddPattern(seq_user *u, const char *glob, size_t len)
{
    if (seqFindText(u->patterns, u->n_patterns, glob, len) < u->n_patterns) {
        return SEQ_OK;
    }
    if (u->n_patterns == SEQ_ACL_PATTERNS_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    u->patterns[u->n_patterns++] = seqStrdup(glob, len);
    return SEQ_OK;
}

static seq_acl_rule seqCommandRule(bool allow, const char *name, size_t len)
{
    seq_acl_rule r = {.allow = allow};
    assert(len <= SEQ_ACL_COMMAND_MAX);
    for (size_t i = 0; i < len; i++) {
        r.command[i] = (char)tolower((unsigned char)name[i]);
    }
    return r;
}

/* Applies one rule to u; SEQ_OK or why not (u is a copy: the caller
 * throws it away on failure). */
static int seqUserApply(seq_user *u, const char *tok, size_t len)
{
    switch (seq_acl_token_kind(tok, len)) {
    case SEQ_ACL_T_ON: u->enabled = true; return SEQ_OK;
    case SEQ_ACL_T_OFF: u->enabled = false; return SEQ_OK;
    case SEQ_ACL_T_NOPASS:
        seqUserClearHashes(u);
        u->nopass = true;
        return SEQ_OK;
    case SEQ_ACL_T_RESETPASS:
        seqUserClearHashes(u);
        u->nopass = false;
        return SEQ_OK;
    case SEQ_ACL_T_HASH: return seqUserAddHash(u, tok + 1, len - 1);
    case SEQ_ACL_T_UNHASH: {
        size_t at = seqFindText(u->hashes, u->n_hashes, tok + 1, len - 1);
        if (at == u->n_hashes) {
            return SEQ_ERR_ACL_RULE; /* as Redis: removing what is not there is an error */
        }
        seqRemoveText(u->hashes, &u->n_hashes, at);
        return SEQ_OK;
    }
    case SEQ_ACL_T_PATTERN: return seqUserAddPattern(u, tok + 1, len - 1);
    case SEQ_ACL_T_ALLKEYS:
        seqUserClearPatterns(u);
        return seqUserAddPattern(u, "*", 1);
    case SEQ_ACL_T_RESETKEYS: seqUserClearPatterns(u); return SEQ_OK;
    case SEQ_ACL_T_ALLOW_CATEGORY:
    case SEQ_ACL_T_DENY_CATEGORY:
        return seqUserPushRule(u, (seq_acl_rule){.allow = tok[0] == '+',
                                                 .category = seq_acl_category_named(tok + 2, len - 2)});
    case SEQ_ACL_T_ALLOW_COMMAND:
    case SEQ_ACL_T_DENY_COMMAND: return seqUserPushRule(u, seqCommandRule(tok[0] == '+', tok + 1, len - 1));
    case SEQ_ACL_T_ALLCOMMANDS: return seqUserPushRule(u, (seq_acl_rule){.allow = true, .category = SEQ_CAT_ALL});
    case SEQ_ACL_T_NOCOMMANDS: return seqUserPushRule(u, (seq_acl_rule){.allow = false, .category = SEQ_CAT_ALL});
    case SEQ_ACL_T_RESET:
        u->enabled = false;
        u->nopass = false;
        seqUserClearHashes(u);
        seqUserClearPatterns(u);
        u->n_rules = 0;
        return SEQ_OK;
    case SEQ_ACL_T_CHANNELS: return SEQ_OK;
    default: return SEQ_ERR_ACL_RULE; /* bad syntax, or a password in clear */
    }
}

bool seqUserValid(const seq_user *u)
{
    if (!seq_user_valid(u->name, u->name_len) || strlen(u->name) != u->name_len ||
        u->n_hashes > SEQ_ACL_HASHES_MAX || u->n_patterns > SEQ_ACL_PATTERNS_MAX ||
        u->n_rules > SEQ_ACL_RULES_MAX || (u->nopass && u->n_hashes > 0)) {
        return false;
    }
    for (size_t i = 0; i < u->n_hashes; i++) {
        size_t len = strlen(u->hashes[i]);
        if (!seqPrintableNoSpace(u->hashes[i], len, SEQ_ACL_TOKEN_MAX - 1) ||
            seqFindText(u->hashes, i, u->hashes[i], len) < i) {
            return false;
        }
    }
    for (size_t i = 0; i < u->n_patterns; i++) {
        size_t len = strlen(u->patterns[i]);
        if (!seqPrintableNoSpace(u->patterns[i], len, SEQ_NAME_MAX) ||
            seqFindText(u->patterns, i, u->patterns[i], len) < i) {
            return false;
        }
    }
    for (size_t i = 0; i < u->n_rules; i++) {
        const seq_acl_rule *r = &u->rules[i];
        bool named = r->category != 0 && seq_acl_category_name(r->category)[0] != '\0';
        bool command = r->category == 0 && seqCommandNameValid(r->command, strlen(r->command));
        if (named == command || (r->category == SEQ_CAT_ALL && (i != 0 || !r->allow))) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (u->rules[j].category == r->category && strcmp(u->rules[j].command, r->command) == 0) {
                return false;
            }
        }
    }
    return true;
}

/* ---- the commands ------------------------------------------------------ */

static bool seqIsDefault(const char *name, size_t len)
{
    return len == strlen(SEQ_USER_DEFAULT) && memcmp(name, SEQ_USER_DEFAULT, len) == 0;
}

int seqAclSetUser(seq_state *s, const seq_cmd *cmd)
{
    if (!seq_user_valid(cmd->name, cmd->name_len) || cmd->text_len > SEQ_ACL_TEXT_MAX) {
        return !seq_user_valid(cmd->name, cmd->name_len) ? SEQ_ERR_USER : SEQ_ERR_ACL_RULE;
    }
    bool is_default = seqIsDefault(cmd->name, cmd->name_len);
    if (cmd->has_start && (!is_default || s->acl_default_set)) {
        return SEQ_OK; /* a seed comes too late (or is not one): the state stands */
    }
    seq_user *old = seqUserFind(s, cmd->name, cmd->name_len);
    if (old == NULL && s->n_users >= SEQ_USERS_MAX) {
        return SEQ_ERR_TOO_MANY;
    }
    seq_user *u = old != NULL ? seqUserCopy(old) : seqUserNew(cmd->name, cmd->name_len, false);
    size_t at = 0;
    while (at < cmd->text_len) {
        const char *tok = cmd->text + at;
        const char *space = memchr(tok, ' ', cmd->text_len - at);
        size_t len = space != NULL ? (size_t)(space - tok) : cmd->text_len - at;
        int rv = seqUserApply(u, tok, len);
        if (rv != SEQ_OK) {
            seqUserFree(u);
            return rv;
        }
        at += len + 1;
    }
    assert(seqUserValid(u));
    if (old != NULL) {
        HASH_DEL(s->users, old);
        s->n_users--;
        seqUserFree(old);
    }
    seqUserAdd(s, u);
    s->acl_default_set = s->acl_default_set || is_default;
    return SEQ_OK;
}

/* DELUSER: text holds the names, one space apart; issued counts those
 * that were there. All valid, or nothing is removed. */
int seqAclDelUser(seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        while (at < cmd->text_len) {
            const char *name = cmd->text + at;
            const char *space = memchr(name, ' ', cmd->text_len - at);
            size_t len = space != NULL ? (size_t)(space - name) : cmd->text_len - at;
            at += len + 1;
            if (pass == 0 && !seq_user_valid(name, len)) {
                return SEQ_ERR_USER;
            }
            if (pass == 0 && seqIsDefault(name, len)) {
                return SEQ_ERR_ACL_DEFAULT;
            }
            seq_user *u = pass == 1 ? seqUserFind(s, name, len) : NULL;
            if (u != NULL) {
                HASH_DEL(s->users, u);
                s->n_users--;
                seqUserFree(u);
                out->issued++;
            }
        }
    }
    return SEQ_OK;
}

static char *seqJoin2(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = seq_xmalloc(la + lb + 1);
    memcpy(p, a, la);
    memcpy(p + la, b, lb + 1);
    return p;
}

size_t seqUserTokens(const seq_user *u, char **out, size_t cap)
{
    assert(cap >= SEQ_USER_TOKENS_MAX);
    size_t n = 0;
    out[n++] = seqStrdup(u->enabled ? "on" : "off", u->enabled ? 2 : 3);
    if (u->nopass) {
        out[n++] = seqStrdup("nopass", 6);
    }
    for (size_t i = 0; i < u->n_hashes; i++) {
        out[n++] = seqJoin2("#", u->hashes[i]);
    }
    for (size_t i = 0; i < u->n_patterns; i++) {
        out[n++] = seqJoin2("~", u->patterns[i]);
    }
    if (u->n_rules == 0 || u->rules[0].category != SEQ_CAT_ALL) {
        out[n++] = seqStrdup("-@all", 5);
    }
    for (size_t i = 0; i < u->n_rules; i++) {
        const seq_acl_rule *r = &u->rules[i];
        char tok[SEQ_ACL_COMMAND_MAX + 3];
        snprintf(tok, sizeof(tok), "%c%s%s", r->allow ? '+' : '-', r->category != 0 ? "@" : "",
                 r->category != 0 ? seq_acl_category_name(r->category) : r->command);
        out[n++] = seqStrdup(tok, strlen(tok));
    }
    assert(n <= cap);
    return n;
}

int seqAclGetUser(const seq_state *s, const seq_cmd *cmd, seq_result *out)
{
    if (!seq_user_valid(cmd->name, cmd->name_len)) {
        return SEQ_ERR_USER;
    }
    const seq_user *u = seqUserFind(s, cmd->name, cmd->name_len);
    if (u == NULL) {
        return SEQ_ERR_NOUSER;
    }
    out->names = seq_xmalloc(sizeof(char *) * SEQ_USER_TOKENS_MAX);
    out->n_names = seqUserTokens(u, out->names, SEQ_USER_TOKENS_MAX);
    return SEQ_OK;
}

static int seqTextCompare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "user <name> <rules ...>" */
static char *seqUserLine(const seq_user *u)
{
    char *tokens[SEQ_USER_TOKENS_MAX];
    size_t n = seqUserTokens(u, tokens, SEQ_USER_TOKENS_MAX);
    size_t len = 5 + u->name_len;
    for (size_t i = 0; i < n; i++) {
        len += 1 + strlen(tokens[i]);
    }
    char *line = seq_xmalloc(len + 1);
    size_t at = (size_t)snprintf(line, len + 1, "user %s", u->name);
    for (size_t i = 0; i < n; i++) {
        at += (size_t)snprintf(line + at, len + 1 - at, " %s", tokens[i]);
        free(tokens[i]);
    }
    assert(at == len);
    return line;
}

int seqAclList(const seq_state *s, bool lines, seq_result *out)
{
    out->names = seq_xmalloc(sizeof(char *) * (s->n_users == 0 ? 1 : s->n_users));
    size_t n = 0;
    for (const seq_user *u = s->users; u != NULL; u = u->hh.next) {
        out->names[n++] = lines ? seqUserLine(u) : seqStrdup(u->name, u->name_len);
    }
    assert(n == s->n_users);
    out->n_names = n;
    /* names and lines are printable ASCII: strcmp orders them bytewise,
     * and "user a ..." sorts as "a" does (a space sorts before any name byte) */
    qsort(out->names, n, sizeof(char *), seqTextCompare);
    return SEQ_OK;
}

/* ---- questions the server asks ------------------------------------------ */

static bool seqRuleMatches(const seq_acl_rule *r, const char *command, const char *subcommand,
                           unsigned category)
{
    if (r->category != 0) {
        return (r->category & category) != 0;
    }
    size_t len = strlen(command);
    if (strncmp(r->command, command, len) != 0) {
        return false;
    }
    return r->command[len] == '\0' ||
           (subcommand != NULL && r->command[len] == '|' && strcmp(r->command + len + 1, subcommand) == 0);
}

bool seqUserMatches(const seq_state *s, const char *user, size_t user_len, const char *name)
{
    const seq_user *u = seqUserFind(s, user, user_len);
    for (size_t i = 0; u != NULL && i < u->n_patterns; i++) {
        if (fnmatch(u->patterns[i], name, 0) == 0) {
            return true;
        }
    }
    return false; /* (a user removed since its LIST was let in sees nothing) */
}

int seq_acl_check(const seq_state *s, const char *user, size_t user_len, const char *command,
                  const char *subcommand, unsigned category, const char *seq, size_t seq_len)
{
    const seq_user *u = seqUserFind(s, user, user_len);
    if (u == NULL || !u->enabled) {
        return SEQ_ACL_NO_USER;
    }
    bool allowed = false;
    for (size_t i = 0; i < u->n_rules; i++) {
        if (seqRuleMatches(&u->rules[i], command, subcommand, category)) {
            allowed = u->rules[i].allow;
        }
    }
    if (!allowed) {
        return SEQ_ACL_NO_COMMAND;
    }
    if (seq_len == 0) {
        return SEQ_ACL_ALLOWED;
    }
    if (seq_len > SEQ_NAME_MAX) {
        return SEQ_ACL_NO_SEQUENCE;
    }
    char name[SEQ_NAME_MAX + 1];
    memcpy(name, seq, seq_len);
    name[seq_len] = '\0';
    for (size_t i = 0; i < u->n_patterns; i++) {
        if (fnmatch(u->patterns[i], name, 0) == 0) {
            return SEQ_ACL_ALLOWED;
        }
    }
    return SEQ_ACL_NO_SEQUENCE;
}

void seq_acl_login_info(const seq_state *s, const char *user, size_t len, seq_login_info *out)
{
    memset(out, 0, sizeof(*out));
    const seq_user *u = seqUserFind(s, user, len);
    if (u == NULL) {
        return;
    }
    out->exists = true;
    out->enabled = u->enabled;
    out->nopass = u->nopass;
    out->n_hashes = u->n_hashes;
    for (size_t i = 0; i < u->n_hashes; i++) {
        snprintf(out->hashes[i], sizeof(out->hashes[i]), "%s", u->hashes[i]);
    }
}

bool seq_acl_user_open(const seq_state *s, const char *user, size_t len)
{
    const seq_user *u = seqUserFind(s, user, len);
    return u != NULL && u->enabled && u->nopass;
}

bool seq_acl_default_set(const seq_state *s)
{
    return s->acl_default_set;
}

size_t seq_count_users(const seq_state *s)
{
    return s->n_users;
}
