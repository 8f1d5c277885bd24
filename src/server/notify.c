/* notify — READY=1 and STOPPING=1 for systemd (see notify.h). */
#include "notify.h"

#include <systemd/sd-daemon.h>

#include "log.h"
#include "metrics_text.h"

#define NOTIFY_TICK_MS 20

static void notifyTick(uv_timer_t *t)
{
    notify *n = t->data;
    char why[160];
    if (n->ready_sent || (n->env->restoring != NULL && *n->env->restoring) ||
        !metrics_ready(n->env, why, sizeof(why))) {
        return;
    }
    n->ready_sent = true;
    uv_timer_stop(&n->tick);
    int rv = sd_notify(0, "READY=1\nSTATUS=serving");
    if (rv > 0) {
        log_info("told systemd: ready");
    }
}

void notify_start(notify *n, uv_loop_t *loop, const command_env *env)
{
    n->env = env;
    n->ready_sent = false;
    uv_timer_init(loop, &n->tick);
    n->tick.data = n;
    uv_timer_start(&n->tick, notifyTick, 0, NOTIFY_TICK_MS);
}

void notify_stopping(notify *n)
{
    sd_notify(0, "STOPPING=1\nSTATUS=finishing in-flight requests");
    uv_timer_stop(&n->tick);
    if (!uv_is_closing((uv_handle_t *)&n->tick)) {
        uv_close((uv_handle_t *)&n->tick, NULL);
    }
}
