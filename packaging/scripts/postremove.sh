#!/bin/sh
# After the jelastic-ftp package's files are gone: let systemd forget its units.
set -e

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
