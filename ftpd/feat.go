package ftpd

import (
	"bytes"
	"slices"
	"strings"
)

// engineFEAT starts ftpserverlib's answer to FEAT.
var engineFEAT = []byte("211- These are my features\r\n")

// hashOrder is the order in which FEAT names the HASH algorithms: the
// strongest first, as ftpserverlib names them in OPTS HASH.
var hashOrder = []string{"SHA-512", "SHA-256", "SHA-1", "MD5", "CRC32"}

// rewriteFEAT turns ftpserverlib's FEAT reply into one that clients parse
// as RFC 2389, RFC 3659 and draft-bryan-ftpext-hash describe:
//   - its hash line is a bare list in map order ("MD5;SHA-256*;CRC32;"):
//     it becomes "HASH SHA-512;SHA-256*;…", keeping the selected one;
//   - MLST names the facts every entry carries (type, size, modify);
//   - EPRT is offered only when active mode is on;
//   - the reply opens with "211-Features:" and ends with "211 End".
func rewriteFEAT(reply []byte, activeMode bool) []byte {
	lines := strings.Split(strings.TrimSuffix(string(reply), "\r\n"), "\r\n")
	out := []string{"211-Features:"}
	for _, line := range lines[1 : len(lines)-1] {
		feature := strings.TrimPrefix(line, " ")
		switch {
		case feature == "EPRT" && !activeMode:
			continue
		case feature == "MLST":
			feature = "MLST type*;size*;modify*;"
		case strings.Contains(feature, "SHA-256"):
			feature = "HASH " + hashFeature(feature)
		}
		out = append(out, " "+feature)
	}
	out = append(out, "211 End", "")
	return []byte(strings.Join(out, "\r\n"))
}

// hashFeature orders ftpserverlib's list of algorithms, keeping the "*"
// on the one selected.
func hashFeature(list string) string {
	var selected string
	for _, name := range strings.Split(list, ";") {
		if n, ok := strings.CutSuffix(name, "*"); ok {
			selected = n
		}
	}
	names := slices.Clone(hashOrder)
	for i, n := range names {
		if n == selected {
			names[i] += "*"
		}
	}
	return strings.Join(names, ";")
}

// isEngineFEAT tells whether a whole reply is ftpserverlib's FEAT answer.
func isEngineFEAT(reply []byte) bool { return bytes.HasPrefix(reply, engineFEAT) }
