/* tool_backup — `seqd backup`, `seqd inspect` and `seqd restore`: taking a
 * node's state over the client protocol (BACKUP, through AUTH and TLS),
 * checking a backup file, and seeding a new data directory from one.
 *
 * The hazard that is a sequence service's alone: numbers issued after the
 * backup was taken are not in it, so a restore that served its state as it
 * is would issue them again. restore therefore refuses unless told how
 * far to jump (--advance N, per sequence name=N, or --advance-seconds S at
 * the rate the backup recorded), takes those numbers as skipped with the
 * reason "restored from a backup taken at T", and brings the backup's
 * reservations back released (seq_restore.c). The new directory becomes a
 * new cluster (a new identity on first start), so it never joins the old.
 *
 * Keeps: a backup is written to FILE.tmp, fsynced and renamed, and read
 * back and verified before success is reported; restore never writes into
 * a directory that holds anything. */
#include "tool_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "clock.h"
#include "restore.h"

#define TOOL_REPLY_MAX BACKUP_MAX_BYTES

static int usage(void)
{
    fputs("usage: seqd backup --from HOST:PORT --out FILE [--user U] [--pass-file F]\n"
          "                   [--tls] [--cacert CA] [--cert C --key K]\n"
          "       seqd inspect FILE\n"
          "       seqd restore --from FILE --dir DIR (--advance N | --advance [N,]name=N,...\n"
          "                    | --advance-seconds S) [--skip-reserved] [--cluster A:P,...]\n",
          stderr);
    return 2;
}

static const char *flagValue(int argc, char **argv, const char *flag)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], flag) == 0) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static bool flagPresent(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], flag) == 0) {
            return true;
        }
    }
    return false;
}

static uint8_t *readWhole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "seqd: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size > BACKUP_MAX_BYTES) {
        fclose(f);
        fprintf(stderr, "seqd: %s is not a readable file of at most 16 GiB\n", path);
        return NULL;
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf != NULL ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (buf == NULL || n != (size_t)st.st_size) {
        free(buf);
        fprintf(stderr, "seqd: cannot read %s whole\n", path);
        return NULL;
    }
    *len = n;
    return buf;
}

static int writeDurably(const char *path, const uint8_t *p, size_t len)
{
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "seqd: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w <= 0) {
            break;
        }
        done += (size_t)w;
    }
    bool ok = done == len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "seqd: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void isoTime(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", day, (int)(ms % 1000));
}

/* ---- backup: a tiny blocking RESP client, plain or TLS ---- */

typedef struct tool_link {
    int fd;
    SSL *ssl;
    SSL_CTX *ctx;
} tool_link;

static int linkIo(tool_link *l, void *p, size_t n, bool out)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k;
        if (l->ssl != NULL) {
            k = out ? SSL_write(l->ssl, (char *)p + done, (int)(n - done))
                    : SSL_read(l->ssl, (char *)p + done, (int)(n - done > (1 << 30) ? 1 << 30 : n - done));
        } else {
            k = out ? send(l->fd, (char *)p + done, n - done, MSG_NOSIGNAL)
                    : recv(l->fd, (char *)p + done, n - done, 0);
        }
        if (k <= 0) {
            return -1;
        }
        done += (size_t)k;
    }
    return 0;
}

