/* Conditional requests and safe retries: the pure part (see etag.h). */
#include "etag.h"

#include <string.h>
#include <apr_strings.h>
#include <openssl/evp.h>

const char *mm_sha256_hex(apr_pool_t *p, const char *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *out;

    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
        return NULL;
    out = apr_palloc(p, 2 * n + 1);
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

const char *mm_etag_of(apr_pool_t *p, const char *data, size_t len)
{
    const char *hex = mm_sha256_hex(p, data, len);

    return hex ? apr_pstrcat(p, "\"", hex, "\"", NULL) : NULL;
}

/* One entity-tag of a list (RFC 9110 8.8.3): [W/]"<etagc>*". */
typedef struct {
    const char *tag; /* from the opening quote */
    size_t len;      /* quotes included */
    int weak;
} entity_tag;

static int etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/* Reads the next tag of a comma-separated list at *s: 1 read, 0 at the end,
 * -1 malformed. Empty list elements are skipped, as RFC 9110 5.6.1 allows. */
static int next_tag(const char **s, entity_tag *t)
{
    const char *c = *s;

    while (*c == ' ' || *c == '\t' || *c == ',')
        c++;
    if (!*c)
        return 0;
    t->weak = strncmp(c, "W/", 2) == 0;
    if (t->weak)
        c += 2;
    if (*c != '"')
        return -1;
    t->tag = c++;
    while (etagc((unsigned char)*c))
        c++;
    if (*c != '"')
        return -1;
    t->len = (size_t)(++c - t->tag);
    while (*c == ' ' || *c == '\t')
        c++;
    if (*c && *c != ',')
        return -1;
    *s = c;
    return 1;
}

static int is_star(const char *header)
{
    header += strspn(header, " \t");
    return header[0] == '*' && header[1 + strspn(header + 1, " \t")] == '\0';
}

const char *mm_etag_if_match(apr_pool_t *p, const char *header)
{
    char *out, *w;
    entity_tag t;
    int rc;

    if (!header)
        return NULL;
    if (is_star(header))
        return "*";
    out = w = apr_palloc(p, strlen(header) + 1);
    /* Strong comparison: a weak tag never matches, and neither does a tag
     * holding a comma (ours never do; the database splits the list on them). */
    while ((rc = next_tag(&header, &t)) == 1) {
        if (t.weak || memchr(t.tag, ',', t.len))
            continue;
        if (w != out)
            *w++ = ',';
        memcpy(w, t.tag, t.len);
        w += t.len;
    }
    if (rc < 0)
        return "";
    *w = '\0';
    return out;
}

int mm_etag_none_match(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    entity_tag t;
    int rc, found = 0;

    if (!header)
        return 0;
    if (is_star(header))
        return 1;
    while ((rc = next_tag(&header, &t)) == 1)
        found |= t.len == n && memcmp(t.tag, etag, n) == 0;
    return rc == 0 && found;
}

int mm_idem_key_valid(const char *key)
{
    size_t n = 0;

    for (; key[n]; n++)
        if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e || n >= 255)
            return 0;
    return n > 0;
}
