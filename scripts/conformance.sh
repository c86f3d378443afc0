#!/usr/bin/env bash
# Conformance: critest (cri-tools, the CRI suite containerd and CRI-O run in CI) against a cribd of
# its own, offline. Run as root on Debian 12: `bash scripts/conformance.sh`.
#
# Two suites run against the one set-up, one after the other: v1.26.1 (CRI_TOOLS/bin) and v1.32.0,
# the suite of today's kubelet (CRI_TOOLS/v1.32/bin). SUITES='v1.32' (or 'v1.26') runs one;
# CRITEST=PATH and CRICTL=PATH run one suite with other binaries.
#
# This is the one place the repo uses ../shared/cri-tools: critest itself and the builder of offline
# stand-ins for critest's images. Everything it makes lives under .cache/ (the images, cached across
# runs) or a temp dir that it removes; what it starts (a docker-registry on 127.0.0.1, cribd on its
# own socket, root, state, bridge, subnet and cgroup root) it stops, and it checks that nothing of
# cribd's pods is left behind.
#
# critest's and cribd's logs of the last run are kept in .cache/conformance/.
# Exits non-zero when a spec fails that is not listed in EXPECTED_FAILURES, or when something leaks.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cri_tools=${CRI_TOOLS:-$repo/../shared/cri-tools}
# SUITE CRITEST CRICTL, one per line.
if [ -n "${CRITEST:-}" ]; then
  suites="custom $CRITEST ${CRICTL:-$cri_tools/bin/crictl}"
else
  suites=
  for s in ${SUITES:-v1.26 v1.32}; do
    case $s in
      v1.26) suites+="v1.26 $cri_tools/bin/critest $cri_tools/bin/crictl"$'\n' ;;
      v1.32) suites+="v1.32 $cri_tools/v1.32/bin/critest $cri_tools/v1.32/bin/crictl"$'\n' ;;
      *) printf 'conformance: unknown suite %s (v1.26, v1.32)\n' "$s" >&2; exit 2 ;;
    esac
  done
fi
crictl=$(printf '%s\n' "$suites" | awk 'NF { c = $3 } END { print c }')

# Specs that cannot pass here, each with its reason. Matched against ginkgo's full spec text.
expected_failures=(
  # Pulls test-image-digest by the digest of the upstream manifest, which no offline stand-in has.
  '[k8s.io] Image Manager public image with digest should be pulled and removed [Conformance]'
)

