/*
 * signald: the key of the JWT secret (--secret-file), which verifies the
 * tickets of the sockets and the chat events httpd hands over. httpd reads
 * its secret again at every restart, graceful ones included; signald, kept
 * running across them, reads the file again when a signature does not verify
 * under its key, so that a rotated secret does not leave every ticket refused
 * and every handed-over chat event dropped until httpd is stopped and started.
 */
#ifndef SD_KEY_H
#define SD_KEY_H

#include "context.h"
#include "token.h"

/* The key of cfg's secret file, or NULL after logging why (MM3016, MM3017). */
mm_token_key *sd_key_load(const struct sd_config *cfg);

/* Whether ok(key, arg) holds for a key read again from the secret file now:
 * then that key is ctx's from here on (MM3806). Called after ok(ctx->key, arg)
 * failed; reads the file at most once a second, so that signatures made up by
 * someone else cost nothing more than that. */
int sd_key_reread(sd_ctx *ctx, int (*ok)(const mm_token_key *key, void *arg), void *arg);

#endif
