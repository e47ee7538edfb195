package passhash

import (
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

const (
	vectorPassword = "Secret123"
	utf8Password   = "pässwörd:€"
)

// Vectors from the accounts-and-sudoers reference, made by libxcrypt, openssl
// and mkpasswd on Debian 12.
const (
	descryptVector       = "abwxqTFirElb6"
	md5Vector            = "$1$saltsalt$Fyu1R/jDOOkg6nUr/VI0i0"
	apr1Vector           = "$apr1$saltsalt$SEm0MR0naZlL554ZM0InO/"
	sha256Vector         = "$5$0123456789abcdef$JXFZ2UQ4CKC8xZ3I8rNns2vd1g4/GKWXcRIQQMAaeG2"
	sha256Rounds10000    = "$5$rounds=10000$0123456789abcdef$k6x7yHS72acavkt.xmjSYVPVxx2r.cKrP0HrS16UIXD"
	sha512Vector         = "$6$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1"
	sha512Rounds5000     = "$6$rounds=5000$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1"
	sha512ShortSalt      = "$6$shortslt$dkoSbj36E7SLKaBRbOVFwOF5cPryAS6RlSXkjVMcjT..VsQSL1IrCKcyipc7To3kWWnto9eAONtDUu35PuFE4."
	sha512Rounds5000Shrt = "$6$rounds=5000$shortslt$dkoSbj36E7SLKaBRbOVFwOF5cPryAS6RlSXkjVMcjT..VsQSL1IrCKcyipc7To3kWWnto9eAONtDUu35PuFE4."
	sha512Rounds656000   = "$6$rounds=656000$0123456789abcdef$0hAVFjkRhiCub/st3XG5SjkFoCMARnf1hXKpz0Qlz064/M3YuAm7s6s7t.IS9rfUn6wjgQyd6U.wJdQk56rxL."
	sha512Empty          = "$6$0123456789abcdef$F2ysjt5Ng5qVz2/gDtbz.ycdictosXpZ7Xsgu8PlbAws/.ekNFWz9XrSKXBI0tVYfdxX.nsVfGs7qe4jMrOWH0"
	sha512UTF8           = "$6$0123456789abcdef$lNYByDJvuuUvIR2uNGqjJMNThPJ8SA5fpK6v9RbQat8KNcjF5rVWLpdmei51z5dBBwgB7oxef7oYqmo9sGsFl."
	bcryptBody           = "05$abcdefghijklmnopqrstuurf4DiOV/5.JspqcETuak2nXZf5Es.tu"
	bcrypt72             = "$2b$05$abcdefghijklmnopqrstuuGUnCqbfgs3htOkLrFduUjAyLBw1Rq/u"
	yescryptVector       = "$y$j9T$pvXHAnQ9aH/y67NSFLRw1/$.Ymgj4XoE/hJXDM.81KPphVqo5tALdFFBEZxJJpNYK9"
	yescryptCost1        = "$y$j75$n71I5oeCNc7SDB.9EpPNt1$HaXHziRIBUVrWAn4KuswkcaMl8HIQWHd76G94NxTXpC"
	yescryptCost11       = "$y$jFT$VUo7/XlZO4dTbWM1qCidk.$ogKvPjCpXXIDo5IUdlWzZ1evKeMgRsdLHW5hpfjR6h."
	yescryptEmpty        = "$y$j9T$Hcr5UbUqPDbY6TsO30c1Y1$bCYmX584F79GRkNQhnPI.ieyClNBn4Rho8qMRZYkZ20"
	yescryptUTF8         = "$y$j9T$LSP8.WrULpoIv1eK7zzR2.$4KUiOQbe0wKKGo6ICZ81ADA.bp60dIZNGY7qMu.8eu3"
	gostYescryptVector   = "$gy$j9T$XMfEqXIgsCUXSYxSURIHM.$rr/egh1n.gDpw3UGJ1w83EeuR09gukarPzVEUF9AXD8"
	scryptVector         = "$7$CU..../....TV4IlqRc3RxGRtXAW1cZQ1$bX6F6K0U4nGoOACoD8GF3dMOUSo7WBHr8vz/tpMpYO1"
)

func TestVerifyVectors(t *testing.T) {
	tests := []struct {
		name     string
		hash     string
		password string
		scheme   string
		want     bool
	}{
		{"md5crypt", md5Vector, vectorPassword, SchemeMD5, true},
		{"sha256", sha256Vector, vectorPassword, SchemeSHA256, true},
		{"sha256 rounds=10000", sha256Rounds10000, vectorPassword, SchemeSHA256, true},
		{"sha512", sha512Vector, vectorPassword, SchemeSHA512, true},
		{"sha512 explicit rounds=5000", sha512Rounds5000, vectorPassword, SchemeSHA512, true},
		{"sha512 short salt", sha512ShortSalt, vectorPassword, SchemeSHA512, true},
		{"sha512 rounds=5000 short salt", sha512Rounds5000Shrt, vectorPassword, SchemeSHA512, true},
		{"sha512 rounds=656000", sha512Rounds656000, vectorPassword, SchemeSHA512, true},
		{"sha512 empty password", sha512Empty, "", SchemeSHA512, true},
		{"sha512 empty password given", sha512Vector, "", SchemeSHA512, false},
		{"sha512 utf-8 password", sha512UTF8, utf8Password, SchemeSHA512, true},
		{"bcrypt 2b", "$2b$" + bcryptBody, vectorPassword, SchemeBcrypt, true},
		{"bcrypt 2b case differs", "$2b$" + bcryptBody, "secret123", SchemeBcrypt, false},
		{"bcrypt 2a", "$2a$" + bcryptBody, vectorPassword, SchemeBcrypt, true},
		{"bcrypt 2y", "$2y$" + bcryptBody, vectorPassword, SchemeBcrypt, true},
		{"bcrypt 72 bytes + b", bcrypt72, strings.Repeat("a", 72) + "b", SchemeBcrypt, true},
		{"bcrypt 72 bytes + c", bcrypt72, strings.Repeat("a", 72) + "c", SchemeBcrypt, true},
		{"bcrypt exactly 72 bytes", bcrypt72, strings.Repeat("a", 72), SchemeBcrypt, true},
		{"bcrypt 71 bytes", bcrypt72, strings.Repeat("a", 71), SchemeBcrypt, false},
		{"yescrypt", yescryptVector, vectorPassword, SchemeYescrypt, true},
		{"yescrypt cost 1", yescryptCost1, vectorPassword, SchemeYescrypt, true},
		{"yescrypt empty password", yescryptEmpty, "", SchemeYescrypt, true},
		{"yescrypt utf-8 password", yescryptUTF8, utf8Password, SchemeYescrypt, true},
		{"descrypt", descryptVector, vectorPassword, SchemeUnknown, false},
		{"apr1", apr1Vector, vectorPassword, SchemeUnknown, false},
		{"gost-yescrypt", gostYescryptVector, vectorPassword, SchemeUnknown, false},
		{"scrypt", scryptVector, vectorPassword, SchemeUnknown, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.scheme, Scheme(tt.hash))
			require.Equal(t, tt.want, Verify(tt.hash, tt.password))
			// Prepending keeps the wrong password different within bcrypt's
			// first 72 bytes.
			require.False(t, Verify(tt.hash, "x"+tt.password), "a wrong password must not verify")
		})
	}
}

