#!/bin/sh
# Before the jelastic-ftp package is removed (not upgraded): stop and disable the
# service, whose binary is about to go. Accounts, settings and files stay; `ftpctl
# uninstall` removes those.
#   deb: $1 = remove | upgrade | deconfigure | failed-upgrade
#   rpm: $1 = 0 on removal, 1 or more on an upgrade
set -e
# Installed into another root (dpkg --root with chrootless scripts): the services of the
# running system are not this package's to touch.
[ -z "${DPKG_ROOT:-}" ] || exit 0

case "$1" in
  remove | 0) ;;
  *) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
  systemctl stop jelastic-ftp.socket jelastic-ftp.service >/dev/null 2>&1 || true
fi
# Works without a running systemd too: it only removes the enablement links.
if command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload disable jelastic-ftp.socket jelastic-ftp.service >/dev/null 2>&1 || true
fi
exit 0
