/*
 * Input validation: request bodies checked against a field table, string
 * lengths in code points, RFC 3339 times, e-mail and user-name rules.
 * Pure (jansson and libc only) so unit tests and fuzzers link it alone.
 */
#ifndef MM_VALIDATE_H
#define MM_VALIDATE_H

#include <stddef.h>
#include <jansson.h>

typedef enum {
    MM_F_STRING, /* min/max in code points */
    MM_F_INT,    /* min/max inclusive */
    MM_F_BOOL,
    MM_F_TIME,   /* RFC 3339 with offset */
    MM_F_ENUM,   /* one of choices */
    MM_F_OBJECT, /* nested fields */
    MM_F_EMAIL,
    MM_F_USERNAME, /* 3-50 of [A-Za-z0-9_.-] */
    MM_F_URL,      /* empty, or http(s)://... up to max */
    MM_F_ENUM_SET  /* an array of min to max distinct choices */
} mm_field_kind;

#define MM_F_REQUIRED 1u
#define MM_F_NULLABLE 2u /* null is accepted (e.g. to clear a password) */

typedef struct mm_field {
    const char *name;
    mm_field_kind kind;
    unsigned flags;
    long long min, max;
    const char *const *choices;    /* MM_F_ENUM: NULL-terminated */
    const struct mm_field *fields; /* MM_F_OBJECT: terminated by a NULL name */
} mm_field;

typedef struct {
    const char *code; /* "invalid_field" or "unknown_field" */
    char field[96];   /* dotted path, e.g. "settings.enable_chat" */
    char message[192];
} mm_verr;

/* Checks obj against fields: unknown keys first, then each field in table
 * order. Returns 0, or -1 with err filled. */
int mm_validate_object(const json_t *obj, const mm_field *fields, mm_verr *err);

/* Whether s is well-formed UTF-8 (no overlongs, surrogates or NULs). */
int mm_utf8_valid(const char *s, size_t len);

/* Number of code points in valid UTF-8 text. */
size_t mm_utf8_length(const char *s, size_t len);

/* Strips Unicode White_Space from both ends; returns the new length and sets
 * *start to the offset of the first kept byte. */
size_t mm_utf8_trim(const char *s, size_t len, size_t *start);

/* RFC 3339 date-time with a required offset -> seconds since the epoch (UTC).
 * Fractions of a second are dropped. Returns 0, or -1 when malformed. */
int mm_time_parse(const char *s, long long *epoch);

/* Writes epoch as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 32 bytes). */
void mm_time_format(long long epoch, char *buf);

int mm_email_valid(const char *s);
int mm_username_valid(const char *s);

#endif
