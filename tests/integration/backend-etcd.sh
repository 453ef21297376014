# backend-etcd.sh - placeholder: being written (issue 3). The contract is in lib.sh.
etcd_start() { bail "backend-etcd.sh is not written yet"; }
etcd_stop() { :; }
etcd_blob_count() { echo 0; }
