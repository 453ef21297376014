/* error.c - filling struct appr_error. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int appr_verr(struct appr_error *err, int http, const char *code, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	err->http = http;
	err->code = code;
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	return -1;
}

int appr_err(struct appr_error *err, int http, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	appr_verr(err, http, code, fmt, ap);
	va_end(ap);
	return -1;
}

static void copy_detail(char *dst, size_t cap, const char *src)
{
	if (src)
		snprintf(dst, cap, "%s", src);
}

void appr_err_details(struct appr_error *err, const char *package, const char *release,
		      const char *media_type)
{
	if (!err)
		return;
	copy_detail(err->package, sizeof err->package, package);
	copy_detail(err->release, sizeof err->release, release);
	copy_detail(err->media_type, sizeof err->media_type, media_type);
}

void appr_err_clear(struct appr_error *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}
