package idlemem

import (
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// released reads how much heap memory the runtime has returned to the kernel.
func released() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink [][]byte

func TestReleaserReturnsMemoryWhenIdle(t *testing.T) {
	asked := make(chan struct{}, 1)
	r := New(10*time.Millisecond, func() bool {
		asked <- struct{}{}
		return true
	})
	// 64 MiB of garbage, which the runtime would keep for a while after a GC.
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	before := released()
	r.Done()
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("the releaser did not ask whether the process is idle")
	}
	require.Eventually(t, func() bool { return released() >= before+32<<20 }, time.Second, time.Millisecond,
		"released %d bytes, before %d", released(), before)
}
