# Sourced by build-pause.sh and build-helpers.sh: builds one small, static, stripped C program into
# build/, refusing a dynamic binary or one over its size budget (the binary is copied into every pod
# or spawned on hot paths, so its size is a feature).
#
#   build_static NAME MAX_BYTES -D... [-I...] -- SOURCES...
#
# Environment: CC, the compiler (default: musl-gcc if available, else gcc -static).

repo_root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)"

build_static() {
  local name="$1" max_bytes="$2"
  shift 2
  local extra=()
  while [[ "$1" != "--" ]]; do
    extra+=("$1")
    shift
  done
  shift

  local cc
  if [[ -n "${CC:-}" ]]; then
    cc="$CC"
  elif command -v musl-gcc >/dev/null 2>&1; then
    cc=musl-gcc
  elif command -v gcc >/dev/null 2>&1; then
    cc=gcc
    echo "$name: musl-gcc not found, falling back to gcc -static (binary will be larger)" >&2
  else
    echo "$name: no C compiler found (install musl-tools or gcc)" >&2
    return 1
  fi

  local cflags=(
    -std=c99 -Wall -Wextra -Werror -Os -static -s
    -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-stack-protector -fno-ident
    -fno-pie -no-pie -ffunction-sections -fdata-sections
    -Wl,--gc-sections -Wl,--build-id=none -Wl,-z,norelro -Wl,-z,noseparate-code
  )
  local out_dir="$repo_root/build"
  mkdir -p "$out_dir"
  local tmp
  tmp="$(mktemp "$out_dir/.$name.XXXXXX")"
  # shellcheck disable=SC2064 # the path is fixed now
  trap "rm -f '$tmp'" EXIT

  "$cc" "${cflags[@]}" "${extra[@]}" -o "$tmp" "$@"
  # Drop any leftover non-loadable sections the linker kept (comments, notes).
  if command -v strip >/dev/null 2>&1; then
    strip --strip-all -R .comment -R .note -R .note.gnu.property -R .note.ABI-tag "$tmp" 2>/dev/null || true
  fi
  # A static binary has no program interpreter (no PT_INTERP header).
  if command -v readelf >/dev/null 2>&1 && readelf -lW "$tmp" 2>/dev/null | grep -q 'INTERP'; then
    echo "$name: $tmp is not statically linked" >&2
    return 1
  fi
  local size
  size="$(stat -c %s "$tmp")"
  if ((size > max_bytes)); then
    echo "$name: binary is $size bytes, over the $max_bytes byte limit" >&2
    return 1
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out_dir/$name"
  trap - EXIT
  echo "$name: built with $cc"
  echo "$name: build/$name $size bytes (static, stripped)"
}
