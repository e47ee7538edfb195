#!/usr/bin/env bash
# Measures our FTP service (`ftpctl serve`: the root monitor and its chrooted worker)
# against Debian's vsftpd, Pure-FTPd and ProFTPD, side by side on 127.0.0.1 in one run,
# with the same account (made by `ftpctl user add`: UID 700, a SHA-512 hash every server
# verifies), the same certificate and the same FTP root. Runs as root in a private mount
# namespace with a copy of /etc bound over /etc: the machine's /etc is not touched, and
# everything else lives in one temporary folder. vsftpd is installed as a package;
# Pure-FTPd and ProFTPD conflict with it as packages, so they are fetched with
# `apt-get download` and unpacked into BENCH_CACHE (scripts/bench/debs.sh).
# With the peer openssh, SFTP rows follow: ours (`sftp_listen`) beside OpenSSH's sshd
# serving internal-sftp, unpacked like them (scripts/bench/openssh.sh), same account.
#   scripts/bench.sh
# Environment, defaults in brackets: BENCH_PEERS ["vsftpd pure-ftpd proftpd openssh"] the
# peers, any of them, in any order (openssh: the SFTP rows); BENCH_QUICK [0] 1 for a
# check that the script works (small sizes, one round: figures meaningless);
# BENCH_SIZE_MB [1024] the file of the
# single-stream rows, BENCH_PARALLEL [8] downloads of it at once (curls, then one client
# that splices each into /dev/null), BENCH_REPS [9] rounds
# of them; BENCH_ROUNDS [5] rounds of BENCH_SESSIONS [400] logins by BENCH_WORKERS [4]
# clients at once, of BENCH_FILES [1000] files of 4 KiB up and down (plain, then FTPS;
# lftp mirrors the first 100 up and back), and of BENCH_LIST_REPS [5] listings (median)
# of a folder of BENCH_ENTRIES [10000]; BENCH_IDLE [500] idle sessions; BENCH_PORT
# [25021] first of the ports (per server a control port, then 2 passive ports per session
# allowed);
# BENCH_PIN [1] servers on CPU 0 and clients on the last CPU (see below); BENCH_FS [ext4]
# the FTP root on a fresh ext4 file system in a loop-mounted image ("dir": a folder in
# the temporary one, on whatever file system holds /tmp); BENCH_CACHE
# [/var/cache/jelastic-ftp-bench] where the unpacked peers are kept (delete it to fetch
# them again). Each round runs every server, the first one rotating between rounds;
# cells are medians over the rounds; "best peer" is the peer with the best median, and
# "rounds ours beat it" counts the rounds in which ours did better than that peer.
# The table goes to stdout, progress and each round's figures to stderr; a row that
# fails reads "error", the failures follow the table, and the exit status is 1.
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
die() { echo "bench.sh: $*" >&2; exit 1; }

cache=${BENCH_CACHE:-/var/cache/jelastic-ftp-bench}
read -r -a wanted <<<"${BENCH_PEERS-vsftpd pure-ftpd proftpd openssh}"
peers=() sftp_peers=()
for name in "${wanted[@]}"; do
  case $name in
  vsftpd | pure-ftpd | proftpd) peers+=("$name") ;;
  openssh) sftp_peers+=("$name") ;;
  *) die "BENCH_PEERS: unknown peer $name (known: vsftpd pure-ftpd proftpd openssh)" ;;
  esac
  # shellcheck source=/dev/null
  . "scripts/bench/$name.sh"
done
# shellcheck source=scripts/bench/debs.sh
. scripts/bench/debs.sh
servers=(ours "${peers[@]}")
sftp_servers=()
[ "${#sftp_peers[@]}" -eq 0 ] || sftp_servers=(ours "${sftp_peers[@]}")
peer_id() { echo "${1//-/_}"; } # pure-ftpd -> pure_ftpd, for function names
title() {
  case $1 in
  pure-ftpd) echo Pure-FTPd ;;
  proftpd) echo ProFTPD ;;
  openssh) echo OpenSSH ;;
  *) echo "$1" ;;
  esac
}

