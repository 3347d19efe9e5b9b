#!/usr/bin/env sh
# Builds chime in release mode and installs it, its man page and its shell
# completions under PREFIX.
#
#   ./install.sh                 install to ~/.local (or /usr/local as root)
#   PREFIX=/opt/chime ./install.sh
#   ./install.sh --uninstall     remove exactly what an install put there: the
#                                files, and the directories it had to create
#                                (listed in PREFIX/share/chime/installed)
#   CHIME_BIN=path ./install.sh  install an already built binary (no cargo build)
#
# Needs only cargo and the crate registry; running it twice is harmless.
set -eu

if [ "$(id -u)" = 0 ]; then default_prefix=/usr/local; else default_prefix="$HOME/.local"; fi
PREFIX=${PREFIX:-$default_prefix}
cd "$(dirname "$0")"

# What an install puts where: "source destination mode", one a line.
files="
target/release/chime bin/chime 0755
doc/chime.1 share/man/man1/chime.1 0644
completions/chime.bash share/bash-completion/completions/chime 0644
completions/_chime share/zsh/site-functions/_chime 0644
completions/chime.fish share/fish/vendor_completions.d/chime.fish 0644
"

# The directories an install created, one a line, so that --uninstall removes
# those (once empty) and never one that was there before, such as /usr/local/share.
record=share/chime/installed

uninstall() {
  echo "$files" | while read -r _ dest _; do
    [ -n "$dest" ] || continue
    if [ -e "$PREFIX/$dest" ]; then
      rm -f "$PREFIX/$dest"
      echo "chime: removed $PREFIX/$dest"
    fi
  done
  [ -f "$PREFIX/$record" ] || return 0
  dirs=$(sort -r "$PREFIX/$record")
  rm -f "$PREFIX/$record"
  # Deepest first: a child sorts after its parent.
  echo "$dirs" | while read -r dir; do
    [ -n "$dir" ] && rmdir "$PREFIX/$dir" 2>/dev/null || true
  done
}

# Creates PREFIX/$1 and the directories above it that are missing, noting each.
make_dir() {
  dir=$1
  while [ "$dir" != . ] && [ ! -d "$PREFIX/$dir" ]; do
    created="$created
$dir"
    dir=$(dirname "$dir")
  done
  mkdir -p "$PREFIX/$1"
}

case "${1:-}" in
  --uninstall) uninstall; exit 0 ;;
  "") ;;
  *) echo "usage: ./install.sh [--uninstall]   (PREFIX=$PREFIX, CHIME_BIN=prebuilt binary)" >&2; exit 2 ;;
esac

if [ -n "${CHIME_BIN:-}" ]; then
  bin_source=$CHIME_BIN
else
  command -v cargo >/dev/null 2>&1 || {
    echo "chime: cargo is not installed; get Rust 1.89 or newer from https://rustup.rs first" >&2
    exit 1
  }
  # Cargo.toml's rust-version: distribution packages are often older.
  version=$(cargo --version | sed -n 's/^cargo \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  set -- $version
  if [ -n "${2:-}" ] && { [ "$1" -lt 1 ] || { [ "$1" -eq 1 ] && [ "$2" -lt 89 ]; }; }; then
    echo "chime: needs Rust 1.89 or newer, found $(cargo --version); update with \`rustup update\` (https://rustup.rs)" >&2
    exit 1
  fi
  cargo build --release --locked
  bin_source=target/release/chime
fi

created=""
make_dir "$(dirname "$record")"
for dest in $(echo "$files" | while read -r _ dest _; do [ -n "$dest" ] && echo "$dest"; done); do
  make_dir "$(dirname "$dest")"
done
# What an earlier install created stays recorded.
{ [ -f "$PREFIX/$record" ] && cat "$PREFIX/$record"; echo "$created"; } | sed '/^$/d' | sort -u >"$PREFIX/$record.new"
mv "$PREFIX/$record.new" "$PREFIX/$record"

echo "$files" | while read -r source dest mode; do
  [ -n "$dest" ] || continue
  [ "$dest" = bin/chime ] && source=$bin_source
  install -m "$mode" "$source" "$PREFIX/$dest"
  echo "chime: installed $PREFIX/$dest"
done

echo "chime: $("$PREFIX/bin/chime" --version)"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "chime: note: $PREFIX/bin is not on your PATH; add it, e.g. export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
echo "next: chime config init, then export SLACK_WEBHOOK_URL=… and run: chime test"
