#!/usr/bin/env bash
# Measures our FTP service (`ftpctl serve`: the root monitor and its chrooted worker)
# against Debian's vsftpd, side by side on 127.0.0.1, in one run, with the same account
# (made by `ftpctl user add`, a SHA-512 hash both servers verify) and the same FTP root.
# Runs as root in a private mount namespace with a copy of /etc bound over /etc: the
# machine's /etc is not touched, and everything else lives in one temporary folder.
#   scripts/bench.sh
# Sizes and counts (environment, defaults in brackets): BENCH_SIZE_MB [1024] file for
# the single-stream rows, BENCH_REPS [9] rounds of them; BENCH_ROUNDS [5] rounds of
# BENCH_SESSIONS [400] logins by BENCH_WORKERS [4] clients at once, of BENCH_FILES [1000]
# files of 4 KiB up and down (plain, then FTPS; lftp mirrors the first 100 up and back),
# and of BENCH_LIST_REPS [5] listings (median) of a folder of
# BENCH_ENTRIES [10000]; BENCH_IDLE [500] idle sessions; BENCH_PORT [25021] first of the
# ports used (ours: +0..+400, vsftpd: +500..+900); BENCH_PIN [1] servers on CPU 0 and
# clients on the last CPU (see below); BENCH_FS [ext4] the FTP root on a fresh ext4 file
# system in a loop-mounted image ("dir": a folder in the temporary one, on whatever file
# system holds /tmp). Cells are medians over the rounds;
# "rounds ours better" counts the rounds (each runs both servers) in which ours did better.
# The table goes to stdout, progress and each round's figures to stderr; a row that
# fails reads "error", the failures follow the table, and the exit status is 1.
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
die() { echo "bench.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: both servers run as root on a private copy of /etc"
if [ -z "${JFTP_BENCH_NS:-}" ]; then
  if [ ! -x /usr/sbin/vsftpd ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing vsftpd" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq vsftpd >/dev/null || true
    # The package starts its own vsftpd where systemd runs; the benchmark starts its own.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet vsftpd 2>/dev/null; then
      systemctl disable --now vsftpd >/dev/null 2>&1 || true
    fi
  fi
  [ -x /usr/sbin/vsftpd ] || die "vsftpd is missing: apt-get install vsftpd"
  if ! command -v lftp >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing lftp" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lftp >/dev/null || true
  fi
  for tool in curl python3 go openssl unshare ss lftp taskset; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing; install it and run again"
  done
  export JFTP_BENCH_NS=1
  exec unshare --mount --propagation private -- "$self" "$@"
fi

size_mb=${BENCH_SIZE_MB:-1024}
reps=${BENCH_REPS:-9}
sessions=${BENCH_SESSIONS:-400}
workers=${BENCH_WORKERS:-4}
files=${BENCH_FILES:-1000}
entries=${BENCH_ENTRIES:-10000}
list_reps=${BENCH_LIST_REPS:-5}
rounds=${BENCH_ROUNDS:-5}
idle=${BENCH_IDLE:-500}
port=${BENCH_PORT:-25021}
ours_port=$port vs_port=$((port + 500))
# The servers run on CPU 0 and the clients on the last CPU, each alone there. A client in
# production is on another machine; here it shares two cores with the server, and where
# the kernel places a server woken by its client's packets (often on the client's own,
# busy core, until it moves it) would decide rows more than the servers do: vsftpd's
# process per session gets a core from each fork, a long-lived process waits for the
# load balancer. Pinned, each server has one core of its own. The Go runtime sees
# that one core (GOMAXPROCS 1). BENCH_PIN=0 leaves everything free.
pin=() server_pin=() client_cpu=""
if [ "${BENCH_PIN:-1}" != 0 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  client_cpu=$(($(nproc) - 1))
  pin=(taskset -c "$client_cpu")
  server_pin=(taskset -c 0)
fi
client=("${pin[@]}" python3 "$PWD/scripts/bench/ftpbench.py")
# Bounds every client command, so that a hung server costs one row, not the run.
limit=600

for p in "$ours_port" "$vs_port"; do
  if ss -Htln "sport = :$p" | grep -q .; then
    die "port $p is in use; choose other ports with BENCH_PORT"
  fi
done
# Idle sessions, the client's sockets and the servers' per-session files.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((idle * 3 + 100)) ] || die "ulimit -n is $(ulimit -n), too low for $idle idle sessions"

work=$(mktemp -d /tmp/jftp-bench.XXXXXX)
chmod 0755 "$work" # vsftpd enters the user's home with the user's permissions
pids=()
descendants() {
  local kid
  for kid in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$kid"
    descendants "$kid"
  done
}
stop() { # PID: SIGTERM, wait up to 40 s (ours lets transfers finish for 30 s), SIGKILL
  local pid=$1 kids i
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 400); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" $kids 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop "$pid"; done
  umount /etc 2>/dev/null || true
  umount "$work/root" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building ftpctl and preparing data in $work ..." >&2
# Built as scripts/package.sh builds the shipped binary: static, without symbols.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/ftpctl" ./cmd/ftpctl
cp -a /etc "$work/etc"
rm -rf "$work/etc/jelastic-ftp" "$work/etc/sudoers.d/jelastic"
root="$work/root"
mkdir -p "$root" "$work/etc/jelastic-ftp" "$work/tls" "$work/small"
# A fresh file system with a journal, as a container's disk has, rather than whatever
# holds /tmp, and one that earlier runs have not used: on an ext4 without a journal,
# each new file's inode is found by stepping over every inode freed in the last minutes
# (the kernel's recently_deleted), which made either server's small uploads twice as
# slow, depending on what the run before had deleted.
fs=${BENCH_FS:-ext4}
if [ "$fs" = ext4 ]; then
  command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 is missing: install e2fsprogs, or run with BENCH_FS=dir"
  truncate -s $((size_mb * 3 / 1024 + 2))G "$work/fs.img"
  mkfs.ext4 -q "$work/fs.img" || die "mkfs.ext4 failed"
  mount -o loop "$work/fs.img" "$root" || die "cannot mount a loop device; run with BENCH_FS=dir"
  fs="ext4 (a fresh loop-mounted image)"
elif [ "$fs" = dir ]; then
  fs="$(df --output=fstype "$root" | tail -n 1) (a folder under /tmp)"
else
  die "BENCH_FS must be ext4 or dir, not $fs"
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null
cat >"$work/etc/jelastic-ftp/ftpd.toml" <<EOF
root = "$root"
listen = "127.0.0.1:$ours_port"
passive_ports = "$((ours_port + 1))-$((ours_port + 400))"

[tls]
cert = "$work/tls/cert.pem"
key = "$work/tls/key.pem"
require_session_reuse = true

[limits]
max_sessions = $((idle + 500))
max_sessions_per_ip = $((idle + 500))
ban_after_failures = 0
EOF
# Debian's vsftpd PAM service also wants a shell from /etc/shells, which FTP accounts
# do not have: this one checks only the password and the account.
cat >"$work/etc/pam.d/jftp-bench-vsftpd" <<'EOF'
auth    required pam_unix.so
account required pam_unix.so
session required pam_permit.so
EOF
mkdir -p "$work/vsftpd"
cat >"$work/vsftpd/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$vs_port
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
allow_writeable_chroot=YES
pasv_min_port=$((vs_port + 1))
pasv_max_port=$((vs_port + 400))
pam_service_name=jftp-bench-vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
ssl_enable=YES
rsa_cert_file=$work/tls/cert.pem
rsa_private_key_file=$work/tls/key.pem
ssl_ciphers=HIGH
require_ssl_reuse=YES
force_local_logins_ssl=NO
force_local_data_ssl=NO
max_clients=$((idle + 500))
max_per_ip=$((idle + 500))
xferlog_enable=YES
vsftpd_log_file=$work/vsftpd/vsftpd.log
EOF

mount --bind "$work/etc" /etc
BENCH_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
export BENCH_PASS
echo "$BENCH_PASS" | "$work/ftpctl" user add bench --home "$root" --password-stdin --no-owner-passwd >/dev/null
grep -q '^bench:\$6\$' /etc/shadow || die "ftpctl user add did not write a SHA-512 hash"
chown 700:jelastic-ftp "$root" # the FTP root existed before the account, as on a real node
# curl reads the password from here rather than from its command line.
printf 'machine 127.0.0.1 login bench password %s\n' "$BENCH_PASS" >"$work/netrc"
chmod 0600 "$work/netrc"

head -c $((size_mb * 1024 * 1024)) /dev/urandom >"$root/big.bin"
mkdir "$root/list"
(cd "$root/list" && seq -f 'entry-%05g.txt' 1 "$entries" | xargs touch)
head -c $((files * 4096)) /dev/urandom | split -b 4096 -d -a 5 - "$work/small/f"

declare -A R # R[row.server] = figure or "error"
errlog="$work/errors"
: >"$errlog"
fail() { # ROW SERVER WHAT
  printf '%s, %s: %s\n' "$1" "$2" "$3" >>"$errlog"
}
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }

start_server() { # LOG COMMAND...: starts in the background, sets server_pid
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
}
start_server "$work/ours.log" "${server_pin[@]}" "$work/ftpctl" serve
ours_pid=$server_pid
start_server "$work/vsftpd/stderr.log" "${server_pin[@]}" /usr/sbin/vsftpd "$work/vsftpd/vsftpd.conf"
vs_pid=$server_pid
"${client[@]}" wait --port "$ours_port" || die "ftpctl serve did not start: $(tail -n 5 "$work/ours.log")"
"${client[@]}" wait --port "$vs_port" || die "vsftpd did not start: $(tail -n 5 "$work/vsftpd/stderr.log")"
echo "servers up: ours pid $ours_pid on $ours_port, vsftpd pid $vs_pid on $vs_port" >&2
# What curl negotiates on each, for the table's header.
tls_used() { # PORT
  curl -sv --ssl-reqd -k --netrc-file "$work/netrc" --max-time 30 -o /dev/null "ftp://127.0.0.1:$1/" 2>&1 |
    sed -n 's/^\* SSL connection using //p' | head -n 1 || true
}
tls_ours=$(tls_used "$ours_port") tls_vs=$(tls_used "$vs_port")

# One single-stream curl transfer of big.bin: prints MB/s, or fails with what went wrong.
transfer() { # PORT DIR TLS: DIR is down or up, TLS is "" or tls
  local p=$1 dir=$2 tls=$3 out want=$((size_mb * 1024 * 1024))
  local url="ftp://127.0.0.1:$p" args=(-sS --netrc-file "$work/netrc" --max-time "$limit")
  [ -n "$tls" ] && args+=(--ssl-reqd -k)
  if [ "$dir" = down ]; then
    out=$("${pin[@]}" curl "${args[@]}" -o /dev/null -w '%{size_download} %{speed_download}' "$url/big.bin" 2>&1) ||
      { echo "curl ${args[*]} $url/big.bin: $out"; return 1; }
  else
    rm -f "$root/up.bin"
    out=$("${pin[@]}" curl "${args[@]}" -T "$root/big.bin" -w '%{size_upload} %{speed_upload}' "$url/up.bin" 2>&1) ||
      { echo "curl ${args[*]} -T big.bin $url/up.bin: $out"; return 1; }
    [ "$(stat -c %s "$root/up.bin" 2>/dev/null)" = "$want" ] ||
      { echo "curl -T: the server stored $(stat -c %s "$root/up.bin" 2>&1) bytes, want $want"; return 1; }
    rm -f "$root/up.bin"
  fi
  [ "${out%% *}" = "$want" ] || { echo "curl moved ${out%% *} bytes, want $want"; return 1; }
  awk -v s="${out#* }" 'BEGIN {printf "%.1f\n", s / 1e6}'
}

declare -A V # V[row.server] = one figure per round, "error" for a failed round
measure() { # SERVER "ROW..." COMMAND...: appends the command's figures, one per row, to V
  local name=$1 rows=($2) out vals i
  shift 2
  if out=$("$@" 2>&1) && [ "$(wc -w <<<"$out")" -eq "${#rows[@]}" ]; then
    vals=($out)
    for i in "${!rows[@]}"; do V[${rows[$i]}.$name]+="${vals[$i]} "; done
  else
    fail "${rows[0]}" "$name" "$*: $out"
    for i in "${rows[@]}"; do V[$i.$name]+="error "; done
  fi
}
bench() { timeout "$limit" "${client[@]}" "$@"; }

# lftp mirrors the first 100 small files up into a new folder and back, over FTPS with
# PROT P: a site sync as an FTP client does it (FEAT, listings, one data connection per
# file). Prints seconds.
mirror() { # PORT NAME
  local p=$1 dir="$work/mirror-$2-$RANDOM" t0 t1 out
  mkdir -p "$dir/up" && cp "$work"/small/f000[0-9][0-9] "$dir/up/"
  t0=$(date +%s.%N)
  out=$(timeout "$limit" "${pin[@]}" lftp -u "bench,$BENCH_PASS" -p "$p" -e "set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; mirror -R $dir/up ${dir##*/}; mirror ${dir##*/} $dir/back; bye" 127.0.0.1 2>&1) ||
    { echo "lftp: $out"; return 1; }
  t1=$(date +%s.%N)
  diff -r "$dir/up" "$dir/back" >/dev/null || { echo "lftp mirror: the files came back different"; return 1; }
  rm -rf "$dir"
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

# The servers take turns within each round, so that a busy moment on the shared machine
# weighs on both rather than on one, and the one that goes first alternates between
# rounds, so that neither always follows the other's uploads (whose writeback runs on);
# each cell is the median of its rounds.
servers() { # ROUND: both servers, in this round's order
  if [ $(($1 % 2)) -eq 1 ]; then
    echo "ours $ours_port" && echo "vsftpd $vs_port"
  else
    echo "vsftpd $vs_port" && echo "ours $ours_port"
  fi
}
for round in $(seq "$reps"); do
  echo "single-stream round $round of $reps ..." >&2
  # The sender runs where the servers do; its curl where the clients do.
  measure base sendfile timeout "$limit" "${server_pin[@]}" python3 "$PWD/scripts/bench/ftpbench.py" sendfile \
    ${client_cpu:+--client-cpu "$client_cpu"} "$root/big.bin"
  while read -r name p <&3; do
    measure "$name" down transfer "$p" down ""
    # Row 2 pairs each download with the baseline of its own round.
    base=(${V[sendfile.base]}) down=(${V[down.$name]})
    if [ "${base[-1]}" = error ] || [ "${down[-1]}" = error ]; then
      V[pct.$name]+="error "
    else
      V[pct.$name]+="$(awk -v a="${down[-1]}" -v b="${base[-1]}" 'BEGIN {printf "%.1f", 100 * a / b}') "
    fi
    measure "$name" up transfer "$p" up ""
    measure "$name" down_tls transfer "$p" down tls
    measure "$name" up_tls transfer "$p" up tls
  done 3< <(servers "$round")
done
for round in $(seq "$rounds"); do
  echo "sessions, small files and listings, round $round of $rounds ..." >&2
  while read -r name p <&3; do
    measure "$name" sessions bench sessions --port "$p" --count "$sessions" --workers "$workers"
    measure "$name" sessions_tls bench sessions --tls --port "$p" --count "$sessions" --workers "$workers"
    measure "$name" "small_up small_down" bench smallfiles --port "$p" --local "$work/small" --remote "small-$name-$round"
    measure "$name" "small_up_tls small_down_tls" bench smallfiles --tls --port "$p" --local "$work/small" --remote "small-tls-$name-$round"
    measure "$name" mirror mirror "$p" "$name"
    measure "$name" "list mlsd" bench listing --port "$p" --dir list --entries "$entries" --reps "$list_reps"
  done 3< <(servers "$round")
done
echo "idle sessions ..." >&2
measure ours "procs0 rss0 pss0 procs1 rss1 pss1" bench idle --port "$ours_port" --pid "$ours_pid" --count "$idle"
measure vsftpd "procs0 rss0 pss0 procs1 rss1 pss1" bench idle --port "$vs_port" --pid "$vs_pid" --count "$idle"

for key in "${!V[@]}"; do
  if [[ " ${V[$key]}" == *" error "* ]]; then
    R[$key]=error
  elif [[ " ${V[$key]}" == *" n/a "* ]]; then
    R[$key]=n/a
  else
    R[$key]=$(tr ' ' '\n' <<<"${V[$key]}" | grep . | median)
  fi
done
sendfile=${R[sendfile.base]}
echo "figures of each round:" >&2
for key in $(printf '%s\n' "${!V[@]}" | sort); do printf '  %-18s %s\n' "$key" "${V[$key]}" >&2; done

# derived rows
for name in ours vsftpd; do
  [ "${R[pct.$name]}" = error ] || R[pct.$name]=$(awk -v a="${R[pct.$name]}" 'BEGIN {printf "%.0f %%", a}')
  for m in rss pss; do
    R[${m}per.$name]=error R[${m}mib0.$name]=error R[${m}mib1.$name]=error
    if [ "${R[${m}0.$name]}" != error ]; then
      R[${m}per.$name]=$(awk -v a="${R[${m}0.$name]}" -v b="${R[${m}1.$name]}" -v n="$idle" 'BEGIN {printf "%.0f", (b - a) / n}')
      R[${m}mib0.$name]=$(awk -v a="${R[${m}0.$name]}" 'BEGIN {printf "%.1f", a / 1024}')
      R[${m}mib1.$name]=$(awk -v a="${R[${m}1.$name]}" 'BEGIN {printf "%.1f", a / 1024}')
    fi
  done
done

for pid in "${pids[@]}"; do stop "$pid"; done
pids=()

size_label=$([ "$size_mb" -eq 1024 ] && echo "1 GiB" || echo "$size_mb MiB")
# ratio is written so that above 1 means ours is better: HIGHER rows divide ours by
# vsftpd, LOWER rows vsftpd by ours.
row() { # KEY BETTER LABEL GOAL
  local key=$1 better=$2 label=$3 goal=$4 a=${R[$1.ours]} b=${R[$1.vsftpd]} ratio=— rounds=—
  if [[ "$a" =~ ^[0-9.]+$ && "$b" =~ ^[0-9.]+$ ]] && [ "$better" != - ]; then
    if [ "$better" = higher ]; then
      ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f ours/vsftpd", a / b}')
    else
      ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f vsftpd/ours", b / a}')
    fi
    rounds=$(wins "$better" "${V[$key.ours]:-}" "${V[$key.vsftpd]:-}")
  fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$a" "$b" "$ratio" "$rounds" "$goal"
}
# wins BETTER "OURS..." "VSFTPD...": in how many rounds ours did better, of those both
# completed. Both servers run in every round, so a round compares them on the machine
# as it was then; the medians alone hide which way the rounds went.
wins() {
  awk -v better="$1" -v a="$2" -v b="$3" 'BEGIN {
    n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) {
      if (x[i] !~ /^[0-9.]+$/ || y[i] !~ /^[0-9.]+$/) continue
      both++
      if ((better == "higher" && x[i] + 0 > y[i] + 0) || (better == "lower" && x[i] + 0 < y[i] + 0)) won++
    }
    if (both > 1) printf "%d of %d", won, both; else print "—"
  }'
}
goal_pct=—
if [[ "${R[pct.ours]}" =~ ^[0-9]+ ]]; then
  goal_pct=$([ "${BASH_REMATCH[0]}" -ge 80 ] && echo "≥ 80 %: met" || echo "≥ 80 %: missed")
fi

echo
echo "ftpctl serve vs vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null) on 127.0.0.1, $(nproc) cores, taking turns (first in odd rounds: ours);"
echo "servers on CPU ${server_pin[2]:-any}, clients on CPU ${client_cpu:-any} (BENCH_PIN); FTP root on $fs (BENCH_FS)"
echo "medians of $reps rounds (rows 1-2) and of $rounds rounds (rows 3-5; row 5: each round the median of $list_reps listings)"
echo "FTPS as curl $(curl --version | awk 'NR==1 {print $2}') negotiated it: ours ${tls_ours:-unknown}, vsftpd ${tls_vs:-unknown}"
echo "every ratio is written so that above 1 means ours is better; MB = 10^6 bytes"
echo
echo "| row | ours | vsftpd | ratio | rounds ours better | goal |"
echo "|---|---|---|---|---|---|"
row down higher "1. $size_label download, FTP, curl (MB/s)" —
row up higher "1. $size_label upload, FTP, curl (MB/s)" —
row down_tls higher "1. $size_label download, FTPS PROT P, curl (MB/s)" —
row up_tls higher "1. $size_label upload, FTPS PROT P, curl (MB/s)" —
row pct - "2. FTP download as % of loopback sendfile into curl, same round (median $sendfile MB/s)" "$goal_pct"
row sessions higher "3. logins per second (USER/PASS/QUIT, $sessions sessions, $workers at once)" —
row sessions_tls higher "3. FTPS logins per second (AUTH TLS, PBSZ, PROT, USER/PASS/QUIT, ftplib)" —
row small_up higher "4. $files files of 4 KiB, upload over one session (files/s)" —
row small_down higher "4. $files files of 4 KiB, download over one session (files/s)" —
row small_up_tls higher "4. $files files of 4 KiB, upload over one FTPS session, PROT P, ftplib (files/s)" —
row small_down_tls higher "4. $files files of 4 KiB, download over one FTPS session, PROT P, ftplib (files/s)" —
row mirror lower "4. lftp mirror of 100 files of 4 KiB up and back, FTPS PROT P (s)" —
row list lower "5. LIST of $entries entries (ms)" —
row mlsd lower "5. MLSD of $entries entries (ms)" —
row procs1 - "6. server processes with $idle idle sessions" —
row rssmib0 lower "6. server RSS, no session (5 s after the last one ended; MiB)" —
row pssmib0 lower "6. server PSS, no session (shared pages split; MiB)" —
row rssmib1 lower "6. server RSS, $idle idle sessions (MiB)" —
row rssper lower "6. RSS per idle session (KiB)" —
row pssper lower "6. PSS per idle session (KiB; shared pages split)" —

if [ -s "$errlog" ]; then
  echo
  echo "errors:"
  cat "$errlog"
  echo "--- ftpctl serve log: warnings and errors (last 30) ---"
  grep -v 'level=INFO' "$work/ours.log" | tail -n 30
  echo "--- vsftpd log: failures (last 30) ---"
  cat "$work/vsftpd/stderr.log"
  grep -E 'FAIL|ERROR' "$work/vsftpd/vsftpd.log" | tail -n 30
  exit 1
fi