[ "$(id -u)" -eq 0 ] || die "run as root: every server runs as root on a private copy of /etc"
if [ -z "${JFTP_BENCH_NS:-}" ]; then
  for name in "${peers[@]}" "${sftp_peers[@]}"; do "install_$(peer_id "$name")"; done
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

quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
  d_size=16 d_reps=1 d_rounds=1 d_sessions=20 d_files=100 d_entries=1000 d_list=1 d_idle=20
else
  d_size=1024 d_reps=9 d_rounds=5 d_sessions=400 d_files=1000 d_entries=10000 d_list=5 d_idle=500
fi
size_mb=${BENCH_SIZE_MB:-$d_size}
streams=${BENCH_PARALLEL:-8}
reps=${BENCH_REPS:-$d_reps}
sessions=${BENCH_SESSIONS:-$d_sessions}
workers=${BENCH_WORKERS:-4}
files=${BENCH_FILES:-$d_files}
entries=${BENCH_ENTRIES:-$d_entries}
list_reps=${BENCH_LIST_REPS:-$d_list}
rounds=${BENCH_ROUNDS:-$d_rounds}
idle=${BENCH_IDLE:-$d_idle}
port=${BENCH_PORT:-25021}
# Every server admits the idle sessions and a few more, and has twice as many passive
# ports (Pure-FTPd admits at most half as many sessions as it has passive ports).
max_sessions=$((idle + 100))
pasv_ports=$((2 * max_sessions))
declare -A PORT PID
for i in "${!servers[@]}"; do PORT[${servers[$i]}]=$((port + (pasv_ports + 1) * i)); done
# The SFTP servers' ports follow the FTP servers' (SPORT[ours] is ours' sftp_listen).
declare -A SPORT
for i in "${!sftp_servers[@]}"; do SPORT[${sftp_servers[$i]}]=$((port + (pasv_ports + 1) * ${#servers[@]} + i)); done
# The servers run on CPU 0 and the clients on the last CPU, each alone there. A client in
# production is on another machine; here it shares two cores with the server, and where
# the kernel places a server woken by its client's packets (often on the client's own,
# busy core, until it moves it) would decide rows more than the servers do: a server
# with a process per session gets a core from each fork, a long-lived process waits for
# the load balancer. Pinned, each server has one core of its own. The Go runtime sees
# that one core (GOMAXPROCS 1). BENCH_PIN=0 leaves everything free.
pin=() server_pin=() client_cpu=""
if [ "${BENCH_PIN:-1}" != 0 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  client_cpu=$(($(nproc) - 1))
  pin=(taskset -c "$client_cpu")
  server_pin=(taskset -c 0)
fi
client=("${pin[@]}" python3 "$PWD/scripts/bench/ftpbench.py")
sftp_client=("${pin[@]}" /usr/bin/python3 "$PWD/scripts/bench/sftpbench.py")
# Bounds every client command, so that a hung server costs one row, not the run.
limit=600

# Passive ports among the kernel's ephemeral ones could be taken by a client's socket.
read -r ephemeral _ </proc/sys/net/ipv4/ip_local_port_range
last=$((port + (pasv_ports + 1) * ${#servers[@]} + ${#sftp_servers[@]} - 1))
[ "$last" -lt "$ephemeral" ] ||
  die "ports $port-$last reach the kernel's ephemeral ports (from $ephemeral): lower BENCH_PORT or BENCH_IDLE"
for p in "${PORT[@]}" "${SPORT[@]}"; do
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
  local pid=$1 kids
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 400); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # shellcheck disable=SC2086 # one PID per word
  kill -KILL "$pid" $kids 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop "$pid"; done
  [ "${#sftp_peers[@]}" -eq 0 ] || cleanup_openssh
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
root="$work/root" tls="$work/tls"
mkdir -p "$root" "$work/etc/jelastic-ftp" "$tls" "$work/small"
for name in "${servers[@]}" "${sftp_peers[@]}"; do mkdir -p "$work/$name"; done
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
  -keyout "$tls/key.pem" -out "$tls/cert.pem" 2>/dev/null
ours_port=${PORT[ours]}
cat >"$work/etc/jelastic-ftp/ftpd.toml" <<CONF
root = "$root"
listen = "127.0.0.1:${PORT[ours]}"
passive_ports = "$((ours_port + 1))-$((ours_port + pasv_ports))"
sftp_listen = "${SPORT[ours]:+127.0.0.1:${SPORT[ours]}}"
atomic_uploads = true

[tls]
cert = "$tls/cert.pem"
key = "$tls/key.pem"
require_session_reuse = true

[limits]
max_sessions = $max_sessions
max_sessions_per_ip = $max_sessions
max_sessions_per_user = $max_sessions
ban_after_failures = 0
CONF
mount --bind "$work/etc" /etc
# The state copy, the last logins and the control socket go to the run's folder,
# not the machine's.
export JELASTIC_FTP_STATE_DIR="$work/state" JELASTIC_FTP_RUN_DIR="$work/run"
mkdir -p "$JELASTIC_FTP_STATE_DIR" "$JELASTIC_FTP_RUN_DIR"
BENCH_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
export BENCH_PASS
echo "$BENCH_PASS" | "$work/ftpctl" user add bench --home "$root" --password-stdin --no-owner-passwd >/dev/null
# shellcheck disable=SC2016 # a literal $6$
grep -q '^bench:\$6\$' /etc/shadow || die "ftpctl user add did not write a SHA-512 hash"
[ "$(id -u bench)" = 700 ] || die "ftpctl user add did not make UID 700"
chown 700:jelastic-ftp "$root" # the FTP root existed before the account, as on a real node
# curl reads the password from here rather than from its command line.
printf 'machine 127.0.0.1 login bench password %s\n' "$BENCH_PASS" >"$work/netrc"
chmod 0600 "$work/netrc"

head -c $((size_mb * 1024 * 1024)) /dev/urandom >"$root/big.bin"
mkdir "$root/list"
(cd "$root/list" && seq -f 'entry-%05g.txt' 1 "$entries" | xargs touch)
head -c $((files * 4096)) /dev/urandom | split -b 4096 -d -a 5 - "$work/small/f"

errlog="$work/errors"
: >"$errlog"
fail() { # ROW SERVER WHAT
  printf '%s, %s: %s\n' "$1" "$2" "$3" >>"$errlog"
}
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }

for name in "${servers[@]}"; do
  if [ "$name" = ours ]; then
    cmd=("$work/ftpctl" serve)
  else
    "setup_$(peer_id "$name")" "${PORT[$name]}" # writes its configuration, sets cmd
  fi
  "${server_pin[@]}" "${cmd[@]}" >"$work/$name/stderr.log" 2>&1 &
  PID[$name]=$!
  pids+=("$!")
done
for name in "${sftp_peers[@]}"; do
  "setup_$(peer_id "$name")" "${SPORT[$name]}"
  "${server_pin[@]}" "${cmd[@]}" >"$work/$name/stderr.log" 2>&1 &
  PID[$name]=$!
  pids+=("$!")
done
for name in "${servers[@]}"; do
  "${client[@]}" wait --port "${PORT[$name]}" ||
    die "$name did not start: $(tail -n 5 "$work/$name/stderr.log")"
  echo "$name up: pid ${PID[$name]}, port ${PORT[$name]}" >&2
done
for name in "${sftp_servers[@]}"; do
  "${sftp_client[@]}" wait --port "${SPORT[$name]}" ||
    die "$name's SFTP did not start: $(tail -n 5 "$work/$name/stderr.log")"
  echo "$name SFTP up: pid ${PID[$name]}, port ${SPORT[$name]}" >&2
done
# What curl negotiates on each, for the table's header.
tls_used() { # PORT
  curl -sv --ssl-reqd -k --netrc-file "$work/netrc" --max-time 30 -o /dev/null "ftp://127.0.0.1:$1/" 2>&1 |
    sed -n 's/^\* SSL connection using //p' | head -n 1 || true
}
tls_note=""
for name in "${servers[@]}"; do
  tls_note+="${tls_note:+, }$(title "$name") $(tls_used "${PORT[$name]}")"
done

curl_args() { # PORT TLS: curl's options and the server's URL, into args and url
  url="ftp://127.0.0.1:$1" args=(-sS --netrc-file "$work/netrc" --max-time "$limit")
  if [ -n "$2" ]; then args+=(--ssl-reqd -k); fi
}
# One single-stream curl transfer of big.bin: prints MB/s, or fails with what went wrong.
transfer() { # PORT DIR TLS: DIR is down or up, TLS is "" or tls
  local p=$1 dir=$2 out want=$((size_mb * 1024 * 1024)) args url
  curl_args "$p" "$3"
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
# $streams curl downloads of big.bin at once, each over its own session: prints the MB/s
# of all of them together, from starting the first to the end of the last.
parallel() { # PORT
  local p=$1 want=$((size_mb * 1024 * 1024)) args url i t0 t1 jobs=() bad=""
  curl_args "$p" ""
  t0=$(date +%s.%N)
  for i in $(seq "$streams"); do
    "${pin[@]}" curl "${args[@]}" -o /dev/null -w '%{size_download}' "$url/big.bin" >"$work/par.$i" 2>&1 &
    jobs+=("$!")
  done
  for i in "${!jobs[@]}"; do wait "${jobs[$i]}" || bad+=" curl $((i + 1)): $(cat "$work/par.$((i + 1))")"; done
  t1=$(date +%s.%N)
  for i in $(seq "$streams"); do
    [ "$(cat "$work/par.$i")" = "$want" ] || bad+=" curl $i moved $(cat "$work/par.$i") bytes, want $want;"
  done
  [ -z "$bad" ] || { echo "parallel downloads:$bad"; return 1; }
  awk -v n="$streams" -v w="$want" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f\n", n * w / (b - a) / 1e6}'
}

declare -A V # V[row.server] = one figure per round, "error" for a failed round
measure() { # SERVER "ROW..." COMMAND...: appends the command's figures, one per row, to V
  local name=$1 rows vals i out
  read -r -a rows <<<"$2"
  shift 2
  if out=$("$@" 2>&1) && [ "$(wc -w <<<"$out")" -eq "${#rows[@]}" ]; then
    read -r -a vals <<<"$out"
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

# sftp_batch PORT: runs the sftp commands on stdin in one session of OpenSSH's sftp
# (the password through sshpass), with the cipher, key exchange and host key the same
# for either server; prints sftp's output. sftp's "!date" stamps in the batch time the
# transfers alone, without connecting and logging in.
sftp_batch() {
  SSHPASS=$BENCH_PASS timeout "$limit" "${pin[@]}" sshpass -e sftp -F /dev/null -oBatchMode=no -b - -P "$1" \
    -c aes128-gcm@openssh.com -o KexAlgorithms=curve25519-sha256 -o HostKeyAlgorithms=ssh-ed25519 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password \
    -o LogLevel=ERROR bench@127.0.0.1 2>&1
}
# stamps OUTPUT: the seconds between sftp_batch's successive "!date +%s.%N" stamps.
stamps() {
  grep -E '^[0-9]{9,}\.[0-9]+$' <<<"$1" | awk 'NR > 1 {printf "%.6f\n", $1 - prev} {prev = $1}'
}
# One sftp get or put of big.bin over one session: prints MB/s of the transfer itself.
sftp_transfer() { # PORT DIR: DIR is down or up
  local want=$((size_mb * 1024 * 1024)) out s op="get big.bin /dev/null"
  [ "$2" = down ] || { rm -f "$root/up.bin"; op="put $root/big.bin up.bin"; }
  out=$(printf '!date +%%s.%%N\n%s\n!date +%%s.%%N\n' "$op" | sftp_batch "$1") ||
    { echo "sftp $op: $out"; return 1; }
  if [ "$2" = up ]; then
    [ "$(stat -c %s "$root/up.bin" 2>/dev/null)" = "$want" ] ||
      { echo "sftp put: the server stored $(stat -c %s "$root/up.bin" 2>&1) bytes, want $want"; return 1; }
    rm -f "$root/up.bin"
  fi
  s=$(stamps "$out")
  [ -n "$s" ] || { echo "sftp $op: no time stamps in: $out"; return 1; }
  awk -v s="$s" -v w="$want" 'BEGIN {printf "%.1f\n", w / s / 1e6}'
}
# The small files up into a new folder and back, in one sftp session: prints files per
# second up, then down.
sftp_small() { # PORT NAME
  local dir="sftp-small-$2-$RANDOM" back out s
  back="$work/$dir"
  mkdir "$back"
  out=$(printf '%s\n' "mkdir $dir" "cd $dir" '!date +%s.%N' "put $work/small/*" '!date +%s.%N' \
    "get * $back/" '!date +%s.%N' | sftp_batch "$1") || { echo "sftp put/get of $work/small: $out"; return 1; }
  diff -r "$work/small" "$back" >/dev/null || { echo "sftp: the small files came back different"; return 1; }
  rm -rf "$back" "${root:?}/$dir"
  s=$(stamps "$out")
  [ "$(wc -l <<<"$s")" = 2 ] || { echo "sftp: no time stamps in: $out"; return 1; }
  awk -v n="$files" '{printf "%s%.1f", (NR > 1 ? " " : ""), n / $1} END {print ""}' <<<"$s"
}
sftp_bench() { timeout "$limit" "${sftp_client[@]}" "$@"; }

# The servers take turns within each round, so that a busy moment on the shared machine
# weighs on all of them rather than on one, and the one that goes first rotates between
# rounds, so that none always follows another's uploads (whose writeback runs on); each
# cell is the median of its rounds.
order() { # ROUND [sftp]: every (SFTP) server with its port, in this round's order
  local list=("${servers[@]}") i name
  [ "${2:-}" != sftp ] || list=("${sftp_servers[@]}")
  for i in $(seq 0 $((${#list[@]} - 1))); do
    name=${list[$(((i + $1 - 1) % ${#list[@]}))]}
    if [ "${2:-}" = sftp ]; then echo "$name ${SPORT[$name]}"; else echo "$name ${PORT[$name]}"; fi
  done
}
for round in $(seq "$reps"); do
  echo "single-stream round $round of $reps ..." >&2
  # The sender runs where the servers do; its curl where the clients do.
  measure base sendfile timeout "$limit" "${server_pin[@]}" python3 "$PWD/scripts/bench/ftpbench.py" sendfile \
    ${client_cpu:+--client-cpu "$client_cpu"} "$root/big.bin"
  while read -r name p <&3; do
    measure "$name" down transfer "$p" down ""
    # The percentage pairs each download with the baseline of its own round.
    read -r -a base <<<"${V[sendfile.base]}"
    read -r -a down <<<"${V[down.$name]}"
    if [ "${base[-1]}" = error ] || [ "${down[-1]}" = error ]; then
      V[pct.$name]+="error "
    else
      V[pct.$name]+="$(awk -v a="${down[-1]}" -v b="${base[-1]}" 'BEGIN {printf "%.1f", 100 * a / b}') "
    fi
    measure "$name" up transfer "$p" up ""
    measure "$name" down_tls transfer "$p" down tls
    measure "$name" up_tls transfer "$p" up tls
    measure "$name" par parallel "$p"
    measure "$name" par_splice bench parallel --port "$p" --file big.bin --streams "$streams"
  done 3< <(order "$round")
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
  done 3< <(order "$round")
done
# SFTP: single streams with OpenSSH's sftp (C, pipelined: the server is measured, not
# the client); logins with paramiko, which is all a login needs.
if [ "${#sftp_servers[@]}" -gt 0 ]; then
  for round in $(seq "$reps"); do
    echo "SFTP single-stream round $round of $reps ..." >&2
    while read -r name p <&3; do
      measure "$name" sftp_down sftp_transfer "$p" down
      measure "$name" sftp_up sftp_transfer "$p" up
    done 3< <(order "$round" sftp)
  done
  for round in $(seq "$rounds"); do
    echo "SFTP logins and small files, round $round of $rounds ..." >&2
    while read -r name p <&3; do
      measure "$name" sftp_sessions sftp_bench sessions --port "$p" --count "$sessions" --workers "$workers"
      measure "$name" "sftp_small_up sftp_small_down" sftp_small "$p" "$name"
    done 3< <(order "$round" sftp)
  done
fi
echo "idle sessions ..." >&2
for name in "${servers[@]}"; do
  measure "$name" "procs0 rss0 pss0 anon0 procs1 rss1 pss1 anon1" bench idle --port "${PORT[$name]}" --pid "${PID[$name]}" --count "$idle"
done
for name in "${sftp_servers[@]}"; do
  measure "$name" "sftp_procs0 sftp_rss0 sftp_pss0 sftp_anon0 sftp_procs1 sftp_rss1 sftp_pss1 sftp_anon1" \
    sftp_bench idle --port "${SPORT[$name]}" --pid "${PID[$name]}" --count "$idle"
done
for pid in "${pids[@]}"; do stop "$pid"; done
pids=()

declare -A R # R[row.server] = the median of V, "error" or "n/a"
for key in "${!V[@]}"; do
  if [[ " ${V[$key]}" == *" error "* ]]; then
    R[$key]=error
  elif [[ " ${V[$key]}" == *" n/a "* ]]; then
    R[$key]=n/a
  else
    R[$key]=$(tr ' ' '\n' <<<"${V[$key]}" | grep . | median)
  fi
done
echo "figures of each round:" >&2
for key in $(printf '%s\n' "${!V[@]}" | sort); do printf '  %-22s %s\n' "$key" "${V[$key]}" >&2; done

# derived rows: percentages rounded, memory per idle session and in MiB (FTP, then SFTP)
for name in "${servers[@]}"; do
  [ "${R[pct.$name]}" = error ] || R[pct.$name]=$(awk -v a="${R[pct.$name]}" 'BEGIN {printf "%.0f", a}')
done
for name in "${servers[@]}" "${sftp_peers[@]}"; do
  for m in rss pss anon sftp_rss sftp_pss sftp_anon; do
    [ -n "${R[${m}0.$name]:-}" ] || continue
    R[${m}per.$name]=error R[${m}mib0.$name]=error R[${m}mib1.$name]=error
    if [ "${R[${m}0.$name]}" != error ]; then
      R[${m}per.$name]=$(awk -v a="${R[${m}0.$name]}" -v b="${R[${m}1.$name]}" -v n="$idle" 'BEGIN {printf "%.0f", (b - a) / n}')
      R[${m}mib0.$name]=$(awk -v a="${R[${m}0.$name]}" 'BEGIN {printf "%.1f", a / 1024}')
      R[${m}mib1.$name]=$(awk -v a="${R[${m}1.$name]}" 'BEGIN {printf "%.1f", a / 1024}')
    fi
  done
done

number() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
# row KEY BETTER LABEL: one line of the table of the servers in cols. BETTER is higher or lower (which figure is
# better) or - (no comparison). The best peer is the one with the best median; the ratio
# is written so that above 1 means ours is better: ours/best where higher is better,
# best/ours where lower is (times, memory).
row() {
  local key=$1 better=$2 label=$3 name v cells="" best="" bv="" ratio=— rounds=— ours=${R[$1.ours]:-error}
  for name in "${cols[@]}"; do
    v=${R[$key.$name]:-error}
    cells+=" $v |"
    [ "$name" = ours ] && continue
    number "$v" || continue
    if [ -z "$bv" ] || { [ "$better" = higher ] && awk -v a="$v" -v b="$bv" 'BEGIN {exit !(a > b)}'; } ||
      { [ "$better" = lower ] && awk -v a="$v" -v b="$bv" 'BEGIN {exit !(a < b)}'; }; then
      best=$name bv=$v
    fi
  done
  if [ "$better" = - ] || [ -z "$best" ]; then
    best=—
  else
    if number "$ours" && awk -v a="$ours" -v b="$bv" 'BEGIN {exit !(a > 0 && b > 0)}'; then
      ratio=$(awk -v a="$ours" -v b="$bv" -v better="$better" 'BEGIN {printf "%.2f", better == "higher" ? a / b : b / a}')
    fi
    rounds=$(wins "$better" "${V[$key.ours]:-}" "${V[$key.$best]:-}")
    best=$(title "$best")
  fi
  printf '| %s |%s %s | %s | %s |\n' "$label" "$cells" "$best" "$ratio" "$rounds"
}
# wins BETTER "OURS..." "PEER...": in how many rounds ours did better, of those both
# completed. Every server runs in every round, so a round compares them on the machine
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

size_label=$([ "$size_mb" -eq 1024 ] && echo "1 GiB" || echo "$size_mb MiB")
versions="" header="| row |" rule="|---|"
for name in "${servers[@]}"; do
  header+=" $(title "$name") |" rule+="---|"
  [ "$name" = ours ] || versions+="${versions:+, }$(title "$name") $("version_$(peer_id "$name")")"
done
echo
[ "$quick" = 1 ] && echo "QUICK MODE (BENCH_QUICK=1): small sizes and one round, to check the script; the figures mean nothing"
echo "ftpctl serve beside $versions (Debian packages) on 127.0.0.1, $(nproc) cores; each round runs every server, the first one rotating;"
echo "servers on CPU ${server_pin[2]:-any}, clients on CPU ${client_cpu:-any} (BENCH_PIN); FTP root on $fs (BENCH_FS); ours with atomic uploads"
echo "medians of $reps rounds (1 GiB rows) and of $rounds rounds (the others; listings: each round the median of $list_reps); memory measured once"
echo "FTPS as curl $(curl --version | awk 'NR==1 {print $2}') negotiated it: $tls_note"
echo "ours/best: ours divided by the best peer's median where higher is better, the best peer's divided by ours where lower is (times, memory): above 1 means ours is better; MB = 10^6 bytes"
echo
echo "$header best peer | ours/best (above 1: ours better) | rounds ours beat best |"
echo "$rule---|---|---|"
cols=("${servers[@]}")
row down higher "RETR $size_label, FTP, curl (MB/s)"
row up higher "STOR $size_label, FTP, curl (MB/s)"
row down_tls higher "RETR $size_label, FTPS PROT P, curl (MB/s)"
row up_tls higher "STOR $size_label, FTPS PROT P, curl (MB/s)"
row par higher "$streams × RETR $size_label at once, FTP, curl (MB/s, all together)"
row par_splice higher "$streams × RETR $size_label at once, FTP, a client that splices into /dev/null (MB/s, all together)"
row pct higher "FTP RETR as % of loopback sendfile into curl, same round (median ${R[sendfile.base]:-error} MB/s)"
row sessions higher "logins/s (USER/PASS/QUIT, $sessions sessions, $workers at once)"
row sessions_tls higher "FTPS logins/s (AUTH TLS, PBSZ, PROT, USER/PASS/QUIT; ftplib)"
row small_up higher "$files × 4 KiB STOR over one session (files/s)"
row small_down higher "$files × 4 KiB RETR over one session (files/s)"
row small_up_tls higher "$files × 4 KiB STOR over one FTPS session, PROT P (files/s; ftplib)"
row small_down_tls higher "$files × 4 KiB RETR over one FTPS session, PROT P (files/s; ftplib)"
row mirror lower "lftp mirror of 100 × 4 KiB up and back, FTPS PROT P (s; lower is better)"
row list lower "LIST of $entries entries (ms; lower is better)"
row mlsd lower "MLSD of $entries entries (ms; lower is better)"
row procs1 - "server processes with $idle idle sessions"
row pssmib0 lower "PSS with no session, 5 s after the last one ended (MiB; shared pages split)"
row anonmib0 lower "of which anonymous (heaps, stacks; MiB): the rest is program and library pages"
row pssmib1 lower "PSS with $idle idle sessions (MiB)"
row pssper lower "PSS per idle session (KiB; shared pages split)"
row rssper lower "RSS per idle session (KiB; shared pages counted in each process)"

if [ "${#sftp_servers[@]}" -gt 0 ]; then
  cols=("${sftp_servers[@]}") versions="" header="| SFTP row |" rule="|---|"
  for name in "${cols[@]}"; do
    header+=" $(title "$name") |" rule+="---|"
    [ "$name" = ours ] || versions+="${versions:+, }$(title "$name") $("version_$(peer_id "$name")") sshd"
  done
  echo
  echo "SFTP: ftpctl serve (sftp_listen, in the same worker as FTP) beside $versions with ForceCommand internal-sftp,"
  echo "ChrootDirectory and UsePAM no (Debian package, unpacked), same account, host key ed25519 and key exchange curve25519 for both;"
  echo "transfers: OpenSSH sftp $(ssh -V 2>&1 | awk '{sub(/,$/, "", $1); print $1}') in one batch session, aes128-gcm@openssh.com, timed from the first byte asked to the last"
  echo "(its \"!date\" stamps, without connecting and logging in); logins and idle sessions: paramiko $(/usr/bin/python3 -c 'import paramiko; print(paramiko.__version__)'), aes128-ctr + hmac-sha2-256"
  echo "medians of $reps rounds (1 GiB rows) and of $rounds rounds (the others), each round both servers, the first alternating; memory measured once"
  echo
  echo "$header best peer | ours/best (above 1: ours better) | rounds ours beat best |"
  echo "$rule---|---|---|"
  row sftp_down higher "SFTP get $size_label, OpenSSH sftp (MB/s)"
  row sftp_up higher "SFTP put $size_label, OpenSSH sftp (MB/s)"
  row sftp_small_up higher "SFTP put of $files × 4 KiB in one session, OpenSSH sftp (files/s)"
  row sftp_small_down higher "SFTP get of $files × 4 KiB in one session, OpenSSH sftp (files/s)"
  row sftp_sessions higher "SFTP logins/s (connect, password, sftp subsystem, close; $sessions sessions, $workers at once; paramiko)"
  row sftp_procs1 - "server processes with $idle idle SFTP sessions"
  row sftp_pssmib0 lower "PSS with no session, 5 s after the last one ended (MiB; ours: FTP and SFTP together)"
  row sftp_anonmib0 lower "of which anonymous (heaps, stacks; MiB): the rest is program and library pages"
  row sftp_pssmib1 lower "PSS with $idle idle SFTP sessions (MiB)"
  row sftp_pssper lower "PSS per idle SFTP session (KiB; shared pages split)"
  row sftp_rssper lower "RSS per idle SFTP session (KiB; shared pages counted in each process)"
fi

if [ -s "$errlog" ]; then
  echo
  echo "errors:"
  cat "$errlog"
  for name in "${servers[@]}" "${sftp_peers[@]}"; do
    echo "--- $name: its output and logs, warnings and failures (last 30 lines each) ---"
    for log in "$work/$name"/*.log; do
      [ -s "$log" ] || continue
      echo "$log:"
      grep -v 'level=INFO' "$log" | tail -n 30
    done
  done
  exit 1
fi
