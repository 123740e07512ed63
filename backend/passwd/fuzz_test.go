package passwd

import (
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary stored hashes and passwords to Verify, which
// must never panic. The seeds are cheap valid hashes of every scheme, so the
// fuzzer starts from inputs that reach the computation.
func FuzzVerify(f *testing.F) {
	seeds := []struct{ hash, password string }{
		{"$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$zZMIgbOzX2QzHhRVC07YmQ", "correct horse battery staple"},
		{"$2y$04$Pz4gZOzfMyxND8iTUC0Ckuu1Xmttn5NjlH.AQXjGRCPBw0m0MWmw6", "hunter2"},
		{"$6$rounds=1000$$NPMepfN3/Cv.LPoa7suAzCVH3BhfhhB2wHuwY51WjZgqg.e601K6RWCJ7AHYXHZcp4ilHQ0xlpG1yRxSYX3TP/", ""},
		{"{SSHA}3zgA6QY8jDDh79aMlEBxSToel0HnqMpE", "secret"},
		{"{SSHA512}GyU2EsF9+E4B0BGlXHMIpcC8ymBeVNNZCq6vehzMQb1dQrX5jIlEu3PDhxPGz7gJ/nvhdCWTC2lvcFKFX0i0qXNhbHRzYWx0", "hunter2"},
		{"{CRYPT}$2b$04$abcdefghijklmnopqrstuuV3duMsC0HpUex6N9qapiuOHHWkwRXVm", "hunter2"},
		{"", ""},
		{"$", "x"},
		{"{}", "x"},
		{"$6$rounds=$", "x"},
		{"$argon2id$v=19$m=,t=,p=$$", "x"},
		{strings.Repeat("$", 40), "x"},
	}
	for _, s := range seeds {
		f.Add(s.hash, []byte(s.password))
	}
	f.Fuzz(func(t *testing.T, hash string, password []byte) {
		if expensive(hash) {
			// Valid but costly parameters (up to 1 GiB of argon2 memory,
			// bcrypt cost 16, 10M SHA-512 rounds) stall the fuzzer for
			// seconds per input; the parsers above still ran on them.
			t.Skip()
		}
		Verify(hash, password)
	})
}

// expensive reports whether hash parses with parameters that make one
// Verify take more than a few milliseconds.
func expensive(hash string) bool {
	if strings.HasPrefix(hash, "{") {
		if i := strings.IndexByte(hash, '}'); i >= 0 {
			hash = hash[i+1:]
		}
	}
	switch scheme(hash) {
	case "$argon2id$":
		h, ok := parseArgon2id(hash)
		return ok && uint64(h.params.Memory)*uint64(h.params.Time) > 4096
	case "$2a$", "$2b$", "$2y$":
		return len(hash) > 6 && isDigit(hash[4]) && isDigit(hash[5]) && (hash[4]-'0')*10+hash[5]-'0' > 6
	case "$6$":
		rounds, _, _, ok := parseSHA512Crypt(hash)
		return ok && rounds > 5000
	}
	return false
}
