// Package passhash creates and checks the crypt(3) password hashes stored in
// /etc/shadow.
//
// New hashes are always SHA-512 crypt ("$6$"), the newest scheme that every
// supported distribution (down to CentOS 7) can verify. Verify also accepts
// the schemes that passwd, chpasswd and mkpasswd write on those systems, so
// an account whose password was set with the system tools keeps working:
// md5crypt, sha256crypt, sha512crypt, bcrypt and yescrypt.
//
// Verify fails closed on everything else: locked and empty fields, DES (weak,
// and unsupported by the Go libraries), "$apr1$" (an Apache format that
// neither passwd nor libxcrypt's crypt(3) accepts, so pam_unix would reject it
// too), gost-yescrypt and scrypt (no Go implementation matching libxcrypt),
// and any string that is not exactly what crypt(3) would write.
//
// The work one verification costs is bounded only by each scheme's own limits
// (sha-crypt rounds up to 999999999, bcrypt cost up to 31, yescrypt up to
// 1 GiB of memory): stored hashes are written by root, so they are trusted
// not to be chosen to exhaust the server. Passwords, which come from FTP
// clients, are bounded by MaxPasswordLen.
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/GehirnInc/crypt/md5_crypt"
	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
	"github.com/openwall/yescrypt-go"
	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordLen is the longest password, in bytes, that Hash accepts and
// Verify checks. md5crypt and sha-crypt cost grows with the square of the
// password length, so an FTP client must not be able to send megabytes; the
// limit is twice PAM's PAM_MAX_RESP_SIZE (512), far above any real password.
const MaxPasswordLen = 1024

// cryptAlphabet is the base-64 alphabet of crypt(3) salts and digests.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// saltLen is the longest salt sha-crypt uses; shadow 4.9+ and libxcrypt
// write 16 characters too.
const saltLen = 16

// generatedAlphabet leaves out 0/O and 1/l/I, which people misread when
// copying a password by hand, and every character a shell, URL or e-mail
// client could mangle.
const generatedAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// generatedLen characters from the 57-character alphabet give about 116 bits.
const generatedLen = 20

// Scheme names returned by Scheme.
const (
	SchemeSHA512   = "sha512"
	SchemeSHA256   = "sha256"
	SchemeMD5      = "md5"
	SchemeBcrypt   = "bcrypt"
	SchemeYescrypt = "yescrypt"
	SchemeLocked   = "locked"
	SchemeNone     = "none"
	SchemeUnknown  = "unknown"
)

// Hash returns a new SHA-512 crypt hash of password with a random 16-character
// salt and the default 5000 rounds, in the form crypt(3) and chpasswd -e
// accept.
func Hash(password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salt, err := randomString(cryptAlphabet, saltLen)
	if err != nil {
		return "", fmt.Errorf("generate password salt: %w", err)
	}
	hash, err := sha512_crypt.New().Generate([]byte(password), []byte("$6$"+salt))
	if err != nil {
		return "", fmt.Errorf("compute sha512 crypt hash: %w", err)
	}
	return hash, nil
}

// Verify reports whether password matches the stored crypt(3) hash. It
// returns false for locked, empty, unsupported and malformed hashes.
func Verify(hash, password string) bool {
	if checkPassword(password) != nil {
		return false
	}
	switch Scheme(hash) {
	case SchemeSHA512:
		return verifySHACrypt(hash, password, "$6$", 86)
	case SchemeSHA256:
		return verifySHACrypt(hash, password, "$5$", 43)
	case SchemeMD5:
		return verifyMD5Crypt(hash, password)
	case SchemeBcrypt:
		return verifyBcrypt(hash, password)
	case SchemeYescrypt:
		return verifyYescrypt(hash, password)
	default:
		return false
	}
}

// Scheme names the hashing scheme of a stored hash for display, judged by its
// prefix alone: "sha512", "sha256", "md5", "bcrypt", "yescrypt", "locked",
// "none" for an empty field, or "unknown" for anything Verify cannot check.
func Scheme(hash string) string {
	switch {
	case hash == "":
		return SchemeNone
	case hash[0] == '!' || hash[0] == '*':
		return SchemeLocked
	case strings.HasPrefix(hash, "$6$"):
		return SchemeSHA512
	case strings.HasPrefix(hash, "$5$"):
		return SchemeSHA256
	case strings.HasPrefix(hash, "$1$"):
		return SchemeMD5
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return SchemeBcrypt
	case strings.HasPrefix(hash, "$y$"):
		return SchemeYescrypt
	default:
		return SchemeUnknown
	}
}

// Generate returns a random 20-character password (about 116 bits) drawn
// uniformly from letters and digits that cannot be confused with each other.
func Generate() (string, error) {
	password, err := randomString(generatedAlphabet, generatedLen)
	if err != nil {
		return "", fmt.Errorf("generate random password: %w", err)
	}
	return password, nil
}

