#!/bin/sh
# What the platform runs in the container to install the add-on:
#
#   install-hook.sh [BINARY] [ftpctl install flags...]
#
# puts BINARY (default: the ftpctl next to this script) in place as
# /usr/local/bin/ftpctl (/usr/bin/ftpctl where /usr/local/bin does not exist), then runs
# `ftpctl install --json` with the remaining arguments. The JSON with the connection
# details, for the owner's email, is the only thing on stdout; on any failure the exit
# status is non-zero and stderr says why.
set -eu

die() {
  echo "install-hook: $*" >&2
  exit 1
}

here=$(cd "$(dirname "$0")" && pwd) || die "cannot find the folder of $0"
bin=$here/ftpctl
case "${1-}" in
  "" | -*) ;;
  *) bin=$1; shift ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -f "$bin" ] || die "no ftpctl binary at $bin; give its path as the first argument"

dest=/usr/local/bin
[ -d "$dest" ] || dest=/usr/bin
target=$dest/ftpctl
# Replaced by a rename, never rewritten in place: a running `ftpctl serve` may be
# executing the old file. An identical binary is left alone, so that a retried hook
# does not make install restart the service for nothing.
if ! cmp -s "$bin" "$target" 2>/dev/null; then
  tmp=$dest/.ftpctl.new.$$
  trap 'rm -f "$tmp"' EXIT
  install -m 0755 "$bin" "$tmp" || die "cannot copy $bin to $dest"
  mv -f "$tmp" "$target" || die "cannot install $target"
  trap - EXIT
fi

status=0
"$target" install --json "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "install-hook: ftpctl install failed (exit status $status); see the message above" >&2
  exit "$status"
fi
