/* Input validation (see validate.h). */
#include "validate.h"

#include <stdio.h>
#include <string.h>

int mm_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        unsigned c = *p, n, cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07;
        else
            return 0;
        if ((size_t)(end - p) <= n)
            return 0;
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
            || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        p += n + 1;
    }
    return 1;
}

size_t mm_utf8_length(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* Decodes the code point ending just before s[end] (valid UTF-8 assumed);
 * sets *size to its byte count. */
static unsigned long cp_before(const char *s, size_t end, size_t *size)
{
    size_t i = end - 1;
    unsigned long cp;

    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    *size = end - i;
    cp = (unsigned char)s[i];
    if (*size == 1)
        return cp;
    cp &= 0xFF >> (*size + 1);
    for (size_t k = i + 1; k < end; k++)
        cp = (cp << 6) | ((unsigned char)s[k] & 0x3F);
    return cp;
}

static unsigned long cp_at(const char *s, size_t len, size_t i, size_t *size)
{
    size_t n = 1;

    while (i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
        n++;
    return cp_before(s, i + n, size);
}

/* Unicode's White_Space property. */
static int is_space_cp(unsigned long c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F
           || c == 0x205F || c == 0x3000;
}

size_t mm_utf8_trim(const char *s, size_t len, size_t *start)
{
    size_t b = 0, e = len, n;

    while (b < e && is_space_cp(cp_at(s, len, b, &n)))
        b += n;
    while (e > b && is_space_cp(cp_before(s, e, &n)))
        e -= n;
    *start = b;
    return e - b;
}

/* Reads exactly n digits. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return (m == 2 && leap) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long long days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parses "Z" or "+HH:MM"/"-HH:MM" at s; returns the offset in seconds. */
static int parse_offset(const char *s, int *offset)
{
    int hh, mm;

    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        *offset = 0;
        return 0;
    }
    if ((s[0] != '+' && s[0] != '-') || digits(s + 1, 2, &hh) || s[3] != ':'
        || digits(s + 4, 2, &mm) || s[6] != '\0' || hh > 23 || mm > 59)
        return -1;
    *offset = (hh * 3600 + mm * 60) * (s[0] == '-' ? -1 : 1);
    return 0;
}

int mm_time_parse(const char *s, long long *epoch)
{
    int y, mo, d, h, mi, sec, off;
    const char *p;

    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-'
        || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h)
        || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59
        || sec > 59)
        return -1;
    p = s + 19;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return -1;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (parse_offset(p, &off))
        return -1;
    *epoch = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return 0;
}

void mm_time_format(long long epoch, char *buf)
{
    long long days = epoch >= 0 ? epoch / 86400 : (epoch - 86399) / 86400;
    long long secs = epoch - days * 86400;
    long long z = days + 719468, era, doe, yoe, y, doy, mp, d, m;

    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)(y % 10000), (int)m, (int)d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

int mm_username_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 3 || n > 50)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* A DNS-style domain: dot-separated labels of [A-Za-z0-9-], at least two,
 * none empty or starting/ending with '-'. */
static int domain_valid(const char *s)
{
    size_t label = 0, labels = 1;

    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return 0;
            label = 0;
            labels++;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || (*p == '-' && label > 0)))
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && labels >= 2;
}

int mm_email_valid(const char *s)
{
    const char *at = strchr(s, '@');
    size_t n = strlen(s);

    if (!at || at == s || strchr(at + 1, '@') || n > 254 || (size_t)(at - s) > 64)
        return 0;
    for (const char *p = s; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7F || strchr("()<>[]:;,\\\"", c))
            return 0;
    }
    if (s[0] == '.' || at[-1] == '.' || strstr(s, ".."))
        return 0;
    return domain_valid(at + 1);
}

static int url_valid(const char *s)
{
    size_t scheme;

    if (*s == '\0')
        return 1;
    if (strncmp(s, "https://", 8) == 0)
        scheme = 8;
    else if (strncmp(s, "http://", 7) == 0)
        scheme = 7;
    else
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ')
            return 0;
    return s[scheme] != '\0' && s[scheme] != '/';
}

static int fail(mm_verr *err, const char *code, const char *prefix, const char *name,
                const char *fmt, long long a, long long b)
{
    char what[96];

    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s%s", prefix, name);
    snprintf(what, sizeof(what), fmt, a, b);
    snprintf(err->message, sizeof(err->message), "%s %s", err->field, what);
    return -1;
}

static int check_string(const json_t *v, const mm_field *f, const char *prefix, mm_verr *err)
{
    const char *s;
    size_t n;

    if (!json_is_string(v))
        return fail(err, "invalid_field", prefix, f->name, "must be a string", 0, 0);
    s = json_string_value(v);
    n = mm_utf8_length(s, json_string_length(v));
    if (json_string_length(v) != strlen(s))
        return fail(err, "invalid_field", prefix, f->name, "must not contain NUL", 0, 0);
    switch (f->kind) {
    case MM_F_EMAIL:
        if (!mm_email_valid(s))
            return fail(err, "invalid_field", prefix, f->name, "must be a valid e-mail address", 0,
                        0);
        return 0;
    case MM_F_USERNAME:
        if (!mm_username_valid(s))
            return fail(err, "invalid_field", prefix, f->name,
                        "must be 3 to 50 characters of A-Z, a-z, 0-9, '_', '.' or '-'", 0, 0);
        return 0;
    case MM_F_URL:
        if ((long long)n > f->max || !url_valid(s))
            return fail(err, "invalid_field", prefix, f->name,
                        "must be empty or an http(s) URL of at most %lld characters", f->max, 0);
        return 0;
    default:
        break;
    }
    if ((long long)n < f->min || (long long)n > f->max)
        return fail(err, "invalid_field", prefix, f->name, "must be %lld to %lld characters long",
                    f->min, f->max);
    return 0;
}

