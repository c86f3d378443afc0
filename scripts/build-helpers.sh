#!/usr/bin/env bash
# Build crib's static helper programs: build/crib-io (helpers/crib-io/*.c), the stdio helper cribd
# spawns for the CRI streaming calls (a pty for Exec/Attach with a TTY, conmon's SOCK_SEQPACKET
# attach socket, TCP inside a pod's network namespace). Small, static and stripped, like pause.
#
#   scripts/build-helpers.sh          -> build/crib-io (relative to the repo root)
#
# Environment:
#   CC               compiler to use (default: musl-gcc if available, else gcc)
#   CRIB_IO_VERSION  version string baked into `crib-io -v` (default: from main.c)
set -euo pipefail
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/build-static.sh"

src_dir="$repo_root/helpers/crib-io"
defines=(-D_GNU_SOURCE "-I$src_dir")
[[ -z "${CRIB_IO_VERSION:-}" ]] || defines+=("-DCRIB_IO_VERSION=\"$CRIB_IO_VERSION\"")
build_static crib-io 65536 "${defines[@]}" -- "$src_dir"/*.c