// TestVerifyYescryptMaxCost checks the largest libxcrypt cost (1 GiB, N=2^18),
// which takes seconds normally and over a minute under the race detector, so
// it is left out of -short and -race runs; the cost-1 and default vectors
// cover the same code.
func TestVerifyYescryptMaxCost(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("yescrypt cost 11 needs 1 GiB and seconds of CPU; skipped with -short and -race")
	}
	require.Equal(t, SchemeYescrypt, Scheme(yescryptCost11))
	require.True(t, Verify(yescryptCost11, vectorPassword))
}

func TestVerifyRejects(t *testing.T) {
	tests := []struct {
		name     string
		hash     string
		password string
	}{
		{"empty hash", "", ""},
		{"empty hash with password", "", vectorPassword},
		{"locked bang", "!", vectorPassword},
		{"locked double bang", "!!", vectorPassword},
		{"locked star", "*", vectorPassword},
		{"locked sha512", "!" + sha512Vector, vectorPassword},
		{"locked yescrypt", "!" + yescryptVector, vectorPassword},
		{"locked star sha512", "*" + sha512Vector, vectorPassword},
		{"NUL in password", sha512Vector, vectorPassword + "\x00"},
		{"password too long", sha512Vector, strings.Repeat("a", MaxPasswordLen+1)},
		{"setting without digest", "$6$0123456789abcdef", vectorPassword},
		{"empty digest", "$6$0123456789abcdef$", vectorPassword},
		{"truncated digest", sha512Vector[:len(sha512Vector)-1], vectorPassword},
		{"digest with extra char", sha512Vector + "x", vectorPassword},
		{"trailing newline", sha512Vector + "\n", vectorPassword},
		{"salt longer than 16", "$6$0123456789abcdefX$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"empty salt", "$6$$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"rounds below minimum", "$6$rounds=999$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"rounds above maximum", "$6$rounds=1000000000$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"rounds leading zero", "$6$rounds=05000$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"rounds plus sign", "$6$rounds=+5000$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"rounds empty", "$6$rounds=$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"rounds without salt", "$6$rounds=5000$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1", vectorPassword},
		{"md5 salt longer than 8", "$1$saltsaltX$Fyu1R/jDOOkg6nUr/VI0i0", vectorPassword},
		{"md5 salt outside alphabet", "$1$salt-alt$Fyu1R/jDOOkg6nUr/VI0i0", vectorPassword},
		{"bcrypt 2x", "$2x$" + bcryptBody, vectorPassword},
		{"bcrypt 2", "$2$" + bcryptBody, vectorPassword},
		{"bcrypt cost too low", "$2b$03$abcdefghijklmnopqrstuurf4DiOV/5.JspqcETuak2nXZf5Es.tu", vectorPassword},
		{"bcrypt cost too high", "$2b$32$abcdefghijklmnopqrstuurf4DiOV/5.JspqcETuak2nXZf5Es.tu", vectorPassword},
		{"bcrypt cost plus sign", "$2b$+5$abcdefghijklmnopqrstuurf4DiOV/5.JspqcETuak2nXZf5Es.tu", vectorPassword},
		{"bcrypt truncated", ("$2b$" + bcryptBody)[:59], vectorPassword},
		{"bcrypt extra char", "$2b$" + bcryptBody + "u", vectorPassword},
		{"yescrypt without digest", "$y$j9T$pvXHAnQ9aH/y67NSFLRw1/", vectorPassword},
		{"yescrypt extra field", "$y$j9T$pvXHAnQ9aH/y67NSFLRw1/$x$.Ymgj4XoE/hJXDM.81KPphVqo5tALdFFBEZxJJpNYK9", vectorPassword},
		{"yescrypt unsupported params", "$y$jD5.7$pvXHAnQ9aH/y67NSFLRw1/$.Ymgj4XoE/hJXDM.81KPphVqo5tALdFFBEZxJJpNYK9", vectorPassword},
		{"yescrypt N too large", "$y$jGT$pvXHAnQ9aH/y67NSFLRw1/$.Ymgj4XoE/hJXDM.81KPphVqo5tALdFFBEZxJJpNYK9", vectorPassword},
		{"prefix only sha512", "$6$", vectorPassword},
		{"prefix only bcrypt", "$2b$", vectorPassword},
		{"prefix only yescrypt", "$y$", vectorPassword},
		{"dollar only", "$", vectorPassword},
		{"plain text password", vectorPassword, vectorPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.False(t, Verify(tt.hash, tt.password))
		})
	}
}

