#!/bin/sh
# After the jelastic-ftp package's files are gone: let systemd forget its units.
set -e
# Installed into another root (dpkg --root with chrootless scripts): the services of the
# running system are not this package's to touch.
[ -z "${DPKG_ROOT:-}" ] || exit 0

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
