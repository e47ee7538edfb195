package monitor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func timerSlack(t *testing.T, procDir string) int64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(procDir, "timerslack_ns"))
	require.NoError(t, err)
	ns, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	require.NoError(t, err)
	return ns
}

func TestStartWithTimerSlack(t *testing.T) {
	for _, slack := range []time.Duration{time.Millisecond, 3 * time.Millisecond} {
		t.Run(slack.String(), func(t *testing.T) {
			cmd := exec.Command("sleep", "30")
			require.NoError(t, startWithTimerSlack(cmd, slack))
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			require.Equal(t, slack.Nanoseconds(), timerSlack(t, filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid))))

			// The thread that forked goes back to the runtime with its own slack.
			// (A thread's timerslack_ns is under /proc/TID, not under task/TID.)
			tasks, err := os.ReadDir("/proc/self/task")
			require.NoError(t, err)
			require.NotEmpty(t, tasks)
			for _, task := range tasks {
				require.NotEqual(t, slack.Nanoseconds(), timerSlack(t, filepath.Join("/proc", task.Name())), task.Name())
			}
		})
	}
}

func TestStartWithTimerSlackReportsStartFailure(t *testing.T) {
	err := startWithTimerSlack(exec.Command(filepath.Join(t.TempDir(), "missing")), time.Millisecond)
	require.ErrorIs(t, err, os.ErrNotExist)
}
