package bench

import (
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/otp"
)

// usersHeader is the first line of a users file.
var usersHeader = []string{"name", "password", "pin", "hotp_key_hex", "next_counter"}

// User is one load-generator account: what a client must know to log in
// as it. Password is the account password (password mode); PIN and Key
// (an HOTP SHA1 6-digit key) give the PIN+OTP password, NextCounter is
// the first HOTP counter not yet sent. PIN and Key are empty for users
// of a plain server (password mode only).
type User struct {
	Name        string
	Password    verify.Secret
	PIN         verify.Secret
	Key         []byte
	NextCounter uint64

	gen *otp.Generator // built from Key on first use
}

// pinOTP returns the PIN followed by the HOTP code at NextCounter and
// advances NextCounter. It is called by the one goroutine that holds u.
func (u *User) pinOTP() (verify.Secret, error) {
	if u.gen == nil {
		if len(u.Key) == 0 {
			return "", fmt.Errorf("user %s: no hotp key in the users file", u.Name)
		}
		g, err := otp.NewGenerator(u.Key, otp.SHA1, 6)
		if err != nil {
			return "", fmt.Errorf("user %s: %w", u.Name, err)
		}
		u.gen = g
	}
	code := u.gen.Code(u.NextCounter)
	u.NextCounter++
	return u.PIN + verify.Secret(code), nil
}

// ReadUsers reads a users file written by Seed or WriteUsers (CSV with
// the header name,password,pin,hotp_key_hex,next_counter). Files for a
// plain server may leave pin, hotp_key_hex and next_counter empty.
func ReadUsers(path string) ([]*User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	users, err := parseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return users, nil
}

func parseUsers(r io.Reader) ([]*User, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(usersHeader)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	for i, want := range usersHeader {
		if head[i] != want {
			return nil, fmt.Errorf("header: column %d is %q, want %q", i+1, head[i], want)
		}
	}
	var users []*User
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return users, nil
		}
		if err != nil {
			return nil, err
		}
		u, err := parseUser(rec)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		users = append(users, u)
	}
}

func parseUser(rec []string) (*User, error) {
	u := &User{Name: rec[0], Password: verify.Secret(rec[1]), PIN: verify.Secret(rec[2])}
	if u.Name == "" {
		return nil, errors.New("empty name")
	}
	var err error
	if u.Key, err = hex.DecodeString(rec[3]); err != nil {
		return nil, errors.New("hotp_key_hex is not hex") // never quote a key
	}
	if rec[4] != "" {
		if u.NextCounter, err = strconv.ParseUint(rec[4], 10, 64); err != nil {
			return nil, fmt.Errorf("next_counter: %q is not a counter", rec[4])
		}
	}
	return u, nil
}

// WriteUsers writes users to path with mode 0600 (the file holds
// passwords, PINs and token keys), replacing it atomically: a crash
// leaves either the old or the new file.
func WriteUsers(path string, users []*User) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".users-*.csv")
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("users file: %w", err)
	}
	w := csv.NewWriter(tmp)
	w.Write(usersHeader)
	for _, u := range users {
		w.Write([]string{u.Name, u.Password.Reveal(), u.PIN.Reveal(), hex.EncodeToString(u.Key),
			strconv.FormatUint(u.NextCounter, 10)})
	}
	w.Flush()
	err = errors.Join(w.Error(), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("users file %s: %w", path, err)
	}
	return nil
}
