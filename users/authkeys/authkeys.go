// Package authkeys reads the public keys an account may log in with over SFTP, one
// OpenSSH authorized_keys line each. Of the options such a line may carry only
// from="…" is accepted: the others (command=, permitopen=, no-pty, …) speak of
// shells and forwarding, which the service never offers, and a key given with one
// would not do what its author expects.
package authkeys

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key is one authorized key.
type Key struct {
	Pub     ssh.PublicKey
	Comment string
	// From are the patterns of from="…": addresses with * and ? wildcards, CIDR
	// blocks, each negated by a leading "!". Empty: any address.
	From []string
}

// Parse reads one authorized_keys line.
func Parse(line string) (Key, error) {
	line = strings.TrimSpace(line)
	if strings.ContainsAny(line, "\n\r\x00") {
		return Key{}, errors.New("a key is one line")
	}
	pub, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return Key{}, fmt.Errorf("not an OpenSSH public key line: %w", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return Key{}, errors.New("one key per line")
	}
	if _, ok := pub.(ssh.CryptoPublicKey); !ok || strings.Contains(pub.Type(), "cert") {
		return Key{}, fmt.Errorf("keys of type %s are not accepted; give a plain public key", pub.Type())
	}
	k := Key{Pub: pub, Comment: comment}
	for _, o := range options {
		v, ok := strings.CutPrefix(o, "from=")
		if !ok {
			name, _, _ := strings.Cut(o, "=")
			return Key{}, fmt.Errorf("the option %s is not accepted: only from=\"…\" is, as SFTP offers no shell, command or forwarding", name)
		}
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return Key{}, errors.New(`from= takes a quoted list, such as from="10.0.0.0/8,192.0.2.7"`)
		}
		if k.From != nil {
			return Key{}, errors.New("from= is given twice")
		}
		for _, p := range strings.Split(v[1:len(v)-1], ",") {
			if err := checkPattern(p); err != nil {
				return Key{}, err
			}
			k.From = append(k.From, p)
		}
	}
	if strings.ContainsAny(k.Comment, "\"") {
		return Key{}, errors.New("the comment must not hold a double quote")
	}
	return k, nil
}

// checkPattern accepts an address pattern of from=: a CIDR block, or an address
// with wildcards, negated or not. Host names are refused: the service resolves none.
func checkPattern(p string) error {
	body := strings.TrimPrefix(p, "!")
	switch {
	case body == "":
		return errors.New("from= holds an empty pattern")
	case strings.Contains(body, "/"):
		if _, err := netip.ParsePrefix(body); err != nil {
			return fmt.Errorf("from= pattern %q is not a CIDR block", p)
		}
	case strings.Trim(body, "0123456789abcdefABCDEF.:*?") != "":
		return fmt.Errorf("from= pattern %q is not an address (host names are not resolved)", p)
	}
	return nil
}

// String is the line as stored: from= first, when given, then the key and comment.
func (k Key) String() string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Pub)))
	if len(k.From) > 0 {
		line = `from="` + strings.Join(k.From, ",") + `" ` + line
	}
	if k.Comment != "" {
		line += " " + k.Comment
	}
	return line
}

// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l prints it.
func (k Key) Fingerprint() string { return ssh.FingerprintSHA256(k.Pub) }

// Admits reports whether from= lets client use the key: as OpenSSH, a client must
// match a pattern and no negated one.
func (k Key) Admits(client netip.Addr) bool {
	if len(k.From) == 0 {
		return true
	}
	client = client.Unmap()
	matched := false
	for _, p := range k.From {
		neg := strings.HasPrefix(p, "!")
		if match(strings.TrimPrefix(p, "!"), client) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

func match(pattern string, client netip.Addr) bool {
	if strings.Contains(pattern, "/") {
		prefix, err := netip.ParsePrefix(pattern)
		return err == nil && prefix.Contains(client)
	}
	ok, _ := path.Match(pattern, client.String())
	return ok
}

// Find returns the key among keys that is pub, and whether there is one.
func Find(keys []Key, pub ssh.PublicKey) (Key, bool) {
	want := pub.Marshal()
	for _, k := range keys {
		if bytes.Equal(k.Pub.Marshal(), want) {
			return k, true
		}
	}
	return Key{}, false
}
