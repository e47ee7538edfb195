// Package hostkeys makes, keeps and describes the SFTP service's SSH host keys: one
// Ed25519, one ECDSA P-256 and one RSA 3072 key (the last for old clients), each in
// its own OpenSSH-format file of the state directory, readable by root alone.
package hostkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
)

// Kind is one of the host key types the service offers.
type Kind struct {
	File string // name in the state directory, as sshd names its own
	make func() (crypto.Signer, error)
}

// RSABits is the size of the RSA host key: 3072, as ssh-keygen makes by default.
const RSABits = 3072

// Kinds are the host keys, in the order the server offers them.
var Kinds = []Kind{
	{"ssh_host_ed25519_key", func() (crypto.Signer, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}},
	{"ssh_host_ecdsa_key", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }},
	{"ssh_host_rsa_key", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, RSABits) }},
}

// Set is the host keys as OpenSSH private key PEM blocks, in the order of Kinds.
type Set [][]byte

// Generate makes a new set in memory.
func Generate() (Set, error) {
	out := make(Set, len(Kinds))
	for i, k := range Kinds {
		pemBytes, err := k.generate()
		if err != nil {
			return nil, err
		}
		out[i] = pemBytes
	}
	return out, nil
}

func (k Kind) generate() ([]byte, error) {
	key, err := k.make()
	if err != nil {
		return nil, fmt.Errorf("make the SSH host key %s: %w", k.File, err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, fmt.Errorf("encode the SSH host key %s: %w", k.File, err)
	}
	return pem.EncodeToMemory(block), nil
}

// Ensure reads the host keys kept in dir and makes, with mode 0600, those that are
// missing; made names the files it wrote. A file that is there but unreadable or not
// a key of its kind is an error: replacing it would change the server's identity
// behind the administrator's back.
func Ensure(dir string) (set Set, made []string, err error) {
	set = make(Set, len(Kinds))
	for i, k := range Kinds {
		path := filepath.Join(dir, k.File)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			if data, err = k.generate(); err != nil {
				return nil, nil, err
			}
			if err := atomicfile.Write(path, data, 0o600); err != nil {
				return nil, nil, fmt.Errorf("write the SSH host key: %w", err)
			}
			made = append(made, path)
		} else if err != nil {
			return nil, nil, fmt.Errorf("read the SSH host key: %w", err)
		}
		set[i] = data
	}
	if _, err := set.Signers(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	return set, made, nil
}

// Load reads the host keys kept in dir without making any; an error matching
// fs.ErrNotExist means one or more are missing.
func Load(dir string) (Set, error) {
	set := make(Set, len(Kinds))
	for i, k := range Kinds {
		data, err := os.ReadFile(filepath.Join(dir, k.File))
		if err != nil {
			return nil, fmt.Errorf("read the SSH host key: %w", err)
		}
		set[i] = data
	}
	if _, err := set.Signers(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return set, nil
}

// Write stores set in dir, mode 0600, replacing the files there; changed reports
// whether any file's content differed.
func Write(dir string, set Set) (changed bool, err error) {
	if _, err := set.Signers(); err != nil {
		return false, err
	}
	for i, k := range Kinds {
		path := filepath.Join(dir, k.File)
		if old, err := os.ReadFile(path); err == nil && string(old) == string(set[i]) {
			continue
		}
		if err := atomicfile.Write(path, set[i], 0o600); err != nil {
			return changed, fmt.Errorf("write the SSH host key: %w", err)
		}
		changed = true
	}
	return changed, nil
}

// Signers parses the set, checking that it holds one key of each kind in order.
func (s Set) Signers() ([]ssh.Signer, error) {
	if len(s) != len(Kinds) {
		return nil, fmt.Errorf("expected %d SSH host keys, got %d", len(Kinds), len(s))
	}
	want := []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSA}
	out := make([]ssh.Signer, len(s))
	for i, data := range s {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("SSH host key %s: %w", Kinds[i].File, err)
		}
		if got := signer.PublicKey().Type(); got != want[i] {
			return nil, fmt.Errorf("SSH host key %s is of type %s, not %s", Kinds[i].File, got, want[i])
		}
		out[i] = signer
	}
	return out, nil
}

// Fingerprints describes each key as `ssh-keygen -l` prints it, without a comment:
// "256 SHA256:… (ED25519)".
func (s Set) Fingerprints() ([]string, error) {
	signers, err := s.Signers()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(signers))
	for i, sg := range signers {
		out[i] = Fingerprint(sg.PublicKey())
	}
	return out, nil
}

// Fingerprint is one key's line of `ssh-keygen -l`, without a comment.
func Fingerprint(pub ssh.PublicKey) string {
	bits, name := 0, strings.ToUpper(strings.TrimPrefix(pub.Type(), "ssh-"))
	if ck, ok := pub.(ssh.CryptoPublicKey); ok {
		switch k := ck.CryptoPublicKey().(type) {
		case ed25519.PublicKey:
			bits = 256
		case *ecdsa.PublicKey:
			bits, name = k.Curve.Params().BitSize, "ECDSA"
		case *rsa.PublicKey:
			bits = k.N.BitLen()
		}
	}
	return fmt.Sprintf("%d %s (%s)", bits, ssh.FingerprintSHA256(pub), name)
}
