package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/otpgate/otpgate/backend/passwd"
	"github.com/otpgate/otpgate/verify"
)

// cheapArgon2 keeps password tests fast; production uses DefaultArgon2.
var cheapArgon2 = passwd.Argon2Params{Time: 1, Memory: 64, Threads: 1}

// masterKey returns bytes 0, 1, …, 31 (+ offset).
func masterKey(offset byte) []byte {
	key := make([]byte, KeyLen)
	for i := range key {
		key[i] = byte(i) + offset
	}
	return key
}

func newKeyring(t testing.TB, offset byte) *Keyring {
	t.Helper()
	k, err := New(masterKey(offset), Options{Argon2: cheapArgon2})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sequence returns a reader yielding n bytes start, start+1, ….
func sequence(start byte, n int) *bytes.Reader {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return bytes.NewReader(b)
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		master []byte
		opts   Options
	}{
		{name: "refuses a nil master key", master: nil},
		{name: "refuses a 31-byte master key", master: make([]byte, 31)},
		{name: "refuses a 64-byte master key", master: make([]byte, 64)},
		{name: "refuses invalid argon2 parameters", master: masterKey(0), opts: Options{Argon2: passwd.Argon2Params{Time: 99, Memory: 64, Threads: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tc.master, tc.opts); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

// TestSealMatchesIndependentImplementation pins the derivation and layout.
// The expected bytes come from python3's cryptography package (48.0.0):
//
//	k = HKDF(SHA256(), 32, salt=None, info=b"otpgate token seal v1").derive(bytes(range(32)))
//	n = bytes(range(100, 112))
//	(b"\x01" + n + AESGCM(k).encrypt(n, b"JBSWY3DPEHPK3PXP", b"42")).hex()
func TestSealMatchesIndependentImplementation(t *testing.T) {
	t.Parallel()
	k, err := New(masterKey(0), Options{Rand: sequence(100, nonceLen)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Seal([]byte("JBSWY3DPEHPK3PXP"), []byte("42"))
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "016465666768696a6b6c6d6e6ff4967b897e06def7b84a95327d88981055689607260d85ac4dd8ce1e22fd2563")
	if !bytes.Equal(got, want) {
		t.Errorf("Seal = %x\nwant   %x", got, want)
	}
	plain, err := k.Open(want, []byte("42"))
	if err != nil || string(plain) != "JBSWY3DPEHPK3PXP" {
		t.Errorf("Open = %q, %v", plain, err)
	}
}

func TestSealRoundTrips(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, 0)
	for _, plain := range [][]byte{nil, {}, []byte("12345678901234567890"), bytes.Repeat([]byte{0xff}, 4096)} {
		sealed, err := k.Seal(plain, []byte("7"))
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != len(plain)+29 || sealed[0] != 0x01 {
			t.Errorf("sealed %d bytes into %d starting %#x, want %d starting 0x01", len(plain), len(sealed), sealed[0], len(plain)+29)
		}
		got, err := k.Open(sealed, []byte("7"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open = %x, want %x", got, plain)
		}
	}
}

func TestSealUsesAFreshNonce(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, 0)
	a, errA := k.Seal([]byte("secret"), []byte("1"))
	b, errB := k.Seal([]byte("secret"), []byte("1"))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if bytes.Equal(a, b) || bytes.Equal(a[1:13], b[1:13]) {
		t.Errorf("two seals of one plaintext share bytes or nonce:\n%x\n%x", a, b)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, 0)
	other := newKeyring(t, 1)
	ad := []byte("42")
	sealed, err := k.Seal([]byte("JBSWY3DPEHPK3PXP"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name    string
		keyring *Keyring
		sealed  []byte
		ad      []byte
	}{
		{name: "refuses another token's id as associated data", keyring: k, sealed: sealed, ad: []byte("43")},
		{name: "refuses empty associated data", keyring: k, sealed: sealed, ad: nil},
		{name: "refuses a flipped version byte", keyring: k, sealed: flip(0), ad: ad},
		{name: "refuses a flipped nonce byte", keyring: k, sealed: flip(5), ad: ad},
		{name: "refuses a flipped ciphertext byte", keyring: k, sealed: flip(14), ad: ad},
		{name: "refuses a flipped tag byte", keyring: k, sealed: flip(len(sealed) - 1), ad: ad},
		{name: "refuses a blob cut by one byte", keyring: k, sealed: sealed[:len(sealed)-1], ad: ad},
		{name: "refuses a blob with a byte appended", keyring: k, sealed: append(bytes.Clone(sealed), 0), ad: ad},
		{name: "refuses a blob shorter than version, nonce and tag", keyring: k, sealed: sealed[:28], ad: ad},
		{name: "refuses a lone version byte", keyring: k, sealed: []byte{0x01}, ad: ad},
		{name: "refuses nil", keyring: k, sealed: nil, ad: ad},
		{name: "refuses a blob sealed under another master key", keyring: other, sealed: sealed, ad: ad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plain, err := tc.keyring.Open(tc.sealed, tc.ad)
			if err == nil {
				t.Fatalf("Open = %q, want an error", plain)
			}
			if !errors.Is(err, ErrInvalidSealed) {
				t.Errorf("Open error %v does not wrap ErrInvalidSealed", err)
			}
			if plain != nil {
				t.Errorf("Open returned plaintext %q with its error", plain)
			}
		})
	}
}

func TestSealReportsAFailingRandomSource(t *testing.T) {
	t.Parallel()
	errRand := errors.New("no entropy")
	k, err := New(masterKey(0), Options{Rand: iotest.ErrReader(errRand)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Seal([]byte("x"), nil); !errors.Is(err, errRand) {
		t.Errorf("Seal error %v, want one wrapping %v", err, errRand)
	}
	if _, err := k.HashPIN("1234"); !errors.Is(err, errRand) {
		t.Errorf("HashPIN error %v, want one wrapping %v", err, errRand)
	}
	if _, err := k.HashPassword("pw"); !errors.Is(err, errRand) {
		t.Errorf("HashPassword error %v, want one wrapping %v", err, errRand)
	}
}

// TestHashPINMatchesIndependentImplementation pins the PIN hash layout. The
// expected bytes come from python3's cryptography package and hmac module:
//
//	k = HKDF(SHA256(), 32, salt=None, info=b"otpgate pin v1").derive(bytes(range(32)))
//	s = bytes(range(200, 216))
//	(b"\x01" + s + hmac.new(k, s + b"ab12", hashlib.sha256).digest()).hex()
func TestHashPINMatchesIndependentImplementation(t *testing.T) {
	t.Parallel()
	k, err := New(masterKey(0), Options{Rand: sequence(200, pinSaltLen)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.HashPIN("ab12")
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "01c8c9cacbcccdcecfd0d1d2d3d4d5d6d78c5ef56b99f9467d698de9a59ab9fd3f4962b173f4f90e8a94b7353dda8aa60a")
	if !bytes.Equal(got, want) {
		t.Errorf("HashPIN = %x\nwant      %x", got, want)
	}
}

func TestCheckPIN(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, 0)
	stored, err := k.HashPIN("ab12")
	if err != nil {
		t.Fatal(err)
	}
	emptyPIN, err := k.HashPIN("")
	if err != nil {
		t.Fatal(err)
	}
	wrongVersion := bytes.Clone(stored)
	wrongVersion[0] = 0x02
	flippedMAC := bytes.Clone(stored)
	flippedMAC[len(flippedMAC)-1] ^= 0x80
	flippedSalt := bytes.Clone(stored)
	flippedSalt[1] ^= 0x80
	tests := []struct {
		name    string
		keyring *Keyring
		stored  []byte
		pin     verify.Secret
		want    bool
	}{
		{name: "accepts the right PIN", keyring: k, stored: stored, pin: "ab12", want: true},
		{name: "accepts an empty PIN hashed as such", keyring: k, stored: emptyPIN, pin: "", want: true},
		{name: "rejects a wrong PIN", keyring: k, stored: stored, pin: "ab13"},
		{name: "rejects a PIN in another case", keyring: k, stored: stored, pin: "AB12"},
		{name: "rejects a PIN with a suffix", keyring: k, stored: stored, pin: "ab123"},
		{name: "rejects a prefix of the PIN", keyring: k, stored: stored, pin: "ab1"},
		{name: "rejects an empty PIN", keyring: k, stored: stored, pin: ""},
		{name: "rejects a nil stored value", keyring: k, stored: nil, pin: "ab12"},
		{name: "rejects an empty stored value", keyring: k, stored: []byte{}, pin: ""},
		{name: "rejects a truncated stored value", keyring: k, stored: stored[:len(stored)-1], pin: "ab12"},
		{name: "rejects a stored value with a byte appended", keyring: k, stored: append(bytes.Clone(stored), 0), pin: "ab12"},
		{name: "rejects an unknown version", keyring: k, stored: wrongVersion, pin: "ab12"},
		{name: "rejects a flipped MAC byte", keyring: k, stored: flippedMAC, pin: "ab12"},
		{name: "rejects a flipped salt byte", keyring: k, stored: flippedSalt, pin: "ab12"},
		{name: "rejects the right PIN under another master key", keyring: newKeyring(t, 1), stored: stored, pin: "ab12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.keyring.CheckPIN(tc.stored, tc.pin); got != tc.want {
				t.Errorf("CheckPIN = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHashPINUsesAFreshSalt(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, 0)
	a, errA := k.HashPIN("ab12")
	b, errB := k.HashPIN("ab12")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(a) != 49 || a[0] != 0x01 {
		t.Errorf("HashPIN = %d bytes starting %#x, want 49 starting 0x01", len(a), a[0])
	}
	if bytes.Equal(a[1:17], b[1:17]) || bytes.Equal(a, b) {
		t.Errorf("two hashes of one PIN share their salt:\n%x\n%x", a, b)
	}
	if !k.CheckPIN(a, "ab12") || !k.CheckPIN(b, "ab12") {
		t.Error("CheckPIN rejects a fresh hash of the right PIN")
	}
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, 0)
	hash, err := k.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		hash     string
		password verify.Secret
		want     bool
	}{
		{name: "accepts the password it hashed", hash: hash, password: "correct horse", want: true},
		{name: "rejects a wrong password", hash: hash, password: "correct horse!"},
		{name: "rejects an empty password", hash: hash, password: ""},
		{name: "rejects an empty hash", hash: "", password: ""},
		{
			name:     "accepts an imported SHA-512-crypt hash",
			hash:     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
			password: "Hello world!",
			want:     true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := k.CheckPassword(tc.hash, tc.password); got != tc.want {
				t.Errorf("CheckPassword = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("writes argon2id with the configured parameters", func(t *testing.T) {
		t.Parallel()
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("HashPassword = %s, want argon2id with m=64,t=1,p=1", hash)
		}
	})
	t.Run("writes the default parameters when none are set", func(t *testing.T) {
		t.Parallel()
		k, err := New(masterKey(0), Options{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := k.HashPassword("pw")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("HashPassword = %s, want passwd.DefaultArgon2", h)
		}
	})
}

func TestKeyringIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	k := newKeyring(t, 0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ad := []byte{byte(i)}
			for range 50 {
				sealed, err := k.Seal([]byte("secret"), ad)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := k.Open(sealed, ad); err != nil {
					t.Error(err)
					return
				}
				pin, err := k.HashPIN("1234")
				if err != nil || !k.CheckPIN(pin, "1234") {
					t.Error("PIN round trip failed", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkOpen measures unsealing one 20-byte TOTP secret, done for every
// token of a user on each login.
func BenchmarkOpen(b *testing.B) {
	k := newKeyring(b, 0)
	sealed, err := k.Seal([]byte("12345678901234567890"), []byte("42"))
	if err != nil {
		b.Fatal(err)
	}
	ad := []byte("42")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckPIN measures one PIN check, done on each PIN+OTP login.
func BenchmarkCheckPIN(b *testing.B) {
	k := newKeyring(b, 0)
	stored, err := k.HashPIN("ab12")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !k.CheckPIN(stored, "ab12") {
			b.Fatal("CheckPIN = false")
		}
	}
}
