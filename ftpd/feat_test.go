package ftpd

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRewriteFEAT(t *testing.T) {
	engine := "211- These are my features\r\n CLNT\r\n UTF8\r\n REST STREAM\r\n EPRT\r\n EPSV\r\n MLSD\r\n MLST\r\n" +
		" AUTH TLS\r\n%s\r\n XCRC\r\n211 end\r\n"
	tests := []struct {
		name     string
		hashLine string
		active   bool
		want     string
	}{
		{"SHA-256 selected, passive only", " MD5;SHA-1;SHA-256*;SHA-512;CRC32;", false,
			"211-Features:\r\n CLNT\r\n UTF8\r\n REST STREAM\r\n EPSV\r\n MLSD\r\n MLST type*;size*;modify*;\r\n" +
				" AUTH TLS\r\n HASH SHA-512;SHA-256*;SHA-1;MD5;CRC32\r\n XCRC\r\n211 End\r\n"},
		{"CRC32 selected, active mode on", " CRC32*;SHA-256;MD5;SHA-512;SHA-1;", true,
			"211-Features:\r\n CLNT\r\n UTF8\r\n REST STREAM\r\n EPRT\r\n EPSV\r\n MLSD\r\n MLST type*;size*;modify*;\r\n" +
				" AUTH TLS\r\n HASH SHA-512;SHA-256;SHA-1;MD5;CRC32*\r\n XCRC\r\n211 End\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := fmt.Appendf(nil, engine, tt.hashLine)
			assert.True(t, isEngineFEAT(reply))
			assert.Equal(t, tt.want, string(rewriteFEAT(reply, tt.active)))
		})
	}
	assert.False(t, isEngineFEAT([]byte("211 Status OK\r\n")))
}
