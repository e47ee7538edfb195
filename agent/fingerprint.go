package agent

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// Fingerprint is the SHA-256 of a DER certificate as openssl and FTP clients show it,
// "AB:CD:…", for the owner to compare with what the client presents.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// certFileFingerprint is the Fingerprint of the first certificate in a PEM file.
func certFileFingerprint(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the TLS certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%s holds no PEM certificate", path)
	}
	return Fingerprint(block.Bytes), nil
}
