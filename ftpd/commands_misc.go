package ftpd

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// featOrder is the order of the FEAT reply's lines, as clients have seen it
// since the first release: the base commands, then TLS, then the hashes;
// HOST (RFC 7151) came later.
var featOrder = []string{"CLNT", "UTF8", "SIZE", "MDTM", "REST STREAM", "EPRT", "EPSV", "MLSD",
	"MLST type*;size*;modify*;", "MFMT", "AUTH TLS", "PBSZ", "PROT", "HASH",
	"XCRC", "MD5", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512", "HOST"}

// cmdFEAT lists the features of the command table in featOrder: EPRT only
// with active mode, the TLS commands only with TLS, and the HASH line with
// the algorithms, strongest first, the selected one starred.
func (s *session) cmdFEAT(string) bool {
	b := []byte("211-Features:\r\n")
	for _, feat := range featOrder {
		switch feat {
		case "EPRT":
			if !s.conf.ActiveMode {
				continue
			}
		case "AUTH TLS", "PBSZ", "PROT":
			if s.conf.tls == nil {
				continue
			}
		case "HASH":
			b = append(b, " HASH "...)
			for i, name := range hashOrder {
				if i > 0 {
					b = append(b, ';')
				}
				b = append(b, name...)
				if name == s.hashAlgo {
					b = append(b, '*')
				}
			}
			b = append(b, '\r', '\n')
			continue
		}
		b = append(b, ' ')
		b = append(b, feat...)
		b = append(b, '\r', '\n')
	}
	b = append(b, "211 End\r\n"...)
	return s.out.write(b) == nil
}

func (s *session) cmdSYST(string) bool { return s.send(replySyst) == nil }
func (s *session) cmdNOOP(string) bool { return s.send(replyOK) == nil }
func (s *session) cmdCLNT(string) bool { return s.send(replyClnt) == nil }

func (s *session) cmdOPTS(arg string) bool {
	option, value, _ := strings.Cut(arg, " ")
	switch strings.ToUpper(option) {
	case "UTF8":
		return s.send(replyUTF8) == nil
	case "HASH":
		if value == "" {
			return s.reply(200, s.hashAlgo) == nil
		}
		if _, ok := hashByName(value); !ok {
			return s.send(replyUnknownHash) == nil
		}
		s.hashAlgo = value
		return s.reply(200, value) == nil
	}
	return s.send(replyUnknownOption) == nil
}

// cmdHOST answers HOST (RFC 7151) as a server of one host: any name is it,
// before login.
func (s *session) cmdHOST(string) bool {
	if s.loggedIn.Load() || s.userArg != "" {
		return s.send(replyHostLate) == nil
	}
	return s.send(replyHost) == nil
}

func (s *session) cmdTYPE(arg string) bool {
	switch strings.ReplaceAll(strings.ToUpper(arg), " ", "") {
	case "I", "L8":
		s.ascii.Store(false)
		return s.send(replyTypeBinary) == nil
	case "A", "AN", "L7":
		// Files stay byte-exact in either type, as vsftpd's are by default;
		// the type shows in xferlog.
		s.ascii.Store(true)
		return s.send(replyTypeASCII) == nil
	}
	return s.send(replyTypeUnknown) == nil
}

func (s *session) cmdMODE(arg string) bool {
	if strings.ToUpper(arg) == "S" {
		return s.send(replyModeStream) == nil
	}
	return s.send(replyModeUnknown) == nil
}

func (s *session) cmdSTRU(arg string) bool {
	if strings.ToUpper(arg) == "F" {
		return s.send(replyStruFile) == nil
	}
	return s.send(replyStruUnknown) == nil
}

// cmdSTAT answers STAT: without an argument the session's status, which
// may come during a transfer; with one, a listing on the control
// connection (list.go).
func (s *session) cmdSTAT(arg string) bool {
	if arg != "" {
		return s.statPath(arg)
	}
	b := []byte("211-Server status\r\n")
	b = append(b, "Connected to "...)
	b = append(b, s.raw.LocalAddr().String()...)
	b = append(b, " from "...)
	b = append(b, s.raw.RemoteAddr().String()...)
	b = append(b, " for "...)
	b = append(b, time.Since(s.since).Truncate(time.Second).String()...)
	b = append(b, '\r', '\n')
	if user := s.userName(); user != "" {
		b = append(b, "Logged in as "...)
		b = append(b, user...)
	} else {
		b = append(b, "Not logged in yet"...)
	}
	b = append(b, '\r', '\n')
	s.mu.Lock()
	t := s.transfer
	s.mu.Unlock()
	if t != nil {
		b = append(b, "Transfer connection open\r\n"...)
		b = append(b, t.direction()...)
		b = append(b, ' ')
		b = append(b, t.path...)
		b = append(b, ": "...)
		b = strconv.AppendInt(b, t.bytes.Load(), 10)
		b = append(b, " bytes\r\n"...)
	}
	b = append(b, "211 jelastic-ftp\r\n"...)
	return s.out.write(b) == nil
}

// cmdSITE answers SITE CHMOD (rootfs keeps only the permission bits, and
// the home itself keeps its mode) and SITE HELP. SYMLINK, CHOWN, MKDIR and
// RMDIR (a recursive delete) are refused.
func (s *session) cmdSITE(arg string) bool {
	sub, args, _ := strings.Cut(arg, " ")
	sub = strings.ToUpper(sub)
	switch sub {
	case "CHMOD":
		if s.readOnly {
			return s.send(replyReadOnly) == nil
		}
		mode, name, _ := strings.Cut(args, " ")
		bits, err := strconv.ParseUint(mode, 8, 32)
		if err != nil || name == "" {
			return s.send(replySiteUsage) == nil
		}
		target := s.abs(name)
		if target == "/" {
			return s.send(replyChmodHome) == nil
		}
		if err := s.fs.Chmod(target, os.FileMode(bits)); err != nil {
			return s.reply(550, err.Error()) == nil
		}
		return s.send(replySiteChmod) == nil
	case "HELP":
		return s.send(replySiteHelp) == nil
	}
	return s.reply(504, "SITE "+sub+" is not supported.") == nil
}

// cmdABOR ends the running transfer (RFC 959): an upload is discarded. The
// transfer's own reply gives way to 426, if 150 went out, and then 226.
func (s *session) cmdABOR(string) bool {
	c := s.running()
	if c == nil {
		return s.send(replyAbortDone) == nil
	}
	if c.abort() {
		if s.send(replyAborted) != nil {
			return false
		}
	}
	return s.send(replyAbortDone) == nil
}
