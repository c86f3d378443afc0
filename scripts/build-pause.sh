#!/usr/bin/env bash
# Build the pod sandbox's pause program as a small, static, stripped binary.
#
#   scripts/build-pause.sh            -> build/pause (relative to the repo root)
#
# Environment:
#   CC             compiler to use (default: musl-gcc if available, else gcc)
#   PAUSE_VERSION  version string baked into `pause -v` (default: from pause.c)
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd -- "$script_dir/.." && pwd)"
src="$repo_root/pause/pause.c"
out_dir="$repo_root/build"
out="$out_dir/pause"
max_bytes=16384

if [[ -n "${CC:-}" ]]; then
  cc="$CC"
elif command -v musl-gcc >/dev/null 2>&1; then
  cc=musl-gcc
elif command -v gcc >/dev/null 2>&1; then
  cc=gcc
  echo "pause: musl-gcc not found, falling back to gcc -static (binary will be larger)" >&2
else
  echo "pause: no C compiler found (install musl-tools or gcc)" >&2
  exit 1
fi

cflags=(
  -std=c99 -D_POSIX_C_SOURCE=200809L
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
if [[ -n "${PAUSE_VERSION:-}" ]]; then
  cflags+=("-DPAUSE_VERSION=\"$PAUSE_VERSION\"")
fi

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.pause.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

"$cc" "${cflags[@]}" -o "$tmp" "$src"

# Drop any leftover non-loadable sections the linker kept (comments, notes).
if command -v strip >/dev/null 2>&1; then
  strip --strip-all -R .comment -R .note -R .note.gnu.property -R .note.ABI-tag "$tmp" 2>/dev/null || true
fi

# A static binary has no program interpreter (no PT_INTERP header).
is_static() {
  local f="$1"
  if command -v readelf >/dev/null 2>&1; then
    ! readelf -lW "$f" 2>/dev/null | grep -q 'INTERP'
  elif command -v file >/dev/null 2>&1; then
    local desc
    desc="$(file -b "$f")"
    [[ "$desc" == *"statically linked"* || "$desc" == *"static-pie linked"* ]] &&
      [[ "$desc" != *"interpreter"* ]]
  else
    # Last resort: look for the dynamic loader path string.
    ! grep -aq -e '/lib/ld-' -e '/lib64/ld-' "$f"
  fi
}

if ! is_static "$tmp"; then
  echo "pause: $tmp is not statically linked" >&2
  exit 1
fi

size="$(stat -c %s "$tmp")"
if (( size > max_bytes )); then
  echo "pause: binary is $size bytes, over the $max_bytes byte limit" >&2
  exit 1
fi

chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT

echo "pause: built with $cc"
echo "pause: build/pause $size bytes (static, stripped)"
