#!/bin/bash
# t-oci-skopeo.sh - a real OCI client against /v2/: skopeo copies an image (an OCI
# image layout made here with bash, jq, tar and sha256sum) to the registry and back
# into another layout, byte for byte, and reads its raw manifest and its tags.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 6
_need skopeo skopeo
appr_start
T=$APPR_TMP
HOST=${BASE#http://}

# an OCI image layout $T/src with one image tagged 1.0: a layer, a config, a manifest
blob() { # FILE: moved into the layout under its digest; prints "sha256:HEX SIZE"
	local h s
	h=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(wc -c <"$1")
	mv "$1" "$T/src/blobs/sha256/$h"
	printf 'sha256:%s %s\n' "$h" "$s"
}
mkdir -p "$T/src/blobs/sha256" "$T/rootfs/etc"
printf '{"imageLayoutVersion":"1.0.0"}' >"$T/src/oci-layout"
printf 'hello from appr\n' >"$T/rootfs/etc/motd"
head -c 200000 /dev/urandom >"$T/rootfs/etc/noise"
tar -C "$T/rootfs" --owner=0 --group=0 --mtime=@0 -cf - etc | gzip -n >"$T/layer.tgz"
diffid=sha256:$(gzip -dc "$T/layer.tgz" | sha256sum | cut -d' ' -f1)
read -r ld ls < <(blob "$T/layer.tgz")
jq -cn --arg d "$diffid" '{architecture: "amd64", os: "linux", config: {},
	rootfs: {type: "layers", diff_ids: [$d]}}' | tr -d '\n' >"$T/config.json"
read -r cd cs < <(blob "$T/config.json")
jq -cn --arg cd "$cd" --argjson cs "$cs" --arg ld "$ld" --argjson ls "$ls" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
	  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]}' |
	tr -d '\n' >"$T/manifest.json"
read -r md ms < <(blob "$T/manifest.json")
jq -cn --arg md "$md" --argjson ms "$ms" '{schemaVersion: 2, manifests: [{mediaType:
	"application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
	annotations: {"org.opencontainers.image.ref.name": "1.0"}}]}' >"$T/src/index.json"

sk() { timeout 60 skopeo --insecure-policy "$@" >"$T/sk.out" 2>"$T/sk.err" || { diag "$(tail -n 5 "$T/sk.err")"; return 1; }; }
sk copy "oci:$T/src:1.0" "docker://$HOST/skons/image:1.0" --dest-tls-verify=false
ok $? "skopeo copy oci: -> the registry"
sk copy "docker://$HOST/skons/image:1.0" "oci:$T/dst:1.0" --src-tls-verify=false
ok $? "skopeo copy the registry -> another oci: layout"
same=yes
for f in "$T"/src/blobs/sha256/*; do
	cmp -s "$f" "$T/dst/blobs/sha256/${f##*/}" || same="no: ${f##*/}"
done
is "$same" yes "every blob (manifest, config, layer) came back byte for byte"
sk inspect --raw "docker://$HOST/skons/image:1.0" --tls-verify=false
is "$(sha256sum <"$T/sk.out" | cut -d' ' -f1)" "${md#sha256:}" "skopeo inspect --raw: the manifest's exact bytes"
sk copy "oci:$T/src:1.0" "docker://$HOST/skons/image:latest" --dest-tls-verify=false
sk list-tags "docker://$HOST/skons/image" --tls-verify=false
is "$(jq -c .Tags <"$T/sk.out")" '["1.0","latest"]' "skopeo list-tags: both tags"
req GET "/v2/skons/image/manifests/latest"
is "$(header Docker-Content-Digest)" "$md" "the second copy reused the same manifest"
