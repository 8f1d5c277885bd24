/* config — command-line flags and limits (see config.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "resp.h"
#include "seq.h"

static const char usage[] =
    "usage: seqd [--port N] [--bind ADDR] [--dir PATH] [options]\n"
    "  --port N                 client port (7379)\n"
    "  --bind ADDR              IPv4 address to listen on (127.0.0.1)\n"
    "  --dir PATH               data directory: Raft log and snapshots (./seqd-data)\n"
    "  --raft-port N            Raft bus port (port + 10000)\n"
    "  --cluster A:P,A:P,...    client addresses of the founding members (one node if absent)\n"
    "  --max-clients N          concurrent clients (10000)\n"
    "  --max-pipeline N         replies pending per client before reading pauses (10000)\n"
    "  --client-output-max B    reply bytes buffered per client before it is dropped (67108864)\n"
    "  --key-retention S        seconds an idempotency KEY is remembered (86400)\n"
    "  --max-keys N             idempotency keys held at once (1000000)\n"
    "  --snapshot-threshold N   log entries between snapshots (65536)\n"
    "  --snapshot-trailing N    entries kept behind a snapshot (8192)\n"
    "  --batch-max N            commands in one log entry (4096)\n"
    "  --max-inflight N         log entries in flight (256)\n"
    "  --request-timeout-ms N   longest wait for a leader before TRYAGAIN (5000)\n"
    "  --election-timeout-ms N  Raft election timeout (1000)\n"
    "  --heartbeat-ms N         Raft heartbeat (100)\n"
    "  --log-level L            debug, info, warn or error (info)\n"
    "  --version, --help\n";

static int configInt(const char *flag, const char *text, long long lo, long long hi,
                     long long *out)
{
    if (text == NULL) {
        fprintf(stderr, "seqd: %s needs a value\n", flag);
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "seqd: %s must be an integer in [%lld, %lld], got '%s'\n", flag, lo,
                hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int configAddress(const char *flag, const char *text, char *out, size_t cap)
{
    unsigned a, b, c, d, port;
    char tail;
    if (sscanf(text, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &tail) != 5 || a > 255 ||
        b > 255 || c > 255 || d > 255 || port == 0 || port > 55535) {
        fprintf(stderr, "seqd: %s wants numeric a.b.c.d:port addresses, got '%s'\n", flag,
                text);
        return -1;
    }
    snprintf(out, cap, "%u.%u.%u.%u:%u", a, b, c, d, port);
    return 0;
}

static int configCluster(config *c, const char *text)
{
    char copy[CONFIG_CLUSTER_MAX * 64];
    if (text == NULL || strlen(text) >= sizeof(copy)) {
        fprintf(stderr, "seqd: --cluster needs a list of at most %d addresses\n",
                CONFIG_CLUSTER_MAX);
        return -1;
    }
    strcpy(copy, text);
    c->n_members = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (c->n_members == CONFIG_CLUSTER_MAX) {
            fprintf(stderr, "seqd: --cluster names more than %d members\n", CONFIG_CLUSTER_MAX);
            return -1;
        }
        if (configAddress("--cluster", tok, c->members[c->n_members], 64) != 0) {
            return -1;
        }
        c->n_members++;
    }
    return 0;
}

static void configDefaults(config *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->bind, "127.0.0.1");
    c->port = 7379;
    c->raft_port = 0;
    strcpy(c->dir, "./seqd-data");
    c->max_clients = 10000;
    c->max_pipeline = 10000;
    c->client_output_max = 64u << 20;
    c->args_max = 64;
    c->bulk_max = 64u << 10;
    c->inline_max = 64u << 10;
    /* Any request within args_max x bulk_max fits in the query buffer. */
    c->query_max = 8u << 20;
    c->key_retention_ms = 86400 * 1000LL;
    c->max_keys = SEQ_KEYS_MAX_DEFAULT;
    c->snapshot_threshold = 65536;
    c->snapshot_trailing = 8192;
    c->batch_max = CODEC_BATCH_MAX;
    c->max_inflight = 256;
    c->request_timeout_ms = 5000;
    c->election_timeout_ms = 1000;
    c->heartbeat_ms = 100;
    c->log_level = LOG_INFO;
}

