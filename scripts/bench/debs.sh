# shellcheck shell=bash disable=SC2154,SC2034 # sourced: globals come from bench.sh, cmd goes back to it
# Sourced by scripts/bench.sh. Pure-FTPd, ProFTPD and vsftpd conflict as Debian packages
# (each provides ftp-server), so the peers that cannot be installed beside each other are
# fetched with `apt-get download` and unpacked, each into a folder of its own under
# $cache, and run from there: nothing is installed, and a later run reuses the folder.
# Needs: $cache, die().

# fetch_debs NAME PACKAGE...: unpacks PACKAGE... into $cache/NAME, with the library
# packages they depend on that this machine lacks (found through each package's
# Depends, a few levels deep). Does nothing when $cache/NAME is complete.
fetch_debs() {
  local name=$1 dir="$cache/$1" tmp deb dep new
  shift
  [ -s "$dir/.versions" ] && return 0
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.fetch-$name.XXXXXX")
  mkdir "$tmp/debs" "$tmp/root"
  echo "bench.sh: fetching $* into $dir" >&2
  if ! apt_download "$tmp/debs" "$@"; then
    # A machine whose package lists were never read knows no package yet.
    apt-get update -qq >/dev/null 2>&1 || true
    apt_download "$tmp/debs" "$@" || { rm -rf "$tmp"; die "apt-get download $* failed"; }
  fi
  for _ in 1 2 3 4; do # libraries of libraries, a few levels deep
    new=()
    for deb in "$tmp"/debs/*.deb; do
      for dep in $(dpkg-deb -f "$deb" Pre-Depends Depends | sed 's/^[A-Za-z-]*: //' |
        tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' | grep '^lib'); do
        dpkg-query -W -f '${Status}\n' "$dep" 2>/dev/null | grep -q ' installed$' && continue
        compgen -G "$tmp/debs/${dep}_*.deb" >/dev/null && continue
        [[ " ${new[*]} " == *" $dep "* ]] || new+=("$dep")
      done
    done
    [ "${#new[@]}" -eq 0 ] && break
    apt_download "$tmp/debs" "${new[@]}" || { rm -rf "$tmp"; die "apt-get download ${new[*]} failed"; }
  done
  for deb in "$tmp"/debs/*.deb; do
    dpkg-deb -x "$deb" "$tmp/root" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }
    # shellcheck disable=SC2016 # dpkg's own ${fields}
    dpkg-deb --show --showformat '${Package} ${Version}\n' "$deb" >>"$tmp/root/.versions"
  done
  rm -rf "$dir"
  mv "$tmp/root" "$dir"
  rm -rf "$tmp"
}

apt_download() { # DIR PACKAGE...
  local dir=$1
  shift
  # As root into a folder the _apt user cannot write: no sandbox, and no warning about it.
  (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$@" >/dev/null)
}

# lib_path NAME: the folders of $cache/NAME that hold shared libraries, for LD_LIBRARY_PATH
# (empty when the machine had every library).
lib_path() {
  find "$cache/$1" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:
}

# deb_version NAME PACKAGE: the version of PACKAGE unpacked in $cache/NAME.
deb_version() {
  awk -v p="$2" '$1 == p {print $2}' "$cache/$1/.versions"
}
