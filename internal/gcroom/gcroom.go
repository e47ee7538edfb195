// Package gcroom gives the garbage collector of a process with a small live heap a
// fixed room to allocate in between collections. With Go's default (GOGC=100) a heap
// of a few MiB is collected every few MiB allocated: the worker, which allocates a
// buffer or two for each 32 KiB it moves over SFTP, then spent a fifth of its CPU
// time on collections during a transfer at hundreds of MB/s.
//
// The heap may grow to max(2 × live, live + room) between collections: GOGC is set,
// after each collection, to what gives the live heap that room, never below 100.
// What a burst leaves uncollected goes back to the kernel as the runtime scavenges,
// or at once through idlemem when the process becomes idle.
package gcroom

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// maxPercent bounds GOGC when almost nothing is live (at start-up).
const maxPercent = 10_000

// Keep makes every later collection leave room bytes to allocate in, or twice the
// live heap where that is more. It lasts as long as the process.
func Keep(room uint64) {
	arm(&tuner{room: room, percent: 100})
}

type tuner struct {
	room    uint64
	percent int
}

// arm runs t.tune after the next collection: a finalizer runs once the object
// it is set on was found unreachable.
func arm(t *tuner) {
	runtime.SetFinalizer(&sentinel{t}, func(s *sentinel) { s.t.tune() })
}

type sentinel struct{ t *tuner }

func (t *tuner) tune() {
	if p := percentFor(t.room, liveHeap()); p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
	arm(t)
}

// percentFor is the GOGC that lets a live heap of live bytes grow by room bytes,
// within [100, maxPercent].
func percentFor(room, live uint64) int {
	if live == 0 || room/live >= maxPercent/100 {
		return maxPercent
	}
	return max(100, int(room*100/live))
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
