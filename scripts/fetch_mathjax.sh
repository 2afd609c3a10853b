#!/usr/bin/env bash
# Fetch a local MathJax 3 for the book, so its maths is typeset offline (Sphinx's default loads it from a CDN).
# es5/tex-svg-full.js: TeX input with every extension built in (no autoload requests), SVG output (no font files).
# Usage: scripts/fetch_mathjax.sh [DEST]   (default book/_static/mathjax; the build copies it to _build/html/_static/)
set -euo pipefail

VERSION=3.2.2
FILE=tex-svg-full.js
SHA256=a4354ff94fd868aea0cc6eaaa79a57fda0588646fc46ee3700a349ee0a11cbe6
DEST=${1:-book/_static/mathjax}

if [ -f "$DEST/$FILE" ] && echo "$SHA256  $DEST/$FILE" | sha256sum -c --status; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch_mathjax: npm not found; install Node.js and npm (Debian: apt-get install npm), or put MathJax $VERSION's" >&2
  echo "es5/$FILE (sha256 $SHA256) at $DEST/$FILE" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm pack checks the tarball against the registry's sha512 integrity; we pin the file's sha256 on top.
(cd "$tmp" && npm pack --silent "mathjax@$VERSION" >/dev/null)
tar -xzf "$tmp/mathjax-$VERSION.tgz" -C "$tmp" "package/es5/$FILE" package/LICENSE
echo "$SHA256  $tmp/package/es5/$FILE" | sha256sum -c --status || {
  echo "fetch_mathjax: sha256 mismatch for mathjax@$VERSION es5/$FILE" >&2
  exit 1
}
mkdir -p "$DEST"
cp "$tmp/package/es5/$FILE" "$DEST/$FILE"
cp "$tmp/package/LICENSE" "$DEST/LICENSE"
printf '# fetched by scripts/fetch_mathjax.sh: not committed\n*\n' >"$DEST/.gitignore"
echo "fetch_mathjax: MathJax $VERSION es5/$FILE -> $DEST/"
