/* multipart.c - multipart/form-data, read as it streams: delimiters found across any
 * split of the input, one field's data passed on, everything else dropped. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "multipart.h"
#include "util.h"

enum mp_state {
	MP_PREAMBLE,      /* before the first delimiter: dropped */
	MP_AFTER_DELIM,   /* after a delimiter: "--" ends the body, else the line ends */
	MP_HEADERS,       /* a part's header block, until an empty line */
	MP_BODY,          /* a part's data, until the next delimiter */
	MP_EPILOGUE,      /* after the closing delimiter: dropped */
};

struct multipart {
	char delim[4 + MULTIPART_BOUNDARY_MAX + 1];   /* "\r\n--" boundary */
	size_t dlen;
	char *field;
	multipart_data_fn on_data;
	void *ctx;
	enum mp_state state;
	bool wanted;                 /* the current part is the field */
	bool found;
	struct strbuf work;          /* bytes kept between feeds, then the new ones */
	struct strbuf headers;
};

/* bchars of RFC 2046, plus space inside (not last). */
static bool bchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("'()+_,-./:=? ", c));
}

int multipart_boundary(const char *ct, char out[MULTIPART_BOUNDARY_MAX + 1])
{
	static const char type[] = "multipart/form-data";
	if (!ct || strncasecmp(ct, type, sizeof type - 1) != 0)
		return -1;
	const char *p = ct + sizeof type - 1;
	while (*p) {
		while (*p == ';' || *p == ' ' || *p == '\t')
			p++;
		size_t klen = strcspn(p, "=;");
		if (p[klen] != '=') {
			p += klen;
			continue;
		}
		bool is_boundary = klen == 8 && strncasecmp(p, "boundary", 8) == 0;
		p += klen + 1;
		const char *v = p;
		size_t vlen;
		if (*p == '"') {
			v = ++p;
			const char *q = strchr(p, '"');
			if (!q)
				return -1;
			vlen = (size_t)(q - p);
			p = q + 1;
		} else {
			vlen = strcspn(p, "; \t");
			p += vlen;
		}
		if (!is_boundary)
			continue;
		if (vlen == 0 || vlen > MULTIPART_BOUNDARY_MAX || v[vlen - 1] == ' ')
			return -1;
		for (size_t i = 0; i < vlen; i++)
			if (!bchar(v[i]))
				return -1;
		memcpy(out, v, vlen);
		out[vlen] = '\0';
		return 0;
	}
	return -1;
}

struct multipart *multipart_new(const char *boundary, const char *field,
				multipart_data_fn on_data, void *ctx)
{
	struct multipart *m = xcalloc(1, sizeof *m);
	size_t bl = strlen(boundary);
	if (bl > MULTIPART_BOUNDARY_MAX)
		bl = MULTIPART_BOUNDARY_MAX;
	memcpy(m->delim, "\r\n--", 4);
	memcpy(m->delim + 4, boundary, bl);
	m->dlen = 4 + bl;
	m->field = xstrdup(field);
	m->on_data = on_data;
	m->ctx = ctx;
	/* the first delimiter may open the body: as if a line ended before it */
	sb_append(&m->work, "\r\n", 2);
	return m;
}

void multipart_free(struct multipart *m)
{
	if (!m)
		return;
	sb_free(&m->work);
	sb_free(&m->headers);
	free(m->field);
	free(m);
}

bool multipart_found(const struct multipart *m)
{
	return m->found;
}

static int bad(struct appr_error *err, const char *msg)
{
	return appr_err(err, 400, APPR_E_INVALID_USAGE, "multipart body: %s", msg);
}

