#!/usr/bin/env bash
# Times `ftpctl user add` + `ftpctl user del` against shadow-utils' `useradd` +
# `userdel` on the same account databases, in one run, as root in a private mount
# namespace with a copy of /etc (the machine's /etc is not touched).
#   scripts/bench-users.sh [ROUNDS] [ACCOUNTS]   (defaults: 100 rounds, 10000 accounts)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-100}
accounts=${2:-10000}
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-users.sh: run as root (it works on a private copy of /etc)" >&2
  exit 1
fi
if [ -z "${JFTP_BENCH_NS:-}" ]; then
  export JFTP_BENCH_NS=1
  exec unshare --mount --propagation private -- "$0" "$@"
fi

work=$(mktemp -d /tmp/jftp-bench.XXXXXX)
trap 'umount /etc 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/ftpctl" ./cmd/ftpctl
cp -a /etc "$work/etc"
mkdir -p "$work/root" "$work/etc/jelastic-ftp"
printf 'root = "%s"\n' "$work/root" >"$work/etc/jelastic-ftp/ftpd.toml"
# Bulk accounts written straight into the copy, so both tools work on a large database.
day=$(( $(date +%s) / 86400 ))
for i in $(seq 1 "$accounts"); do
  echo "bulk$i:x:$((20000 + i)):100::/nonexistent:/usr/sbin/nologin" >>"$work/etc/passwd"
  echo "bulk$i:!:$day:0:99999:7:::" >>"$work/etc/shadow"
done
mount --bind "$work/etc" /etc
echo "Bench-Password-1" | "$work/ftpctl" user add seed --password-stdin --no-owner-passwd >/dev/null
hash=$(awk -F: '$1=="seed"{print $2}' /etc/shadow)

ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
for i in $(seq 1 "$rounds"); do
  echo "Bench-Password-1" | "$work/ftpctl" user add "f$i" --password-stdin --no-owner-passwd >/dev/null
  "$work/ftpctl" user del "f$i" >/dev/null
done
t1=$(ms)
for i in $(seq 1 "$rounds"); do
  useradd -u 700 -o -g jelastic-ftp -s /bin/false -d "$work/root" -p "$hash" "s$i" 2>/dev/null
  userdel "s$i"
done
t2=$(ms)
ours=$((t1 - t0)); theirs=$((t2 - t1))
printf 'accounts in the database: %d, rounds: %d\n' "$accounts" "$rounds"
printf '%-42s %8.2f ms per add+del\n' "ftpctl user add (hashing) + user del" "$(echo "$ours / $rounds" | bc -l)"
printf '%-42s %8.2f ms per add+del\n' "useradd -p HASH + userdel" "$(echo "$theirs / $rounds" | bc -l)"
printf 'ratio (shadow-utils time / ftpctl time): %.2f\n' "$(echo "$theirs / $ours" | bc -l)"
