#!/bin/sh
# install-servers.sh - install (Debian 12, as root) the servers `make check` starts on
# loopback: etcd, redis, nginx + spawn-fcgi, Apache with mod_fcgid and mod_xsendfile
# (and systemd, only for systemd-analyze: t-servers verifies contrib/systemd/), and
# mandoc, man-db and groff-base, with which t-man checks the manual pages (doc/), and
# the sqlite3 shell, with which t-helm makes a store of before charts were read, and
# skopeo, the OCI client t-oci-skopeo pushes and pulls images with.
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
