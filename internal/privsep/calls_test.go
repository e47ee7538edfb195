package privsep

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCalls(t *testing.T) {
	var c Calls[string]
	id1, r1, done1 := c.Start()
	id2, r2, done2 := c.Start()
	defer done1()
	defer done2()
	require.NotEqual(t, id1, id2)

	c.Deliver(id2, "two")
	c.Deliver(id1, "one")
	c.Deliver(id1, "again") // a second answer to the same request is dropped
	c.Deliver(999, "unasked")
	require.Equal(t, "one", <-r1)
	require.Equal(t, "two", <-r2)
	select {
	case v := <-r1:
		t.Fatalf("a second reply was delivered: %q", v)
	default:
	}

	id3, r3, done3 := c.Start()
	done3()
	c.Deliver(id3, "late")
	select {
	case v := <-r3:
		t.Fatalf("a reply after done was delivered: %q", v)
	default:
	}
}
