/*
 * signald: the webhook deliverer (SPEC.md 8). It claims due deliveries from
 * the outbox in PostgreSQL (sd_webhook_claim, sql/004_webhooks.sql) under a
 * lease, posts them with libcurl's multi interface on signald's own libev
 * loop (so a slow endpoint holds one transfer, never the loop), and records
 * each outcome (sd_webhook_result), which schedules the retry. Every signald
 * runs one; several (one per node) share the outbox through the leases.
 */
#ifndef SD_WEBHOOKS_H
#define SD_WEBHOOKS_H

#include "context.h"

/* Starts delivering (ctx->webhooks) on ctx->loop: a database connection of
 * its own, the first claim at once. Returns 0, or -1 when out of memory (or
 * libcurl cannot start). */
int sd_webhooks_start(sd_ctx *ctx);

/* Stops for good: transfers in flight are dropped (their leases run out and
 * another attempt follows), the connection closed. */
void sd_webhooks_stop(sd_ctx *ctx);

#endif
