package lru

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMap(t *testing.T) {
	tests := []struct {
		name string
		run  func(m *Map[string, int])
		want []string // keys, oldest first
	}{
		{"fills up to max", func(m *Map[string, int]) { m.Put("a", 1); m.Put("b", 2); m.Put("c", 3) }, []string{"a", "b", "c"}},
		{"drops the oldest when full", func(m *Map[string, int]) {
			m.Put("a", 1)
			m.Put("b", 2)
			m.Put("c", 3)
			m.Put("d", 4)
		}, []string{"b", "c", "d"}},
		{"get marks used", func(m *Map[string, int]) {
			m.Put("a", 1)
			m.Put("b", 2)
			m.Put("c", 3)
			m.Get("a")
			m.Put("d", 4)
		}, []string{"c", "a", "d"}},
		{"peek does not", func(m *Map[string, int]) {
			m.Put("a", 1)
			m.Put("b", 2)
			m.Put("c", 3)
			m.Peek("a")
			m.Put("d", 4)
		}, []string{"b", "c", "d"}},
		{"put again marks used", func(m *Map[string, int]) { m.Put("a", 1); m.Put("b", 2); m.Put("a", 9) }, []string{"b", "a"}},
		{"remove", func(m *Map[string, int]) { m.Put("a", 1); m.Put("b", 2); m.Remove("a"); m.Remove("x") }, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New[string, int](3)
			tt.run(m)
			var keys []string
			for k := range m.All() {
				keys = append(keys, k)
			}
			require.Equal(t, tt.want, keys)
			require.Equal(t, len(tt.want), m.Len())
			k, _, ok := m.Oldest()
			require.True(t, ok)
			require.Equal(t, tt.want[0], k)
		})
	}
	m := New[string, int](2)
	_, _, ok := m.Oldest()
	require.False(t, ok, "an empty map has no oldest entry")
	m.Put("a", 1)
	m.Put("a", 2)
	v, ok := m.Peek("a")
	require.True(t, ok)
	require.Equal(t, 2, v, "put replaces the value")
}
