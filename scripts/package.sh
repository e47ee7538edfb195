#!/usr/bin/env bash
# Builds the jelastic-ftp .deb and .rpm:
#
#   scripts/package.sh
#
# a static ftpctl, its manual pages, shell completions and example ftpd.toml
# (`go run -tags docs ./cmd/ftpctl gen-docs`), the systemd units and maintainer
# scripts from packaging/, put together by nfpm into dist/, with dist/SHA256SUMS. The
# last lines of output are the packages' paths.
#
# Environment:
#   VERSION  package version (default: from `git describe --tags`, else 0.0.0-dev)
#   GOARCH   architecture to build for (default: this machine's)
#   DIST     output folder (default: dist)
#   NFPM     an nfpm binary to use; without it nfpm $nfpm_version is installed with
#            `go install` into a temporary folder (the Go module proxy is needed once,
#            then Go's caches make it a matter of seconds)
set -euo pipefail
cd "$(dirname "$0")/.."

# The newest nfpm whose dependencies the Go module proxy serves here: from v2.46.0 on,
# nfpm needs go.digitalxero.dev modules that it refuses.
nfpm_version=v2.45.2

die() {
  echo "package.sh: $*" >&2
  exit 1
}

if [ -z "${VERSION:-}" ]; then
  VERSION=$(git describe --tags --match 'v[0-9]*' 2>/dev/null || true)
  VERSION=${VERSION#v}
  VERSION=${VERSION:-0.0.0-dev}
fi
export VERSION
GOARCH=${GOARCH:-$(go env GOARCH)}
export GOARCH
dist=${DIST:-dist}
# Same input, same package: nfpm takes file times from SOURCE_DATE_EPOCH.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

JFTP_BUILD=$(mktemp -d "${TMPDIR:-/tmp}/jftp-package.XXXXXX")
export JFTP_BUILD
trap 'rm -rf "$JFTP_BUILD"' EXIT

echo "== ftpctl $VERSION for linux/$GOARCH"
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$JFTP_BUILD/ftpctl" ./cmd/ftpctl

echo "== manual pages, completions, example settings"
# The generator is built for this machine with the docs tag; the packaged binary has
# the same commands without it.
GOARCH=$(go env GOHOSTARCH) go run -tags docs ./cmd/ftpctl gen-docs "$JFTP_BUILD"
gzip -9n "$JFTP_BUILD"/man/*.1

nfpm=${NFPM:-}
if [ -z "$nfpm" ]; then
  echo "== nfpm $nfpm_version"
  GOBIN="$JFTP_BUILD/bin" CGO_ENABLED=0 go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$nfpm_version" ||
    die "cannot install nfpm $nfpm_version (it needs the Go module proxy once); or set NFPM to an nfpm binary"
  nfpm=$JFTP_BUILD/bin/nfpm
fi

mkdir -p "$dist"
packages=()
for packager in deb rpm; do
  echo "== $packager"
  out=$("$nfpm" package --config packaging/nfpm.yaml --packager "$packager" --target "$dist/" 2>&1) ||
    die "nfpm could not build the $packager package: $out"
  # nfpm names the file after the packager's conventions and says which it wrote.
  path=$(sed -n 's/.*created package: //p' <<<"$out")
  [ -f "$path" ] || die "nfpm did not report the $packager package it wrote: $out"
  packages+=("$path")
done

# What the add-on manifest (packaging/manifest.jps) checks a download against: every
# package in the folder, so that builds for several architectures can share it.
(cd "$dist" && shopt -s nullglob && sha256sum -- *.deb *.rpm >SHA256SUMS)

echo "== packages"
printf '%s\n' "${packages[@]}"
