// Package gcroom gives the garbage collector of a process with a small live heap a
// fixed room to allocate in between collections. With Go's default (GOGC=100) a heap
// of a few MiB is collected every few MiB allocated: the worker, which allocates a
// buffer or two for each 32 KiB it moves over SFTP, then spent a fifth of its CPU
// time on collections during a transfer at hundreds of MB/s.
//
// The heap may grow to max(2 × live, live + room) between collections: GOGC is set,
// after each collection, to what gives that room, never below 100 (GOGC is a
// percentage of the live heap and of the stacks and globals the collector scans).
// What a burst leaves uncollected goes back to the kernel as the runtime scavenges,
// or at once through idlemem when the process becomes idle.
package gcroom

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// maxPercent bounds GOGC whatever the room asked for.
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
	live, scanned := heapScan()
	if p := percentFor(t.room, live, scanned); p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
	arm(t)
}

// percentFor is the GOGC that gives room bytes to allocate after a collection that
// found live bytes live and scanned scanned bytes (live, stacks, globals), within
// [100, maxPercent]. Go never lets the heap goal fall below 4 MiB × GOGC/100, which
// bounds GOGC where little is live.
func percentFor(room, live, scanned uint64) int {
	p := uint64(maxPercent)
	if scanned > 0 {
		p = min(p, room*100/scanned)
	}
	p = min(p, (live+room)*100/minHeap)
	return int(max(p, 100))
}

// minHeap is the Go runtime's smallest heap goal at GOGC=100.
const minHeap = 4 << 20

// heapScan reads the live heap, and what GOGC is a percentage of: the live heap and
// the goroutine stacks and globals the collector scans.
func heapScan() (live, scanned uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(s)
	for i, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			scanned += v.Value.Uint64()
			if i == 0 {
				live = v.Value.Uint64()
			}
		}
	}
	return live, scanned
}
