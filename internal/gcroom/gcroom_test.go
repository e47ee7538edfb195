package gcroom

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentFor(t *testing.T) {
	tests := []struct {
		room, live, scanned uint64
		want                int
	}{
		{16 << 20, 4 << 20, 4 << 20, 400},
		{16 << 20, 8 << 20, 8 << 20, 200},
		{16 << 20, 1 << 20, 2 << 20, 425},   // Go's 4 MiB × GOGC/100 floor: 17 MiB
		{16 << 20, 0, 0, 400},               // the same at start
		{16 << 20, 16 << 20, 16 << 20, 100}, // never below Go's default
		{16 << 20, 64 << 20, 64 << 20, 100},
		{1 << 40, 1 << 10, 1 << 10, maxPercent},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, percentFor(tt.room, tt.live, tt.scanned), "%+v", tt)
	}
}

var live [][]byte

// TestKeepFollowsTheLiveHeap: after collections, GOGC is what gives the live heap
// the room, and it follows the live heap as it grows.
func TestKeepFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	Keep(64 << 20)
	for range 16 {
		live = append(live, make([]byte, 1<<20))
	}
	defer func() { live = nil }()
	// The tuner runs after a collection, in the finalizer goroutine.
	gcPercent := func() int {
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}
	// About 16 MiB live: GOGC near 64/16 × 100.
	require.Eventually(t, func() bool { p := gcPercent(); return p > 200 && p <= 400 }, 10*time.Second, 10*time.Millisecond)
	for range 112 {
		live = append(live, make([]byte, 1<<20))
	}
	// About 128 MiB live: twice the live heap is more than the room.
	require.Eventually(t, func() bool { return gcPercent() == 100 }, 10*time.Second, 10*time.Millisecond)
}
