# shellcheck shell=bash disable=SC2154,SC2034 # sourced: globals come from bench.sh, cmd goes back to it
# Sourced by scripts/bench.sh: Debian's ProFTPD (proftpd-core, and proftpd-mod-crypto for
# mod_tls), unpacked from its packages into $cache/proftpd (it conflicts with vsftpd and
# Pure-FTPd as a package). Needs: $work, $cache, $tls, $max_sessions, $pasv_ports, $entries,
# fetch_debs, lib_path, deb_version.

install_proftpd() { # outside the private namespace
  fetch_debs proftpd proftpd-core proftpd-mod-crypto
}

version_proftpd() {
  deb_version proftpd proftpd-core
}

# setup_proftpd PORT: writes $work/proftpd/proftpd.conf and sets cmd to the foreground
# command.
setup_proftpd() {
  local p=$1 d="$work/proftpd" lib
  lib=$(lib_path proftpd)
  # Accounts from /etc/passwd and /etc/shadow only (mod_auth_unix, no PAM), chrooted into
  # their home; no reverse DNS, ident or login delay; the same certificate through mod_tls,
  # which requires data connections to resume the control connection's TLS session by
  # default, as the others are set to. FTP accounts have no shell from /etc/shells.
  cat >"$d/proftpd.conf" <<CONF
ServerName "jftp-bench"
ServerType standalone
DefaultServer on
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
Port $p
PassivePorts $((p + 1)) $((p + pasv_ports))
User nobody
Group nogroup
Umask 022
MaxInstances $max_sessions
MaxClientsPerHost $max_sessions
AuthOrder mod_auth_unix.c
AuthPAM off
RequireValidShell off
DefaultRoot ~
AllowOverwrite on
UseReverseDNS off
DelayEngine off
<IfModule mod_ident.c>
  IdentLookups off
</IfModule>
WtmpLog off
PidFile $d/proftpd.pid
ScoreboardFile $d/proftpd.scoreboard
SystemLog $d/system.log
TransferLog $d/transfer.log
ListOptions "" maxfiles $((entries * 2 + 100))
ModulePath $cache/proftpd/usr/lib/proftpd
LoadModule mod_tls.c
<IfModule mod_tls.c>
  TLSEngine on
  TLSLog $d/tls.log
  TLSProtocol TLSv1.2 TLSv1.3
  TLSRSACertificateFile $tls/cert.pem
  TLSRSACertificateKeyFile $tls/key.pem
  # Without a CA file of its own, mod_tls reads the system bundle at every session start.
  TLSCACertificateFile $tls/cert.pem
  TLSVerifyClient off
  TLSRequired off
</IfModule>
CONF
  cmd=(env ${lib:+"LD_LIBRARY_PATH=$lib"} "$cache/proftpd/usr/sbin/proftpd" -n -q -c "$d/proftpd.conf")
}
