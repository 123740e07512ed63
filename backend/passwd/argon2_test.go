package passwd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestHashWritesPHCStrings(t *testing.T) {
	t.Parallel()
	// Expected strings from the argon2 reference CLI with the same salt:
	//   echo -n hunter2 | argon2 0123456789abcdef -id -t 2 -k 19456 -p 1 -l 32 -e
	//   echo -n hunter2 | argon2 0123456789abcdef -id -t 1 -k 64 -p 2 -l 32 -e
	tests := []struct {
		name   string
		params Argon2Params
		want   string
	}{
		{
			name:   "writes the default parameters as the reference CLI does",
			params: DefaultArgon2,
			want:   "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$nUxirfVK2I/vOT6f2ly2wSgjwZ1oqwTLCmrcpDyjicA",
		},
		{
			name:   "writes two lanes as the reference CLI does",
			params: Argon2Params{Time: 1, Memory: 64, Threads: 2},
			want:   "$argon2id$v=19$m=64,t=1,p=2$MDEyMzQ1Njc4OWFiY2RlZg$VU/5RrXRJPa+Ii7VitYKlOMMJWydryDkRpQ4Og1EPnQ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Hash([]byte("hunter2"), tc.params, strings.NewReader("0123456789abcdef"))
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if got != tc.want {
				t.Errorf("Hash\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestHashRoundTrips(t *testing.T) {
	t.Parallel()
	params := Argon2Params{Time: 1, Memory: 64, Threads: 1}
	for _, pw := range []string{"", "hunter2", "pässwörd", strings.Repeat("z", MaxPasswordLen)} {
		hash, err := Hash([]byte(pw), params, nil)
		if err != nil {
			t.Fatalf("Hash(len %d): %v", len(pw), err)
		}
		if !Verify(hash, []byte(pw)) {
			t.Errorf("Verify(Hash(len %d)) = false", len(pw))
		}
		if Verify(hash, []byte(pw+"x")) {
			t.Errorf("Verify(Hash(len %d), other) = true", len(pw))
		}
	}
}

func TestHashUsesAFreshSalt(t *testing.T) {
	t.Parallel()
	params := Argon2Params{Time: 1, Memory: 64, Threads: 1}
	a, errA := Hash([]byte("hunter2"), params, nil)
	b, errB := Hash([]byte("hunter2"), params, nil)
	if errA != nil || errB != nil {
		t.Fatalf("Hash: %v, %v", errA, errB)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: %s", a)
	}
}

func TestHashRefuses(t *testing.T) {
	t.Parallel()
	errRand := errors.New("no entropy")
	tests := []struct {
		name     string
		password []byte
		params   Argon2Params
		rand     *bytes.Reader
		wantErr  error
	}{
		{name: "refuses zero parameters", params: Argon2Params{}},
		{name: "refuses time 21", params: Argon2Params{Time: 21, Memory: 64, Threads: 1}},
		{name: "refuses memory above 1 GiB", params: Argon2Params{Time: 1, Memory: 1<<20 + 1, Threads: 1}},
		{name: "refuses memory below 8 KiB per lane", params: Argon2Params{Time: 1, Memory: 15, Threads: 2}},
		{name: "refuses 65 threads", params: Argon2Params{Time: 1, Memory: 1024, Threads: 65}},
		{
			name:     "refuses a password over MaxPasswordLen",
			password: make([]byte, MaxPasswordLen+1),
			params:   DefaultArgon2,
			wantErr:  ErrPasswordTooLong,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Hash(tc.password, tc.params, nil)
			if err == nil {
				t.Fatal("Hash succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Hash error %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Run("reports a failing random source", func(t *testing.T) {
		t.Parallel()
		_, err := Hash([]byte("pw"), DefaultArgon2, iotest.ErrReader(errRand))
		if !errors.Is(err, errRand) {
			t.Errorf("Hash error %v, want one wrapping %v", err, errRand)
		}
	})
	t.Run("reports a short random source", func(t *testing.T) {
		t.Parallel()
		if _, err := Hash([]byte("pw"), DefaultArgon2, strings.NewReader("short")); err == nil {
			t.Error("Hash succeeded with 5 bytes of salt")
		}
	})
}

func TestDefaultArgon2IsValid(t *testing.T) {
	t.Parallel()
	if err := DefaultArgon2.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Argon2Params{Time: 2, Memory: 19456, Threads: 1}
	if DefaultArgon2 != want {
		t.Errorf("DefaultArgon2 = %+v, want %+v", DefaultArgon2, want)
	}
}

// BenchmarkVerifyArgon2idDefault measures one login against a hash written
// with DefaultArgon2.
func BenchmarkVerifyArgon2idDefault(b *testing.B) {
	hash, err := Hash([]byte("hunter2"), DefaultArgon2, nil)
	if err != nil {
		b.Fatal(err)
	}
	pw := []byte("hunter2")
	for b.Loop() {
		if !Verify(hash, pw) {
			b.Fatal("Verify = false")
		}
	}
}
