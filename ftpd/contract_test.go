package ftpd

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommandContract is the reply of every command the server answers, in
// four states: before login, logged in, logged in read-only, and logged in
// over TLS without PROT P where TLS is required. A want that ends in "…" is
// a prefix (a port, a time). The commands run in order on one connection
// per state, so those that change files come in pairs that undo each other.
func TestCommandContract(t *testing.T) {
	t.Parallel()
	const (
		login    = "530 Please login with USER and PASS"
		readOnly = "550 Permission denied: this account is read-only."
		tlsFirst = "503 Secure the control connection with AUTH TLS first."
		protP    = "522 Data connections must be encrypted: send PROT P first."
	)
	// same repeats one reply in every state after login.
	same := func(before, after string) [4]string { return [4]string{before, after, after, after} }
	rows := []struct {
		cmd  string
		want [4]string // before login, logged in, read-only, TLS required without PROT P
	}{
		{"NOOP", same("200 OK", "200 OK")},
		{"SYST", same("215 UNIX Type: L8", "215 UNIX Type: L8")},
		{"CLNT test", same("200 Good to know", "200 Good to know")},
		{"OPTS UTF8 ON", same("200 I'm in UTF8 only anyway", "200 I'm in UTF8 only anyway")},
		{"OPTS HASH", same("200 SHA-256", "200 SHA-256")},
		{"OPTS HASH WHIRLPOOL", same("501 Unknown algorithm, current selection not changed", "501 Unknown algorithm, current selection not changed")},
		{"OPTS FOO", same("500 Don't know this option", "500 Don't know this option")},
		{"FEAT", same("211 Features:…", "211 Features:…")},
		{"XYZZY", same(`500 Unknown command "XYZZY".`, `500 Unknown command "XYZZY".`)},
		{"ACCT x", same(login, "502 This command hasn't been implemented !")},
		{"HOST ftp.example.com", same("220 Single-host server: HOST accepted.", "503 HOST must come before USER.")},
		{"PASS x", same("503 Login with USER first.", "230 Already logged in.")},
		{"USER bob", same("331 Please specify the password.", "530 Already logged in; open a new connection to change user.")},
		{"AUTH KERBEROS", same("504 Only AUTH TLS is supported.", "503 AUTH must come before USER.")},
		{"PBSZ 0", [4]string{tlsFirst, tlsFirst, tlsFirst, "200 PBSZ=0"}},
		{"PROT C", [4]string{tlsFirst, tlsFirst, tlsFirst, "200 OK"}},
		{"TYPE A", same(login, "200 Type set to ASCII")},
		{"REST 5", same(login, "501 Resuming transfers not allowed in ASCII mode")},
		{"TYPE I", same(login, "200 Type set to binary")},
		{"TYPE E", same(login, "504 Unsupported transfer type")},
		{"MODE S", same(login, "200 Using stream mode")},
		{"MODE B", same(login, "504 Unsupported mode")},
		{"STRU F", same(login, "200 Using file structure")},
		{"STRU R", same(login, "504 Only STRU F is supported.")},
		{"STAT", same(login, "211 Server status…")},
		{"PWD", same(login, `257 "/" is the current directory`)},
		{"CWD dir", same(login, "250 CD worked on /dir")},
		{"XPWD", same(login, `257 "/dir" is the current directory`)},
		{"CDUP", same(login, "250 CDUP worked on /")},
		{"CWD f.txt", same(login, "550 Can't change directory to /f.txt: Not a Directory")},
		{"CWD missing", same(login, "550 CD issue: stat /missing: no such file or directory")},
		{"SIZE f.txt", same(login, "213 5")},
		{"SIZE dir", same(login, "550 /dir is a directory")},
		{"MDTM f.txt", same(login, "213 …")},
		{"MDTM missing", same(login, "550 Couldn't access /missing: stat /missing: no such file or directory")},
		{"MLST f.txt", same(login, "250 File details\n Type=file;Size=5;Modify=…")},
		{"STAT f.txt", same(login, "213 STAT f.txt\n -rw-r--r-- 1 ftp ftp            5 …")},
		{"HASH f.txt", same(login, "213 Computing SHA-256 digest\nSHA-256 0-5 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 f.txt")},
		{"XMD5 f.txt", same(login, "250 Computing MD5 digest\n5d41402abc4b2a76b9719d911017c592")},
		{"MKD new", [4]string{login, `257 Created dir "/new"`, readOnly, `257 Created dir "/new"`}},
		{"RMD new", [4]string{login, "250 Deleted dir /new", readOnly, "250 Deleted dir /new"}},
		{"DELE missing", [4]string{login, "550 Couldn't delete /missing: remove /missing: no such file or directory", readOnly, "550 Couldn't delete /missing: remove /missing: no such file or directory"}},
		{"RNTO g.txt", [4]string{login, "503 RNFR is expected before RNTO.", readOnly, "503 RNFR is expected before RNTO."}},
		{"RNFR f.txt", [4]string{login, "350 Sure, give me a target", readOnly, "350 Sure, give me a target"}},
		{"RNTO g.txt", [4]string{login, "250 Done !", readOnly, "250 Done !"}},
		{"RNFR g.txt", [4]string{login, "350 Sure, give me a target", readOnly, "350 Sure, give me a target"}},
		{"RNTO f.txt", [4]string{login, "250 Done !", readOnly, "250 Done !"}},
		{"MFMT 20200102030405 f.txt", [4]string{login, "213 Modify=20200102030405; f.txt", readOnly, "213 Modify=20200102030405; f.txt"}},
		{"MFMT 2020 f.txt", [4]string{login, "501 Couldn't parse mtime…", readOnly, "501 Couldn't parse mtime…"}},
		{"ALLO 100", [4]string{login, "200 Done !", readOnly, "200 Done !"}},
		{"SITE HELP", same(login, "214 SITE CHMOD <octal mode> <path>")},
		{"SITE CHMOD 644 f.txt", [4]string{login, "200 SITE CHMOD command successful", readOnly, "200 SITE CHMOD command successful"}},
		{"SITE CHMOD 777 /", [4]string{login, "550 Permission denied: the mode of the home folder stays as it is.", readOnly, "550 Permission denied: the mode of the home folder stays as it is."}},
		{"SITE CHMOD 777 dir/..", [4]string{login, "550 Permission denied: the mode of the home folder stays as it is.", readOnly, "550 Permission denied: the mode of the home folder stays as it is."}},
		{"SITE CHMOD x f.txt", [4]string{login, "501 Usage: SITE CHMOD <octal mode> <path>", readOnly, "501 Usage: SITE CHMOD <octal mode> <path>"}},
		{"SITE SYMLINK a b", same(login, "504 SITE SYMLINK is not supported.")},
		{"PORT 127,0,0,1,4,1", [4]string{login, "502 Active mode is disabled: use PASV or EPSV.", "502 Active mode is disabled: use PASV or EPSV.", protP}},
		{"EPRT |1|127.0.0.1|1025|", [4]string{login, "502 Active mode is disabled: use PASV or EPSV.", "502 Active mode is disabled: use PASV or EPSV.", protP}},
		{"PASV", [4]string{login, "227 Entering Passive Mode (127,0,0,1,…", "227 Entering Passive Mode (127,0,0,1,…", protP}},
		{"EPSV", [4]string{login, "229 Entering Extended Passive Mode (|||…", "229 Entering Extended Passive Mode (|||…", protP}},
		{"RETR missing", same(login, "550 Could not access file: open /missing: no such file or directory")},
		{"RETR f.txt", same(login, "550 Unable to open transfer: no transfer connection")},
		{"LIST", same(login, "550 Unable to open transfer: no transfer connection")},
		{"NLST missing", same(login, "450 Could not list: stat /missing: no such file or directory")},
		{"MLSD f.txt", same(login, "550 Could not list: listing a file isn't allowed")},
		{"STOR up.txt", [4]string{login, "550 Unable to open transfer: no transfer connection", readOnly, "550 Unable to open transfer: no transfer connection"}},
		{"APPE f.txt", [4]string{login, "550 Unable to open transfer: no transfer connection", readOnly, "550 Unable to open transfer: no transfer connection"}},
		{"ABOR", same(login, "226 ABOR successful; closing transfer connection")},
		{"QUIT", same("221 Goodbye.", "221 Goodbye.")},
	}
	states := []struct {
		name       string
		requireTLS bool
		start      func(c *ftpConn)
	}{
		{"before login", false, func(*ftpConn) {}},
		{"logged in", false, func(c *ftpConn) { c.login() }},
		{"read-only", false, func(c *ftpConn) {
			c.must(331, "USER reader")
			c.must(230, "PASS %s", testPassword)
		}},
		{"TLS required, no PROT P", true, func(c *ftpConn) {
			c.startTLS(insecureTLS)
			c.login()
		}},
	}
	for i, state := range states {
		t.Run(state.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *Settings) { s.RequireTLS = state.requireTLS })
			ts.writeHome(t, "f.txt", []byte("hello"))
			ts.writeHome(t, "dir/.keep", nil)
			c := dialFTP(t, ts.addr)
			state.start(c)
			for _, row := range rows {
				code, msg := c.cmd("%s", row.cmd)
				got := strconv.Itoa(code) + " " + msg
				want := row.want[i]
				if prefix, ok := strings.CutSuffix(want, "…"); ok {
					require.True(t, strings.HasPrefix(got, prefix), "%s: got %q, want %q", row.cmd, got, want)
				} else {
					require.Equal(t, want, got, row.cmd)
				}
			}
		})
	}
}
