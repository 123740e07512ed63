// Package bench is otpgate's load generator for operators: "otpgate bench
// seed" creates users with a PIN and an active HOTP token in the
// configured store and writes their secrets to a users file; "otpgate
// bench radius|ldap" drives a running server with a fresh PIN+OTP per
// request (or the plain password, also against other servers such as
// FreeRADIUS and slapd) and reports accepts, rejects, errors, requests/s
// and latency percentiles.
//
// The users file holds passwords, PINs and token keys in clear: it is
// written with mode 0600; keep it on the load-generating host, use it only
// for benchmark accounts and delete it (and them) afterwards.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// Hard limits of one run, whatever the options say.
const (
	MaxDuration    = 10 * time.Minute
	MaxRequests    = 10_000_000
	MaxConcurrency = 4096
)

// Modes of the password a request carries.
const (
	ModePINOTP   = "pinotp"   // the user's PIN followed by the next HOTP code
	ModePassword = "password" // the user's account password
)

// Protocols Run drives.
const (
	ProtoRADIUS = "radius"
	ProtoLDAP   = "ldap"
)

// DefaultBindDNTemplate is otpgate's default ldap.user_dn_templates entry.
const DefaultBindDNTemplate = "uid={user},ou=people,dc=example,dc=org"

// Options configure a run. Proto, Addr and UsersFile are required; zero
// values of the others take the defaults documented on each field.
type Options struct {
	Proto  string        // ProtoRADIUS or ProtoLDAP
	Addr   string        // host:port of the server
	Secret verify.Secret // RADIUS shared secret (default "testing123")
	// Users is how many users of the file take part (default and at most:
	// all). Each user is driven by one worker at a time, so fewer users
	// than Concurrency leave workers waiting.
	Users       int
	Concurrency int           // requests in flight (default 16, at most MaxConcurrency)
	Duration    time.Duration // run length (default 10s, at most MaxDuration)
	// MaxRequests stops the run after this many requests (default and at
	// most the package's MaxRequests), whichever of it and Duration comes
	// first.
	MaxRequests int
	Timeout     time.Duration // per request (default 5s)
	Mode        string        // ModePINOTP (default) or ModePassword
	// NewConnPerBind makes every LDAP bind use a new connection (dial,
	// bind, unbind) instead of one persistent connection per worker.
	NewConnPerBind bool
	// BindDNTemplate turns a user name into the LDAP bind DN; "{user}" is
	// replaced (default DefaultBindDNTemplate).
	BindDNTemplate string
	// UsersFile is the CSV written by Seed. In ModePINOTP the users' next
	// HOTP counters are written back to it at the end, so that a second
	// run continues where this one stopped.
	UsersFile string
}

// ErrUsage wraps errors in the options or arguments.
var ErrUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
}