say() { printf 'conformance: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
while read -r _ critest c; do
  [ -n "$critest" ] || continue
  [ -x "$critest" ] || die "critest not found at $critest (set CRI_TOOLS=DIR or CRITEST=PATH)"
  [ -x "$c" ] || die "crictl not found at $c (set CRI_TOOLS=DIR or CRICTL=PATH)"
done <<<"$suites"
bash scripts/setup.sh

# ---- critest's images: built once into .cache, rebuilt when the builder changes -------------------
images=$repo/.cache/critest-images
stamp=$(cat "$cri_tools/images/build.sh" "$cri_tools"/images/src/* | sha256sum | cut -c1-16)
if [ "$(cat "$images/.stamp" 2>/dev/null)" != "$stamp" ]; then
  say "building critest's stand-in images into $images"
  mkdir -p "$images"
  OUT=$images bash "$cri_tools/images/build.sh" >"$images/build.log" 2>&1 || { tail -n 30 "$images/build.log" >&2; die "image build failed"; }
  echo "$stamp" >"$images/.stamp"
fi

# ---- everything this run starts, and its teardown ----------------------------------------------------
work=$(mktemp -d /tmp/crib-conformance.XXXXXX)
chmod 0711 "$work"
sock=$work/crib.sock
bridge=cribcf$$
bridge=${bridge:0:15}
subnet=10.199.$(($$ % 250)).0/24
cgroup_root=/crib-conformance-$$
registry_pid=
cribd_pid=
summary=
critest_pid=
crib() { node "$repo/bin/crib" --socket "$sock" "$@"; }

stop_pid() { # PID: SIGTERM, then SIGKILL after 20 s; only processes this script started
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# What cribd's pods may leave: mounts, netns pins, veths, processes, cgroups, IP leases, NAT rules.
leaks() {
  grep -F " $work/" /proc/self/mountinfo | awk '{print "mount " $5}'
  ls "$work/state/netns" 2>/dev/null | sed 's/^/netns pin /'
  ip -o link show master "$bridge" 2>/dev/null | awk -F': ' '{print "veth " $2}'
  local p
  for p in /proc/[0-9]*; do
    grep -qsF -e "$work/" "$p/cmdline" && [ "${p#/proc/}" != "$cribd_pid" ] && [ "${p#/proc/}" != "$$" ] &&
      echo "process ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" | cut -c1-80)"
    grep -qsF -e "$cgroup_root/" "$p/cgroup" && echo "process ${p#/proc/} in $cgroup_root"
  done
  find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path "*$cgroup_root/*" 2>/dev/null | sed 's/^/cgroup /'
  find "$work/root/cni/networks" -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null | sed 's/^/lease /'
  iptables-save -t nat 2>/dev/null | grep -F "${subnet%.0/24}." | sed 's/^/iptables /'
  return 0
}

teardown() {
  local rc=$? left
  trap - EXIT INT TERM
  stop_pid "$critest_pid"
  if [ -n "$cribd_pid" ] && kill -0 "$cribd_pid" 2>/dev/null; then
    # cribd leaves pods running when it stops (that is its job), so remove them through the CRI first.
    "$crictl" --runtime-endpoint "unix://$sock" --timeout 60s rmp -af >/dev/null 2>&1 ||
      say "removing the pods failed; see $work/cribd.log"
    stop_pid "$cribd_pid"
  fi
  stop_pid "$registry_pid"
  left=$(sleep 0.5; leaks)
  if [ -n "$left" ]; then
    say "LEAKED (cleaning up now):"
    printf '  %s\n' "$left" >&2
    tail -n 40 "$work/cribd.log" >&2 2>/dev/null || true
    [ "$rc" -ne 0 ] || rc=1
  fi
  # Whatever the pods left, remove it so the next run (and the machine) starts clean.
  grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -depth -type d -path "*$cgroup_root*" -exec rmdir {} + 2>/dev/null || true
  mkdir -p "$repo/.cache/conformance"
  cp "$work"/critest-*.log "$work"/cribd.log "$repo/.cache/conformance/" 2>/dev/null || true
  rm -rf "$work"
  [ -z "$summary" ] || printf '%s\n' "$summary"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_for() { # SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.1; done
}

# ---- a registry on 127.0.0.1 holding gcr.io/k8s-staging-cri-tools/test-image-* -------------------
port=$(free_port)
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/registry/data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port, secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') }
EOF
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
registry_pid=$!
wait_for 20 timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "docker-registry did not start: $(tail -5 "$work/registry/log")"

say "pushing the Image Manager's images to 127.0.0.1:$port"
tags_of() { tar -xOf "$1" manifest.json | node -e 'for (const m of JSON.parse(require("fs").readFileSync(0))) for (const t of m.RepoTags ?? []) console.log(t)'; }
for tar in "$images"/test-image-*.tar; do
  for ref in $(tags_of "$tar"); do
    case $ref in gcr.io/k8s-staging-cri-tools/test-image-*) ;; *) continue ;; esac
    skopeo --insecure-policy copy -q --dest-tls-verify=false "docker-archive:$tar:$ref" "docker://127.0.0.1:$port/${ref#gcr.io/}"
  done
done

# ---- cribd of its own, with the registry as gcr.io's mirror -------------------------------------------
mkdir -p "$work/cni.d"
cat >"$work/crib.yaml" <<EOF
registries:
  mirrors: { "gcr.io": ["http://127.0.0.1:$port"] }
  insecure: ["127.0.0.1:$port"]
EOF
node --max-semi-space-size=1 --single-threaded-gc "$repo/bin/crib" daemon --config "$work/crib.yaml" --socket "$sock" --root "$work/root" --state "$work/state" \
  --cni-conf-dir "$work/cni.d" --bridge "$bridge" --subnet "$subnet" --network-name "crib-conformance-$$" \
  --cgroup-root "$cgroup_root" --ip-masq false >"$work/cribd.log" 2>&1 &
cribd_pid=$!
wait_for 30 crib version || die "cribd did not start: $(tail -20 "$work/cribd.log")"

say "importing critest's other images"
for tar in "$images"/*.tar; do
  case $(basename "$tar") in test-image-*|pause-*) continue ;; esac
  crib image import "$tar" >/dev/null
done

# ---- critest, each suite ------------------------------------------------------------------------------
run_suite() { # NAME CRITEST: runs it, prints its failures that are not expected; returns their count
  local name=$1 bin=$2 spec unexpected=0
  say "running critest $name ($bin)"
  set +e
  "$bin" -runtime-endpoint "unix://$sock" -image-endpoint "unix://$sock" \
    --ginkgo.no-color --ginkgo.json-report="$work/report-$name.json" ${CRITEST_ARGS:-} 2>&1 | tee "$work/critest-$name.log" &
  critest_pid=$!
  wait "$critest_pid"
  set -e
  critest_pid=
  [ -s "$work/report-$name.json" ] || die "critest $name wrote no report"

  # Failed specs, one full text per line, from ginkgo's JSON report.
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const s of r.flatMap((x) => x.SpecReports ?? []))
      if (s.LeafNodeType === "It" && !["passed", "skipped", "pending"].includes(s.State))
        console.log([...(s.ContainerHierarchyTexts ?? []), s.LeafNodeText].join(" "));
  ' "$work/report-$name.json" >"$work/failed-$name.txt"

  while IFS= read -r spec; do
    if printf '%s\n' "${expected_failures[@]}" | grep -qxF -- "$spec"; then
      say "$name: expected failure: $spec"
    else
      say "$name: UNEXPECTED FAILURE: $spec"
      unexpected=$((unexpected + 1))
    fi
  done <"$work/failed-$name.txt"
  # critest's summary is printed last, after the teardown (see teardown).
  summary+="critest $name: $(grep -E '^(Ran [0-9]+ of [0-9]+ Specs|(SUCCESS|FAIL)! -- )' "$work/critest-$name.log" | tail -n 2 | tr '\n' ' ')"$'\n'
  return "$unexpected"
}

failed=0
while read -r name critest _; do
  [ -n "$name" ] || continue
  run_suite "$name" "$critest" || failed=$((failed + $?))
done <<<"$suites"
[ "$failed" -eq 0 ] || exit 1
