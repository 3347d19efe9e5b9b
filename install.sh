#!/usr/bin/env sh
# Builds chime in release mode and installs it under PREFIX.
#
#   ./install.sh                 install to ~/.local (or /usr/local as root)
#   PREFIX=/opt/chime ./install.sh
#   ./install.sh --uninstall     remove what an install put there
#
# Needs only cargo and the crate registry; running it twice is harmless.
set -eu

if [ "$(id -u)" = 0 ]; then default_prefix=/usr/local; else default_prefix="$HOME/.local"; fi
PREFIX=${PREFIX:-$default_prefix}
bin="$PREFIX/bin/chime"
cd "$(dirname "$0")"

case "${1:-}" in
  --uninstall)
    rm -f "$bin"
    echo "chime: removed $bin"
    exit 0
    ;;
  "") ;;
  *) echo "usage: ./install.sh [--uninstall]   (PREFIX=$PREFIX)" >&2; exit 2 ;;
esac

command -v cargo >/dev/null 2>&1 || {
  echo "chime: cargo is not installed; get Rust from your package manager or rustup first" >&2
  exit 1
}

cargo build --release --locked
mkdir -p "$PREFIX/bin"
install -m 0755 target/release/chime "$bin"
echo "chime: installed $bin ($("$bin" --version))"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "chime: note: $PREFIX/bin is not on your PATH; add it, e.g. export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
echo "next: write a profile at ~/.config/chime/config.toml (see README.md, Quick start), then: chime send \"hello from chime\""
