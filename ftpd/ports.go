package ftpd

import "math/rand/v2"

// maxPortAttempts bounds the ports tried for one passive listener.
const maxPortAttempts = 64

// passivePorts draws candidate ports for a passive listener from the
// configured range.
//
// ftpserverlib's own PortRange draws as many candidates as the range is
// wide, each from crypto/rand through math/big, on every PASV: over a
// millisecond for the default range of 1,901 ports, paid by every file a
// client transfers. math/rand/v2's generator is ChaCha8, seeded by the
// runtime from the kernel, so the next port is no easier to guess; a port
// that is guessed still only accepts the session's client (dataListener).
// With maxPortAttempts random candidates, a listener is found unless nearly
// the whole range is taken (at 90 % taken, one PASV in a thousand fails).
type passivePorts struct{ min, max int }

func (p passivePorts) FetchNext() (exposed, listened int, ok bool) {
	port := p.min + rand.IntN(p.max-p.min+1)
	return port, port, true
}

func (p passivePorts) NumberAttempts() int { return min(p.max-p.min+1, maxPortAttempts) }