func TestScheme(t *testing.T) {
	tests := []struct {
		hash string
		want string
	}{
		{"", SchemeNone},
		{"!", SchemeLocked},
		{"!!", SchemeLocked},
		{"*", SchemeLocked},
		{"!" + sha512Vector, SchemeLocked},
		{"*LK*", SchemeLocked},
		{sha512Vector, SchemeSHA512},
		{sha256Vector, SchemeSHA256},
		{md5Vector, SchemeMD5},
		{"$2a$" + bcryptBody, SchemeBcrypt},
		{"$2b$" + bcryptBody, SchemeBcrypt},
		{"$2y$" + bcryptBody, SchemeBcrypt},
		{"$2x$" + bcryptBody, SchemeUnknown},
		{yescryptVector, SchemeYescrypt},
		{gostYescryptVector, SchemeUnknown},
		{scryptVector, SchemeUnknown},
		{apr1Vector, SchemeUnknown},
		{descryptVector, SchemeUnknown},
		{"x", SchemeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.hash, func(t *testing.T) {
			require.Equal(t, tt.want, Scheme(tt.hash))
		})
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		name     string
		password string
	}{
		{"ascii", vectorPassword},
		{"empty", ""},
		{"utf-8", utf8Password},
		{"shell and crypt metacharacters", `$6$ :\n'"!*`},
		{"longest accepted", strings.Repeat("p", MaxPasswordLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := Hash(tt.password)
			require.NoError(t, err)
			second, err := Hash(tt.password)
			require.NoError(t, err)

			require.NotEqual(t, first, second, "each hash must get a fresh salt")
			for _, hash := range []string{first, second} {
				require.Equal(t, SchemeSHA512, Scheme(hash))
				require.Len(t, hash, len("$6$")+16+1+86)
				require.NotContains(t, hash, "rounds=")
				require.Regexp(t, `^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$`, hash)
				require.True(t, Verify(hash, tt.password))
				require.False(t, Verify(hash, tt.password+"x"))
			}
		})
	}
}

