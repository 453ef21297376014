#!/bin/bash
# t-delivery.sh - blob downloads: blob_delivery x-sendfile / x-accel-redirect (the web
# server sends the file: Range works) and stream; ETag, Cache-Control, 304 on
# If-None-Match, HEAD, byte-exact bodies, the /json forms untouched.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

# The mode the web server of this variant supports, and whether the web server then
# serves the file itself (drivers without blob files stream whatever the mode).
case $APPR_TEST_SERVER in
nginx) mode=x-accel-redirect ;;
*) mode=x-sendfile ;;          # lighttpd, Apache (mod_xsendfile) with fcgid and CGI
esac
served=yes
case $APPR_TEST_STORAGE in
etcd | redis) served=no ;;
esac

plan 86

work=$APPR_TMP/charts
mkdir -p "$work/big/big"
small=$(mkchart small 1.0.0 "$work")
# ~1 MiB of incompressible data: a gzip of about 1 MiB
head -c 1048576 /dev/urandom >"$work/big/big/data.bin"
printf 'name: big\nversion: 2.0.0\n' >"$work/big/big/Chart.yaml"
tar -C "$work/big" -czf "$work/big.tgz" big
big=$work/big.tgz
ds=$(digest_of "$small")
db=$(digest_of "$big")
ssize=$(wc -c <"$small" | tr -d ' ')
bsize=$(wc -c <"$big" | tr -d ' ')

appr_start APPR_BLOB_DELIVERY=$mode
diag "server $APPR_TEST_SERVER, storage $APPR_TEST_STORAGE, blob_delivery $mode (web server sends the file: $served)"
push dl/small "$small" 1.0.0 helm
is "$STATUS" 200 "push the small chart"
push dl/big "$big" 2.0.0 helm
is "$STATUS" 200 "push the 1 MiB chart"

# check_download LABEL PATH FILE DIGEST CACHE FILENAME: a full GET is byte-exact with
# the headers of a raw blob answer.
check_download() {
	local label=$1 path=$2 file=$3 digest=$4 cache=$5 filename=$6
	req GET "$path"
	is "$STATUS" 200 "$label: status"
	cmp -s "$BODYFILE" "$file"
	ok $? "$label: body is the pushed file, byte for byte ($(wc -c <"$file" | tr -d ' ') bytes)"
	is "$(header Content-Length)" "$(wc -c <"$file" | tr -d ' ')" "$label: Content-Length"
	is "$(header Content-Type)" application/x-gzip "$label: Content-Type"
	is "$(header Content-Disposition)" "attachment; filename=\"$filename\"" \
		"$label: Content-Disposition"
	is "$(header ETag)" "\"$digest\"" "$label: strong ETag from the digest"
	is "$(header Cache-Control)" "$cache" "$label: Cache-Control"
	is "$(header X-Sendfile)$(header X-Accel-Redirect)" "" \
		"$label: no X-Sendfile / X-Accel-Redirect reaches the client"
}

# check_mode SERVED: every check of one blob_delivery set-up; SERVED=yes when the web
# server sends the files (Range gives 206), no when the responder streams (200 full).
check_mode() {
	local sv=$1 m=$2 blobpath=/api/v1/packages/dl/small/blobs/sha256/$ds
	local pullpath=/api/v1/packages/dl/small/1.0.0/helm/pull
	local immutable="public, max-age=31536000, immutable"

	check_download "$m: small blob by digest" "$blobpath" "$small" "$ds" "$immutable" \
		"dl_small_${ds:0:8}.tar.gz"
	check_download "$m: pull by release" "$pullpath" "$small" "$ds" no-cache \
		"dl_small_1.0.0.tar.gz"
	check_download "$m: 1 MiB pull by query under /cnr" \
		"/cnr/api/v1/packages/dl/big/%3E=2.0.0/-/pull" "$big" "$db" no-cache \
		"dl_big_2.0.0.tar.gz"

	# conditional requests: answered by the responder, whatever the mode
	req GET "$blobpath" -H "If-None-Match: \"$ds\""
	is "$STATUS:$(wc -c <"$BODYFILE" | tr -d ' ')" 304:0 \
		"$m: If-None-Match with the blob's ETag: 304 without a body"
	is "$(header ETag)|$(header Cache-Control)" "\"$ds\"|$immutable" \
		"$m: the 304 carries ETag and Cache-Control"
	req GET "$pullpath" -H "If-None-Match: \"0000\", W/\"$ds\""
	is "$STATUS:$(wc -c <"$BODYFILE" | tr -d ' ')" 304:0 \
		"$m: pull, If-None-Match list with the weak form of the tag: 304"
	req GET "$pullpath" -H 'If-None-Match: *'
	is "$STATUS" 304 "$m: pull, If-None-Match *: 304"
	req GET "$pullpath" -H "If-None-Match: \"$db\""
	is "$STATUS" 200 "$m: pull, If-None-Match of another blob: 200"
	cmp -s "$BODYFILE" "$small"
	ok $? "$m: ... with the whole body"

	# HEAD: headers only, the length of the blob
	req HEAD "$blobpath"
	is "$STATUS" 200 "$m: HEAD blob by digest: 200"
	is "$(header Content-Length)" "$ssize" "$m: HEAD: Content-Length of the blob"
	is "$(wc -c <"$BODYFILE" | tr -d ' ')" 0 "$m: HEAD: no body"
	is "$(header ETag)" "\"$ds\"" "$m: HEAD: ETag"

	# Range: the web server's business; a streaming responder ignores it
	req GET "/api/v1/packages/dl/big/blobs/sha256/$db" -H 'Range: bytes=1000-1999'
	if [ "$sv" = yes ]; then
		is "$STATUS" 206 "$m: Range on the 1 MiB blob: 206 from the web server"
		cmp -s "$BODYFILE" <(tail -c +1001 "$big" | head -c 1000)
		ok $? "$m: Range: bytes 1000-1999 of the blob"
		is "$(header Content-Range)" "bytes 1000-1999/$bsize" "$m: Range: Content-Range"
	else
		is "$STATUS" 200 "$m: Range when the responder streams: ignored, 200"
		cmp -s "$BODYFILE" "$big"
		ok $? "$m: Range ignored: the whole blob"
		is "$(header Accept-Ranges)" none "$m: Range ignored: Accept-Ranges: none"
	fi

	# the /json forms embed the blob as base64: never delegated
	req GET "$pullpath/json"
	is "$STATUS:$(header Content-Type)" 200:application/json "$m: pull/json: JSON"
	cmp -s <(jqb .blob | base64 -d) "$small"
	ok $? "$m: pull/json: the blob in base64, byte for byte"
	req GET "/api/v1/packages/dl/big/blobs/sha256/$db/json"
	cmp -s <(jqb .blob | base64 -d) "$big"
	ok $? "$m: 1 MiB blob /json: the blob in base64, byte for byte"

	# errors stay JSON
	req GET "/api/v1/packages/dl/small/blobs/sha256/$db"
	is_error 404 package-not-found "$m: a blob of another package: 404 JSON"
	req GET /api/v1/packages/dl/small/9.9.9/helm/pull
	is_error 404 package-not-found "$m: pull of an absent release: 404 JSON"
}

check_mode "$served" "$mode"

diag "blob_delivery stream"
appr_stop
appr_start APPR_BLOB_DELIVERY=stream
check_mode no stream
