# shellcheck shell=bash disable=SC2154,SC2034 # sourced: globals come from bench.sh, cmd goes back to it
# Sourced by scripts/bench.sh: Debian's vsftpd, installed as a package (it is the peer the
# end-to-end tests install too). Needs: $work, $root, $tls, $max_sessions, $pasv_ports, die().

install_vsftpd() { # outside the private namespace
  if [ ! -x /usr/sbin/vsftpd ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing vsftpd" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq vsftpd >/dev/null || true
    # The package starts its own vsftpd where systemd runs; the benchmark starts its own.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet vsftpd 2>/dev/null; then
      systemctl disable --now vsftpd >/dev/null 2>&1 || true
    fi
  fi
  [ -x /usr/sbin/vsftpd ] || die "vsftpd is missing: apt-get install vsftpd"
}

version_vsftpd() {
  dpkg-query -W -f '${Version}' vsftpd 2>/dev/null
}

# setup_vsftpd PORT: writes the configuration under $work/vsftpd (and a PAM service in the
# private /etc) and sets cmd to the foreground command.
setup_vsftpd() {
  local p=$1 d="$work/vsftpd"
  # Debian's vsftpd PAM service also wants a shell from /etc/shells, which FTP accounts
  # do not have: this one checks only the password and the account.
  cat >"$work/etc/pam.d/jftp-bench-vsftpd" <<'PAM'
auth    required pam_unix.so
account required pam_unix.so
session required pam_permit.so
PAM
  cat >"$d/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$p
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
allow_writeable_chroot=YES
pasv_min_port=$((p + 1))
pasv_max_port=$((p + pasv_ports))
pam_service_name=jftp-bench-vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
ssl_enable=YES
rsa_cert_file=$tls/cert.pem
rsa_private_key_file=$tls/key.pem
ssl_ciphers=HIGH
require_ssl_reuse=YES
force_local_logins_ssl=NO
force_local_data_ssl=NO
max_clients=$max_sessions
max_per_ip=$max_sessions
xferlog_enable=YES
vsftpd_log_file=$d/transfer.log
CONF
  cmd=(/usr/sbin/vsftpd "$d/vsftpd.conf")
}
