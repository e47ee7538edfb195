package ftpd

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkDownload measures RETR of a 16 MiB file over a passive data
// connection, in clear (where rootfs's *os.File allows sendfile) and over
// TLS with session reuse.
func BenchmarkDownload(b *testing.B) {
	const size = 16 << 20
	for _, secure := range []bool{false, true} {
		name := "plain"
		if secure {
			name = "TLS"
		}
		b.Run(name, func(b *testing.B) {
			ts := startServer(b)
			ts.writeHome(b, "big.bin", bytes.Repeat([]byte{7}, size))
			c := dialFTP(b, ts.addr)
			cache := tls.NewLRUClientSessionCache(4)
			config := &tls.Config{InsecureSkipVerify: true, ServerName: "bench", ClientSessionCache: cache}
			if secure {
				c.startTLS(config)
			}
			c.login()
			if secure {
				c.must(200, "PBSZ 0")
				c.must(200, "PROT P")
			}
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				raw, err := net.DialTimeout("tcp", c.epsv("127.0.0.1"), 5*time.Second)
				require.NoError(b, err)
				require.NoError(b, c.text.PrintfLine("RETR big.bin"))
				var data io.Reader = raw
				if secure {
					data = tls.Client(raw, config)
				}
				n, err := io.Copy(io.Discard, data)
				require.NoError(b, err)
				require.EqualValues(b, size, n)
				raw.Close()
				c.expect(150)
				c.expect(226)
			}
		})
	}
}

// BenchmarkUpload measures STOR of a 16 MiB file over a passive data
// connection in clear, where the file takes the data with splice(2).
func BenchmarkUpload(b *testing.B) {
	const size = 16 << 20
	ts := startServer(b)
	c := dialFTP(b, ts.addr)
	c.login()
	data := bytes.Repeat([]byte{7}, size)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		c.stor("big.bin", data)
	}
}

// BenchmarkSmallFile measures one 4 KiB download and one 4 KiB upload, each with its
// own passive connection: what a site sync of many small files costs per file.
func BenchmarkSmallFile(b *testing.B) {
	// A passive range as in production: binding port 0 gets slow once the
	// client's closed connections fill the ephemeral range.
	ts := startServer(b, func(s *Settings) { s.PassivePortMin, s.PassivePortMax = 21000, 21999 })
	data := bytes.Repeat([]byte{7}, 4<<10)
	ts.writeHome(b, "small.bin", data)
	c := dialFTP(b, ts.addr)
	c.login()
	b.Run("download", func(b *testing.B) {
		for range b.N {
			raw, err := net.DialTimeout("tcp", c.epsv("127.0.0.1"), 5*time.Second)
			require.NoError(b, err)
			require.NoError(b, c.text.PrintfLine("RETR small.bin"))
			n, err := io.Copy(io.Discard, raw)
			require.NoError(b, err)
			require.EqualValues(b, len(data), n)
			raw.Close()
			c.expect(150)
			c.expect(226)
		}
	})
	b.Run("upload", func(b *testing.B) {
		for range b.N {
			c.stor("up.bin", data)
		}
	})
}

// BenchmarkFTPSNagleLogin measures an FTPS login by a client that leaves
// Nagle's algorithm on, as Python's ftplib does. Without quickAck it took
// 40 ms more: the client's first command after the handshake waited for a
// delayed acknowledgement. (FTPS uploads by ftplib paid the same on every
// data connection; Go's TLS client sends its Finished with the first data,
// so it cannot show that here.)
func BenchmarkFTPSNagleLogin(b *testing.B) {
	ts := startServer(b)
	config := &tls.Config{InsecureSkipVerify: true, ServerName: "bench"}
	for range b.N {
		c := dialFTP(b, ts.addr)
		require.NoError(b, c.conn.(*net.TCPConn).SetNoDelay(false))
		c.startTLS(config)
		c.login()
		c.must(221, "QUIT")
	}
}

// BenchmarkList measures LIST of a folder of 10,000 files (bench.sh's row 5).
func BenchmarkList(b *testing.B) {
	ts := startServer(b)
	for i := range 10000 {
		ts.writeHome(b, fmt.Sprintf("list/entry-%05d.txt", i), nil)
	}
	c := dialFTP(b, ts.addr)
	c.login()
	for b.Loop() {
		raw, err := net.DialTimeout("tcp", c.epsv("127.0.0.1"), 5*time.Second)
		require.NoError(b, err)
		require.NoError(b, c.text.PrintfLine("LIST list"))
		c.expect(150)
		n, err := io.Copy(io.Discard, raw)
		require.NoError(b, err)
		require.Greater(b, n, int64(10000*50))
		raw.Close()
		c.expect(226)
	}
}
