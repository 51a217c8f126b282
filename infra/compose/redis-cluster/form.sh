#!/bin/sh
# The compose Redis Cluster's formation service (docker-compose.yml, `redis-cluster`), the
# counterpart of packages/infra/src/components/redis-cluster.ts.
#
#   form.sh         form the cluster if every node is fresh, wait until it is whole, then stay up
#   form.sh check   exit 0 only when the cluster is whole (the service's healthcheck)
#
# It stays up after forming, rather than exiting, because `docker compose up --wait` reports an
# exited one-shot container as a failure unless a running service depends on it
# (docker/compose#10596), and because "healthy" then means "formed and whole" for any service
# that depends on it.
set -eu

NODES="redis-cluster-1:17001 redis-cluster-2:17002 redis-cluster-3:17003 redis-cluster-4:17004 redis-cluster-5:17005 redis-cluster-6:17006"

# CLUSTER INFO of one node, without the CRs of the Redis protocol.
info() {
  redis-cli -h "${1%:*}" -p "${1#*:}" cluster info | tr -d '\r'
}

# Whole: every node answers, is ok, serves all 16384 slots and knows all six nodes.
# (cluster-require-full-coverage no keeps cluster_state ok while a master is down, hence slots_ok.)
check() {
  for node in $NODES; do
    out=$(info "$node") || return 1
    echo "$out" | grep -qx 'cluster_state:ok' || return 1
    echo "$out" | grep -qx 'cluster_slots_ok:16384' || return 1
    echo "$out" | grep -qx 'cluster_known_nodes:6' || return 1
  done
}

# A node that never joined a cluster knows only itself and has no slots.
fresh() {
  out=$(info "$1")
  echo "$out" | grep -qx 'cluster_known_nodes:1' && echo "$out" | grep -qx 'cluster_slots_assigned:0'
}

if [ "${1:-}" = check ]; then
  check
  exit $?
fi

fresh_count=0
addresses=""
for node in $NODES; do
  if fresh "$node"; then fresh_count=$((fresh_count + 1)); fi
  # CLUSTER MEET takes an IP, not a name: resolve each container's address.
  ip=$(getent hosts "${node%:*}" | awk '{ print $1; exit }')
  addresses="$addresses $ip:${node#*:}"
done

if [ "$fresh_count" -eq 6 ]; then
  echo "forming the cluster:$addresses"
  # shellcheck disable=SC2086 # one argument per address
  redis-cli --cluster create $addresses --cluster-replicas 1 --cluster-yes
elif [ "$fresh_count" -gt 0 ]; then
  echo "$fresh_count node(s) never joined the cluster the others form (a volume removed?);" \
    "reset it: docker compose rm -sfv redis-cluster redis-cluster-1 redis-cluster-2 redis-cluster-3" \
    "redis-cluster-4 redis-cluster-5 redis-cluster-6, then up again" >&2
  exit 1
else
  echo "already formed"
fi

tries=0
until check; do
  tries=$((tries + 1))
  if [ "$tries" -gt 120 ]; then
    echo "the cluster is not whole after 60 s" >&2
    exit 1
  fi
  sleep 0.5
done
echo "cluster whole: 3 masters, 3 replicas, 16384 slots"

# Stay up (the healthcheck runs `form.sh check`); exit at once on docker stop.
trap 'exit 0' TERM INT
sleep infinity &
wait
