/*
 * Growable text buffers and the little JSON the C test programs write and read.
 *
 * Hand-written because C has no JSON in its standard library and the test programs must build
 * with nothing but a C compiler: they only escape strings, and walk the top-level members of
 * an object body the pipeline has already validated, so a full parser would be dead weight.
 */
#ifndef ARMATURE_TEST_TEXT_H
#define ARMATURE_TEST_TEXT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string literal as the (pointer, length) pair the ABI takes. */
#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} Text;

static inline void text_put(Text *t, const void *bytes, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            fprintf(stderr, "out of memory\n");
            abort();
        }
        t->data = grown;
        t->cap = cap;
    }
    if (n) memcpy(t->data + t->len, bytes, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static inline void text_cstr(Text *t, const char *s) { text_put(t, s, strlen(s)); }

/* Appends `bytes` as a JSON string literal (UTF-8 passes through; quotes, backslashes and
 * control characters are escaped). */
static inline void text_json_string(Text *t, const uint8_t *bytes, size_t n) {
    text_put(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = bytes[i];
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            text_put(t, escaped, 2);
        } else if (c < 0x20) {
            char escaped[7];
            snprintf(escaped, sizeof escaped, "\\u%04x", c);
            text_put(t, escaped, 6);
        } else {
            text_put(t, &bytes[i], 1);
        }
    }
    text_put(t, "\"", 1);
}

static inline void text_free(Text *t) {
    free(t->data);
    t->data = NULL;
    t->len = t->cap = 0;
}

/* One member of a JSON object: the key with its quotes, and the value's text. */
typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} Member;

static inline size_t json_skip_space(const uint8_t *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* From the opening quote of a string to just past its closing quote. */
static inline size_t json_skip_string(const uint8_t *s, size_t n, size_t i) {
    for (i++; i < n && s[i] != '"'; i++) {
        if (s[i] == '\\') i++;
    }
    return i < n ? i + 1 : n;
}

/* Past one value: a string, a nested object or array, or a scalar. */
static inline size_t json_skip_value(const uint8_t *s, size_t n, size_t i) {
    if (i < n && s[i] == '"') return json_skip_string(s, n, i);
    int depth = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == '"') {
            i = json_skip_string(s, n, i);
            continue;
        }
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') {
            if (depth == 0) break;
            depth--;
            if (depth == 0) return i + 1;
        }
        if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) break;
        i++;
    }
    return i;
}

/* Reads the next member of the object `s` starting at *pos (0 for the first call).
 * Returns 1 with *m filled, 0 at the end, -1 when `s` is not an object. */
static inline int json_next_member(const uint8_t *s, size_t n, size_t *pos, Member *m) {
    size_t i = json_skip_space(s, n, *pos);
    if (*pos == 0) {
        if (i >= n || s[i] != '{') return -1;
        i = json_skip_space(s, n, i + 1);
    } else if (i < n && s[i] == ',') {
        i = json_skip_space(s, n, i + 1);
    }
    if (i >= n || s[i] != '"') return 0;
    size_t key_end = json_skip_string(s, n, i);
    m->key = s + i;
    m->key_len = key_end - i;
    i = json_skip_space(s, n, key_end);
    if (i >= n || s[i] != ':') return -1;
    i = json_skip_space(s, n, i + 1);
    size_t value_end = json_skip_value(s, n, i);
    m->value = s + i;
    m->value_len = value_end - i;
    *pos = value_end;
    return 1;
}

/* Whether a member's key (with quotes) is `name`. */
static inline int member_is(const Member *m, const char *name) {
    size_t len = strlen(name);
    return m->key_len == len + 2 && memcmp(m->key + 1, name, len) == 0;
}

#endif
