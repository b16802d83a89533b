#!/usr/bin/env bash
# Starts a three-master Redis Cluster on 127.0.0.1:7000-7002 (in memory, no replicas) for the
# cluster tests. Idempotent. Prints the URL the tests read.
set -euo pipefail
ports=(7000 7001 7002)
base=${REDIS_CLUSTER_DIR:-/tmp/sessions-redis-cluster}
for p in "${ports[@]}"; do
  if ! redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1; then
    mkdir -p "$base/$p"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$p" --cluster-enabled yes \
      --cluster-config-file "$base/$p/nodes.conf" --cluster-node-timeout 2000 \
      --save "" --appendonly no --dir "$base/$p" --logfile "$base/$p/redis.log"
  fi
done
for p in "${ports[@]}"; do
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
if ! redis-cli -h 127.0.0.1 -p 7000 cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
  if [ "$(redis-cli -h 127.0.0.1 -p 7000 cluster info | awk -F: '/cluster_known_nodes/{print $2}' | tr -d '\r')" != 3 ]; then
    redis-cli --cluster create 127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 --cluster-replicas 0 --cluster-yes >/dev/null
  fi
  for _ in $(seq 100); do
    redis-cli -h 127.0.0.1 -p 7000 cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1
  done
fi
echo "REDIS_CLUSTER_URL=redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"
