/* clock — leader clock readings and wall clock jumps (see clock.h). */
#include "clock.h"

#include <time.h>

#include "log.h"

static int64_t clockMs(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    return clockMs(CLOCK_REALTIME);
}

int64_t clock_mono_ms(void)
{
    return clockMs(CLOCK_MONOTONIC);
}

void clock_read(clock_watch *c, int64_t *wall_ms, int64_t *mono_ms)
{
    int64_t wall = clock_wall_ms();
    int64_t mono = clock_mono_ms();
    int64_t offset = wall - mono;
    if (c->started) {
        int64_t step = offset - c->offset_ms;
        if (step > CLOCK_JUMP_MS || step < -CLOCK_JUMP_MS) {
            c->jumps++;
            c->last_jump_ms = step;
            c->last_jump_at_ms = wall;
            log_warn("clock: the wall clock jumped %+lld ms against the monotonic clock; "
                     "TTLs and key retention are measured on the monotonic clock, range "
                     "windows and ledger times follow the wall clock",
                     (long long)step);
        }
    }
    c->started = true;
    c->offset_ms = offset;
    *wall_ms = wall;
    *mono_ms = mono;
}

void clock_quorum_reset(clock_quorum *q)
{
    q->n = 0;
}

void clock_quorum_report(clock_quorum *q, uint64_t id, int64_t offset_ms, uint64_t now_ms)
{
    for (size_t i = 0; i < q->n; i++) {
        if (q->peers[i].id == id) {
            q->peers[i].offset_ms = offset_ms;
            q->peers[i].at_ms = now_ms;
            return;
        }
    }
    if (q->n < CLOCK_PEERS_MAX) {
        q->peers[q->n++] = (clock_peer){id, offset_ms, now_ms};
    }
}

void clock_quorum_count(const clock_quorum *q, const uint64_t *ids, size_t n_ids,
                        int64_t bound_ms, uint64_t now_ms, size_t *agree, size_t *disagree,
                        int64_t *worst_ms)
{
    *agree = *disagree = 0;
    *worst_ms = 0;
    for (size_t k = 0; k < n_ids; k++) {
        for (size_t i = 0; i < q->n; i++) {
            const clock_peer *p = &q->peers[i];
            if (p->id != ids[k] || now_ms - p->at_ms > CLOCK_REPORT_FRESH_MS) {
                continue;
            }
            int64_t off = p->offset_ms < 0 ? -p->offset_ms : p->offset_ms;
            *worst_ms = off > *worst_ms ? off : *worst_ms;
            if (off <= bound_ms) {
                (*agree)++;
            } else {
                (*disagree)++;
            }
        }
    }
}

uint64_t clock_quorum_dissenter(const clock_quorum *q, const uint64_t *ids, size_t n_ids,
                                int64_t bound_ms, uint64_t now_ms)
{
    uint64_t best = 0, best_at = 0;
    for (size_t k = 0; k < n_ids; k++) {
        for (size_t i = 0; i < q->n; i++) {
            const clock_peer *p = &q->peers[i];
            int64_t off = p->offset_ms < 0 ? -p->offset_ms : p->offset_ms;
            if (p->id == ids[k] && now_ms - p->at_ms <= CLOCK_REPORT_FRESH_MS && off > bound_ms &&
                (best == 0 || p->at_ms > best_at)) {
                best = p->id;
                best_at = p->at_ms;
            }
        }
    }
    return best;
}
