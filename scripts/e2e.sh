#!/usr/bin/env bash
# Runs inside `unshare --mount` (see scripts/test.sh): binds a scratch copy of /etc over
# /etc for defence in depth, then runs the end-to-end tests, each of which makes its own
# private copy again.
set -euo pipefail
cd "$(dirname "$0")/.."
# scripts/test.sh names the mount namespace it started from; this one must be another.
host_ns=${JFTP_HOST_MNT_NS:-$(readlink /proc/1/ns/mnt)}
if [ "$(readlink /proc/self/ns/mnt)" = "$host_ns" ]; then
  echo "scripts/e2e.sh: refusing to run in the machine's own mount namespace; use scripts/test.sh" >&2
  exit 1
fi
scratch=$(mktemp -d /tmp/jftp-etc.XXXXXX)
trap 'umount /etc 2>/dev/null || true; rm -rf "$scratch"' EXIT
cp -a /etc/. "$scratch/"
mount --bind "$scratch" /etc
JFTP_E2E=1 go test -count=1 -timeout 20m ./test/... "$@"
