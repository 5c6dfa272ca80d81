/* signald: the JWT secret's key (see key.h). */
#include "key.h"

#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "util.h"

/* How often a failed signature may have the file read again. */
#define REREAD_US SD_US

mm_token_key *sd_key_load(const sd_config *cfg)
{
    unsigned char *secret = NULL;
    size_t len = 0;
    const char *why = NULL;
    mm_token_key *key;

    if (mm_secret_read(cfg->secret_file, &secret, &len, &why)) {
        sd_log("error", "MM3016: secret file %s %s", cfg->secret_file, why);
        return NULL;
    }
    key = mm_token_key_make(secret, len, cfg->issuer);
    memset(secret, 0, len);
    free(secret);
    if (!key)
        sd_log("error", "MM3017: out of memory");
    return key;
}

int sd_key_reread(sd_ctx *ctx, int (*ok)(const mm_token_key *key, void *arg), void *arg)
{
    long long now = sd_mono_us();
    mm_token_key *fresh;

    if (ctx->key_read_us && now - ctx->key_read_us < REREAD_US)
        return 0;
    ctx->key_read_us = now;
    if (!(fresh = sd_key_load(ctx->cfg)))
        return 0;
    if (!ok(fresh, arg)) {
        mm_token_key_free(fresh);
        return 0;
    }
    mm_token_key_free(ctx->key);
    ctx->key = fresh;
    sd_log("info", "MM3806: the secret file %s holds a new secret: signatures are checked "
                   "with it from now on",
           ctx->cfg->secret_file);
    return 1;
}
