// Package privsep is the channel between the privileged monitor and the unprivileged
// FTP worker: a SOCK_SEQPACKET socketpair carrying one JSON message per packet. The
// monitor treats everything arriving on it as hostile input from a process that
// parses network data, so messages are small, strictly decoded and bounded.
package privsep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// MaxMessage bounds one packet; the largest is the worker's configuration with its
// certificate chain and key. It stays below the kernel's default socket buffer, which
// bounds a SOCK_SEQPACKET message.
const MaxMessage = 64 << 10

// Kinds of messages.
const (
	KindConfig    = "config"     // monitor → worker: (new) settings
	KindAuth      = "auth"       // worker → monitor: check a login
	KindAuthReply = "auth-reply" // monitor → worker
	KindXferlog   = "xferlog"    // worker → monitor: one transfer log line
	KindSessions  = "sessions"   // monitor → worker: list sessions; worker → monitor: the list
	KindSweep     = "sweep"      // worker → monitor: how far the sweep of upload leftovers got
	// KindEnd is monitor → worker: end a user's sessions, as access was taken away;
	// worker → monitor: how many it ended.
	KindEnd = "end-sessions"
	// KindBans is monitor → worker: bans to refuse at accept, one when it is set and
	// all running ones, in batches, when a worker starts.
	KindBans = "bans"
	// KindUnban is monitor → worker: lift bans before their time, as an operator asked
	// (`ftpctl unban`); worker → monitor, with the same ID and no payload: lifted. The
	// worker lifts no ban of its own accord.
	KindUnban = "unban"
)

// The descriptors the worker inherits, numbered from 3 in this one list; it is started
// with these and stdin, stdout and stderr, and no other. ExtraFiles lays them out.
const (
	ListenerFD            = 3 + iota // the FTP listening socket
	ChannelFD                        // the worker's end of this channel
	ImplicitTLSListenerFD            // the implicit FTPS listening socket, when implicit_tls_listen is set
	SFTPListenerFD                   // the SFTP listening socket, when WorkerConfig.SFTP is set
	endFD                            // one past the last descriptor
)

// ExtraFiles returns os/exec's ExtraFiles for the worker: each file at its descriptor
// number from the list above. A descriptor given no file is closed in the worker.
func ExtraFiles(files map[int]*os.File) []*os.File {
	extra := make([]*os.File, endFD-3) // ExtraFiles[0] is descriptor 3
	for fd, f := range files {
		extra[fd-3] = f
	}
	return extra
}

// EnvMarker is set by the monitor so that the hidden worker command refuses to run
// when started any other way.
const EnvMarker = "JELASTIC_FTP_WORKER"

// ShutdownGrace is how long running transfers may continue after SIGTERM. The monitor
// waits a little longer for the worker, and install and the systemd unit longer still.
const ShutdownGrace = 30 * time.Second

// MaxSessionsListed bounds a sessions reply to what fits a packet; the count is exact.
const MaxSessionsListed = 200

// Message is one packet. Exactly the field that matches Kind is set.
type Message struct {
	Kind   string        `json:"kind"`
	ID     uint64        `json:"id,omitempty"`
	Config *WorkerConfig `json:"config,omitempty"`
	Auth   *AuthRequest  `json:"auth,omitempty"`
	Reply  *AuthReply    `json:"reply,omitempty"`
	Line   string        `json:"line,omitempty"`
	// Sessions answers a KindSessions request; a request carries none.
	Sessions *SessionList `json:"sessions,omitempty"`
	Sweep    *SweepState  `json:"sweep,omitempty"`
	End      *EndSessions `json:"end,omitempty"`
	Bans     []Ban        `json:"bans,omitempty"`
	Unban    *Unban       `json:"unban,omitempty"`
}

// Ban is one running ban: connections from Source, an IPv4 address or an IPv6 /64
// (admission.Source), are refused until Until. The worker ends each at its time by
// itself; only an operator's KindUnban lifts one before.
type Ban struct {
	Source netip.Prefix `json:"source"`
	Until  time.Time    `json:"until"`
}

// MaxBansPerMessage bounds a KindBans message so that it fits a packet: a ban takes
// at most about 90 bytes. A full table (admission.MaxBans) goes in MaxBanBatches.
const (
	MaxBansPerMessage = 500
	MaxBanBatches     = (admission.MaxBans + MaxBansPerMessage - 1) / MaxBansPerMessage
)

func validBans(bans []Ban) bool {
	if len(bans) == 0 || len(bans) > MaxBansPerMessage {
		return false
	}
	for _, b := range bans {
		if !admission.IsSource(b.Source) || b.Until.IsZero() {
			return false
		}
	}
	return true
}

