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
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

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
)

// The descriptors the worker inherits, in os/exec ExtraFiles order; it is started
// with these and stdin, stdout and stderr, and no other.
const (
	ListenerFD     = 3 // the FTP listening socket
	ChannelFD      = 4 // the worker's end of this channel
	SFTPListenerFD = 5 // the SFTP listening socket, when WorkerConfig.SFTP is set
)

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
}

// SweepState is where the worker's sweep of upload leftovers got: the last path it
// visited, "" when it visited the whole tree. The monitor hands it to the next worker,
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
	// SweepFrom is where the previous worker's sweep of upload leftovers stopped.
	SweepFrom string `json:"sweep_from,omitempty"`
	// SFTP says the worker inherited an SFTP listener (SFTPListenerFD); HostKeysPEM are
	// the SSH host keys it signs with, handed over as the TLS key is.
	SFTP        bool     `json:"sftp,omitempty"`
	HostKeysPEM [][]byte `json:"host_keys_pem,omitempty"`
}

// AuthRequest asks the monitor to check a login.
type AuthRequest struct {
	User     string   `json:"user"`
	Password string   `json:"password"`
	Client   string   `json:"client"`
	Protocol Protocol `json:"protocol"`
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
	OK       bool   `json:"ok"`
	Home     string `json:"home,omitempty"`
	ReadOnly bool   `json:"read_only,omitempty"`
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
	switch m.Kind {
	case KindConfig:
		return m.Config != nil && m.Auth == nil && m.Reply == nil && m.Line == "" && m.Sessions == nil && m.Sweep == nil
	case KindAuth:
		return m.Auth != nil && m.Auth.valid() && m.Config == nil && m.Reply == nil && m.Line == "" && m.Sessions == nil && m.Sweep == nil && m.ID != 0
	case KindAuthReply:
		return m.Reply != nil && m.Reply.valid() && m.Config == nil && m.Auth == nil && m.Line == "" && m.Sessions == nil && m.Sweep == nil && m.ID != 0
	case KindXferlog:
		return m.Config == nil && m.Auth == nil && m.Reply == nil && m.Sessions == nil && m.Sweep == nil && m.ID == 0 && validLogLine(m.Line)
	case KindSessions:
		return m.Config == nil && m.Auth == nil && m.Reply == nil && m.Line == "" && m.Sweep == nil && m.ID != 0 &&
			(m.Sessions == nil || len(m.Sessions.Sessions) <= MaxSessionsListed)
	case KindSweep:
		return m.Sweep != nil && m.Config == nil && m.Auth == nil && m.Reply == nil && m.Line == "" && m.Sessions == nil && m.ID == 0 &&
			len(m.Sweep.Cursor) <= MaxLogLine && !strings.ContainsAny(m.Sweep.Cursor, "\x00\n")
	}
	return false
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
