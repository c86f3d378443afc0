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

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd -- "$script_dir/.." && pwd)"
src_dir="$repo_root/helpers/crib-io"
out_dir="$repo_root/build"
out="$out_dir/crib-io"
max_bytes=65536

if [[ -n "${CC:-}" ]]; then
  cc="$CC"
elif command -v musl-gcc >/dev/null 2>&1; then
  cc=musl-gcc
elif command -v gcc >/dev/null 2>&1; then
  cc=gcc
  echo "crib-io: musl-gcc not found, falling back to gcc -static (binary will be larger)" >&2
else
  echo "crib-io: no C compiler found (install musl-tools or gcc)" >&2
  exit 1
fi

cflags=(
  -std=c99 -D_GNU_SOURCE
  -Wall -Wextra -Werror
  -Os
  -static
  -s
  -fno-asynchronous-unwind-tables -fno-unwind-tables
  -fno-stack-protector
  -fno-ident
  -fno-pie -no-pie
  -ffunction-sections -fdata-sections
  -Wl,--gc-sections
  -Wl,--build-id=none
  -Wl,-z,norelro
  -Wl,-z,noseparate-code
)
if [[ -n "${CRIB_IO_VERSION:-}" ]]; then
  cflags+=("-DCRIB_IO_VERSION=\"$CRIB_IO_VERSION\"")
fi

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.crib-io.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

"$cc" "${cflags[@]}" -I"$src_dir" -o "$tmp" "$src_dir"/*.c

if command -v strip >/dev/null 2>&1; then
  strip --strip-all -R .comment -R .note -R .note.gnu.property -R .note.ABI-tag "$tmp" 2>/dev/null || true
fi

# A static binary has no program interpreter (no PT_INTERP header).
if command -v readelf >/dev/null 2>&1 && readelf -lW "$tmp" 2>/dev/null | grep -q 'INTERP'; then
  echo "crib-io: $tmp is not statically linked" >&2
  exit 1
fi

size="$(stat -c %s "$tmp")"
if (( size > max_bytes )); then
  echo "crib-io: binary is $size bytes, over the $max_bytes byte limit" >&2
  exit 1
fi

chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT

echo "crib-io: built with $cc"
echo "crib-io: build/crib-io $size bytes (static, stripped)"
