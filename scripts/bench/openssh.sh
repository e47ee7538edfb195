# shellcheck shell=bash disable=SC2154,SC2034 # sourced: globals come from bench.sh, cmd goes back to it
# Sourced by scripts/bench.sh: Debian's OpenSSH sshd serving internal-sftp, the peer of
# the SFTP rows. openssh-server is unpacked into $cache/openssh rather than installed:
# installing it would generate host keys in the machine's /etc and start an sshd on
# port 22. Its clients are the machine's: OpenSSH's sftp with sshpass, and paramiko
# run by Debian's own Python. Needs: $work, $root, $cache, $max_sessions, fetch_debs,
# lib_path, deb_version, die().

install_openssh() { # outside the private namespace
  fetch_debs openssh openssh-server
  local want=() tool
  for tool in sftp ssh-keygen sshpass; do
    command -v "$tool" >/dev/null 2>&1 && continue
    case $tool in
    sshpass) want+=(sshpass) ;;
    *) want+=(openssh-client) ;;
    esac
  done
  /usr/bin/python3 -c 'import paramiko' >/dev/null 2>&1 || want+=(python3-paramiko)
  if [ "${#want[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: installing ${want[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null || true
  fi
  for tool in sftp ssh-keygen sshpass; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: apt-get install openssh-client sshpass"
  done
  /usr/bin/python3 -c 'import paramiko' >/dev/null 2>&1 || die "paramiko is missing: apt-get install python3-paramiko"
}

version_openssh() {
  deb_version openssh openssh-server
}

# setup_openssh PORT: in the private namespace, with the bench account made: host keys,
# the jail and the configuration under $work/openssh; sets cmd to the foreground command.
# sshd chroots only into a folder that it and every folder above it are root's and
# writable by no one else, which neither the FTP root (the account's) nor anything under
# /tmp (sticky, world-writable) is: the jail is a new root-owned folder under /run, with
# the FTP root bound into it as /data, where internal-sftp starts. Both servers so serve
# the same files on the same file system, and clients name them by relative paths.
setup_openssh() {
  local p=$1 d="$work/openssh" lib
  lib=$(lib_path openssh)
  jail=$(mktemp -d /run/jftp-bench-sftp.XXXXXX)
  chmod 0755 "$jail"
  mkdir "$jail/data"
  mount --bind "$root" "$jail/data" || die "cannot bind $root into $jail"
  # sshd's privilege separation needs its empty folder and its user: the private /etc
  # gets the user, /run the folder (Debian's package makes both).
  if [ ! -d /run/sshd ]; then
    mkdir -m 0755 /run/sshd
    made_run_sshd=1
  fi
  getent passwd sshd >/dev/null ||
    useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd ||
    die "cannot add the sshd user to the private /etc"
  ssh-keygen -q -t ed25519 -N '' -C jftp-bench -f "$d/ssh_host_ed25519_key" || die "ssh-keygen failed"
  # The same as ours: password logins to the account's own tree, SFTP only; no PAM (ours
  # checks the shadow hash itself), no DNS, and as many sessions at once as ours admits.
  cat >"$d/sshd_config" <<CONF
ListenAddress 127.0.0.1:$p
HostKey $d/ssh_host_ed25519_key
PidFile none
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AllowUsers bench
UseDNS no
MaxStartups $max_sessions
MaxSessions 10
LogLevel ERROR
Subsystem sftp internal-sftp
Match User bench
  ChrootDirectory $jail
  ForceCommand internal-sftp -d /data
  AllowTcpForwarding no
  AllowAgentForwarding no
  X11Forwarding no
  PermitTTY no
CONF
  "$cache/openssh/usr/sbin/sshd" -t -f "$d/sshd_config" || die "sshd refuses $d/sshd_config"
  # -e: its log to stderr, which bench.sh keeps in $d/stderr.log.
  cmd=(env ${lib:+"LD_LIBRARY_PATH=$lib"} "$cache/openssh/usr/sbin/sshd" -D -e -f "$d/sshd_config")
}

# cleanup_openssh: what setup_openssh made outside $work (the private namespace's mounts
# go with it).
cleanup_openssh() {
  if [ -n "${jail:-}" ]; then
    umount "$jail/data" 2>/dev/null || true
    rmdir "$jail/data" "$jail" 2>/dev/null || true
  fi
  if [ -n "${made_run_sshd:-}" ]; then rmdir /run/sshd 2>/dev/null || true; fi
}
