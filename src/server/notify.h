/* notify — systemd's notify protocol (Type=notify): READY=1 once the node
 * serves — a leader is known, the log is applied up to the commit index,
 * and no restore is pending, so a NEXT sent then is answered — and
 * STOPPING=1 when a shutdown begins. libsystemd's sd_notify does the
 * talking; without NOTIFY_SOCKET it does nothing. */
#ifndef SEQD_NOTIFY_H
#define SEQD_NOTIFY_H

#include <stdbool.h>
#include <uv.h>

#include "commands.h"

typedef struct notify {
    const command_env *env;
    uv_timer_t tick;
    bool ready_sent;
} notify;

void notify_start(notify *n, uv_loop_t *loop, const command_env *env);
void notify_stopping(notify *n);

#endif