// Unban names the bans to lift: those of Sources, or every one with All. It is also
// the request of `ftpctl unban` on the control socket.
type Unban struct {
	All     bool           `json:"all,omitempty"`
	Sources []netip.Prefix `json:"sources,omitempty"`
}

// Valid reports whether u names either all bans or 1 to MaxBansPerMessage sources,
// each what admission.Source returns.
func (u *Unban) Valid() bool {
	if u.All {
		return len(u.Sources) == 0
	}
	if len(u.Sources) == 0 || len(u.Sources) > MaxBansPerMessage {
		return false
	}
	for _, s := range u.Sources {
		if !admission.IsSource(s) {
			return false
		}
	}
	return true
}

// EndSessions ends the sessions of one user, and answers with how many ended.
type EndSessions struct {
	User   string    `json:"user"`
	Reason EndReason `json:"reason"`
	// Keep holds the address blocks whose sessions stay (the user's new allow-from);
	// empty, none stay.
	Keep []netip.Prefix `json:"keep,omitempty"`
	// Ended is the answer: how many sessions were closed.
	Ended int `json:"ended"`
}

// EndReason is why a user's sessions end; the worker tells the client in its words.
type EndReason string

// The reasons sessions end.
const (
	EndDeleted  EndReason = "deleted"  // the account is gone
	EndDisabled EndReason = "disabled" // it may not log in any more: disabled or expired
	EndPassword EndReason = "password" // its password changed
	EndChanged  EndReason = "changed"  // its home, permissions or addresses changed
)

