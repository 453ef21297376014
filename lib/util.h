/* util.h - allocation that aborts on failure, a per-request arena, a growable string buffer. */
#ifndef APPR_UTIL_H
#define APPR_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/* Allocation failure prints one line to stderr and aborts: callers never check. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* An arena hands out memory that lives until arena_reset() or arena_free().
 * One arena per request: everything a request (and the storage calls it makes)
 * allocates comes from it and is released at once after the response is written. */
struct arena;
struct arena *arena_new(void);
void arena_free(struct arena *a);        /* NULL is a no-op */
void arena_reset(struct arena *a);       /* keeps the first block for reuse */
void *arena_alloc(struct arena *a, size_t n);  /* 16-byte aligned, zeroed */
char *arena_strdup(struct arena *a, const char *s);     /* NULL gives NULL */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A growable, always NUL-terminated byte buffer. Zero-initialised is valid. */
struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};
void sb_append(struct strbuf *sb, const void *data, size_t len);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
void sb_reset(struct strbuf *sb);        /* len = 0, keeps the memory */
void sb_free(struct strbuf *sb);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.ffffff" (26 chars + NUL). */
void util_utc_now(char out[32]);

/* The value of hex digit c (either case), or -1. */
int util_hexval(int c);

/* Parse a size with an optional K/M/G suffix (powers of 1024) into *out.
 * Returns 0, or -1 on anything else (empty, negative, overflow, junk). */
int util_parse_size(const char *s, unsigned long long *out);

/* mkdir -p path (mode 0750 for what it creates). Returns 0, or the errno of the step
 * that failed (ENOTDIR when path exists and is no directory, ENAMETOOLONG). */
int util_mkdir_p(const char *path);

#endif