int config_parse(config *c, int argc, char **argv)
{
    configDefaults(c);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        int rv = 0;
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(f, "--version") == 0) {
            printf("seqd %s\n", SEQD_VERSION);
            return 1;
        }
        i++; /* every other flag takes a value */
        if (strcmp(f, "--port") == 0) {
            rv = configInt(f, v, 1, 55535, &n);
            c->port = (int)n;
        } else if (strcmp(f, "--raft-port") == 0) {
            rv = configInt(f, v, 1, 65535, &n);
            c->raft_port = (int)n;
        } else if (strcmp(f, "--bind") == 0) {
            char probe[64];
            rv = v == NULL || strlen(v) >= 48
                     ? -1
                     : configAddress(f, (snprintf(probe, sizeof(probe), "%s:1", v), probe),
                                     probe, sizeof(probe));
            if (rv == 0) {
                snprintf(c->bind, sizeof(c->bind), "%s", v);
            } else if (v == NULL || strlen(v) >= 48) {
                fprintf(stderr, "seqd: --bind wants a numeric IPv4 address\n");
            }
        } else if (strcmp(f, "--dir") == 0) {
            if (v == NULL || v[0] == '\0' || strlen(v) >= sizeof(c->dir) - 64) {
                fprintf(stderr, "seqd: --dir needs a path shorter than %zu bytes\n",
                        sizeof(c->dir) - 64);
                rv = -1;
            } else {
                snprintf(c->dir, sizeof(c->dir), "%s", v);
            }
        } else if (strcmp(f, "--cluster") == 0) {
            rv = configCluster(c, v);
        } else if (strcmp(f, "--max-clients") == 0) {
            rv = configInt(f, v, 1, 1000000, &n);
            c->max_clients = (size_t)n;
        } else if (strcmp(f, "--max-pipeline") == 0) {
            rv = configInt(f, v, 1, 1000000, &n);
            c->max_pipeline = (size_t)n;
        } else if (strcmp(f, "--client-output-max") == 0) {
            rv = configInt(f, v, 1 << 16, 1LL << 34, &n);
            c->client_output_max = (size_t)n;
        } else if (strcmp(f, "--key-retention") == 0) {
            rv = configInt(f, v, 1, 366LL * 86400, &n);
            c->key_retention_ms = n * 1000;
        } else if (strcmp(f, "--max-keys") == 0) {
            rv = configInt(f, v, 0, 100000000, &n);
            c->max_keys = (size_t)n;
        } else if (strcmp(f, "--snapshot-threshold") == 0) {
            rv = configInt(f, v, 16, 100000000, &n);
            c->snapshot_threshold = (unsigned)n;
        } else if (strcmp(f, "--snapshot-trailing") == 0) {
            rv = configInt(f, v, 16, 100000000, &n);
            c->snapshot_trailing = (unsigned)n;
        } else if (strcmp(f, "--batch-max") == 0) {
            rv = configInt(f, v, 1, CODEC_BATCH_MAX, &n);
            c->batch_max = (size_t)n;
        } else if (strcmp(f, "--max-inflight") == 0) {
            rv = configInt(f, v, 1, 65536, &n);
            c->max_inflight = (size_t)n;
        } else if (strcmp(f, "--request-timeout-ms") == 0) {
            rv = configInt(f, v, 10, 600000, &n);
            c->request_timeout_ms = (unsigned)n;
        } else if (strcmp(f, "--election-timeout-ms") == 0) {
            rv = configInt(f, v, 50, 60000, &n);
            c->election_timeout_ms = (unsigned)n;
        } else if (strcmp(f, "--heartbeat-ms") == 0) {
            rv = configInt(f, v, 10, 60000, &n);
            c->heartbeat_ms = (unsigned)n;
        } else if (strcmp(f, "--log-level") == 0) {
            static const char *names[] = {"debug", "info", "warn", "error"};
            rv = -1;
            for (int l = 0; l < 4 && v != NULL; l++) {
                if (strcmp(v, names[l]) == 0) {
                    c->log_level = l;
                    rv = 0;
                }
            }
            if (rv != 0) {
                fprintf(stderr, "seqd: --log-level must be debug, info, warn or error\n");
            }
        } else {
            fprintf(stderr, "seqd: unknown flag '%s' (see --help)\n", f);
            return -1;
        }
        if (rv != 0) {
            return -1;
        }
    }
    if (c->raft_port == 0) {
        c->raft_port = c->port + 10000;
    }
    if (c->heartbeat_ms >= c->election_timeout_ms) {
        fprintf(stderr, "seqd: --heartbeat-ms must be below --election-timeout-ms\n");
        return -1;
    }
    if (c->n_members > 1) {
        fprintf(stderr, "seqd: --cluster with more than one member is not supported yet\n");
        return -1;
    }
    return 0;
}