// Stays reports whether a session from addr stays.
func (e *EndSessions) Stays(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range e.Keep {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Sentence is what a client whose session ends for r is told.
func (r EndReason) Sentence() string {
	switch r {
	case EndDeleted:
		return "This account was deleted; closing the session."
	case EndDisabled:
		return "This account may no longer log in; closing the session."
	case EndPassword:
		return "The password of this account was changed; log in again with the new one."
	}
	return "The access of this account was changed; log in again."
}

// MaxKeep bounds EndSessions.Keep, so that the message fits a packet.
const MaxKeep = 1000

// maxUserName bounds a user name in an EndSessions message (useradd's own limit is 32).
const maxUserName = 256

// Valid reports whether e is a message the receiving end accepts.
func (e *EndSessions) Valid() bool {
	switch e.Reason {
	case EndDeleted, EndDisabled, EndPassword, EndChanged:
	default:
		return false
	}
	for _, p := range e.Keep {
		if !p.IsValid() {
			return false
		}
	}
	return e.User != "" && len(e.User) <= maxUserName && !strings.ContainsFunc(e.User, unicode.IsControl) &&
		len(e.Keep) <= MaxKeep && e.Ended >= 0
}

// SweepState is where the worker's sweep of upload leftovers got: the folder it
// was in, "" when it visited the whole tree. The monitor hands it to the next worker,
// which goes on from there.
type SweepState struct {
	Cursor string `json:"cursor"`
}

// SessionList is the worker's view of its sessions for `ftpctl status`.
type SessionList struct {
	Count    int       `json:"count"`
	Sessions []Session `json:"list"`
}

// Session is one client connection.
type Session struct {
	User     string    `json:"user,omitempty"`
	Client   string    `json:"client"`
	Since    time.Time `json:"since"`
	TLS      bool      `json:"tls"`
	Protocol Protocol  `json:"protocol,omitempty"` // "" in a list from a worker without SFTP: FTP
	Transfer *Transfer `json:"transfer,omitempty"`
}

// Transfer is a file transfer in progress.
type Transfer struct {
	Direction string    `json:"direction"`
	Path      string    `json:"path"`
	Bytes     int64     `json:"bytes"`
	Since     time.Time `json:"since"`
}

// WorkerConfig is everything the worker needs to serve; it cannot read the
// configuration or the key itself once it has dropped its privileges.
type WorkerConfig struct {
	Root                    string        `json:"root"`
	UID                     int           `json:"uid"`
	GID                     int           `json:"gid"`
	Umask                   uint32        `json:"umask"`
	PassivePortMin          int           `json:"passive_port_min"`
	PassivePortMax          int           `json:"passive_port_max"`
	PublicHost              string        `json:"public_host"`
	CertPEM                 []byte        `json:"cert_pem,omitempty"`
	KeyPEM                  []byte        `json:"key_pem,omitempty"`
	RequireTLS              bool          `json:"require_tls"`
	RequireSessionReuse     bool          `json:"require_session_reuse"`
	MinTLSVersion           uint16        `json:"min_tls_version"`
	IdleTimeout             time.Duration `json:"idle_timeout"`
	MaxSessions             int           `json:"max_sessions"`
	MaxSessionsPerIP        int           `json:"max_sessions_per_ip"`
	LoginAttemptsPerSession int           `json:"login_attempts_per_session"`
	FailedLoginDelay        time.Duration `json:"failed_login_delay"`
	ActiveMode              bool          `json:"active_mode"`
	AtomicUploads           bool          `json:"atomic_uploads"`
	MaxCommandLength        int           `json:"max_command_length"`

	// Login deadline and the caps of sessions before login and per user.
	LoginTimeout                time.Duration `json:"login_timeout"`
	MaxSessionsBeforeLogin      int           `json:"max_sessions_before_login"`
	MaxSessionsBeforeLoginPerIP int           `json:"max_sessions_before_login_per_ip"`
	MaxSessionsPerUser          int           `json:"max_sessions_per_user"`
	// TransferLog asks the worker to send xferlog lines; the monitor owns the file, so
	// it can reopen it on SIGHUP after log rotation.
	TransferLog bool `json:"transfer_log"`
	// Chroot is false when the monitor runs without root (development, the demo).
	Chroot bool `json:"chroot"`
	// ImplicitTLS says the worker was given a listener on ImplicitTLSListenerFD.
	ImplicitTLS bool `json:"implicit_tls,omitempty"`
	// SweepFrom is where the previous worker's sweep of upload leftovers stopped.
	SweepFrom string `json:"sweep_from,omitempty"`
	// SFTP says the worker inherited an SFTP listener (SFTPListenerFD); HostKeysPEM are
	// the SSH host keys it signs with, handed over as the TLS key is.
	SFTP        bool     `json:"sftp,omitempty"`
	HostKeysPEM [][]byte `json:"host_keys_pem,omitempty"`
	// BanBatches is how many KindBans messages follow the first settings a worker
	// gets: the running bans, which it takes before it serves. 0 in a reload.
	BanBatches int `json:"ban_batches,omitempty"`
}

// AuthRequest asks the monitor to check a login.
type AuthRequest struct {
	User     string   `json:"user"`
	Password string   `json:"password"`
	Client   string   `json:"client"`
	Protocol Protocol `json:"protocol"`
	// TLS tells whether an FTP session logged in over TLS, for the record of last logins.
	TLS bool `json:"tls,omitempty"`
	// PublicKey, in SSH wire format, asks whether the key may log in instead of a
	// password; only over SFTP, and with no password.
	PublicKey []byte `json:"public_key,omitempty"`
}

// MaxPublicKey bounds a public key in a login request: an RSA key of 16384 bits
// takes about 2 KiB.
const MaxPublicKey = 8 << 10

func (r AuthRequest) valid() bool {
	return r.Protocol.valid() && (r.PublicKey == nil || r.Protocol == ProtocolSFTP && r.Password == "" && len(r.PublicKey) <= MaxPublicKey)
}

// Protocol is what a session speaks; the monitor records it with the last login.
type Protocol string

// The protocols of the worker.
const (
	ProtocolFTP  Protocol = "ftp"
	ProtocolSFTP Protocol = "sftp"
)

func (p Protocol) valid() bool { return p == ProtocolFTP || p == ProtocolSFTP }

// AuthReply answers an AuthRequest. Home is relative to the FTP root, because the
// worker lives inside it.
type AuthReply struct {
	OK   bool   `json:"ok"`
	Home string `json:"home,omitempty"`
	// Permissions and MaxSessions are the user's, from users.toml.
	Permissions perm.Set `json:"permissions,omitzero"`
	MaxSessions int      `json:"max_sessions,omitempty"`
	// Failure is set when OK is not: the worker needs to know whether to count an
	// attempt or to close the session, never why a login was refused.
	Failure Failure `json:"failure,omitempty"`
}

// Failure is why a login did not succeed, as far as the worker needs to know.
type Failure string

// The failures a reply may carry.
const (
	FailureBadLogin Failure = "bad-login" // wrong name or password, or an account that may not log in
	FailureBanned   Failure = "banned"    // the client address is banned for failing too often
	FailureError    Failure = "error"     // the monitor could not check: not the client's fault
)

// valid reports whether a reply's failure matches its outcome.
func (r AuthReply) valid() bool {
	switch r.Failure {
	case "":
		return r.OK
	case FailureBadLogin, FailureBanned, FailureError:
		return !r.OK
	}
	return false
}

// Pair returns the two ends of a new channel; the child's end is for ExtraFiles.
func Pair() (parent *Conn, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	pf := os.NewFile(uintptr(fds[0]), "privsep-monitor")
	child = os.NewFile(uintptr(fds[1]), "privsep-worker")
	parent, err = FromFile(pf)
	pf.Close()
	if err != nil {
		child.Close()
		return nil, nil, err
	}
	return parent, child, nil
}

// Conn is one end of the channel; Send may be called concurrently, Recv from one
// goroutine at a time.
type Conn struct {
	c   *net.UnixConn
	wmu sync.Mutex
	buf []byte
}

// FromFile wraps an inherited socketpair end; f may be closed afterwards.
func FromFile(f *os.File) (*Conn, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("privsep channel: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("privsep channel: not a unix socket")
	}
	return &Conn{c: uc, buf: make([]byte, MaxMessage+1)}, nil
}

// Send writes one message as one packet.
func (c *Conn) Send(m Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("privsep send: %w", err)
	}
	if len(data) > MaxMessage {
		return fmt.Errorf("privsep send: %s message of %d bytes exceeds %d", m.Kind, len(data), MaxMessage)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.c.Write(data); err != nil {
		return fmt.Errorf("privsep send: %w", err)
	}
	return nil
}

// Recv reads one packet and decodes it strictly: unknown fields, a kind without its
// payload or an oversized packet are errors, after which the peer is not trusted.
func (c *Conn) Recv() (Message, error) {
	n, _, flags, _, err := c.c.ReadMsgUnix(c.buf, nil)
	if err != nil {
		return Message{}, err
	}
	if n == 0 {
		return Message{}, errors.New("privsep: peer closed the channel")
	}
	if n > MaxMessage || flags&unix.MSG_TRUNC != 0 {
		return Message{}, fmt.Errorf("privsep: packet larger than %d bytes", MaxMessage)
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(c.buf[:n]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("privsep: bad message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Message{}, errors.New("privsep: bad message: data after the JSON value")
	}
	if !m.wellFormed() {
		return Message{}, fmt.Errorf("privsep: malformed %q message", m.Kind)
	}
	return m, nil
}

func (m Message) wellFormed() bool {
	p := m.payload()
	switch m.Kind {
	case KindConfig:
		return p == "config" && m.Config.BanBatches >= 0 && m.Config.BanBatches <= MaxBanBatches
	case KindAuth:
		return p == "auth" && m.Auth.valid() && m.ID != 0
	case KindAuthReply:
		return p == "reply" && m.Reply.valid() && m.ID != 0
	case KindXferlog:
		return p == "line" && m.ID == 0 && validLogLine(m.Line)
	case KindSessions:
		// A request carries no list.
		return (p == "" || p == "sessions" && len(m.Sessions.Sessions) <= MaxSessionsListed) && m.ID != 0
	case KindSweep:
		return p == "sweep" && m.ID == 0 && len(m.Sweep.Cursor) <= MaxLogLine && !strings.ContainsAny(m.Sweep.Cursor, "\x00\n")
	case KindEnd:
		return p == "end" && m.End.Valid() && m.ID != 0
	case KindBans:
		return p == "bans" && m.ID == 0 && validBans(m.Bans)
	case KindUnban:
		// The worker's answer carries nothing.
		return m.ID != 0 && (p == "" || p == "unban" && m.Unban.Valid())
	}
	return false
}

// payload names the one payload field m carries: "" for none, "several" for more.
func (m Message) payload() string {
	name := ""
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"config", m.Config != nil}, {"auth", m.Auth != nil}, {"reply", m.Reply != nil}, {"line", m.Line != ""},
		{"sessions", m.Sessions != nil}, {"sweep", m.Sweep != nil}, {"end", m.End != nil}, {"bans", m.Bans != nil},
		{"unban", m.Unban != nil},
	} {
		switch {
		case !f.set:
		case name != "":
			return "several"
		default:
			name = f.name
		}
	}
	return name
}

// MaxLogLine bounds one transfer log line.
const MaxLogLine = 4096

// validLogLine accepts exactly one line, so a worker cannot forge several entries.
func validLogLine(l string) bool {
	n := len(l)
	return n > 1 && n <= MaxLogLine && l[n-1] == '\n' && !strings.ContainsAny(l[:n-1], "\n\r")
}

// Close closes this end.
func (c *Conn) Close() error { return c.c.Close() }
