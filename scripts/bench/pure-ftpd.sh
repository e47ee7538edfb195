# shellcheck shell=bash disable=SC2154,SC2034 # sourced: globals come from bench.sh, cmd goes back to it
# Sourced by scripts/bench.sh: Debian's Pure-FTPd, unpacked from its package into
# $cache/pure-ftpd (it conflicts with vsftpd and ProFTPD as a package).
# Needs: $work, $cache, $tls, $max_sessions, $pasv_ports, $entries, fetch_debs, lib_path, deb_version.

install_pure_ftpd() { # outside the private namespace
  fetch_debs pure-ftpd pure-ftpd
}

version_pure_ftpd() {
  deb_version pure-ftpd pure-ftpd
}

# setup_pure_ftpd PORT: sets cmd to the foreground command; the options are the
# configuration (Debian's wrapper turns /etc/pure-ftpd/conf into the same options).
setup_pure_ftpd() {
  local p=$1 d="$work/pure-ftpd" lib shell
  lib=$(lib_path pure-ftpd)
  # With -l unix, Pure-FTPd admits only accounts whose shell /etc/shells lists, and FTP
  # accounts have nologin: the private /etc lists it (vsftpd's PAM service and
  # ProFTPD's RequireValidShell off skip the same check).
  shell=$(getent passwd bench | cut -d: -f7)
  grep -qxF "$shell" /etc/shells || echo "$shell" >>/etc/shells
  # -l unix: /etc/passwd and /etc/shadow through crypt(3), the same SHA-512 hash as ours;
  # -A: every account chrooted into its home; -H: no DNS look-ups; -E: no anonymous;
  # -Y 1: TLS on request; -2: our certificate; -c/-C: sessions in all and per address;
  # -L: listings of more than the benchmark's folder (the default stops at 10,000);
  # -O: a transfer log, as the others write one.
  cmd=(env ${lib:+"LD_LIBRARY_PATH=$lib"} "$cache/pure-ftpd/usr/sbin/pure-ftpd"
    -S "127.0.0.1,$p" -4 -l unix -A -H -E -u 1
    -c "$max_sessions" -C "$max_sessions" -p "$((p + 1)):$((p + pasv_ports))"
    -Y 1 -2 "$tls/cert.pem,$tls/key.pem"
    -L "$((entries * 2 + 100)):5" -O "clf:$d/transfer.log")
}
