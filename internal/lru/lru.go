// Package lru is a map bounded to a number of entries that drops the one used longest
// ago when a new one would not fit: every operation is O(1), so a flood of new keys
// costs no scan. The monitor's login throttle and the worker's ban table keep their
// records in it.
package lru

import (
	"container/list"
	"iter"
)

// Map is a bounded map; it is not safe for concurrent use.
type Map[K comparable, V any] struct {
	max   int
	index map[K]*list.Element
	order list.List // front: used most recently
}

type entry[K comparable, V any] struct {
	key K
	val V
}

// New returns an empty map that holds at most max entries.
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{max: max, index: map[K]*list.Element{}}
}

// Get returns the value of k and marks it used.
func (c *Map[K, V]) Get(k K) (V, bool) {
	e, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*entry[K, V]).val, true
}

// Peek returns the value of k without marking it used.
func (c *Map[K, V]) Peek(k K) (V, bool) {
	e, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	return e.Value.(*entry[K, V]).val, true
}

// Put sets the value of k and marks it used, dropping the entry used longest ago
// when the map is full.
func (c *Map[K, V]) Put(k K, v V) {
	if e, ok := c.index[k]; ok {
		e.Value.(*entry[K, V]).val = v
		c.order.MoveToFront(e)
		return
	}
	if len(c.index) >= c.max {
		c.Remove(c.order.Back().Value.(*entry[K, V]).key)
	}
	c.index[k] = c.order.PushFront(&entry[K, V]{key: k, val: v})
}

// Remove drops k, if present.
func (c *Map[K, V]) Remove(k K) {
	if e, ok := c.index[k]; ok {
		c.order.Remove(e)
		delete(c.index, k)
	}
}

// Oldest returns the entry used longest ago.
func (c *Map[K, V]) Oldest() (K, V, bool) {
	e := c.order.Back()
	if e == nil {
		var k K
		var v V
		return k, v, false
	}
	en := e.Value.(*entry[K, V])
	return en.key, en.val, true
}

// All yields the entries from the one used longest ago to the newest; the map must
// not change meanwhile.
func (c *Map[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for e := c.order.Back(); e != nil; e = e.Prev() {
			en := e.Value.(*entry[K, V])
			if !yield(en.key, en.val) {
				return
			}
		}
	}
}

// Len is the number of entries.
func (c *Map[K, V]) Len() int { return len(c.index) }
