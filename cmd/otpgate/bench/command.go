package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/otpgate/otpgate/verify"
)

// Usage is the one-line usage of "otpgate bench".
const Usage = "bench seed --users N --file F | bench radius|ldap --addr HOST:PORT --file F [-c N] [-d 10s] [-n N] [--mode pinotp|password] ..."

// Opener opens the configured store for "bench seed"; Command closes the
// returned io.Closer when done.
type Opener func() (SeedTarget, io.Closer, error)

// Command runs "otpgate bench ARGS" (args without "bench"): "seed" creates
// benchmark users in the store open returns, "radius" and "ldap" run the
// load generator and print the result on stdout. Errors in the arguments
// wrap ErrUsage (exit 2 in cmd/otpgate); all other errors are system
// errors.
func Command(ctx context.Context, args []string, stdout io.Writer, open Opener) error {
	if len(args) == 0 {
		return usagef("otpgate %s", Usage)
	}
	switch args[0] {
	case "seed":
		return cmdSeed(ctx, args[1:], stdout, open)
	case ProtoRADIUS, ProtoLDAP:
		o, err := parseRunFlags(args[0], args[1:])
		if err != nil {
			return err
		}
		_, err = Run(ctx, o, stdout)
		return err
	}
	return usagef("unknown bench command %q; otpgate %s", args[0], Usage)
}

func cmdSeed(ctx context.Context, args []string, stdout io.Writer, open Opener) error {
	fs := flag.NewFlagSet("bench seed", flag.ContinueOnError)
	var o SeedOptions
	fs.IntVar(&o.Users, "users", 0, "number of users to create")
	fs.StringVar(&o.File, "file", "", "users file to write (mode 0600; it holds the secrets)")
	fs.StringVar(&o.Prefix, "prefix", "bench", "user name prefix")
	fs.StringVar(&o.Level, "level", "web-otp", "security level of the users")
	fs.BoolVar(&o.SharedPassword, "shared-password", false, "one account password for all users, hashed once (fast seeding of many users)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Users < 1 || o.File == "" {
		return usagef("usage: otpgate bench seed --users N --file FILE [--prefix P] [--level L] [--shared-password]")
	}
	target, closer, err := open()
	if err != nil {
		return err
	}
	defer closer.Close()
	start := time.Now()
	if err := Seed(ctx, target, o); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "seeded %d users (%s0000...) in %.1fs; secrets in %s (mode 0600): delete it after use\n",
		o.Users, o.Prefix, time.Since(start).Seconds(), o.File)
	return err
}

// parseRunFlags turns "otpgate bench radius|ldap FLAGS" into Options.
func parseRunFlags(proto string, args []string) (Options, error) {
	o := Options{Proto: proto}
	fs := flag.NewFlagSet("bench "+proto, flag.ContinueOnError)
	defAddr := map[string]string{ProtoRADIUS: "127.0.0.1:1812", ProtoLDAP: "127.0.0.1:1389"}[proto]
	fs.StringVar(&o.Addr, "addr", defAddr, "server address")
	fs.StringVar(&o.UsersFile, "file", "", "users file written by 'otpgate bench seed'")
	fs.IntVar(&o.Users, "users", 0, "use the first N users of the file (default all)")
	fs.IntVar(&o.Concurrency, "c", 16, "concurrent requests")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "same as -c")
	fs.DurationVar(&o.Duration, "d", 10*time.Second, "duration (at most 10m)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "same as -d")
	fs.IntVar(&o.MaxRequests, "n", 0, "stop after N requests (default: duration only)")
	fs.IntVar(&o.MaxRequests, "requests", 0, "same as -n")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-request timeout")
	fs.StringVar(&o.Mode, "mode", ModePINOTP, "pinotp (PIN + next HOTP code) or password")
	secretFile := fs.String("secret-file", "", "radius: file whose first line is the shared secret (default testing123)")
	fs.BoolVar(&o.NewConnPerBind, "new-conn", false, "ldap: a new connection for every bind")
	fs.StringVar(&o.BindDNTemplate, "bind-dn", DefaultBindDNTemplate, "ldap: bind DN template; {user} is replaced")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if *secretFile != "" {
		secret, err := readFirstLine(*secretFile)
		if err != nil {
			return o, err
		}
		o.Secret = verify.Secret(secret)
	}
	return o, nil
}

// parseFlags parses args, which must hold flags only.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usagef("%s: flags: %s", fs.Name(), flagNames(fs))
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func flagNames(fs *flag.FlagSet) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "-"+f.Name) })
	return strings.Join(names, " ")
}

// readFirstLine reads a secret file's first line; its content is never
// quoted in errors.
func readFirstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("secret file %s: %w", path, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("secret file %s: first line is empty", path)
	}
	return line, nil
}