static int linkOpen(tool_link *l, const char *from, int argc, char **argv)
{
    char host[256], port[16];
    const char *colon = strrchr(from, ':');
    if (colon == NULL || colon == from || (size_t)(colon - from) >= sizeof(host) || strlen(colon + 1) >= sizeof(port)) {
        fprintf(stderr, "seqd: --from wants HOST:PORT, got '%s'\n", from);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - from), from);
    snprintf(port, sizeof(port), "%s", colon + 1);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rv = getaddrinfo(host, port, &hints, &ai);
    if (rv != 0) {
        fprintf(stderr, "seqd: %s: %s\n", from, gai_strerror(rv));
        return -1;
    }
    l->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {120, 0};
    setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    rv = l->fd < 0 ? -1 : connect(l->fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rv != 0) {
        fprintf(stderr, "seqd: cannot connect to %s: %s\n", from, strerror(errno));
        return -1;
    }
    if (!flagPresent(argc, argv, "--tls")) {
        return 0;
    }
    l->ctx = SSL_CTX_new(TLS_client_method());
    const char *ca = flagValue(argc, argv, "--cacert"), *cert = flagValue(argc, argv, "--cert"),
               *key = flagValue(argc, argv, "--key");
    bool ok = l->ctx != NULL && SSL_CTX_set_min_proto_version(l->ctx, TLS1_2_VERSION) == 1 &&
              (ca != NULL ? SSL_CTX_load_verify_locations(l->ctx, ca, NULL) : SSL_CTX_set_default_verify_paths(l->ctx)) == 1 &&
              (cert == NULL || (SSL_CTX_use_certificate_chain_file(l->ctx, cert) == 1 &&
                                SSL_CTX_use_PrivateKey_file(l->ctx, key != NULL ? key : cert, SSL_FILETYPE_PEM) == 1));
    SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER, NULL);
    l->ssl = ok ? SSL_new(l->ctx) : NULL;
    if (l->ssl != NULL) {
        SSL_set_fd(l->ssl, l->fd);
        X509_VERIFY_PARAM *param = SSL_get0_param(l->ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1) {
            SSL_set1_host(l->ssl, host);
            SSL_set_tlsext_host_name(l->ssl, host);
        }
    }
    if (l->ssl == NULL || SSL_connect(l->ssl) != 1) {
        char err[160];
        ERR_error_string_n(ERR_get_error(), err, sizeof(err));
        fprintf(stderr, "seqd: TLS to %s failed: %s\n", from, err);
        return -1;
    }
    return 0;
}

/* One request (args) and its reply: a bulk (malloc'd, *len) or a simple
 * string; NULL after printing an error reply or a broken link. */
static char *linkCall(tool_link *l, const char *const *args, int n, size_t *len)
{
    char head[64];
    int h = snprintf(head, sizeof(head), "*%d\r\n", n);
    if (linkIo(l, head, (size_t)h, true) != 0) {
        goto broken;
    }
    for (int i = 0; i < n; i++) {
        h = snprintf(head, sizeof(head), "$%zu\r\n", strlen(args[i]));
        if (linkIo(l, head, (size_t)h, true) != 0 || linkIo(l, (void *)args[i], strlen(args[i]), true) != 0 ||
            linkIo(l, "\r\n", 2, true) != 0) {
            goto broken;
        }
    }
    char line[512];
    size_t k = 0;
    while (k + 1 < sizeof(line)) {
        if (linkIo(l, &line[k], 1, false) != 0) {
            goto broken;
        }
        if (line[k] == '\n' && k > 0 && line[k - 1] == '\r') {
            break;
        }
        k++;
    }
    line[k > 0 ? k - 1 : 0] = '\0';
    if (line[0] == '-') {
        fprintf(stderr, "seqd: %s answered: %s\n", args[0], line + 1);
        return NULL;
    }
    if (line[0] == '+') {
        *len = strlen(line + 1);
        return strdup(line + 1);
    }
    char *end = NULL;
    unsigned long long want = line[0] == '$' ? strtoull(line + 1, &end, 10) : 0;
    if (line[0] != '$' || end == line + 1 || *end != '\0' || want > TOOL_REPLY_MAX) {
        fprintf(stderr, "seqd: an unexpected reply to %s: %.60s\n", args[0], line);
        return NULL;
    }
    char *body = malloc(want + 2);
    if (body == NULL || linkIo(l, body, want + 2, false) != 0) {
        free(body);
        goto broken;
    }
    *len = want;
    return body;
broken:
    fprintf(stderr, "seqd: the connection broke during %s\n", args[0]);
    return NULL;
}

