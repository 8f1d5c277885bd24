/* backup — the backup file's layout (see backup.h). */
#include "backup.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "seq_bytes.h"

#define BACKUP_SHA 32

static void backupSha256(const uint8_t *p, size_t len, uint8_t out[BACKUP_SHA])
{
    unsigned n = 0;
    EVP_Digest(p, len, out, &n, EVP_sha256(), NULL);
}

static void putText(seq_writer *w, const char *t, size_t cap)
{
    size_t n = strnlen(t, cap);
    seq_put_u16(w, (uint16_t)n);
    seq_put_bytes(w, t, n);
}

static bool getText(seq_reader *r, char *out, size_t cap)
{
    uint16_t n = seq_get_u16(r);
    const uint8_t *p = seq_get_bytes(r, n);
    if (p == NULL || n >= cap || memchr(p, '\0', n) != NULL) {
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

uint8_t *backup_encode(const seq_state *s, const backup_meta *m, size_t *len)
{
    size_t core_len = 0;
    uint8_t *core = seq_snapshot_encode(s, &core_len);
    if (core == NULL) {
        return NULL;
    }
    size_t header_cap = 8 + 8 + 8 + 1 + 16 + 2 * (2 + 255);
    size_t cap = 8 + 4 + header_cap + 8 + core_len + BACKUP_SHA;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        free(core);
        return NULL;
    }
    seq_writer w = {buf, 0, cap, false};
    seq_put_bytes(&w, BACKUP_MAGIC, 8);
    seq_put_u32(&w, 0); /* the header's length, below */
    size_t header_at = w.len;
    seq_put_u64(&w, m->index);
    seq_put_u64(&w, m->term);
    seq_put_i64(&w, m->taken_ms);
    seq_put_u8(&w, m->has_cluster ? 1 : 0);
    seq_put_bytes(&w, m->cluster, 16);
    putText(&w, m->version, sizeof(m->version));
    putText(&w, m->node, sizeof(m->node));
    uint32_t header_len = (uint32_t)(w.len - header_at);
    seq_put_u64(&w, core_len);
    seq_put_bytes(&w, core, core_len);
    free(core);
    seq_writer hl = {buf, 8, 12, false};
    seq_put_u32(&hl, header_len);
    backupSha256(buf, w.len, buf + w.len);
    w.len += BACKUP_SHA;
    *len = w.len;
    return buf;
}

seq_state *backup_decode(const uint8_t *buf, size_t len, backup_meta *m, const char **why)
{
    memset(m, 0, sizeof(*m));
    if (len < 8 + 4 + 8 + BACKUP_SHA || memcmp(buf, BACKUP_MAGIC, 8) != 0) {
        *why = "not a seqd backup (no SEQDBKP1 at its start)";
        return NULL;
    }
    uint8_t sha[BACKUP_SHA];
    backupSha256(buf, len - BACKUP_SHA, sha);
    if (memcmp(sha, buf + len - BACKUP_SHA, BACKUP_SHA) != 0) {
        *why = "its SHA-256 does not match: the file is damaged or was changed";
        return NULL;
    }
    seq_reader r = {buf, len - BACKUP_SHA, 8, false};
    uint32_t header_len = seq_get_u32(&r);
    size_t header_end = r.pos + header_len;
    m->index = seq_get_u64(&r);
    m->term = seq_get_u64(&r);
    m->taken_ms = seq_get_i64(&r);
    m->has_cluster = (seq_get_u8(&r) & 1) != 0;
    const uint8_t *cluster = seq_get_bytes(&r, 16);
    if (cluster != NULL) {
        memcpy(m->cluster, cluster, 16);
    }
    bool texts = getText(&r, m->version, sizeof(m->version)) && getText(&r, m->node, sizeof(m->node));
    if (r.bad || !texts || r.pos > header_end || header_end > r.len) {
        *why = "its header is malformed";
        return NULL;
    }
    r.pos = header_end; /* a later version's header fields are skipped */
    uint64_t core_len = seq_get_u64(&r);
    const uint8_t *core = r.bad || core_len != r.len - r.pos ? NULL : seq_get_bytes(&r, core_len);
    if (core == NULL) {
        *why = "its state is cut short";
        return NULL;
    }
    seq_state *s = seq_snapshot_decode(core, core_len);
    if (s == NULL) {
        *why = "its state does not decode (a newer seqd's, or damaged before the checksum)";
    }
    return s;
}
