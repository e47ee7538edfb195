package ftpd

import "math/rand/v2"

// maxPortAttempts bounds the ports tried for one passive listener.
const maxPortAttempts = 64

// passivePorts draws candidate ports for a passive listener from the
// configured range.
//
// math/rand/v2's generator is ChaCha8, seeded by the runtime from the
// kernel, so the next port is no easier to guess than from crypto/rand, and
// a draw costs nanoseconds; a port that is guessed still only accepts the
// session's client (passive). With maxPortAttempts random candidates, a
// listener is found unless nearly the whole range is taken (at 90 % taken,
// one PASV in a thousand fails).
type passivePorts struct{ min, max int }

func (p passivePorts) next() int { return p.min + rand.IntN(p.max-p.min+1) }

func (p passivePorts) attempts() int { return min(p.max-p.min+1, maxPortAttempts) }
