package hostkeys

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEnsureMakesOnceAndKeeps(t *testing.T) {
	dir := t.TempDir()
	first, made, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != len(Kinds) {
		t.Fatalf("made %v, want every kind", made)
	}
	for _, k := range Kinds {
		fi, err := os.Stat(filepath.Join(dir, k.File))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", k.File, fi.Mode().Perm())
		}
	}
	again, made, err := Ensure(dir)
	if err != nil || len(made) != 0 {
		t.Fatalf("second Ensure: made %v, err %v", made, err)
	}
	for i := range first {
		if string(first[i]) != string(again[i]) {
			t.Errorf("%s changed on the second Ensure", Kinds[i].File)
		}
	}
}

func TestEnsureRefusesWhatIsNotItsKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content func(Set) []byte
	}{
		{"garbage", func(Set) []byte { return []byte("not a key\n") }},
		{"another kind", func(s Set) []byte { return s[2] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			set, _, err := Ensure(dir)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, Kinds[0].File)
			bad := tc.content(set)
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := Ensure(dir); err == nil {
				t.Fatal("Ensure accepted a file that is not an Ed25519 key")
			}
			if got, _ := os.ReadFile(path); string(got) != string(bad) {
				t.Error("Ensure replaced the file it refused")
			}
		})
	}
}

// TestFingerprintsAsSSHKeygen compares with OpenSSH's own tool where it is installed.
func TestFingerprintsAsSSHKeygen(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen is not installed")
	}
	dir := t.TempDir()
	set, _, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := set.Fingerprints()
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range Kinds {
		out, err := exec.Command(keygen, "-l", "-E", "sha256", "-f", filepath.Join(dir, k.File)).Output()
		if err != nil {
			t.Fatalf("ssh-keygen -l %s: %v", k.File, err)
		}
		// "256 SHA256:… comment (ED25519)": drop the comment.
		f := strings.Fields(string(out))
		want := strings.Join(slices.Concat(f[:2], f[len(f)-1:]), " ")
		if got[i] != want {
			t.Errorf("%s: fingerprint %q, ssh-keygen says %q", k.File, got[i], want)
		}
	}
}
