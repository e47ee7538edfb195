// Package certfp writes a certificate's SHA-256 fingerprint the way openssl and FTP
// clients show it, so that the owner can compare what ftpctl prints with what the
// client presents.
package certfp

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// Of is the SHA-256 of a DER certificate, "AB:CD:…".
func Of(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// File is the fingerprint of the first certificate in a PEM file.
func File(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the TLS certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%s holds no PEM certificate", path)
	}
	return Of(block.Bytes), nil
}
