package monitor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIdleWatch(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type look struct {
		at, sessions int
		exit         bool
	}
	for _, tc := range []struct {
		name  string
		limit time.Duration
		looks []look
	}{
		{"idle from the first look", 10 * time.Second, []look{{0, 0, false}, {9, 0, false}, {10, 0, true}}},
		{"a session starts the wait over", 10 * time.Second, []look{{0, 0, false}, {8, 1, false}, {12, 0, false}, {21, 0, false}, {22, 0, true}}},
		{"busy all along", 10 * time.Second, []look{{0, 2, false}, {30, 1, false}, {60, 3, false}}},
		{"a limit of 0 never exits", 0, []look{{0, 0, false}, {3600, 0, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w idleWatch
			for _, l := range tc.looks {
				require.Equal(t, l.exit, w.observe(l.sessions, at(l.at), tc.limit), "look at %ds with %d sessions", l.at, l.sessions)
			}
		})
	}
}

func TestIdleCheckEvery(t *testing.T) {
	for limit, want := range map[time.Duration]time.Duration{
		10 * time.Second: time.Second,
		5 * time.Minute:  30 * time.Second,
		24 * time.Hour:   time.Minute,
		0:                time.Minute,
	} {
		require.Equal(t, want, idleCheckEvery(limit), "limit %s", limit)
	}
}