// check validates o and fills in the defaults.
func (o *Options) check() error {
	if o.Proto != ProtoRADIUS && o.Proto != ProtoLDAP {
		return usagef("protocol must be radius or ldap")
	}
	if o.Addr == "" || o.UsersFile == "" {
		return usagef("the server address and the users file are required")
	}
	if o.Mode == "" {
		o.Mode = ModePINOTP
	}
	if o.Mode != ModePINOTP && o.Mode != ModePassword {
		return usagef("mode must be pinotp or password")
	}
	if o.Users < 0 || o.Concurrency < 0 || o.Duration < 0 || o.MaxRequests < 0 || o.Timeout < 0 {
		return usagef("users, concurrency, duration, requests and timeout must not be negative")
	}
	if o.Concurrency > MaxConcurrency || o.Duration > MaxDuration || o.MaxRequests > MaxRequests {
		return usagef("at most %d concurrent requests, %v and %d requests per run",
			MaxConcurrency, MaxDuration, MaxRequests)
	}
	o.Secret = orDefault[verify.Secret](o.Secret, "testing123")
	o.BindDNTemplate = orDefault(o.BindDNTemplate, DefaultBindDNTemplate)
	o.Concurrency = orDefault(o.Concurrency, 16)
	o.Duration = orDefault(o.Duration, 10*time.Second)
	o.MaxRequests = orDefault(o.MaxRequests, MaxRequests)
	o.Timeout = orDefault(o.Timeout, 5*time.Second)
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// client sends one authentication request and classifies the answer.
// A client belongs to one worker.
type client interface {
	do(user string, password verify.Secret) outcome
	Close() error
}

func newClient(o *Options) (client, error) {
	if o.Proto == ProtoLDAP {
		return newLDAPClient(o), nil
	}
	return newRADIUSClient(o)
}

// Run drives the server at o.Addr with the users of o.UsersFile until
// o.Duration has passed, o.MaxRequests were sent or ctx is cancelled,
// prints the result to out and returns it. In ModePINOTP it writes the
// users' next counters back to the users file, also when ctx was
// cancelled. A request in flight at the end is waited for (at most
// o.Timeout) and counted.
func Run(ctx context.Context, o Options, out io.Writer) (Result, error) {
	if err := o.check(); err != nil {
		return Result{}, err
	}
	all, err := ReadUsers(o.UsersFile)
	if err != nil {
		return Result{}, err
	}
	users := all
	if o.Users > 0 && o.Users < len(all) {
		users = all[:o.Users]
	}
	if len(users) == 0 {
		return Result{}, fmt.Errorf("users file %s: no users", o.UsersFile)
	}
	r, runErr := drive(ctx, &o, users)
	if o.Mode == ModePINOTP {
		if err := WriteUsers(o.UsersFile, all); err != nil {
			return r, errors.Join(runErr, fmt.Errorf("saving the next counters: %w", err))
		}
	}
	if runErr != nil {
		return r, runErr
	}
	fmt.Fprintf(out, "%s %s, %s mode, %d users, concurrency %d%s\n", o.Proto, o.Addr, o.Mode,
		len(users), o.Concurrency, connNote(&o))
	return r, r.Print(out)
}

func connNote(o *Options) string {
	switch {
	case o.Proto != ProtoLDAP:
		return ""
	case o.NewConnPerBind:
		return ", new connection per bind"
	}
	return ", persistent connections"
}

// drive runs the workers and returns their tally. The users are handed
// out through a channel: a worker takes one, sends its request and puts
// it back, so a user is never in two requests at once and HOTP counters
// are sent in order.
func drive(ctx context.Context, o *Options, users []*User) (Result, error) {
	clients := make([]client, o.Concurrency)
	for i := range clients {
		c, err := newClient(o)
		if err != nil {
			closeAll(clients[:i])
			return Result{}, err
		}
		clients[i] = c
	}
	defer closeAll(clients)
	pool := make(chan *User, len(users))
	for _, u := range users {
		pool <- u
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		t      tally
		budget = newBudget(o.MaxRequests)
		wg     sync.WaitGroup
		errMu  sync.Mutex
		runErr error
	)
	cpu0, start := processCPU(), time.Now()
	for _, c := range clients {
		wg.Go(func() {
			if err := work(ctx, o, c, pool, budget, &t); err != nil {
				errMu.Lock()
				runErr = errors.Join(runErr, err)
				errMu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	r := t.result(time.Since(start))
	if cpu0 > 0 {
		r.ClientCPU = processCPU() - cpu0
	}
	return r, runErr
}

func closeAll(clients []client) {
	for _, c := range clients {
		c.Close()
	}
}

// work is one worker's loop: take a user, send one request, record it,
// give the user back.
func work(ctx context.Context, o *Options, c client, pool chan *User, b *budget, t *tally) error {
	for b.take() {
		var u *User
		select {
		case <-ctx.Done():
			return nil
		case u = <-pool:
		}
		if ctx.Err() != nil {
			pool <- u
			return nil
		}
		password := u.Password
		if o.Mode == ModePINOTP {
			var err error
			// The counter advances whatever the answer: a rejected or
			// lost code may have been consumed, and an unused one leaves
			// the next within the server's HOTP window.
			if password, err = u.pinOTP(); err != nil {
				pool <- u
				return err
			}
		}
		start := time.Now()
		res := c.do(u.Name, password)
		t.add(res, time.Since(start))
		pool <- u
	}
	return nil
}

// budget hands out at most n requests to all workers together.
type budget struct {
	mu   sync.Mutex
	left int
}

func newBudget(n int) *budget { return &budget{left: n} }

// take reports whether one more request may be sent, and counts it.
func (b *budget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return false
	}
	b.left--
	return true
}
