package ftpd

import (
	"log/slog"
	"strings"
)

// spec is how the session treats one FTP command.
type spec struct {
	// handle runs the command; false ends the session.
	handle func(s *session, arg string) bool
	// open allows the command before login.
	open bool
	// tls is what the command needs when TLS is required.
	tls tlsNeed
	// writes refuses the command to read-only accounts.
	writes bool
	// special commands run while a transfer runs (ABOR, and STAT without an
	// argument); any other waits for it to end.
	special bool
	// feat is the command's line in the FEAT reply, if any; FEAT lists
	// them in featOrder.
	feat string
}

type tlsNeed int

const (
	tlsNone    tlsNeed = iota
	tlsControl         // AUTH TLS first
	tlsData            // PROT P first: the command sets up a data connection
)

// notImplemented answers the commands of RFC 959 and its extensions that
// this server does not offer.
func notImplemented(s *session, _ string) bool { return s.send(replyNotImplemented) == nil }

// commands is the command table. It is filled in init, as its handlers
// reach back to it (FEAT, HELP).
var commands map[string]*spec

func init() {
	commands = map[string]*spec{
		// Login and security (commands_auth.go).
		"USER": {handle: (*session).cmdUSER, open: true, tls: tlsControl},
		"PASS": {handle: (*session).cmdPASS, open: true},
		"AUTH": {handle: (*session).cmdAUTH, open: true, feat: "AUTH TLS"},
		"PBSZ": {handle: (*session).cmdPBSZ, open: true, feat: "PBSZ"},
		"PROT": {handle: (*session).cmdPROT, open: true, feat: "PROT"},
		"QUIT": {handle: (*session).cmdQUIT, open: true},

		// Session (commands_misc.go).
		"FEAT": {handle: (*session).cmdFEAT, open: true},
		"SYST": {handle: (*session).cmdSYST, open: true},
		"NOOP": {handle: (*session).cmdNOOP, open: true},
		"CLNT": {handle: (*session).cmdCLNT, open: true, feat: "CLNT"},
		"OPTS": {handle: (*session).cmdOPTS, open: true, feat: "UTF8"},
		"HOST": {handle: (*session).cmdHOST, open: true, feat: "HOST"},
		"TYPE": {handle: (*session).cmdTYPE},
		"MODE": {handle: (*session).cmdMODE},
		"STRU": {handle: (*session).cmdSTRU},
		"STAT": {handle: (*session).cmdSTAT, special: true},
		"SITE": {handle: (*session).cmdSITE},
		"ABOR": {handle: (*session).cmdABOR, special: true},

		// Folders and files (commands_files.go).
		"PWD":  {handle: (*session).cmdPWD},
		"XPWD": {handle: (*session).cmdPWD},
		"CWD":  {handle: (*session).cmdCWD},
		"XCWD": {handle: (*session).cmdCWD},
		"CDUP": {handle: (*session).cmdCDUP},
		"XCUP": {handle: (*session).cmdCDUP},
		"MKD":  {handle: (*session).cmdMKD, writes: true},
		"XMKD": {handle: (*session).cmdMKD, writes: true},
		"RMD":  {handle: (*session).cmdRMD, writes: true},
		"XRMD": {handle: (*session).cmdRMD, writes: true},
		"DELE": {handle: (*session).cmdDELE, writes: true},
		"RNFR": {handle: (*session).cmdRNFR, writes: true},
		"RNTO": {handle: (*session).cmdRNTO, writes: true},
		"SIZE": {handle: (*session).cmdSIZE, feat: "SIZE"},
		"MDTM": {handle: (*session).cmdMDTM, feat: "MDTM"},
		"MFMT": {handle: (*session).cmdMFMT, writes: true, feat: "MFMT"},
		"ALLO": {handle: (*session).cmdALLO, writes: true},
		"HASH": {handle: (*session).cmdHASH, feat: "HASH"},

		// Data connections (data.go).
		"PASV": {handle: (*session).cmdPASV, tls: tlsData},
		"EPSV": {handle: (*session).cmdEPSV, tls: tlsData, feat: "EPSV"},
		"PORT": {handle: (*session).cmdPORT, tls: tlsData},
		"EPRT": {handle: (*session).cmdEPRT, tls: tlsData, feat: "EPRT"},

		// Transfers (transfer.go) and listings (list.go).
		"RETR": {handle: (*session).cmdRETR},
		"STOR": {handle: (*session).cmdSTOR, writes: true},
		"APPE": {handle: (*session).cmdAPPE, writes: true},
		"REST": {handle: (*session).cmdREST, feat: "REST STREAM"},
		"LIST": {handle: (*session).cmdLIST},
		"NLST": {handle: (*session).cmdNLST},
		"MLSD": {handle: (*session).cmdMLSD, feat: "MLSD"},
		"MLST": {handle: (*session).cmdMLST, feat: "MLST type*;size*;modify*;"},
	}
	for name, algo := range hashCommands {
		commands[name] = &spec{handle: algo.handle, feat: name}
	}
	for _, name := range []string{"ACCT", "ADAT", "CCC", "CONF", "ENC", "MIC", "CSID", "HELP", "LANG",
		"XRSQ", "XSEM", "XSEN", "DSIZ", "MFF", "MFCT", "STOU", "THMB", "XRCP", "RMDA", "SMNT",
		"LPSV", "SPSV", "LRPT", "REIN", "AVBL", "COMB"} {
		commands[name] = &spec{handle: notImplemented}
	}
}

