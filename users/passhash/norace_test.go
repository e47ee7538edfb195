//go:build !race

package passhash

// raceEnabled lets tests skip work the race detector slows tenfold.
const raceEnabled = false
