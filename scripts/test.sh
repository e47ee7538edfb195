#!/usr/bin/env bash
# The whole test suite: static checks, unit tests with the race detector, then the
# end-to-end tests, which run as root against real shadow-utils, sudo and FTP clients.
# Every end-to-end command runs in a private mount namespace with a copy of /etc bound
# over /etc, and the suite as a whole runs inside one more, so the machine's own /etc
# is never written.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the tests drive, by the Debian package that brings each.
declare -A pkg_of=(
  [lftp]=lftp [sudo]=sudo [visudo]=sudo [mkpasswd]=whois [useradd]=passwd
  [pwck]=passwd [chpasswd]=passwd [openssl]=openssl [unshare]=util-linux
  [curl]=curl [python3]=python3 [getent]=libc-bin [vsftpd]=vsftpd
  [systemd-analyze]=systemd [rpm]=rpm [dpkg-deb]=dpkg [man]=man-db [bc]=bc
  [fail2ban-regex]=fail2ban [rclone]=rclone
  [sftp]=openssh-client [sshpass]=sshpass [ssh-keyscan]=openssh-client
)
missing=()
for tool in "${!pkg_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${pkg_of[$tool]}")
done
# The SFTP tests drive paramiko with the system's Python.
/usr/bin/python3 -c 'import paramiko' >/dev/null 2>&1 || missing+=(python3-paramiko)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "== installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# vsftpd's package enables and starts it where systemd runs; the benchmark starts its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet vsftpd 2>/dev/null; then
  systemctl disable --now vsftpd >/dev/null 2>&1 || true
fi
# So does fail2ban's; the tests only run fail2ban-regex and fail2ban-client -t.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet fail2ban 2>/dev/null; then
  systemctl disable --now fail2ban >/dev/null 2>&1 || true
fi

export JFTP_REQUIRE_TOOLS=1
export PATH="$PATH:/usr/sbin:/sbin"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  printf 'gofmt would change:\n%s\n' "$unformatted" >&2
  exit 1
fi
echo "== go vet"
go vet ./...
go vet -tags docs ./cmd/ftpctl
echo "== unit tests"
go test -race -count=1 ./...
# The manual page generator is built only with the docs tag (scripts/package.sh).
go test -race -count=1 -tags docs -run GenDocs ./cmd/ftpctl

if [ "$(id -u)" -ne 0 ]; then
  echo "== end-to-end tests skipped: they need root (run: sudo scripts/test.sh)"
  exit 0
fi
echo "== end-to-end tests (root, private mount and PID namespaces)"
# A PID namespace of their own: services the tests start cannot outlive the run, and
# the tests see only their own processes.
JFTP_HOST_MNT_NS=$(readlink /proc/self/ns/mnt) \
  exec unshare --mount --pid --fork --mount-proc --propagation private -- scripts/e2e.sh
