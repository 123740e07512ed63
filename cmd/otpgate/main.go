// Command otpgate is the one binary: "otpgate serve" runs the
// authentication service, the other subcommands manage users and tokens in
// the same store. Run "otpgate help" for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/otpgate/otpgate/cmd/otpgate/bench"
)

// Exit codes.
const (
	exitOK      = 0 // success, or accept
	exitRefused = 1 // refused, not found, reject
	exitError   = 2 // usage or system error, unavailable
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what one invocation works with.
type env struct {
	ctx        context.Context
	stdin      *secretReader
	stdout     io.Writer
	stderr     io.Writer
	configPath string
}

// command is one subcommand: it parses its own flags from args.
type command struct {
	usage string
	run   func(e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":         {"serve", cmdServe},
		"migrate":       {"migrate", cmdMigrate},
		"config":        {"config check", cmdConfig},
		"version":       {"version", cmdVersion},
		"hash-password": {"hash-password  (password on stdin; prints an argon2id hash for service accounts)", cmdHashPassword},
		"admin-token":   {"admin-token  (prints a new admin API bearer token and its config line)", cmdAdminToken},
		"bench":         {bench.Usage, cmdBench},
		"check":         {"check --service SERVICE [--client IP] [--json] NAME  (password on stdin)", cmdCheck},
		"user":          {"user add|set-password|set-pin|set-level|set-attr|show|list|unlock|reset|rename|delete ...", cmdUser},
		"token":         {"token enroll|test|list|enable|disable|delete|resync|describe ...", cmdToken},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("otpgate", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	cfgPath := global.String("c", "", "config file (default: ./otpgate.toml if present, else built-in defaults)")
	global.StringVar(cfgPath, "config", "", "same as -c")
	if err := global.Parse(args); err != nil {
		fmt.Fprintf(stderr, "otpgate: %v (run 'otpgate help')\n", err)
		return exitError
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		usage(stderr)
		if len(rest) == 0 {
			return exitError
		}
		return exitOK
	}
	cmd, ok := commands()[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "otpgate: unknown command %q (run 'otpgate help')\n", rest[0])
		return exitError
	}
	e := &env{ctx: ctx, stdin: newSecretReader(stdin, stderr), stdout: stdout, stderr: stderr, configPath: *cfgPath}
	err := cmd.run(e, rest[1:])
	return report(stderr, err)
}

// report prints err as one line and maps it to an exit code.
func report(stderr io.Writer, err error) int {
	var ex exitErr
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ex) && ex.err == nil:
		return ex.code
	case errors.As(err, &ex):
		fmt.Fprintf(stderr, "otpgate: %v\n", ex.err)
		return ex.code
	}
	fmt.Fprintf(stderr, "otpgate: %v\n", err)
	return exitCodeOf(err)
}

// exitErr carries an explicit exit code; a nil err prints nothing.
type exitErr struct {
	code int
	err  error
}

func (e exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func usageErr(format string, args ...any) error {
	return exitErr{exitError, fmt.Errorf(format, args...)}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: otpgate [-c FILE] COMMAND [ARGS]")
	fmt.Fprintln(w, "commands:")
	for _, name := range []string{"serve", "migrate", "config", "version", "check", "user", "token", "hash-password", "admin-token", "bench"} {
		fmt.Fprintf(w, "  %s\n", commands()[name].usage)
	}
	fmt.Fprintln(w, "Secrets (passwords, PINs, mOTP secrets) are read from stdin, one per line, or prompted for without echo.")
}

// parseFlags parses fs from args allowing flags after positional
// arguments ("token enroll alice --type totp") and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErr("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(name string, pos []string, n int, names string) error {
	if len(pos) != n {
		return usageErr("usage: otpgate %s %s", name, names)
	}
	return nil
}
