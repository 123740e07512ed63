package backend

import (
	"bytes"
	"errors"
	"testing"

	"github.com/otpgate/otpgate/verify"
)

func TestTokenAD(t *testing.T) {
	t.Parallel()
	for id, want := range map[int64]string{1: "1", 42: "42", 9223372036854775807: "9223372036854775807"} {
		if got := string(TokenAD(id)); got != want {
			t.Errorf("TokenAD(%d) = %q, want %q", id, got, want)
		}
	}
}

func TestSecretEncoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		key  []byte
		pin  verify.Secret
	}{
		{"round-trips an HOTP key without PIN", []byte("12345678901234567890"), ""},
		{"round-trips an mOTP secret with device PIN", []byte("0123456789abcdef"), "1234"},
		{"round-trips an empty key", nil, ""},
		{"round-trips binary bytes", []byte{0, 0, 0, 4, 0xff}, "\x00\x00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			plain, err := encodeSecret(c.key, c.pin)
			if err != nil {
				t.Fatal(err)
			}
			key, pin, err := decodeSecret(plain)
			if err != nil || !bytes.Equal(key, c.key) || key == nil || pin != c.pin {
				t.Fatalf("decodeSecret(encodeSecret(...)) = %x, %v; want the input back", key, err)
			}
			clear(plain)
			if !bytes.Equal(key, c.key) {
				t.Fatal("clearing the plaintext changed the decoded key")
			}
		})
	}
}

func TestDecodeSecretRejectsMalformedInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		input []byte
	}{
		{"empty", nil},
		{"unknown version", []byte{2, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"truncated key length", []byte{1, 0, 0}},
		{"key longer than the input", []byte{1, 0, 0, 0, 9, 'a'}},
		{"missing PIN field", []byte{1, 0, 0, 0, 1, 'a'}},
		{"PIN longer than the input", []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 'p'}},
		{"trailing bytes", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 'x'}},
		{"huge length", []byte{1, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, c := range cases {
		if _, _, err := decodeSecret(c.input); !errors.Is(err, errBadSecret) {
			t.Errorf("%s: decodeSecret error = %v, want errBadSecret", c.name, err)
		}
	}
}

func FuzzDecodeSecret(f *testing.F) {
	seed, _ := encodeSecret([]byte("key"), "1234")
	f.Add(seed)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, input []byte) {
		key, pin, err := decodeSecret(input)
		if err != nil {
			return
		}
		again, err := encodeSecret(key, pin)
		if err != nil || !bytes.Equal(again, input) {
			t.Fatalf("decoded input does not re-encode to itself")
		}
	})
}