func checkPassword(password string) error {
	if strings.IndexByte(password, 0) >= 0 {
		return errors.New("password contains a NUL byte, which crypt(3) cannot represent; choose another password")
	}
	if len(password) > MaxPasswordLen {
		return fmt.Errorf("password is %d bytes long; the limit is %d", len(password), MaxPasswordLen)
	}
	return nil
}

// randomString picks each character independently and uniformly from
// alphabet; rand.Int avoids the bias of reducing a random byte modulo a length
// that does not divide 256.
func randomString(alphabet string, length int) (string, error) {
	size := big.NewInt(int64(len(alphabet)))
	out := make([]byte, length)
	for i := range out {
		n, err := rand.Int(rand.Reader, size)
		if err != nil {
			return "", err
		}
		out[i] = alphabet[n.Int64()]
	}
	return string(out), nil
}

// verifySHACrypt checks "$5$" or "$6$" hashes, "prefix[rounds=N$]salt$digest".
// It hands GehirnInc/crypt only the setting (everything before the digest):
// given the full hash, its salt parser would swallow the digest after a
// "rounds=" field and fail every salt shorter than 16 characters.
func verifySHACrypt(hash, password, prefix string, digestLen int) bool {
	rest := strings.TrimPrefix(hash, prefix)
	if rounds, after, ok := strings.Cut(rest, "$"); ok && strings.HasPrefix(rounds, "rounds=") {
		if !validRounds(strings.TrimPrefix(rounds, "rounds=")) {
			return false
		}
		rest = after
	}
	salt, digest, ok := strings.Cut(rest, "$")
	if !ok || !validSalt(salt, saltLen) || !validDigest(digest, digestLen) {
		return false
	}
	setting := hash[:len(hash)-len(digest)-1]
	crypter := sha512_crypt.New()
	if prefix == "$5$" {
		crypter = sha256_crypt.New()
	}
	computed, err := crypter.Generate([]byte(password), []byte(setting))
	return err == nil && equal(computed, hash)
}

// validRounds accepts only the canonical decimal form of 1000..999999999:
// GehirnInc/crypt clamps other values and writes them back differently, and
// libxcrypt rejects them.
func validRounds(s string) bool {
	if len(s) == 0 || len(s) > 9 || s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1000
}

// verifyMD5Crypt checks "$1$salt$digest" hashes, whose salt is at most 8
// characters.
func verifyMD5Crypt(hash, password string) bool {
	salt, digest, ok := strings.Cut(strings.TrimPrefix(hash, "$1$"), "$")
	if !ok || !validSalt(salt, 8) || !validDigest(digest, 22) {
		return false
	}
	computed, err := md5_crypt.New().Generate([]byte(password), []byte("$1$"+salt))
	return err == nil && equal(computed, hash)
}

// verifyBcrypt checks "$2a$", "$2b$" and "$2y$" hashes. Like libxcrypt, the
// bcrypt package uses only the first 72 bytes of the password, and it compares
// in constant time itself.
func verifyBcrypt(hash, password string) bool {
	// "$2b$" + two-digit cost + "$" + 22-character salt + 31-character digest.
	if len(hash) != 60 || hash[6] != '$' || !validDigest(hash[7:], 53) {
		return false
	}
	cost := hash[4:6]
	if strings.Trim(cost, "0123456789") != "" || cost < "04" || cost > "31" {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// verifyYescrypt checks "$y$params$salt$digest" hashes. yescrypt-go decodes
// the parameters itself and refuses those libxcrypt never writes.
func verifyYescrypt(hash, password string) bool {
	fields := strings.Split(hash, "$")
	// "", "y", params, salt, digest
	if len(fields) != 5 || fields[2] == "" || !validSalt(fields[3], 86) || !validDigest(fields[4], 43) {
		return false
	}
	computed, err := yescrypt.Hash([]byte(password), []byte(hash))
	return err == nil && equal(string(computed), hash)
}

// validSalt accepts 1..maxLen characters of the crypt alphabet, which is all
// that passwd, chpasswd, mkpasswd and openssl generate.
func validSalt(salt string, maxLen int) bool {
	return len(salt) >= 1 && len(salt) <= maxLen && onlyCryptAlphabet(salt)
}

func validDigest(digest string, length int) bool {
	return len(digest) == length && onlyCryptAlphabet(digest)
}

func onlyCryptAlphabet(s string) bool {
	return strings.Trim(s, cryptAlphabet) == ""
}

func equal(computed, stored string) bool {
	return subtle.ConstantTimeCompare([]byte(computed), []byte(stored)) == 1
}
