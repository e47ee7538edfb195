package monitor

import "container/list"

// lru is a map bounded to max entries that drops the one used longest ago when a new
// one would not fit: every operation is O(1), so a flood of new keys costs no scan.
type lru[K comparable, V any] struct {
	max   int
	index map[K]*list.Element
	order list.List // front: used most recently
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, index: map[K]*list.Element{}}
}

// get returns the value of k and marks it used.
func (c *lru[K, V]) get(k K) (V, bool) {
	e, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).val, true
}

// peek returns the value of k without marking it used.
func (c *lru[K, V]) peek(k K) (V, bool) {
	e, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	return e.Value.(*lruEntry[K, V]).val, true
}

// put sets the value of k and marks it used, dropping the entry used longest ago
// when the map is full.
func (c *lru[K, V]) put(k K, v V) {
	if e, ok := c.index[k]; ok {
		e.Value.(*lruEntry[K, V]).val = v
		c.order.MoveToFront(e)
		return
	}
	if len(c.index) >= c.max {
		c.remove(c.order.Back().Value.(*lruEntry[K, V]).key)
	}
	c.index[k] = c.order.PushFront(&lruEntry[K, V]{key: k, val: v})
}

func (c *lru[K, V]) remove(k K) {
	if e, ok := c.index[k]; ok {
		c.order.Remove(e)
		delete(c.index, k)
	}
}

// oldest returns the entry used longest ago.
func (c *lru[K, V]) oldest() (K, V, bool) {
	e := c.order.Back()
	if e == nil {
		var k K
		var v V
		return k, v, false
	}
	en := e.Value.(*lruEntry[K, V])
	return en.key, en.val, true
}

func (c *lru[K, V]) len() int { return len(c.index) }
