package passwd

import (
	"strings"
	"testing"
)

// Known-answer vectors for the schemes other than SHA-512-crypt (see
// shacrypt_test.go), each made by an independent tool on this machine:
//
//	argon2id: the reference CLI (Debian package argon2, 0~20171227), e.g.
//	  echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32 -e
//	  (the same string the argon2 reference README shows)
//	  echo -n password | argon2 somesalt -id -t 2 -k 19456 -p 1 -l 32 -e
//	  echo -n 'correct horse battery staple' | argon2 saltsaltsaltsalt -id -t 1 -k 64 -p 2 -l 16 -e
//	  echo -n pässwörd | argon2 saltysaltysalty! -id -t 3 -k 256 -p 4 -l 64 -e
//	bcrypt $2y$: htpasswd -bnBC 10 alice 'correct horse battery staple'
//	             htpasswd -bnBC 4 bob hunter2
//	bcrypt $2a$, $2b$: python3 -c 'import crypt; print(crypt.crypt("hunter2", "$2a$04$abcdefghijklmnopqrstuu"))'
//	                   (libxcrypt), likewise "$2b$05$0123456789abcdefghijkl"
//	                   and "a"*72+"TRAILING" under "$2b$04$abcdefghijklmnopqrstuu"
//	{SSHA}, {SSHA512} with random salt: slappasswd -h '{SSHA}' -s secret
//	  and slappasswd -o module-load=pw-sha2.la -h '{SSHA512}' -s secret
//	  (OpenLDAP 2.5.13), cross-checked with python3 hashlib
//	{SSHA}, {SSHA512} with fixed salt: python3 hashlib + base64, e.g.
//	  base64.b64encode(hashlib.sha1(b"hunter2"+salt).digest()+salt)
var knownHashes = []struct {
	name, hash, password string
}{
	{"argon2id from the reference README", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password"},
	{"argon2id with the default parameters", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$PL01amPyeUuxG7H0vIr5X+qHkZvWnHmGBGXFYvh8z2E", "password"},
	{"argon2id with two lanes and a 16-byte key", "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$zZMIgbOzX2QzHhRVC07YmQ", "correct horse battery staple"},
	{"argon2id with a 64-byte key and a UTF-8 password", "$argon2id$v=19$m=256,t=3,p=4$c2FsdHlzYWx0eXNhbHR5IQ$LJ4W50b7Bw35ZX7K13PRztonlCbQq7jJPiTJeusF0gZDjIxdX9e/LQuvgb9E3lDCbPG5a+uJ5H4bOSDDgKinOg", "pässwörd"},
	{"bcrypt $2y$ from htpasswd at cost 10", "$2y$10$ZQXCSQxP1WoPF/2xdCPUeeOSyLc17IKWPDryr.XR8R.4ex160UTXq", "correct horse battery staple"},
	{"bcrypt $2y$ from htpasswd at cost 4", "$2y$04$Pz4gZOzfMyxND8iTUC0Ckuu1Xmttn5NjlH.AQXjGRCPBw0m0MWmw6", "hunter2"},
	{"bcrypt $2a$ from libxcrypt", "$2a$04$abcdefghijklmnopqrstuuV3duMsC0HpUex6N9qapiuOHHWkwRXVm", "hunter2"},
	{"bcrypt $2b$ from libxcrypt", "$2b$05$0123456789abcdefghijkezUgIbSggCpWorCPjVZj7Y5z/jqErOkG", "hunter2"},
	{"bcrypt of a password cut at 72 bytes", "$2b$04$abcdefghijklmnopqrstuuBzzIgyKkz7xMWYSzkIjUSnxEQFQ0WNe", strings.Repeat("a", 72) + "TRAILING"},
	{"{SSHA} from slappasswd", "{SSHA}3zgA6QY8jDDh79aMlEBxSToel0HnqMpE", "secret"},
	{"{SSHA} with an 8-byte salt", "{SSHA}yERxipHlokzIHIlbOPz5rEliDSgBAgMEBQYHCA==", "hunter2"},
	{"{SSHA} with a 1-byte salt", "{SSHA}+WAUJwRH4YOSdzzy5U4AhnOXksZz", "x"},
	{"{ssha} tag in lower case", "{ssha}3zgA6QY8jDDh79aMlEBxSToel0HnqMpE", "secret"},
	{"{SSHA512} from slappasswd", "{SSHA512}cvGQNtbAraLc6wSJoGgjtFDfEwH44L9qzlcIjrO2q2TZPlEg8MSBoTB1/mUIdUBtlP4t2w5q3A1RAWk9aeM91A0EakUgTwAV", "secret"},
	{"{SSHA512} with an 8-byte salt", "{SSHA512}GyU2EsF9+E4B0BGlXHMIpcC8ymBeVNNZCq6vehzMQb1dQrX5jIlEu3PDhxPGz7gJ/nvhdCWTC2lvcFKFX0i0qXNhbHRzYWx0", "hunter2"},
	{"{Ssha512} tag in mixed case", "{Ssha512}GyU2EsF9+E4B0BGlXHMIpcC8ymBeVNNZCq6vehzMQb1dQrX5jIlEu3PDhxPGz7gJ/nvhdCWTC2lvcFKFX0i0qXNhbHRzYWx0", "hunter2"},
	{"{CRYPT} wrapping SHA-512-crypt", "{CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
	{"{crypt} wrapping bcrypt", "{crypt}$2y$04$Pz4gZOzfMyxND8iTUC0Ckuu1Xmttn5NjlH.AQXjGRCPBw0m0MWmw6", "hunter2"},
	{"Dovecot {SHA512-CRYPT}", "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
	{"Dovecot {BLF-CRYPT}", "{BLF-CRYPT}$2y$04$Pz4gZOzfMyxND8iTUC0Ckuu1Xmttn5NjlH.AQXjGRCPBw0m0MWmw6", "hunter2"},
	{"Dovecot {ARGON2ID}", "{ARGON2ID}$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$zZMIgbOzX2QzHhRVC07YmQ", "correct horse battery staple"},
}

func TestVerifyAcceptsKnownHashes(t *testing.T) {
	t.Parallel()
	for _, tc := range knownHashes {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			t.Parallel()
			if !Verify(tc.hash, []byte(tc.password)) {
				t.Errorf("Verify(%q, right password) = false", tc.hash)
			}
		})
		t.Run("rejects a wrong password for "+tc.name, func(t *testing.T) {
			t.Parallel()
			// A changed last byte proves the whole password counts, except
			// for bcrypt, which ignores bytes after the 72nd.
			changed := tc.password + "!"
			if len(tc.password) >= 72 {
				changed = "!" + tc.password
			}
			for _, wrong := range []string{"", changed} {
				if Verify(tc.hash, []byte(wrong)) {
					t.Errorf("Verify(%q, %q) = true", tc.hash, wrong)
				}
			}
		})
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	const (
		argonOK  = "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$zZMIgbOzX2QzHhRVC07YmQ"
		argonPW  = "correct horse battery staple"
		bcryptOK = "$2y$04$Pz4gZOzfMyxND8iTUC0Ckuu1Xmttn5NjlH.AQXjGRCPBw0m0MWmw6"
		bcryptPW = "hunter2"
		shaOK    = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
		shaPW    = "Hello world!"
		sshaOK   = "{SSHA}3zgA6QY8jDDh79aMlEBxSToel0HnqMpE"
		sshaPW   = "secret"
	)
	tests := []struct {
		name, hash, password string
	}{
		{"rejects an empty hash", "", ""},
		{"rejects an empty hash with a password", "", "x"},
		{"rejects a plaintext password stored as the hash", "hunter2", "hunter2"},
		{"rejects a lone dollar", "$", ""},
		{"rejects a lone brace", "{", ""},
		{"rejects an unclosed tag", "{SSHA", "secret"},
		{"rejects an unknown tag", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret"},
		{"rejects an unknown modular scheme", "$1$saltsalt$abcdefghijklmnopqrstuv", "x"},
		{"rejects {CLEARTEXT}", "{CLEARTEXT}secret", "secret"},
		{"rejects {CRYPT} around an unknown scheme", "{CRYPT}$1$saltsalt$abcdefghijklmnopqrstuv", "x"},
		{"rejects {CRYPT} around a DES crypt", "{CRYPT}saHW9GdxihkGQ", "secret"},
		{"rejects {SHA512-CRYPT} around bcrypt", "{SHA512-CRYPT}" + bcryptOK, bcryptPW},
		{"rejects garbage before a valid hash", " " + shaOK, shaPW},
		{"rejects a password over MaxPasswordLen", "{SSHA}" + "AAAA", strings.Repeat("a", MaxPasswordLen+1)},
		{"rejects a hash over the length limit", "{SSHA}" + strings.Repeat("A", maxHashLen), "x"},

		{"rejects argon2i", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA", "password"},
		{"rejects argon2id version 16", strings.Replace(argonOK, "v=19", "v=16", 1), argonPW},
		{"rejects argon2id without a version", strings.Replace(argonOK, "$v=19", "", 1), argonPW},
		{"rejects argon2id with m=4294967295", strings.Replace(argonOK, "m=64", "m=4294967295", 1), argonPW},
		{"rejects argon2id with m beyond uint32", strings.Replace(argonOK, "m=64", "m=4294967296", 1), argonPW},
		{"rejects argon2id with m above 1 GiB", strings.Replace(argonOK, "m=64", "m=1048577", 1), argonPW},
		{"rejects argon2id with m below 8 per lane", strings.Replace(argonOK, "m=64", "m=15", 1), argonPW},
		{"rejects argon2id with t=0", strings.Replace(argonOK, "t=1", "t=0", 1), argonPW},
		{"rejects argon2id with t=21", strings.Replace(argonOK, "t=1", "t=21", 1), argonPW},
		{"rejects argon2id with p=0", strings.Replace(argonOK, "p=2", "p=0", 1), argonPW},
		{"rejects argon2id with p=65", strings.Replace(argonOK, "p=2", "p=65", 1), argonPW},
		{"rejects argon2id with p=256", strings.Replace(argonOK, "p=2", "p=256", 1), argonPW},
		{"rejects argon2id with a negative parameter", strings.Replace(argonOK, "t=1", "t=-1", 1), argonPW},
		{"rejects argon2id with a leading zero", strings.Replace(argonOK, "t=1", "t=01", 1), argonPW},
		{"rejects argon2id with parameters out of order", strings.Replace(argonOK, "m=64,t=1", "t=1,m=64", 1), argonPW},
		{"rejects argon2id with a keyid parameter", strings.Replace(argonOK, "p=2", "p=2,keyid=AA", 1), argonPW},
		{"rejects argon2id with an empty salt", "$argon2id$v=19$m=64,t=1,p=2$$zZMIgbOzX2QzHhRVC07YmQ", argonPW},
		{"rejects argon2id with a 4-byte salt", "$argon2id$v=19$m=64,t=1,p=2$c2FsdA$zZMIgbOzX2QzHhRVC07YmQ", argonPW},
		{"rejects argon2id with a padded salt", strings.Replace(argonOK, "dA$", "dA==$", 1), argonPW},
		{"rejects argon2id with bad base64 in the key", strings.Replace(argonOK, "zZMI", "z!MI", 1), argonPW},
		{"rejects argon2id with a newline in the key", strings.Replace(argonOK, "zZMI", "zZ\nMI", 1), argonPW},
		{"rejects argon2id with a key under 16 bytes", "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$zZMIgbOzX2QzHhRV", argonPW},
		{"rejects argon2id with a key over 64 bytes", "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 88), argonPW},
		{"rejects argon2id cut after the parameters", "$argon2id$v=19$m=64,t=1,p=2", argonPW},
		{"rejects argon2id with an extra field", argonOK + "$", argonPW},
		{"rejects argon2id cut in the key", argonOK[:len(argonOK)-4], argonPW},

		{"rejects bcrypt cut short", bcryptOK[:59], bcryptPW},
		{"rejects bcrypt with a trailing character", bcryptOK + "A", bcryptPW},
		{"rejects bcrypt with cost 3", strings.Replace(bcryptOK, "$04$", "$03$", 1), bcryptPW},
		{"rejects bcrypt with cost 31", strings.Replace(bcryptOK, "$04$", "$31$", 1), bcryptPW},
		{"rejects bcrypt with cost 17", strings.Replace(bcryptOK, "$04$", "$17$", 1), bcryptPW},
		{"rejects bcrypt with a non-digit cost", strings.Replace(bcryptOK, "$04$", "$0x$", 1), bcryptPW},
		{"rejects bcrypt with a one-digit cost", strings.Replace(bcryptOK, "$04$", "$4$P", 1), bcryptPW},
		{"rejects bcrypt with a character outside its alphabet", strings.Replace(bcryptOK, "Pz4g", "Pz+g", 1), bcryptPW},
		{"rejects bcrypt $2x$", strings.Replace(bcryptOK, "$2y$", "$2x$", 1), bcryptPW},
		{"rejects bcrypt $2$", "$2$04$Pz4gZOzfMyxND8iTUC0Ckuu1Xmttn5NjlH.AQXjGRCPBw0m0MWmw6A", bcryptPW},

		{"rejects SHA-512-crypt cut in the hash", shaOK[:len(shaOK)-1], shaPW},
		{"rejects SHA-512-crypt with a hash one too long", shaOK + "1", shaPW},
		{"rejects SHA-512-crypt with a salt over 16", strings.Replace(shaOK, "saltstring$", "saltstringsaltstr$", 1), shaPW},
		{"rejects SHA-512-crypt without a hash", "$6$saltstring", shaPW},
		{"rejects SHA-512-crypt without a salt field", "$6$", shaPW},
		{"rejects SHA-512-crypt with a character outside the alphabet", strings.Replace(shaOK, "svn8", "svn+", 1), shaPW},
		{"rejects SHA-512-crypt with one wrong character", strings.Replace(shaOK, "svn8", "svn9", 1), shaPW},

		{"rejects {SSHA} with bad base64", "{SSHA}3zgA6QY8jDDh79aMlEBxSToel0H!qMpE", sshaPW},
		{"rejects {SSHA} with a newline in the base64", "{SSHA}3zgA6QY8jDDh79aMl\nEBxSToel0HnqMpE", sshaPW},
		{"rejects {SSHA} without a salt", "{SSHA}" + "2jmj7l5rSw0yVb/vlWAYkK/YBwk=", ""},
		{"rejects {SSHA} with an empty payload", "{SSHA}", sshaPW},
		{"rejects {SSHA} cut short", sshaOK[:len(sshaOK)-4], sshaPW},
		{"rejects {SSHA512} holding a SHA-1 digest", "{SSHA512}3zgA6QY8jDDh79aMlEBxSToel0HnqMpE", sshaPW},
		{"rejects {SSHA} holding a SHA-512 digest", "{SSHA}GyU2EsF9+E4B0BGlXHMIpcC8ymBeVNNZCq6vehzMQb1dQrX5jIlEu3PDhxPGz7gJ/nvhdCWTC2lvcFKFX0i0qXNhbHRzYWx0", "hunter2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if Verify(tc.hash, []byte(tc.password)) {
				t.Errorf("Verify(%q, %q) = true", tc.hash, tc.password)
			}
		})
	}
}
