package ftpd

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlainError(t *testing.T) {
	for in, want := range map[string]string{
		"550 Could not access file: driver error: calling GetHandle: open /x: no such file or directory\r\n": "550 Could not access file: open /x: no such file or directory\r\n",
		"550 Could not access file: driver error: calling OpenFile: open /a b: permission denied\r\n":        "550 Could not access file: open /a b: permission denied\r\n",
		// not ftpserverlib's wrapping: left as it is
		"550 driver error: calling it a day: fine\r\n": "550 driver error: calling it a day: fine\r\n",
		"550 driver error: calling \r\n":               "550 driver error: calling \r\n",
		"451 Requested action aborted\r\n":             "451 Requested action aborted\r\n",
	} {
		require.Equal(t, want, string(plainError([]byte(in))), in)
	}
}
