package ftpd

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPassivePorts(t *testing.T) {
	tests := []struct {
		name     string
		min, max int
		attempts int
	}{
		{"one port", 30000, 30000, 1},
		{"narrow range: every port", 30000, 30009, 10},
		{"default range: bounded", 10100, 12000, maxPortAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := passivePorts{min: tt.min, max: tt.max}
			assert.Equal(t, tt.attempts, p.attempts())
			seen := map[int]bool{}
			for range 20 * (tt.max - tt.min + 1) {
				listened := p.next()
				assert.GreaterOrEqual(t, listened, tt.min)
				assert.LessOrEqual(t, listened, tt.max)
				seen[listened] = true
			}
			if tt.max-tt.min < 10 {
				// Twenty draws per port: every port of a narrow range comes up.
				assert.Len(t, seen, tt.max-tt.min+1)
			}
		})
	}
}
