/* config_file — seqd.conf (--config PATH): one `key value` per line, the
 * key a flag's name without its dashes, as redis.conf writes them
 * (`key-retention 3600`); `key = value` reads the same. Lines starting
 * with # or ; are comments. A value may be put in double quotes.
 *
 * libinih (Debian's libinih) does the reading: comments, blank lines, a
 * UTF-8 BOM, trimming, the line count. A reader beneath it turns the
 * first blank after a key into '=', which makes the redis.conf form an
 * INI pair; continuation lines, inline comments and sections are off.
 *
 * Keeps: an unknown key, a bad value, a [section], a line without a value
 * or one longer than CONFIG_FILE_LINE_MAX stops the start, naming the file
 * and the line; the command line's flags apply after the file's. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

#define CONFIG_FILE_LINE_MAX 4096

typedef struct config_file_read {
    FILE *f;
    const char *path;
    config *c;
    int line;         /* the line being read, from 1 */
    bool failed;      /* the handler printed why */
    bool too_long;    /* a line past CONFIG_FILE_LINE_MAX: reading stopped */
} config_file_read;

/* inih's fgets: one line (or the next part of a long one), the first blank
 * after its key made '=' unless an '=' follows anyway. */
static char *configFileReadLine(char *str, int num, void *stream)
{
    config_file_read *r = stream;
    if (fgets(str, num, r->f) == NULL) {
        return NULL;
    }
    size_t len = strlen(str);
    r->line++;
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(r->f)) {
        r->too_long = true; /* never half a value */
        return NULL;
    }
    char *p = str;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '#' || *p == ';' || *p == '[' || *p == '\0' || *p == '\n' || *p == '\r') {
        return str;
    }
    while (*p != '\0' && !isspace((unsigned char)*p) && *p != '=') {
        p++;
    }
    if (*p == ' ' || *p == '\t') {
        char *next = p;
        while (*next == ' ' || *next == '\t') {
            next++;
        }
        if (*next != '=') {
            *p = '=';
        }
    }
    return str;
}

static int configFileEntry(void *user, const char *section, const char *name, const char *value)
{
    config_file_read *r = user;
    if (section[0] != '\0') {
        fprintf(stderr, "seqd: %s:%d: a seqd config file has no [sections] ([%s])\n", r->path,
                r->line, section);
        r->failed = true;
        return 0;
    }
    char unquoted[CONFIG_FILE_LINE_MAX];
    size_t len = strlen(value);
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"' && len - 2 < sizeof(unquoted)) {
        memcpy(unquoted, value + 1, len - 2);
        unquoted[len - 2] = '\0';
        value = unquoted;
    }
    if (strcmp(name, "config") == 0) {
        fprintf(stderr, "seqd: %s:%d: 'config' cannot be set from a config file\n", r->path,
                r->line);
        r->failed = true;
        return 0;
    }
    int rv = config_set(r->c, name, value);
    if (rv == CONFIG_SET_UNKNOWN) {
        fprintf(stderr, "seqd: %s:%d: unknown key '%s' (the keys are the flags of seqd --help, "
                        "without their dashes)\n", r->path, r->line, name);
    } else if (rv != 0) {
        fprintf(stderr, "seqd: %s:%d: bad value for '%s': '%s'\n", r->path, r->line, name, value);
    }
    r->failed = rv != 0;
    return rv == 0;
}

int config_file_load(config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "seqd: cannot read the config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* libinih's run-time settings (Debian builds them as variables) */
    ini_allow_multiline = false;
    ini_allow_inline_comments = false;
    ini_stop_on_first_error = true;
    ini_allow_no_value = false;
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_initial_alloc = CONFIG_FILE_LINE_MAX;
    ini_max_line = CONFIG_FILE_LINE_MAX;
    config_file_read r = {f, path, c, 0, false, false};
    int rv = ini_parse_stream(configFileReadLine, &r, configFileEntry, &r);
    bool read_error = ferror(f) != 0;
    fclose(f);
    if (read_error) {
        fprintf(stderr, "seqd: cannot read the config file %s\n", path);
        return -1;
    }
    if (r.too_long) {
        fprintf(stderr, "seqd: %s:%d: a line longer than %d bytes\n", path, r.line,
                CONFIG_FILE_LINE_MAX - 2);
        return -1;
    }
    if (rv != 0 && !r.failed) {
        fprintf(stderr, "seqd: %s:%d: %s\n", path, r.line,
                rv == -2 ? "out of memory" : "not a `key value` line");
    }
    return rv == 0 ? 0 : -1;
}
