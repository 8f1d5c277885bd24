/* identity — the data directory's cluster identity (see identity.h). */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDENTITY_TEXT_MAX 512

identity_verdict identity_compatible(const identity *mine, const identity *peer)
{
    if (mine->has_cluster && peer->has_cluster) {
        return memcmp(mine->cluster, peer->cluster, IDENTITY_CLUSTER_BYTES) == 0
                   ? IDENTITY_OK
                   : IDENTITY_FOREIGN_CLUSTER;
    }
    if (mine->founding != 0 && peer->founding != 0 && mine->founding != peer->founding) {
        return IDENTITY_FOREIGN_FOUNDING;
    }
    return IDENTITY_OK;
}

static uint64_t identityFnv(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t identity_founding_hash(const uint64_t *ids, const char *const *addresses, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint64_t last = 0;
    /* n is at most a handful (CONFIG_CLUSTER_MAX): pick the next larger id
     * each round instead of sorting a copy */
    for (size_t round = 0; round < n; round++) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++) {
            if ((round == 0 || ids[i] > last) && (pick == n || ids[i] < ids[pick])) {
                pick = i;
            }
        }
        if (pick == n) {
            break; /* the rest repeat an id already hashed */
        }
        last = ids[pick];
        uint8_t le[8];
        for (int k = 0; k < 8; k++) {
            le[k] = (uint8_t)(last >> (8 * k));
        }
        h = identityFnv(h, le, sizeof(le));
        h = identityFnv(h, addresses[pick], strlen(addresses[pick]) + 1);
    }
    return h != 0 ? h : 1;
}

void identity_cluster_hex(const identity *id, char *out, size_t cap)
{
    if (!id->has_cluster || cap < 2 * IDENTITY_CLUSTER_BYTES + 1) {
        snprintf(out, cap, "-");
        return;
    }
    for (int i = 0; i < IDENTITY_CLUSTER_BYTES; i++) {
        snprintf(out + 2 * i, 3, "%02x", id->cluster[i]);
    }
}

size_t identity_format(const identity *id, char *out, size_t cap)
{
    char hex[2 * IDENTITY_CLUSTER_BYTES + 1];
    identity_cluster_hex(id, hex, sizeof(hex));
    int n = snprintf(out, cap, "seqd-identity 1\nkind %s\nnode %llu\nfounding %016llx\ncluster %s\n",
                     id->kind == IDENTITY_SINGLE ? "single" : "cluster",
                     (unsigned long long)id->raft_id, (unsigned long long)id->founding, hex);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int identityHexDigit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static bool identityParseCluster(const char *v, identity *id)
{
    if (strcmp(v, "-") == 0) {
        id->has_cluster = false;
        return true;
    }
    if (strlen(v) != 2 * IDENTITY_CLUSTER_BYTES) {
        return false;
    }
    for (int i = 0; i < IDENTITY_CLUSTER_BYTES; i++) {
        int hi = identityHexDigit(v[2 * i]), lo = identityHexDigit(v[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        id->cluster[i] = (uint8_t)(hi << 4 | lo);
    }
    id->has_cluster = true;
    return true;
}

/* One "key value" line into id; false when it is not one the file has. */
static bool identityParseLine(const char *key, const char *value, identity *id, unsigned *seen)
{
    char *end = NULL;
    if (strcmp(key, "kind") == 0) {
        id->kind = strcmp(value, "single") == 0    ? IDENTITY_SINGLE
                   : strcmp(value, "cluster") == 0 ? IDENTITY_CLUSTER
                                                   : 0;
        *seen |= 1;
        return id->kind != 0;
    }
    if (strcmp(key, "node") == 0) {
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        id->raft_id = v;
        *seen |= 2;
        return errno == 0 && end != value && *end == '\0' && v != 0 && value[0] != '-';
    }
    if (strcmp(key, "founding") == 0) {
        errno = 0;
        unsigned long long v = strtoull(value, &end, 16);
        id->founding = v;
        *seen |= 4;
        return errno == 0 && end != value && *end == '\0' && value[0] != '-';
    }
    if (strcmp(key, "cluster") == 0) {
        *seen |= 8;
        return identityParseCluster(value, id);
    }
    return false;
}

int identity_parse(const char *text, size_t len, identity *id, int *line)
{
    memset(id, 0, sizeof(*id));
    unsigned seen = 0;
    size_t at = 0;
    *line = 0;
    while (at < len) {
        size_t end = at;
        while (end < len && text[end] != '\n') {
            end++;
        }
        (*line)++;
        char buf[128], key[32], value[96], extra;
        size_t n = end - at;
        if (n >= sizeof(buf)) {
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (text[at + i] < 0x20 || text[at + i] > 0x7e) {
                return -1; /* only printable text: a damaged byte is not skipped over */
            }
        }
        memcpy(buf, text + at, n);
        buf[n] = '\0';
        at = end + 1;
        if (sscanf(buf, "%31s %95s %c", key, value, &extra) != 2 ||
            strlen(key) + 1 + strlen(value) != n) {
            return -1; /* exactly "key value": one space, nothing around */
        }
        if (*line == 1) {
            if (strcmp(key, "seqd-identity") != 0 || strcmp(value, "1") != 0) {
                return -1;
            }
            continue;
        }
        if (!identityParseLine(key, value, id, &seen)) {
            return -1;
        }
    }
    if (seen != 15) {
        (*line)++;
        return -1;
    }
    return 0;
}

int identity_load(const char *dir, identity *id, char *err, size_t errcap)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_FILE);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 1;
        }
        snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char text[IDENTITY_TEXT_MAX];
    ssize_t n = read(fd, text, sizeof(text));
    close(fd);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        snprintf(err, errcap, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "too long");
        return -1;
    }
    int line = 0;
    if (identity_parse(text, (size_t)n, id, &line) != 0) {
        snprintf(err, errcap, "%s, line %d: not a valid seqd identity", path, line);
        return -1;
    }
    return 0;
}

int identity_save(const char *dir, const identity *id)
{
    char path[1100], tmp[1120], text[IDENTITY_TEXT_MAX];
    size_t len = identity_format(id, text, sizeof(text));
    if (len == 0) {
        return -EINVAL;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        return -errno;
    }
    int rv = 0;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        rv = errno != 0 ? -errno : -EIO;
    }
    close(fd);
    if (rv == 0 && rename(tmp, path) != 0) {
        rv = -errno;
    }
    /* the rename itself must survive a power cut: sync the directory */
    int dfd = rv == 0 ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    if (dfd >= 0) {
        if (fsync(dfd) != 0) {
            rv = -errno;
        }
        close(dfd);
    }
    return rv;
}
