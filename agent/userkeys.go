package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/authkeys"
)

// ReadKeys reads OpenSSH authorized_keys lines, skipping blank lines and comments; a
// line that is not an acceptable key is refused with its number.
func ReadKeys(r io.Reader) ([]authkeys.Key, error) {
	var keys []authkeys.Key
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := authkeys.Parse(line)
		if err != nil {
			return nil, badRequest("line %d: %v", n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, badRequest("read the keys: %v", err)
	}
	if len(keys) == 0 {
		return nil, badRequest("no key given: pass OpenSSH public key lines (such as ~/.ssh/id_ed25519.pub) on standard input")
	}
	return keys, nil
}

// AddKeys lets name log in over SFTP with keys, besides its password; a key it
// has already is replaced by the new line (its from= and comment). It reports the
// number of keys that were new.
func (a *Admin) AddKeys(ctx context.Context, name string, keys []authkeys.Key) (int, error) {
	added := 0
	err := a.changeKeys(ctx, name, func(have []authkeys.Key) ([]authkeys.Key, error) {
		for _, k := range keys {
			i := slices.IndexFunc(have, func(h authkeys.Key) bool { return h.Fingerprint() == k.Fingerprint() })
			if i >= 0 {
				have[i] = k
				continue
			}
			have = append(have, k)
			added++
		}
		return have, nil
	})
	return added, err
}

// DeleteKey takes the key with fingerprint (SHA256:…, as ssh-keygen -l prints it)
// from name.
func (a *Admin) DeleteKey(ctx context.Context, name, fingerprint string) error {
	return a.changeKeys(ctx, name, func(have []authkeys.Key) ([]authkeys.Key, error) {
		i := slices.IndexFunc(have, func(h authkeys.Key) bool { return h.Fingerprint() == fingerprint })
		if i < 0 {
			return nil, badRequest("%s has no key %s; ftpctl user key list %s shows its keys", name, fingerprint, name)
		}
		return slices.Delete(have, i, i+1), nil
	})
}

// Keys lists the keys of the FTP account name.
func (a *Admin) Keys(name string) ([]authkeys.Key, error) {
	if _, err := a.GetUser(name); err != nil {
		return nil, err
	}
	store, err := config.LoadUsers(a.UsersPath)
	if err != nil {
		return nil, err
	}
	return store[name].AuthorizedKeys, nil
}

// changeKeys edits name's keys in users.toml while holding the account files' lock,
// so that the account cannot be deleted meanwhile.
func (a *Admin) changeKeys(ctx context.Context, name string, change func([]authkeys.Key) ([]authkeys.Key, error)) error {
	if err := users.ValidateName(name); err != nil {
		return err
	}
	tx, err := a.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Close()
	if _, err := tx.Get(name); err != nil {
		return err
	}
	store, err := config.LoadUsers(a.UsersPath)
	if err != nil {
		return err
	}
	opts := store[name]
	keys, err := change(slices.Clone(opts.AuthorizedKeys))
	if err != nil {
		return err
	}
	opts.AuthorizedKeys = keys
	if _, err := a.setOptions(name, &opts); err != nil {
		return fmt.Errorf("save the keys of %s: %w", name, err)
	}
	return nil
}
