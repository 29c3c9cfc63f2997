#!/usr/bin/env bash
# install-imagefamily.sh VERSION [DIR]: install the imagefamily CLI of a
# release (e.g. v0.1.0) into DIR (default ~/.local/bin) from the release's
# archive, checked against the release's SHA256SUMS. For CI runners; the
# GitHub workflow uses it.
#
# `go install .../cmd/imagefamily@VERSION` does not work: the module's
# go.mod has a replace directive (the go-cty fork that packer-plugin-sdk
# needs), and go install refuses modules with one.
set -euo pipefail
version=${1:?usage: install-imagefamily.sh VERSION [DIR], e.g. v0.1.0}
dir=${2:-$HOME/.local/bin}
base=${IMAGEFAMILY_RELEASES_URL:-https://github.com/immutable-infra/packer-plugin-imagefamily/releases/download}
os=$(uname -s | tr '[:upper:]' '[:lower:]')
case $(uname -m) in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install-imagefamily: no release for $(uname -m)" >&2; exit 1 ;;
esac
archive="imagefamily_${version}_${os}_${arch}.tar.gz"
sums="packer-plugin-imagefamily_${version}_SHA256SUMS"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL -o "$tmp/$archive" "$base/$version/$archive"
curl -fsSL -o "$tmp/$sums" "$base/$version/$sums"
(cd "$tmp" && grep " $archive\$" "$sums" | sha256sum --check --quiet -)
tar -xzf "$tmp/$archive" -C "$tmp" imagefamily
mkdir -p "$dir"
install -m 0755 "$tmp/imagefamily" "$dir/imagefamily"
echo "install-imagefamily: installed imagefamily $version in $dir"