static int toolBackup(int argc, char **argv)
{
    const char *from = flagValue(argc, argv, "--from"), *out = flagValue(argc, argv, "--out");
    if (from == NULL || out == NULL) {
        return usage();
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tool_link l = {-1, NULL, NULL};
    int rc = 1;
    uint8_t *file = NULL, *pass = NULL;
    if (linkOpen(&l, from, argc, argv) != 0) {
        goto done;
    }
    const char *pass_file = flagValue(argc, argv, "--pass-file"), *user = flagValue(argc, argv, "--user");
    if (pass_file != NULL) {
        size_t n = 0;
        if ((pass = readWhole(pass_file, &n)) == NULL) {
            goto done;
        }
        pass[strcspn((char *)pass, "\r\n")] = '\0';
        const char *auth[] = {"AUTH", user != NULL ? user : "default", (char *)pass};
        size_t len = 0;
        char *ok = linkCall(&l, auth, 3, &len);
        free(ok);
        if (ok == NULL) {
            goto done;
        }
    }
    const char *cmd[] = {"BACKUP"};
    size_t len = 0;
    file = (uint8_t *)linkCall(&l, cmd, 1, &len);
    backup_meta m;
    const char *why = NULL;
    seq_state *s = file != NULL ? backup_decode(file, len, &m, &why) : NULL;
    if (file != NULL && s == NULL) {
        fprintf(stderr, "seqd: the backup from %s does not check: %s\n", from, why);
    }
    if (s != NULL && writeDurably(out, file, len) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("backup of %s at applied index %llu (term %llu): %zu sequences, %zu bytes, "
               "SHA-256 checked, in %.3f s -> %s\n",
               m.node, (unsigned long long)m.index, (unsigned long long)m.term, seq_count_live(s), len,
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, out);
        rc = 0;
    }
    seq_state_free(s);
done:
    free(file);
    free(pass);
    if (l.ssl != NULL) {
        SSL_free(l.ssl);
    }
    SSL_CTX_free(l.ctx);
    if (l.fd >= 0) {
        close(l.fd);
    }
    return rc;
}

/* ---- inspect ---- */

typedef struct described {
    seq_result r;
    char *name;
} described;

/* Every live sequence's DESCRIBE at the state's time (the caller frees). */
static described *describeAll(seq_state *s, size_t *n)
{
    seq_cmd list = {.op = SEQ_OP_LIST};
    seq_result names;
    seq_apply(s, &list, &names);
    described *d = calloc(names.n_names + 1, sizeof(*d));
    for (size_t i = 0; d != NULL && i < names.n_names; i++) {
        seq_cmd c = {.op = SEQ_OP_DESCRIBE, .name = names.names[i], .name_len = strlen(names.names[i])};
        seq_apply(s, &c, &d[i].r);
        d[i].name = strdup(names.names[i]);
    }
    *n = d != NULL ? names.n_names : 0;
    seq_result_free(&names);
    return d;
}

static void describedFree(described *d, size_t n)
{
    for (size_t i = 0; d != NULL && i < n; i++) {
        seq_result_free(&d[i].r);
        free(d[i].name);
    }
    free(d);
}

static void printSequences(const described *d, size_t n)
{
    static const char *modes[] = {"strict", "gapless", "cached"};
    for (size_t i = 0; i < n; i++) {
        const seq_result *r = &d[i].r;
        printf("  %s: mode %s, issued %llu, ", d[i].name, r->mode < 3 ? modes[r->mode] : "?",
               (unsigned long long)r->issued);
        if (r->has_next) {
            printf("next %lld, ", (long long)r->next);
        } else {
            printf("exhausted, ");
        }
        printf("remaining %llu, rate %llu/min %llu/h, ranges", (unsigned long long)r->left,
               (unsigned long long)r->rate_1m, (unsigned long long)r->rate_1h);
        for (size_t k = 0; k < r->n_ranges; k++) {
            printf(" %lld..%lld", (long long)r->ranges[k].min, (long long)r->ranges[k].max);
        }
        printf("\n");
    }
}

static seq_state *loadBackup(const char *path, backup_meta *m, size_t *len)
{
    uint8_t *buf = readWhole(path, len);
    if (buf == NULL) {
        return NULL;
    }
    const char *why = NULL;
    seq_state *s = backup_decode(buf, *len, m, &why);
    free(buf);
    if (s == NULL) {
        fprintf(stderr, "seqd: %s: %s\n", path, why);
    }
    return s;
}

static int toolInspect(int argc, char **argv)
{
    if (argc != 2) {
        return usage();
    }
    backup_meta m;
    size_t len = 0;
    seq_state *s = loadBackup(argv[1], &m, &len);
    if (s == NULL) {
        return 1;
    }
    char when[40], cluster[33] = "-";
    isoTime(m.taken_ms, when, sizeof(when));
    for (int i = 0; m.has_cluster && i < 16; i++) {
        snprintf(cluster + 2 * i, 3, "%02x", m.cluster[i]);
    }
    printf("%s: a seqd backup, SHA-256 ok, %zu bytes\n", argv[1], len);
    printf("taken at %s from %s (seqd %s)\napplied index %llu, term %llu, cluster %s\n", when, m.node,
           m.version, (unsigned long long)m.index, (unsigned long long)m.term, cluster);
    printf("%zu sequences, %zu users, %zu idempotency keys\n", seq_count_live(s), seq_count_users(s),
           seq_count_keys(s) + seq_count_pkeys(s));
    size_t n = 0;
    described *d = describeAll(s, &n);
    printSequences(d, n);
    describedFree(d, n);
    seq_state_free(s);
    return 0;
}

/* ---- restore ---- */

/* How many numbers to skip for one sequence; -1 when not said. */
static int64_t advanceFor(const char *advance, double seconds, const described *d)
{
    if (seconds > 0) {
        double per_s = d->r.rate_1m > 0 ? (double)d->r.rate_1m / 60 : (double)d->r.rate_1h / 3600;
        return (int64_t)ceil(per_s * seconds);
    }
    int64_t all = -1, mine = -1;
    const char *p = advance;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        char *stop = NULL;
        long long v = strtoll(eq != NULL ? eq + 1 : p, &stop, 10);
        bool number = stop == (end != NULL ? end : p + len) && v >= 0;
        if (!number) {
            return -2;
        }
        if (eq == NULL) {
            all = v;
        } else if ((size_t)(eq - p) == strlen(d->name) && memcmp(p, d->name, (size_t)(eq - p)) == 0) {
            mine = v;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return mine >= 0 ? mine : all;
}

/* A new directory (made here) or an empty one. */
static bool dirUsable(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT && mkdir(dir, 0750) == 0;
    }
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)) != NULL) {
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    }
    closedir(d);
    return empty;
}

