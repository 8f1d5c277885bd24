/* metrics_text — /metrics and /ready's answers, built on the loop thread
 * (see metrics_text.c). */
#ifndef SEQD_METRICS_TEXT_H
#define SEQD_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "commands.h"

#define METRICS_TEXT_MAX (16u << 20)

/* The exposition text (malloc'd, *len bytes, NUL-terminated), or NULL
 * without memory. */
char *metrics_text(const command_env *env, size_t max_sequences, size_t *len);

/* Whether the node can serve: a leader is known and its log is applied up
 * to the commit index; why not (or "ok") into why. */
bool metrics_ready(const command_env *env, char *why, size_t cap);

#endif
