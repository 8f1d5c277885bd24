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
