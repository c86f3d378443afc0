#!/usr/bin/env bash
# Build the pod sandbox's pause program as a small, static, stripped binary.
#
#   scripts/build-pause.sh            -> build/pause (relative to the repo root)
#
# Environment:
#   CC             compiler to use (default: musl-gcc if available, else gcc)
#   PAUSE_VERSION  version string baked into `pause -v` (default: from pause.c)
set -euo pipefail
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/build-static.sh"

defines=(-D_POSIX_C_SOURCE=200809L)
[[ -z "${PAUSE_VERSION:-}" ]] || defines+=("-DPAUSE_VERSION=\"$PAUSE_VERSION\"")
build_static pause 16384 "${defines[@]}" -- "$repo_root/helpers/pause/pause.c"
