# Sourced by the bridge suite's shell tests (two_hosts.sh, two_hosts_raw.sh,
# slow_link.sh, demo_remote.sh): what each of them needs before it makes its
# "hosts" (network, IPC and mount namespaces with a private /dev/shm).
#
#   hosts_require_namespaces WHY   exit 77 (skipped, with the reason) unless
#                                  root and unshare --net --ipc --mount work;
#                                  WHY says what needs root
#   hosts_workdir PREFIX           a fresh temp dir in $dir, removed at exit
#                                  with every pid in the array $pids killed
#   wait_file FILE                 wait for FILE, at most $bound seconds
#
# Sets mult (TS_TIMEOUT_MULTIPLIER, default 1) and bound (BASE x mult
# seconds, BASE from hosts_bound_base, default 90) for the script.
mult=${TS_TIMEOUT_MULTIPLIER:-1}
bound=$((${hosts_bound_base:-90} * ${mult%.*}))

hosts_require_namespaces() {
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: not root: $1"
    exit 77
  fi
  if ! unshare --net --ipc --mount --propagation private true 2>/dev/null; then
    echo "SKIP: unshare --net --ipc --mount refused here (a container without CAP_SYS_ADMIN?)"
    exit 77
  fi
}

pids=()
hosts_cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "${dir:-}" ] || rm -rf "$dir"
}

hosts_workdir() {
  dir=$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX")
  trap hosts_cleanup EXIT
}

wait_file() {
  local f=$1 n=0
  while [ ! -e "$f" ]; do
    n=$((n + 1))
    if [ $n -gt $((bound * 100)) ]; then echo "FAIL: $f never appeared" >&2; exit 1; fi
    sleep 0.01
  done
}
