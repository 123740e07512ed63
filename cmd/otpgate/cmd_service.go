package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// exitCodeOf maps an error from the engine or manager to an exit code.
func exitCodeOf(err error) int {
	switch {
	case errors.Is(err, verify.ErrNotFound), errors.Is(err, verify.ErrExists), errors.Is(err, manage.ErrRefused):
		return exitRefused
	}
	return exitError
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cmdServe opens the store and runs until SIGINT/SIGTERM. The RADIUS and
// LDAP listeners attach here when they land.
func cmdServe(e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("serve", pos, 0, ""); err != nil {
		return err
	}
	a, err := e.open(true)
	if err != nil {
		return err
	}
	defer a.Close()
	source := a.cfg.File
	if source == "" {
		source = "(built-in defaults)"
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	ls := newListenerSet()
	a.serving = &servingState{sw: a.sw}
	if err := a.startListeners(ctx, ls); err != nil {
		cancel()
		return errors.Join(err, ls.drain())
	}
	go a.watchReloads(ctx, e)
	a.log.Info("otpgate ready", "config", source, "store", a.cfg.Store.Path, "version", version())
	err = ls.wait(ctx, cancel)
	if err != nil {
		a.log.Error("otpgate failed", "err", err)
		return err
	}
	a.log.Info("otpgate stopped")
	return nil
}

func cmdMigrate(e *env, args []string) error {
	if len(args) != 0 {
		return usageErr("usage: otpgate migrate")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	a := &app{cfg: cfg}
	defer a.Close()
	if a.log, err = newLogger(e.stderr, cfg.Log.Format, cfg.Log.Level, nil); err != nil {
		return err
	}
	// openStore runs the migrations.
	if err := a.openStore(e, cfg); err != nil {
		return err
	}
	v, err := a.store.SchemaVersion(e.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema version %d\n", v)
	return nil
}

// cmdConfig: "config check" validates and prints every error; exit 1 when
// the file has errors.
func cmdConfig(e *env, args []string) error {
	if len(args) != 1 || args[0] != "check" {
		return usageErr("usage: otpgate [-c FILE] config check")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		var ex exitErr
		if errors.As(err, &ex) {
			err = ex.err
		}
		fmt.Fprintln(e.stderr, err)
		return exitErr{code: exitRefused}
	}
	source := cfg.File
	if source == "" {
		source = "built-in defaults"
	}
	fmt.Fprintf(e.stdout, "%s: ok\n", source)
	return nil
}

func cmdVersion(e *env, args []string) error {
	if len(args) != 0 {
		return usageErr("usage: otpgate version")
	}
	fmt.Fprintf(e.stdout, "otpgate %s\n", version())
	return nil
}

// version reports the module version and VCS revision of the build.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " commit " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	return v
}
