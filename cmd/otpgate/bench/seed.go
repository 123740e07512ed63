package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// MaxSeedUsers bounds one Seed call.
const MaxSeedUsers = 1_000_000

// SeedTarget is the opened store Seed writes to: the store and the
// manager built on it (as cmd/otpgate opens them) and the config's
// pin_length.
type SeedTarget struct {
	Store     manage.Store
	Manager   *manage.Manager
	PINLength int
}

// SeedOptions configure Seed. Users and File are required.
type SeedOptions struct {
	Users  int    // how many users to create, 1 to MaxSeedUsers
	File   string // users file to create; it must not exist
	Prefix string // user names are Prefix followed by 4 or more digits (default "bench")
	// Level is the users' security level (default web-otp: PIN+OTP for
	// webmail, the password for imap and the other "other" services).
	Level string
	// SharedPassword gives every user the same account password, hashed
	// once: the password hash (argon2id by default, about 50 ms of CPU)
	// dominates seeding, and 1,000,000 users with their own would take
	// hours. PINs and token keys stay per user.
	SharedPassword bool
	Rand           io.Reader // passwords, PINs and keys; nil means crypto/rand
}

// Seed creates o.Users users named bench0000, bench0001, ... each with a
// random account password, a random PIN of the target's PIN length, level
// o.Level and an active (already tested) HOTP SHA1 6-digit token with a
// random key and counter 0, and writes them to o.File (mode 0600). Users
// are created in parallel (the password hash dominates). When a user
// cannot be created (for example it exists already) Seed stops, still
// writes the users it did create, and returns the error. With
// o.SharedPassword the first user is created with its hashed password and
// the others with a copy of that hash.
func Seed(ctx context.Context, target SeedTarget, o SeedOptions) error {
	if err := o.check(target); err != nil {
		return err
	}
	if _, err := os.Lstat(o.File); err == nil {
		return usagef("users file %s exists; remove it or name another", o.File)
	}
	users, err := makeUsers(o, target.PINLength)
	if err != nil {
		return err
	}
	var (
		created []*User
		seedErr error
	)
	if o.SharedPassword {
		created, seedErr = createShared(ctx, target, o.Level, users)
	} else {
		created, seedErr = createAll(ctx, target, o.Level, users, nil)
	}
	if len(created) > 0 || seedErr == nil {
		if err := WriteUsers(o.File, created); err != nil {
			return errors.Join(seedErr, err)
		}
	}
	return seedErr
}

func (o *SeedOptions) check(target SeedTarget) error {
	if target.Store == nil || target.Manager == nil || target.PINLength <= 0 {
		return errors.New("seed: store, manager and pin length are required")
	}
	if o.Users < 1 || o.Users > MaxSeedUsers || o.File == "" {
		return usagef("seed needs 1 to %d users and a users file", MaxSeedUsers)
	}
	o.Prefix = orDefault(o.Prefix, "bench")
	o.Level = orDefault(o.Level, verify.LevelWebOTP)
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return manage.ValidateName(o.Prefix)
}

// makeUsers draws the users' secrets.
func makeUsers(o SeedOptions, pinLength int) ([]*User, error) {
	users := make([]*User, o.Users)
	for i := range users {
		pw, err1 := randomText(o.Rand, 20)
		pin, err2 := randomText(o.Rand, pinLength)
		key := make([]byte, 20)
		_, err3 := io.ReadFull(o.Rand, key)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("seed: random secrets: %w", err)
		}
		users[i] = &User{Name: fmt.Sprintf("%s%04d", o.Prefix, i), Password: pw, PIN: pin, Key: key}
	}
	return users, nil
}

// randomText returns n random letters and digits (valid as PIN and as
// password everywhere).
func randomText(r io.Reader, n int) (verify.Secret, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789" // 56 characters
	b := make([]byte, n)
	for i := 0; i < n; {
		var c [1]byte
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return "", err
		}
		if int(c[0]) < 256/len(alphabet)*len(alphabet) { // no modulo bias
			b[i] = alphabet[int(c[0])%len(alphabet)]
			i++
		}
	}
	return verify.Secret(b), nil
}

// createShared creates the first user with its password hashed, then the
// others in parallel with that password and hash.
func createShared(ctx context.Context, target SeedTarget, level string, users []*User) ([]*User, error) {
	created, err := createAll(ctx, target, level, users[:1], nil)
	if err != nil {
		return created, err
	}
	first, err := target.Store.UserByName(ctx, users[0].Name)
	if err != nil {
		return created, fmt.Errorf("seed: %w", err)
	}
	for _, u := range users[1:] {
		u.Password = users[0].Password
	}
	rest, err := createAll(ctx, target, level, users[1:], &first.PasswordHash)
	return append(created, rest...), err
}

// createAll creates the users in the store with as many workers as CPUs
// and returns those created, in order. A non-nil hash is every user's
// stored password hash (their Password must be what it hashes).
func createAll(parent context.Context, target SeedTarget, level string, users []*User, hash *string) ([]*User, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	done := make([]bool, len(users))
	next := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				if err := createUser(ctx, target, level, users[i], hash); err != nil {
					mu.Lock()
					errs = errors.Join(errs, err)
					mu.Unlock()
					cancel()
					continue
				}
				done[i] = true
			}
		})
	}
	for i := range users {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	created := make([]*User, 0, len(users))
	for i, u := range users {
		if done[i] {
			created = append(created, u)
		}
	}
	return created, errors.Join(errs, parent.Err())
}

// createUser creates one user with PIN, level and an active HOTP token;
// a non-nil hash is stored as the password hash instead of hashing.
func createUser(ctx context.Context, target SeedTarget, level string, u *User, hash *string) error {
	var (
		created verify.User
		err     error
	)
	if hash != nil {
		created, err = target.Store.CreateUser(ctx, verify.User{Name: u.Name, PasswordHash: *hash, Level: verify.LevelOff})
	} else {
		created, err = target.Manager.AddUser(ctx, u.Name, u.Password)
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if _, err := target.Manager.SetPIN(ctx, u.Name, u.PIN); err != nil {
		return fmt.Errorf("seed: user %s: %w", u.Name, err)
	}
	// Created active (Pending false), so no code is spent on a test.
	_, err = target.Store.CreateToken(ctx, verify.Token{UserID: created.ID, Serial: "HOTP-" + u.Name,
		Type: verify.TypeHOTP, Description: "otpgate bench", Enabled: true, Key: u.Key, Digits: 6,
		Algorithm: "SHA1", LastStep: verify.NoStep})
	if err != nil {
		return fmt.Errorf("seed: token of %s: %w", u.Name, err)
	}
	if _, err := target.Manager.SetLevel(ctx, u.Name, level); err != nil {
		return fmt.Errorf("seed: user %s: %w", u.Name, err)
	}
	return nil
}
