#!/bin/sh
# install-servers.sh - install (Debian 12, as root) the servers `make check` starts on
# loopback: etcd, redis, nginx + spawn-fcgi, Apache with mod_fcgid and mod_xsendfile
# (and systemd, only for systemd-analyze: t-servers verifies contrib/systemd/), and
# mandoc, man-db and groff-base, with which t-man checks the manual pages (doc/), and
# the sqlite3 shell, with which t-helm makes a store of before charts were read, and
# skopeo, the OCI client t-oci-skopeo pushes and pulls images with, and chromium with
# node and playwright-core (tests/browser/), the browser t-ui drives.
# Their packaged services are NOT started (they would take ports 80, 2379, 6379 for
# nothing, and nginx and Apache would fight over port 80): the tests start private
# instances on free ports. Safe to run again.
set -e
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
	printf '#!/bin/sh\n# installed by appr-fcgi tests/install-servers.sh\nexit 101\n' >$policy
	chmod +x $policy
	trap 'rm -f $policy' EXIT
fi
apt-get install -y -qq --no-install-recommends \
	etcd-server etcd-client redis-server redis-tools nginx spawn-fcgi \
	apache2 libapache2-mod-fcgid libapache2-mod-xsendfile lighttpd curl jq \
	systemd mandoc man-db groff-base sqlite3 skopeo >/dev/null

# The browser t-ui drives: Debian's chromium, through playwright-core from npm (pinned
# by tests/browser/package-lock.json; it runs on Debian 12's node 18). A node and npm
# already installed are kept (Debian's npm conflicts with other builds of node).
apt-get install -y -qq --no-install-recommends chromium >/dev/null
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# npm ci into tests/browser/node_modules, unless it was made from this same lock file
browser=$(cd "$(dirname "$0")/browser" && pwd)
if ! cmp -s "$browser/package-lock.json" "$browser/node_modules/.appr-installed-lock"; then
	(cd "$browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	cp "$browser/package-lock.json" "$browser/node_modules/.appr-installed-lock"
fi
# ... and named from a fixed place, for a test run from a copy of the sources that has
# none (make distcheck's tarball)
mkdir -p /usr/local/share/appr-fcgi-tests
ln -sfn "$browser/node_modules" /usr/local/share/appr-fcgi-tests/node_modules
