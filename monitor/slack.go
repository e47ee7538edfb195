package monitor

import (
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// workerTimerSlack is how late the kernel may wake the worker's threads from a
// timed sleep, so that it can wake them together with other timers.
//
// The Go runtime's monitor thread (sysmon) polls every 20 µs while the worker
// is busy, and each time the worker wakes from idleness (every command of a
// client that waits for the reply) it starts over at 20 µs. Each poll is a timer
// interrupt and two context switches; on virtual machines, where a timer costs
// a VM exit, that was 15 % of a small upload's time (ftplib storing 4 KiB files
// on one pinned core: 1,330 files/s with the kernel's default slack of 50 µs,
// 1,420 with 1 ms). The worker's own timers (idle timeouts, login delays) are
// whole seconds, so a millisecond more costs nothing; sysmon takes a core back
// from a thread stuck in a system call up to a millisecond later.
const workerTimerSlack = time.Millisecond

// startWithTimerSlack starts cmd with the given timer slack. A new process
// takes the timer slack of the thread that forks it, and all its threads
// inherit it, sysmon included, which the worker could not change itself: the
// runtime starts sysmon before any of our code runs, and a thread may only
// set its own slack.
func startWithTimerSlack(cmd *exec.Cmd, slack time.Duration) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack.Nanoseconds()), 0, 0, 0); err != nil {
		return fmt.Errorf("set the timer slack: %w", err)
	}
	err := cmd.Start()
	// 0 restores the thread's default before the runtime gets the thread back.
	// (It cannot fail; a thread left at the worker's slack would only wake the
	// monitor's timers a millisecond late. The thread must not end instead:
	// the worker's Pdeathsig fires when the thread that forked it exits.)
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0)
	return err
}