static int restoreRefuse(const described *d, size_t n, int64_t taken_ms)
{
    char when[40];
    isoTime(taken_ms, when, sizeof(when));
    fprintf(stderr,
            "seqd: refusing to restore without an advance: numbers issued after the backup was "
            "taken (%s) are not in it and would be issued again.\n"
            "Give --advance N (every sequence), --advance name=N,... or --advance-seconds S (S "
            "seconds of each sequence's recent rate). Recent rates:\n", when);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "  %s: %llu in the last minute, %llu in the last hour (an hour's worth: "
                "--advance %s=%llu)\n", d[i].name, (unsigned long long)d[i].r.rate_1m,
                (unsigned long long)d[i].r.rate_1h, d[i].name,
                (unsigned long long)(d[i].r.rate_1m * 60 > d[i].r.rate_1h ? d[i].r.rate_1m * 60 : d[i].r.rate_1h));
    }
    return 2;
}

static int toolRestore(int argc, char **argv)
{
    const char *from = flagValue(argc, argv, "--from"), *dir = flagValue(argc, argv, "--dir");
    const char *advance = flagValue(argc, argv, "--advance"), *secs = flagValue(argc, argv, "--advance-seconds");
    if (from == NULL || dir == NULL) {
        return usage();
    }
    double seconds = secs != NULL ? strtod(secs, NULL) : 0;
    if (secs != NULL && !(seconds > 0 && seconds <= 366.0 * 86400)) {
        fprintf(stderr, "seqd: --advance-seconds wants seconds, from 1 to a year\n");
        return 2;
    }
    backup_meta m;
    size_t len = 0;
    seq_state *s = loadBackup(from, &m, &len);
    if (s == NULL) {
        return 1;
    }
    size_t n = 0;
    described *d = describeAll(s, &n);
    int rc = 0;
    if (advance == NULL && secs == NULL) {
        rc = restoreRefuse(d, n, m.taken_ms);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (advanceFor(advance, seconds, &d[i]) < 0) {
            fprintf(stderr, "seqd: --advance says nothing (or nothing valid) for sequence %s\n", d[i].name);
            rc = 2;
        }
    }
    if (rc == 0 && !dirUsable(dir)) {
        fprintf(stderr, "seqd: --dir %s must be a new or empty directory\n", dir);
        rc = 2;
    }
    char when[40], reason[96];
    isoTime(m.taken_ms, when, sizeof(when));
    snprintf(reason, sizeof(reason), "restored from a backup taken at %s", when);
    /* the open numbers first, in the backup's period: the advance may move
     * a periodic sequence on to a later one */
    uint64_t open_skipped = 0;
    bool skip_reserved = flagPresent(argc, argv, "--skip-reserved");
    size_t released =
        rc == 0 ? seq_restore_release(s, reason, skip_reserved, clock_wall_ms(), &open_skipped) : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t skipped = 0;
        int64_t want = advanceFor(advance, seconds, &d[i]);
        if (seq_restore_advance(s, d[i].name, strlen(d[i].name), (uint64_t)want, reason,
                                clock_wall_ms(), &skipped) != SEQ_OK) {
            fprintf(stderr, "seqd: cannot advance %s: its ledger is full\n", d[i].name);
            rc = 1;
        } else if (skipped > 0) {
            printf("  %s: %llu numbers from %lld skipped\n", d[i].name, (unsigned long long)skipped,
                   (long long)d[i].r.next);
        } else {
            printf("  %s: nothing skipped\n", d[i].name);
        }
    }
    if (rc == 0) {
        uint8_t *file = backup_encode(s, &m, &len);
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, RESTORE_PENDING_FILE);
        rc = file != NULL && writeDurably(path, file, len) == 0 ? 0 : 1;
        free(file);
        if (rc == 0) {
            printf("%s seeded from %s (index %llu, taken at %s); %zu reservations released, "
                   "%llu reserved or released numbers skipped.\n"
                   "Start it as a new single node or as every founding member of a new cluster:\n"
                   "  seqd --dir %s%s%s ...\n",
                   dir, from, (unsigned long long)m.index, when, released,
                   (unsigned long long)open_skipped,
                   dir, flagValue(argc, argv, "--cluster") != NULL ? " --cluster " : "",
                   flagValue(argc, argv, "--cluster") != NULL ? flagValue(argc, argv, "--cluster") : "");
        }
    }
    describedFree(d, n);
    seq_state_free(s);
    return rc;
}

int tool_main(int argc, char **argv)
{
    if (strcmp(argv[0], "backup") == 0) {
        return toolBackup(argc, argv);
    }
    if (strcmp(argv[0], "inspect") == 0) {
        return toolInspect(argc, argv);
    }
    if (strcmp(argv[0], "restore") == 0) {
        return toolRestore(argc, argv);
    }
    return usage();
}
