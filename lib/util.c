/* util.c - aborting allocators, the request arena, string buffers, small helpers. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

static void oom(size_t n)
{
	fprintf(stderr, "appr: out of memory allocating %lu bytes\n", (unsigned long)n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- arena: a chain of blocks; big requests get a block of their own ---- */

#define ARENA_BLOCK 16384

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct arena_block *head;
};

static struct arena_block *block_new(size_t cap)
{
	struct arena_block *b = xmalloc(sizeof *b + cap);
	b->next = NULL;
	b->used = 0;
	b->cap = cap;
	return b;
}

struct arena *arena_new(void)
{
	struct arena *a = xmalloc(sizeof *a);
	a->head = block_new(ARENA_BLOCK);
	return a;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	arena_reset(a);
	free(a->head);
	free(a);
}

void arena_reset(struct arena *a)
{
	struct arena_block *b = a->head, *first = NULL;
	while (b) {
		struct arena_block *next = b->next;
		if (!next) {
			first = b;     /* the oldest block is the standard-size one */
		} else {
			free(b);
		}
		b = next;
	}
	first->used = 0;
	first->next = NULL;
	a->head = first;
}

void *arena_alloc(struct arena *a, size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	struct arena_block *b = a->head;
	if (need < n)
		oom(n);
	if (b->cap - b->used < need) {
		if (need > ARENA_BLOCK / 4) {
			/* a big block goes behind the head so the head keeps filling */
			struct arena_block *big = block_new(need);
			big->used = need;
			big->next = b->next;
			b->next = big;
			memset(big->data, 0, need);
			return big->data;
		}
		b = block_new(ARENA_BLOCK);
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += need;
	memset(p, 0, need);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	/* One pass into a stack buffer for the usual short result; a second only for
	 * a long one. */
	char small[256];
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	char *p = arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof small)
		memcpy(p, small, (size_t)n + 1);
	else
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

/* ---- strbuf ---- */

static void sb_grow(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need < sb->len)
		oom(SIZE_MAX);
	if (need <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap = cap * 2 > cap ? cap * 2 : need;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
}

void sb_append(struct strbuf *sb, const void *data, size_t len)
{
	sb_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void sb_putc(struct strbuf *sb, char c)
{
	sb_append(sb, &c, 1);
}

void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	/* Format straight into the free space; again only when it did not fit. */
	va_list ap2;
	va_copy(ap2, ap);
	sb_grow(sb, 64);
	size_t room = sb->cap - sb->len;
	int n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
	if (n > 0 && (size_t)n >= room) {
		sb_grow(sb, (size_t)n);
		vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2);
	}
	if (n > 0)
		sb->len += (size_t)n;
	else
		sb->buf[sb->len] = '\0';
	va_end(ap2);
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

/* ---- misc ---- */

void util_utc_now(char out[32])
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%06u", (unsigned)(tv.tv_usec % 1000000));
}

int util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int util_parse_size(const char *s, unsigned long long *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end != '\0')
		return -1;
	if (shift && v > (ULLONG_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int util_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof buf)
		return ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		return errno;
	if (stat(buf, &st) < 0)
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}
