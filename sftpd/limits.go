package sftpd

import (
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
)

// OpenSSH's sftp reads and writes 32 KiB per request unless the server answers its
// limits@openssh.com request, when it takes the server's maximum read and write
// lengths: sshd's sftp-server offers 255 KiB and so serves a file in an eighth of
// the requests (and replies, channel packets and system calls) it takes pkg/sftp,
// which knows no such extension. limitsConn adds it between the channel and
// pkg/sftp's request server: it names the extension in the server's VERSION packet
// and answers the request itself. It watches only the first few packets each way
// (a client asks right after the version exchange) and then passes bytes through.
const (
	// maxPacket is the longest packet pkg/sftp receives (its maxMsgLength).
	maxPacket = 256 << 10
	// maxData is the longest read or write offered: a whole request or reply of it
	// fits in maxPacket, as in sftp-server.
	maxData = maxPacket - 1024
	// watchedPackets is how many packets from the client may carry the request: the
	// INIT, then the request itself; a few more for clients that ask later.
	watchedPackets = 4

	fxpVersion       = 2
	fxpExtended      = 200
	fxpExtendedReply = 201
	limitsExtension  = "limits@openssh.com"
)

// limitsConn is the channel as pkg/sftp's request server reads and writes it.
type limitsConn struct {
	io.ReadWriteCloser

	watching int    // packets from the client still to look at; in Read
	in       []byte // a watched packet, or what pkg/sftp has yet to read of it

	passing atomic.Bool // nothing left to add to what pkg/sftp writes
	mu      sync.Mutex  // over writes, and the fields below
	left    int         // bytes of the packet pkg/sftp is writing still to come
	version bool        // the VERSION packet went out
	watched bool        // Read looks at no more packets
	replies []byte      // answers to send once pkg/sftp's packet is whole
}

func newLimitsConn(rwc io.ReadWriteCloser) *limitsConn {
	return &limitsConn{ReadWriteCloser: rwc, watching: watchedPackets}
}

// Read gives pkg/sftp what the client sent, less the requests for limits.
func (c *limitsConn) Read(p []byte) (int, error) {
	for len(c.in) == 0 && c.watching > 0 {
		if err := c.readPacket(); err != nil {
			return 0, err
		}
	}
	if len(c.in) > 0 {
		n := copy(p, c.in)
		c.in = c.in[n:]
		return n, nil
	}
	return c.ReadWriteCloser.Read(p)
}

// readPacket reads one packet into c.in, or answers it if it asks for limits.
func (c *limitsConn) readPacket() error {
	c.watching--
	if c.watching == 0 {
		defer c.stopWatching()
	}
	var head [4]byte
	if _, err := io.ReadFull(c.ReadWriteCloser, head[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n == 0 || n > maxPacket {
		// pkg/sftp refuses it; no more watching of a stream out of step.
		if c.watching > 0 {
			c.watching = 0
			defer c.stopWatching()
		}
		c.in = head[:]
		return nil
	}
	pkt := make([]byte, 4+n)
	copy(pkt, head[:])
	if _, err := io.ReadFull(c.ReadWriteCloser, pkt[4:]); err != nil {
		return err
	}
	if id, ok := limitsRequest(pkt[4:]); ok {
		return c.reply(limitsReply(id))
	}
	c.in = pkt
	return nil
}

// limitsRequest reads the id of an SSH_FXP_EXTENDED limits@openssh.com packet.
func limitsRequest(body []byte) (id uint32, ok bool) {
	if len(body) != 1+4+4+len(limitsExtension) || body[0] != fxpExtended {
		return 0, false
	}
	if binary.BigEndian.Uint32(body[5:]) != uint32(len(limitsExtension)) || string(body[9:]) != limitsExtension {
		return 0, false
	}
	return binary.BigEndian.Uint32(body[1:]), true
}

// limitsReply is the SSH_FXP_EXTENDED_REPLY with the limits: packet, read and write
// lengths, and no limit on open handles (0).
func limitsReply(id uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1+4+4*8)
	b = append(b, fxpExtendedReply)
	b = binary.BigEndian.AppendUint32(b, id)
	for _, v := range []uint64{maxPacket, maxData, maxData, 0} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

// reply sends b between pkg/sftp's packets.
func (c *limitsConn) reply(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		c.replies = append(c.replies, b...)
		return nil
	}
	_, err := c.ReadWriteCloser.Write(b)
	return err
}

// stopWatching lets writes pass once nothing more is to be added to them.
func (c *limitsConn) stopWatching() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watched = true
	if c.left == 0 && len(c.replies) == 0 && c.version {
		c.passing.Store(true)
	}
}

// Write passes pkg/sftp's packets on, the VERSION packet with the extension added;
// pkg/sftp writes a packet's header (with its length) and then its payload, if any.
func (c *limitsConn) Write(p []byte) (int, error) {
	if c.passing.Load() {
		return c.ReadWriteCloser.Write(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := p
	if c.left == 0 && len(p) >= 5 {
		c.left = 4 + int(binary.BigEndian.Uint32(p))
		if !c.version && p[4] == fxpVersion && c.left == len(p) {
			c.version = true
			out = withLimits(p)
		}
	}
	c.left -= len(p)
	if _, err := c.ReadWriteCloser.Write(out); err != nil {
		return 0, err
	}
	if c.left <= 0 {
		c.left = 0
		if len(c.replies) > 0 {
			_, err := c.ReadWriteCloser.Write(c.replies)
			c.replies = nil
			if err != nil {
				return len(p), err
			}
		}
		if c.watched && c.version {
			c.passing.Store(true)
		}
	}
	return len(p), nil
}

// withLimits is a VERSION packet with limits@openssh.com (version "1") added.
func withLimits(p []byte) []byte {
	b := append([]byte(nil), p...)
	for _, s := range []string{limitsExtension, "1"} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}