// specialSuffixes are the commands a client may send behind Telnet IP and
// Synch characters (RFC 959, ABOR): a verb that ends with one is that one.
var specialSuffixes = []string{"ABOR", "STAT", "QUIT"}

// lookup returns the command called verb, or nil.
func lookup(verb string) *spec {
	if c := commands[verb]; c != nil {
		return c
	}
	for _, name := range specialSuffixes {
		if strings.HasSuffix(verb, name) {
			return commands[name]
		}
	}
	return nil
}

// duringTransfer tells whether the command runs while a transfer runs.
func (c *spec) duringTransfer(arg string) bool {
	return c.special && (arg == "" || c == commands["ABOR"])
}

// dispatch checks a command against the session's state and runs it.
func (s *session) dispatch(c *spec, verb, arg string) bool {
	switch {
	case c == nil:
		s.warn("unknown command", "command", verb)
		return s.reply(500, "Unknown command \""+verb+"\".") == nil
	case !c.open && !s.loggedIn.Load():
		return s.send(replyLoginFirst) == nil
	case s.conf.RequireTLS && c.tls == tlsControl && !s.tlsActive():
		return s.send(replyTLSFirst) == nil
	case s.conf.RequireTLS && c.tls == tlsData && !s.protP:
		return s.send(replyProtFirst) == nil
	case c.writes && s.readOnly:
		return s.send(replyReadOnly) == nil
	}
	return c.handle(s, arg)
}

func (s *session) tlsActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsOn
}

// warnBurst is how many lines of one kind of warning a session logs before
// it only counts them; the count is logged when the session ends.
const warnBurst = 5

// warnLimiter bounds the warnings a session logs for what its client keeps
// doing (unknown commands, say): the first few, then one summary line.
type warnLimiter struct {
	counts map[string]int
}

// warn logs a warning about the client, the first warnBurst times per message.
func (s *session) warn(msg string, args ...any) {
	if s.warnings.counts == nil {
		s.warnings.counts = map[string]int{}
	}
	n := s.warnings.counts[msg] + 1
	s.warnings.counts[msg] = n
	switch {
	case n < warnBurst:
		s.report(slog.LevelWarn, msg, args...)
	case n == warnBurst:
		s.report(slog.LevelWarn, msg, append(args, "note", "further ones are only counted")...)
	}
}

// flush logs how many warnings were left out, once the session ends.
func (w *warnLimiter) flush(s *session) {
	for msg, n := range w.counts {
		if n > warnBurst {
			s.report(slog.LevelWarn, "warnings left out", "warning", msg, "count", n-warnBurst)
		}
	}
}