static int check_enum(const json_t *v, const mm_field *f, const char *prefix, mm_verr *err)
{
    char list[120] = "";

    if (json_is_string(v))
        for (const char *const *c = f->choices; *c; c++)
            if (strcmp(*c, json_string_value(v)) == 0)
                return 0;
    for (const char *const *c = f->choices; *c; c++) {
        strncat(list, *c, sizeof(list) - strlen(list) - 1);
        if (c[1])
            strncat(list, c[2] ? ", " : " or ", sizeof(list) - strlen(list) - 1);
    }
    fail(err, "invalid_field", prefix, f->name, "must be one of: ", 0, 0);
    strncat(err->message, list, sizeof(err->message) - strlen(err->message) - 1);
    return -1;
}

static int is_choice(const json_t *v, const char *const *choices)
{
    if (json_is_string(v))
        for (const char *const *c = choices; *c; c++)
            if (strcmp(*c, json_string_value(v)) == 0)
                return 1;
    return 0;
}

static int check_enum_set(const json_t *v, const mm_field *f, const char *prefix, mm_verr *err)
{
    size_t i, j, n = json_array_size(v);

    if (!json_is_array(v) || (long long)n < f->min || (long long)n > f->max)
        return fail(err, "invalid_field", prefix, f->name, "must be a list of %lld to %lld names",
                    f->min, f->max);
    for (i = 0; i < n; i++) {
        if (!is_choice(json_array_get(v, i), f->choices))
            return fail(err, "invalid_field", prefix, f->name,
                        "must name only known ones (entry %lld is not one)", (long long)i, 0);
        for (j = 0; j < i; j++)
            if (json_equal(json_array_get(v, i), json_array_get(v, j)))
                return fail(err, "invalid_field", prefix, f->name,
                            "must not name one twice (entry %lld)", (long long)i, 0);
    }
    return 0;
}

static int check_object(const json_t *obj, const mm_field *fields, const char *prefix,
                        mm_verr *err);

static int check_value(const json_t *v, const mm_field *f, const char *prefix, mm_verr *err)
{
    long long t;

    if (json_is_null(v) && (f->flags & MM_F_NULLABLE))
        return 0;
    switch (f->kind) {
    case MM_F_INT:
        if (!json_is_integer(v))
            return fail(err, "invalid_field", prefix, f->name, "must be an integer", 0, 0);
        if (json_integer_value(v) < f->min || json_integer_value(v) > f->max)
            return fail(err, "invalid_field", prefix, f->name, "must be between %lld and %lld",
                        f->min, f->max);
        return 0;
    case MM_F_BOOL:
        return json_is_boolean(v)
                   ? 0
                   : fail(err, "invalid_field", prefix, f->name, "must be true or false", 0, 0);
    case MM_F_TIME:
        if (!json_is_string(v) || mm_time_parse(json_string_value(v), &t) != 0)
            return fail(err, "invalid_field", prefix, f->name,
                        "must be an RFC 3339 time with an offset, e.g. 2025-10-03T10:00:00Z", 0, 0);
        return 0;
    case MM_F_ENUM:
        return check_enum(v, f, prefix, err);
    case MM_F_ENUM_SET:
        return check_enum_set(v, f, prefix, err);
    case MM_F_OBJECT: {
        char sub[96];
        if (!json_is_object(v))
            return fail(err, "invalid_field", prefix, f->name, "must be an object", 0, 0);
        snprintf(sub, sizeof(sub), "%s%s.", prefix, f->name);
        return check_object(v, f->fields, sub, err);
    }
    default:
        return check_string(v, f, prefix, err);
    }
}

static const mm_field *find_field(const mm_field *fields, const char *name)
{
    for (; fields->name; fields++)
        if (strcmp(fields->name, name) == 0)
            return fields;
    return NULL;
}

static int check_object(const json_t *obj, const mm_field *fields, const char *prefix, mm_verr *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        if (!find_field(fields, key)) {
            fail(err, "unknown_field", prefix, "", "", 0, 0);
            snprintf(err->field, sizeof(err->field), "%s%.60s", prefix, key);
            snprintf(err->message, sizeof(err->message), "unknown field: %s", err->field);
            return -1;
        }
    }
    for (const mm_field *f = fields; f->name; f++) {
        v = json_object_get(obj, f->name);
        if (!v) {
            if (f->flags & MM_F_REQUIRED)
                return fail(err, "invalid_field", prefix, f->name, "is required", 0, 0);
            continue;
        }
        if (check_value(v, f, prefix, err) != 0)
            return -1;
    }
    return 0;
}

int mm_validate_object(const json_t *obj, const mm_field *fields, mm_verr *err)
{
    if (!json_is_object(obj)) {
        err->code = "invalid_json";
        err->field[0] = '\0';
        snprintf(err->message, sizeof(err->message), "the request body must be a JSON object");
        return -1;
    }
    return check_object(obj, fields, "", err);
}
