#!/bin/sh
# After install or upgrade of the jelastic-ftp package. A fresh install starts nothing:
# `ftpctl install` sets the add-on up and starts the service. An upgrade restarts a
# service that is running, so that it runs the new binary.
#   deb: $1 = configure, $2 = the version upgraded from (empty on a fresh install)
#   rpm: $1 = 1 on a fresh install, 2 or more on an upgrade
set -e
# Installed into another root (dpkg --root with chrootless scripts): the services of the
# running system are not this package's to touch.
[ -z "${DPKG_ROOT:-}" ] || exit 0

upgrade=no
case "$1" in
  configure) [ -z "${2:-}" ] || upgrade=yes ;;
  [0-9]*) [ "$1" -lt 2 ] || upgrade=yes ;;
esac

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  if [ "$upgrade" = yes ]; then
    systemctl try-restart jelastic-ftp.service >/dev/null 2>&1 || true
  fi
fi
exit 0