func TestHashRejects(t *testing.T) {
	tests := []struct {
		name     string
		password string
	}{
		{"NUL byte", "abc\x00def"},
		{"leading NUL byte", "\x00"},
		{"too long", strings.Repeat("p", MaxPasswordLen+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := Hash(tt.password)
			require.Error(t, err)
			require.Empty(t, hash)
		})
	}
}

func TestGenerate(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		password, err := Generate()
		require.NoError(t, err)
		require.Len(t, password, generatedLen)
		require.Regexp(t, `^[2-9A-HJ-NP-Za-km-z]+$`, password)
		require.False(t, seen[password], "generated passwords must not repeat")
		seen[password] = true
		require.NoError(t, checkPassword(password))
	}
}

func TestGeneratedAlphabet(t *testing.T) {
	require.Len(t, generatedAlphabet, 57)
	for _, ambiguous := range "0O1lI" {
		require.NotContains(t, generatedAlphabet, string(ambiguous))
	}
	seen := make(map[rune]bool)
	for _, c := range generatedAlphabet {
		require.False(t, seen[c], "duplicate %q would skew the distribution", c)
		seen[c] = true
	}
	require.GreaterOrEqual(t, generatedLen*math.Log2(float64(len(generatedAlphabet))), 110.0)
}

// TestRandomStringUniform catches modulo bias: reducing a byte modulo 57 would
// make the first 28 characters 25% more likely, about 10 standard deviations
// at this sample size; the bound of 6 keeps false failures below 1e-7.
func TestRandomStringUniform(t *testing.T) {
	const samples = 200_000
	s, err := randomString(generatedAlphabet, samples)
	require.NoError(t, err)

	counts := make(map[byte]int)
	for i := range len(s) {
		counts[s[i]]++
	}
	require.Len(t, counts, len(generatedAlphabet))
	expected := float64(samples) / float64(len(generatedAlphabet))
	bound := 6 * 59.0 // six standard deviations of a count near 3509
	for c, n := range counts {
		require.InDelta(t, expected, float64(n), bound, "character %q", c)
	}
}

func runTool(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := exec.Command(path, args...).Output()
	require.NoError(t, err, "%s %q", path, args)
	return strings.TrimSuffix(string(out), "\n")
}

