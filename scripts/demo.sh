#!/usr/bin/env bash
# The main job: install and build crib, start cribd, run a pod sandbox, show it, tear it down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export CRIB_SOCKET=${CRIB_SOCKET:-/run/crib/crib.sock}
log=$(mktemp /tmp/cribd-demo.XXXXXX.log)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting cribd (log: $log)"
bin/crib daemon --socket "$CRIB_SOCKET" >"$log" 2>&1 &
cribd=$!
stop_cribd() { kill "$cribd" 2>/dev/null && wait "$cribd" 2>/dev/null || true; }
trap stop_cribd EXIT
for _ in $(seq 100); do bin/crib version >/dev/null 2>&1 && break; sleep 0.1; done
bin/crib version

step "crib info: runtime and network readiness"
bin/crib info | node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"));for(const c of s.status.conditions)console.log(`${c.type}=${c.status}${c.reason?" ("+c.reason+")":""}`)'

step "RunPodSandbox examples/sandbox.yaml"
id=$(bin/crib runp examples/sandbox.yaml)
echo "sandbox $id"
bin/crib pods

step "inside the sandbox"
info=$(bin/crib inspectp "$id")
pid=$(node -e 'console.log(JSON.parse(process.argv[1]).info.pid)' "$info")
ip=$(node -e 'console.log(JSON.parse(process.argv[1]).status.network.ip)' "$info")
netns=$(node -e 'console.log(JSON.parse(process.argv[1]).info.netNamespacePath)' "$info")
echo "pause: host pid $pid, pod IP $ip, netns $netns"
ps -o pid,ppid,rss,args -p "$pid"
grep -E '^(NSpid|CapEff)' "/proc/$pid/status"
echo "hostname: $(nsenter -t "$pid" -u hostname)"
echo "resolv.conf:"; sed 's/^/  /' "/proc/$pid/root/etc/resolv.conf"
echo "interfaces:"; nsenter --net="$netns" ip -br addr | sed 's/^/  /'
for ns in net ipc uts pid; do echo "  $ns: pause $(readlink /proc/$pid/ns/$ns)   host $(readlink /proc/self/ns/$ns)"; done
ping -c 1 -W 2 "$ip" >/dev/null && echo "the host reaches the pod at $ip"

step "StopPodSandbox, RemovePodSandbox"
bin/crib stopp "$id"
bin/crib rmp "$id"
bin/crib pods
