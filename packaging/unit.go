// Package packaging holds what the .deb, the .rpm and the platform's add-on manifest
// ship besides the binary: the systemd units, the maintainer scripts and manifest.jps.
// Its Go side gives ftpctl install the same hardened unit where no package installed it.
package packaging

import _ "embed"

// Unit is jelastic-ftp.service as the packages install it.
//
//go:embed jelastic-ftp.service
var Unit []byte

// Socket is jelastic-ftp.socket as the packages install it: socket activation of
// the service, which ftpctl install --on-demand turns on.
//
//go:embed jelastic-ftp.socket
var Socket []byte

// UnitExecStart is the unit's command line, which ftpctl install adapts to where the
// binary and the configuration really are.
const UnitExecStart = "ExecStart=/usr/bin/ftpctl serve"