func TestHashMatchesOpenSSL(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	// openssl prints "<NULL>" for an empty password, so that case is left to
	// the reference vectors.
	passwords := []string{vectorPassword, utf8Password, "with space", `q"u'o$te\`}
	for _, password := range passwords {
		t.Run(password, func(t *testing.T) {
			hash, err := Hash(password)
			require.NoError(t, err)
			salt := strings.Split(hash, "$")[2]
			require.Equal(t, hash, runTool(t, openssl, "passwd", "-6", "-salt", salt, password))
		})
	}
}

func TestVerifyMkpasswd(t *testing.T) {
	mkpasswd := testtool.Require(t, "mkpasswd")
	tests := []struct {
		name   string
		args   []string
		scheme string
		prefix string
	}{
		{"sha512crypt", []string{"-m", "sha512crypt"}, SchemeSHA512, "$6$"},
		{"sha512crypt rounds", []string{"-m", "sha512crypt", "-R", "6000"}, SchemeSHA512, "$6$rounds=6000$"},
		{"sha512crypt rounds short salt", []string{"-m", "sha512crypt", "-R", "5000", "-S", "shortslt"}, SchemeSHA512, "$6$rounds=5000$shortslt$"},
		{"sha512crypt short salt", []string{"-m", "sha512crypt", "-S", "abcdefghij"}, SchemeSHA512, "$6$abcdefghij$"},
		{"sha256crypt", []string{"-m", "sha256crypt"}, SchemeSHA256, "$5$"},
		{"sha256crypt rounds", []string{"-m", "sha256crypt", "-R", "1000"}, SchemeSHA256, "$5$rounds=1000$"},
		{"sha256crypt rounds short salt", []string{"-m", "sha256crypt", "-R", "2000", "-S", "Short.Sa"}, SchemeSHA256, "$5$rounds=2000$Short.Sa$"},
		{"md5crypt", []string{"-m", "md5crypt"}, SchemeMD5, "$1$"},
		{"yescrypt", []string{"-m", "yescrypt"}, SchemeYescrypt, "$y$j9T$"},
		{"yescrypt cost 1", []string{"-m", "yescrypt", "-R", "1"}, SchemeYescrypt, "$y$j75$"},
		{"bcrypt", []string{"-m", "bcrypt", "-R", "5"}, SchemeBcrypt, "$2b$05$"},
		{"bcrypt-a", []string{"-m", "bcrypt-a", "-R", "5"}, SchemeBcrypt, "$2a$05$"},
	}
	for _, tt := range tests {
		for _, password := range []string{vectorPassword, utf8Password} {
			t.Run(tt.name+"/"+password, func(t *testing.T) {
				hash := runTool(t, mkpasswd, append(tt.args, password)...)
				require.True(t, strings.HasPrefix(hash, tt.prefix), "mkpasswd wrote %q", hash)
				require.Equal(t, tt.scheme, Scheme(hash))
				require.True(t, Verify(hash, password), "hash %q", hash)
				require.False(t, Verify(hash, password+"x"), "hash %q", hash)
			})
		}
	}
}

// fuzzAffordable keeps a fuzz iteration to milliseconds: the schemes' legal
// maxima (rounds=999999999, bcrypt cost 31, yescrypt with 1 GiB) would stall
// the fuzzer on a single input.
func fuzzAffordable(hash string) bool {
	if _, after, ok := strings.Cut(hash, "rounds="); ok {
		digits, _, _ := strings.Cut(after, "$")
		if n, err := strconv.Atoi(digits); err != nil || n > 20000 {
			return false
		}
	}
	if strings.HasPrefix(hash, "$2") && len(hash) >= 6 && hash[4:6] > "06" {
		return false
	}
	// The second parameter character encodes log2(N)-1; up to '7' means
	// N=2^10, at most 4 MiB.
	if strings.HasPrefix(hash, "$y$") && (len(hash) < 6 || !strings.ContainsRune("./01234567", rune(hash[4]))) {
		return false
	}
	return true
}

func FuzzVerify(f *testing.F) {
	seeds := []struct{ hash, password string }{
		{descryptVector, vectorPassword},
		{md5Vector, vectorPassword},
		{apr1Vector, vectorPassword},
		{sha256Vector, vectorPassword},
		{sha256Rounds10000, vectorPassword},
		{sha512Vector, vectorPassword},
		{sha512Rounds5000, vectorPassword},
		{sha512ShortSalt, vectorPassword},
		{sha512Rounds5000Shrt, vectorPassword},
		{sha512Empty, ""},
		{sha512UTF8, utf8Password},
		{"$2b$" + bcryptBody, vectorPassword},
		{"$2y$" + bcryptBody, vectorPassword},
		{bcrypt72, strings.Repeat("a", 72) + "b"},
		{yescryptVector, vectorPassword},
		{yescryptCost1, vectorPassword},
		{yescryptEmpty, ""},
		{yescryptUTF8, utf8Password},
		{gostYescryptVector, vectorPassword},
		{scryptVector, vectorPassword},
		{"!" + sha512Vector, vectorPassword},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s.hash, s.password)
	}
	supported := map[string]bool{SchemeSHA512: true, SchemeSHA256: true, SchemeMD5: true, SchemeBcrypt: true, SchemeYescrypt: true}
	f.Fuzz(func(t *testing.T, hash, password string) {
		if fuzzAffordable(hash) && Verify(hash, password) {
			require.True(t, supported[Scheme(hash)], "verified against scheme %q", Scheme(hash))
		}

		own, err := Hash(password)
		if err != nil {
			require.Error(t, checkPassword(password), "Hash refused an acceptable password: %v", err)
			require.False(t, Verify(sha512Vector, password))
			return
		}
		require.True(t, Verify(own, password))
		require.False(t, Verify(own, password+"x"))
	})
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash(vectorPassword); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySHA512(b *testing.B) {
	for b.Loop() {
		if !Verify(sha512Vector, vectorPassword) {
			b.Fatal("sha512 vector did not verify")
		}
	}
}

func BenchmarkVerifyYescrypt(b *testing.B) {
	for b.Loop() {
		if !Verify(yescryptVector, vectorPassword) {
			b.Fatal("yescrypt vector did not verify")
		}
	}
}
