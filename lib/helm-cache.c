/* helm-cache.c - the rendered index.yaml of a namespace, kept in a file per view.
 *
 * <data_dir>/cache/helm/<view>-<ns>.yaml holds one header line, then the index:
 *     appr-helm-index <program version> <tag> <length> <crc32, 8 hex>\n<length bytes>
 * The CRC-32 (zlib) and length catch a file torn by a crash (files are not fsynced:
 * losing one costs a render); the tag says which state of the namespace it shows,
 * the version which renderer wrote it (an upgrade renders again). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "helm-cache.h"

#define HEADER_MAX 96
#define MAGIC "appr-helm-index " PACKAGE_VERSION " "

static int path_of(char *out, size_t size, const char *data_dir, const char *ns, char view)
{
	int n = snprintf(out, size, "%s/" HELM_CACHE_DIR "/%c-%s.yaml", data_dir, view, ns);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static uint32_t crc_of(const char *data, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	while (len > 0) {         /* zlib takes at most UINT_MAX bytes at a time */
		uInt k = len > UINT_MAX ? UINT_MAX : (uInt)len;
		c = crc32(c, (const Bytef *)data, k);
		data += k;
		len -= k;
	}
	return (uint32_t)c;
}

/* Read exactly len bytes at the current offset; 0 or -1. */
static int read_all(int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int helm_cache_get(const char *data_dir, const char *ns, char view, const char *tag,
		   struct strbuf *sb)
{
	char path[PATH_MAX], head[HEADER_MAX + 1], got_tag[HEADER_MAX];
	struct stat st;
	int fd, found = 0;

	if (!data_dir || !*data_dir || path_of(path, sizeof path, data_dir, ns, view) < 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	ssize_t n = pread(fd, head, HEADER_MAX, 0);
	if (n <= 0)
		goto out;
	head[n] = '\0';
	char *nl = strchr(head, '\n');
	unsigned long long len;
	unsigned int crc;
	int used = 0;
	if (!nl || strncmp(head, MAGIC, strlen(MAGIC)) != 0 ||
	    sscanf(head + strlen(MAGIC), "%95s %llu %8x%n", got_tag, &len, &crc, &used) != 3 ||
	    head + strlen(MAGIC) + used != nl || strcmp(got_tag, tag) != 0)
		goto out;
	size_t hlen = (size_t)(nl - head) + 1;
	if ((unsigned long long)st.st_size != hlen + len || len > SIZE_MAX / 2)
		goto out;
	char *body = xmalloc(len + 1);
	if (lseek(fd, (off_t)hlen, SEEK_SET) == (off_t)hlen && read_all(fd, body, len) == 0 &&
	    crc_of(body, len) == crc) {
		sb_append(sb, body, len);
		found = 1;
	}
	free(body);
out:
	close(fd);
	return found;
}

int helm_cache_put(const char *data_dir, const char *ns, char view, const char *tag,
		   const char *body, size_t len)
{
	char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX], head[HEADER_MAX];
	int e, fd;

	if (!data_dir || !*data_dir)
		return ENOENT;
	int n = snprintf(dir, sizeof dir, "%s/" HELM_CACHE_DIR, data_dir);
	if (n < 0 || (size_t)n >= sizeof dir || path_of(path, sizeof path, data_dir, ns, view) < 0)
		return ENAMETOOLONG;
	n = snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%lx", dir, (long)getpid(),
		     (unsigned long)random());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return ENAMETOOLONG;
	if ((e = util_mkdir_p(dir)) != 0)
		return e;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return errno;
	int hl = snprintf(head, sizeof head, MAGIC "%s %zu %08" PRIx32 "\n", tag, len,
			  crc_of(body, len));
	if (hl < 0 || (size_t)hl >= sizeof head || strchr(tag, ' ')) {
		close(fd);
		unlink(tmp);
		return EINVAL;
	}
	if (write_all(fd, head, (size_t)hl) < 0 || write_all(fd, body, len) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		return e;
	}
	return 0;
}
