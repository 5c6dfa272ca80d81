/*
 * Micro-benchmark of access-token verification as every authenticated request
 * does it (mm_token_verify: HS256 from the key prepared once, one jansson
 * parse, claim checks), next to the HMAC-SHA256 of the same bytes from that
 * prepared key (mm_token_mac), its floor, and OpenSSL's one-shot HMAC(), which
 * sets the key up on every call as libjwt did. Timings are printed, never
 * asserted. Built and run by tests/bench/run.sh:
 *
 *   cc -O2 -Imod_meeting/core tests/bench/jwt_bench.c mod_meeting/core/token.c -ljansson -ljwt -lcrypto
 */
#define _DEFAULT_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../mod_meeting/core/token.h"

#define N 200000

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(void)
{
    static const unsigned char secret[] = "0123456789abcdef0123456789abcdef0123456789abcdef";
    mm_token_key *k = mm_token_key_make(secret, sizeof(secret) - 1, "mod_meeting");
    mm_claims c = {.type = MM_TOKEN_ACCESS, .user_id = 4242, .gen = 0};
    long long now = (long long)time(NULL);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen;
    const char *dot;
    char *token;
    char *signed_part, hex[65];
    double t0, verify_ns, mac_ns, hmac_ns;
    int ok = 0;

    c.iat = now;
    c.exp = now + 3600;
    strcpy(c.jti, "0123456789abcdef0123456789abcdef");
    token = mm_token_sign(k, &c);
    if (!k || !token) {
        fprintf(stderr, "jwt_bench: cannot sign\n");
        return 1;
    }
    t0 = now_ns();
    for (int i = 0; i < N; i++) {
        mm_claims out;
        ok += mm_token_verify(k, token, MM_TOKEN_ACCESS, now, &out) == MM_TOKEN_OK;
    }
    verify_ns = (now_ns() - t0) / N;
    dot = strrchr(token, '.');
    signed_part = strndup(token, (size_t)(dot - token));
    t0 = now_ns();
    for (int i = 0; i < N; i++)
        mm_token_mac(k, signed_part, hex);
    mac_ns = (now_ns() - t0) / N;
    t0 = now_ns();
    for (int i = 0; i < N; i++)
        HMAC(EVP_sha256(), secret, (int)sizeof(secret) - 1, (const unsigned char *)token,
             (size_t)(dot - token), mac, &maclen);
    hmac_ns = (now_ns() - t0) / N;
    printf("token verify (mm_token_verify):           %.0f ns   (%d of %d valid)\n", verify_ns,
           ok, N);
    printf("HMAC-SHA256 of the same bytes, key ready: %.0f ns\n", mac_ns);
    printf("the same by one-shot HMAC() (key set-up): %.0f ns\n", hmac_ns);
    free(signed_part);
    free(token);
    mm_token_key_free(k);
    return ok == N ? 0 : 1;
}
