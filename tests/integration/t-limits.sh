#!/bin/bash
# t-limits.sh - the configurable request limits: max_name_length (namespace, name,
# channel) and max_header_size (Authorization, If-None-Match) answer clear JSON
# errors and write nothing.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 9

T=$APPR_TMP
appr_start APPR_MAX_NAME_LENGTH=8 APPR_MAX_HEADER_SIZE=1K
tgz=$(mkchart c 1.0.0 "$T/c")
blobs0=$(blob_files)

push abcdefgh/abcdefgh "$tgz" 1.0.0 helm
is "$STATUS" 200 "8-character namespace and name: accepted"
push abcdefghi/chart "$tgz" 1.0.0 helm
is_error 400 invalid-usage "9-character namespace: 400"
like "$(jqb .message)" '1-8 of ' "the message gives the configured limit"
req POST /api/v1/packages/abcdefgh/abcdefgh/channels/ninechars/1.0.0
is_error 400 invalid-usage "9-character channel: 400"
req GET /api/v1/packages/abcdefgh/abcdefgh/channels
is "$STATUS $(jqb 'length')" "200 0" "no channel was created"

long=$(head -c 1500 /dev/zero | tr '\0' 'a')
req GET /api/v1/packages -H "Authorization: Bearer $long"
is_error 431 invalid-usage "a 1500-byte Authorization header over max_header_size=1K: 431"
req GET /api/v1/packages/abcdefgh/abcdefgh/1.0.0/helm/pull -H "If-None-Match: \"$long\""
is_error 431 invalid-usage "a 1500-byte If-None-Match: 431"
req GET /api/v1/packages/abcdefgh/abcdefgh/1.0.0/helm/pull -H "If-None-Match: \"x\""
is "$STATUS" 200 "a short If-None-Match is fine"
is "$(blob_files)" "$((blobs0 + 1))" "only the accepted push stored a blob"