/* The form-data name of a header block ("" when none), into name. */
static void part_name(const char *h, char *name, size_t cap)
{
	name[0] = '\0';
	for (const char *line = h; *line; ) {
		size_t len = strcspn(line, "\r\n");
		static const char cd[] = "content-disposition:";
		if (len > sizeof cd && strncasecmp(line, cd, sizeof cd - 1) == 0) {
			/* parameters after "form-data": find name= not filename= */
			const char *p = line + sizeof cd - 1, *end = line + len;
			while (p < end) {
				while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
					p++;
				size_t k = 0;
				while (p + k < end && p[k] != '=' && p[k] != ';')
					k++;
				bool is_name = k == 4 && strncasecmp(p, "name", 4) == 0;
				p += k;
				if (p >= end || *p != '=')
					continue;
				p++;
				const char *v = p;
				size_t vl;
				if (*p == '"') {
					v = ++p;
					const char *q = memchr(p, '"', (size_t)(end - p));
					vl = q ? (size_t)(q - p) : (size_t)(end - p);
					p = q ? q + 1 : end;
				} else {
					vl = 0;
					while (p + vl < end && p[vl] != ';' && p[vl] != ' ')
						vl++;
					p += vl;
				}
				if (is_name) {
					if (vl >= cap)
						vl = cap - 1;
					memcpy(name, v, vl);
					name[vl] = '\0';
					return;
				}
			}
		}
		line += len;
		while (*line == '\r' || *line == '\n')
			line++;
	}
}

/* Run the state machine over w[0..n); returns how many bytes it consumed (the rest
 * must wait for more input), or -1. */
static long run(struct multipart *m, const char *w, size_t n, struct appr_error *err)
{
	size_t i = 0;
	while (i < n) {
		switch (m->state) {
		case MP_PREAMBLE:
		case MP_BODY: {
			const char *hit = memmem(w + i, n - i, m->delim, m->dlen);
			size_t end = hit ? (size_t)(hit - w) : (n - i >= m->dlen ? n - m->dlen + 1 : i);
			if (m->state == MP_BODY && m->wanted && end > i &&
			    m->on_data(m->ctx, w + i, end - i, err) < 0)
				return -1;
			i = end;
			if (!hit)
				return (long)i;         /* a delimiter may start in the kept tail */
			i += m->dlen;
			m->state = MP_AFTER_DELIM;
			m->wanted = false;
			break;
		}
		case MP_AFTER_DELIM: {
			if (n - i < 2)
				return (long)i;
			if (w[i] == '-' && w[i + 1] == '-') {
				m->state = MP_EPILOGUE;
				return (long)n;
			}
			/* transport padding, then the line's end */
			size_t k = i;
			while (k < n && (w[k] == ' ' || w[k] == '\t'))
				k++;
			if (n - k < 2)
				return (long)i;
			if (w[k] != '\r' || w[k + 1] != '\n')
				return bad(err, "a delimiter line does not end with CRLF");
			i = k + 2;
			sb_reset(&m->headers);
			m->state = MP_HEADERS;
			break;
		}
		case MP_HEADERS: {
			/* byte by byte up to the empty line: headers are small and bounded */
			sb_putc(&m->headers, w[i++]);
			size_t hl = m->headers.len;
			if (hl > MULTIPART_HEADERS_MAX)
				return bad(err, "a part's headers are too long");
			const char *h = m->headers.buf;
			if (!(hl == 2 && !memcmp(h, "\r\n", 2)) &&
			    !(hl >= 4 && !memcmp(h + hl - 4, "\r\n\r\n", 4)))
				break;
			char name[128];
			part_name(h, name, sizeof name);
			if (!name[0])
				return bad(err, "a part has no Content-Disposition form-data name");
			m->wanted = strcmp(name, m->field) == 0;
			if (m->wanted) {
				if (m->found)
					return bad(err, "the field is given twice");
				m->found = true;
			}
			m->state = MP_BODY;
			break;
		}
		case MP_EPILOGUE:
			return (long)n;
		}
	}
	return (long)i;
}

int multipart_feed(struct multipart *m, const void *data, size_t len, struct appr_error *err)
{
	sb_append(&m->work, data, len);
	long used = run(m, m->work.buf, m->work.len, err);
	if (used < 0)
		return -1;
	size_t left = m->work.len - (size_t)used;
	memmove(m->work.buf, m->work.buf + used, left);
	m->work.len = left;
	m->work.buf[left] = '\0';
	return 0;
}

int multipart_finish(struct multipart *m, struct appr_error *err)
{
	if (m->state != MP_EPILOGUE)
		return bad(err, "the body ends before the closing delimiter");
	return 0;
}
