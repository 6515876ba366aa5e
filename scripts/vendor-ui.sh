#!/usr/bin/env bash
# Vendors the web UI's third-party assets (GraphiQL and React, the UMD
# builds GET /graphql loads) into services/provgraph-api/assets/vendor/,
# from the npm registry at pinned versions, each package tarball checked
# against its pinned sha512 integrity (as npm's lockfiles write it) before
# anything is taken from it. The files are committed and embedded in the
# binary; nothing is fetched at run time.
#
#   scripts/vendor-ui.sh          # download, check, extract, write SHA256SUMS
#   scripts/vendor-ui.sh --check  # offline: the committed files match SHA256SUMS
#
# To move to another version: change the version and integrity below (`npm
# view PACKAGE@VERSION dist.integrity`), the paths in
# services/provgraph-api/src/ui/assets.rs, and run the script.
set -euo pipefail
cd "$(dirname "$0")/.."
out=services/provgraph-api/assets/vendor

# package version integrity files-to-take (from the tarball's package/)
packages=(
  "graphiql 3.8.3 sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw== graphiql.min.js,graphiql.min.css,LICENSE"
  "react 18.3.1 sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ== umd/react.production.min.js,LICENSE"
  "react-dom 18.3.1 sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw== umd/react-dom.production.min.js,LICENSE"
)

if [ "${1:-}" = "--check" ]; then
  (cd "$out" && sha256sum --quiet -c SHA256SUMS)
  echo "vendored UI assets match $out/SHA256SUMS"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for line in "${packages[@]}"; do
  read -r name version integrity files <<<"$line"
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  tarball="$work/$name-$version.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    echo "$name@$version: integrity $got, expected $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/$name" && tar -xzf "$tarball" -C "$work/$name"
  dest="$out/$name-$version"
  rm -rf "$dest" && mkdir -p "$dest"
  IFS=, read -r -a wanted <<<"$files"
  for file in "${wanted[@]}"; do
    cp "$work/$name/package/$file" "$dest/$(basename "$file")"
  done
  echo "$name@$version: $integrity ok"
done
(cd "$out" && find . -type f ! -name SHA256SUMS ! -name README.md | sort | xargs sha256sum >SHA256SUMS)
echo "wrote $out/SHA256SUMS"
