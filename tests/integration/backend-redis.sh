# backend-redis.sh - placeholder: being written (issue 3). The contract is in lib.sh.
redis_start() { bail "backend-redis.sh is not written yet"; }
redis_stop() { :; }
redis_blob_count() { echo 0; }
