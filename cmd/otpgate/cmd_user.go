package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otpgate/otpgate/verify/manage"
)

// subcommand dispatches "user X" / "token X".
type subcommand struct {
	args string // positional arguments for the usage line
	run  func(e *env, a *app, fs *flag.FlagSet, pos []string) error
	// flags adds the subcommand's own flags.
	flags func(fs *flag.FlagSet)
	// nargs is the number of positional arguments; -1 means two or more.
	nargs int
}

func dispatch(e *env, group string, subs map[string]subcommand, order []string, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: otpgate %s %s", group, strings.Join(order, "|"))
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usageErr("%s: unknown subcommand %q (want %s)", group, args[0], strings.Join(order, "|"))
	}
	name := group + " " + args[0]
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Bool("json", false, "print JSON")
	if sub.flags != nil {
		sub.flags(fs)
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if sub.nargs >= 0 {
		if err := wantArgs(name, pos, sub.nargs, sub.args); err != nil {
			return err
		}
	} else if len(pos) < 2 { // variadic: at least NAME and one more
		return usageErr("usage: otpgate %s %s", name, sub.args)
	}
	a, err := e.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	return sub.run(e, a, fs, pos)
}

func jsonFlag(fs *flag.FlagSet) bool { return fs.Lookup("json").Value.String() == "true" }

var userOrder = []string{"add", "set-password", "set-pin", "set-level", "set-attr", "show", "list", "unlock", "reset", "rename", "delete"}

func cmdUser(e *env, args []string) error {
	subs := map[string]subcommand{
		"add":          {args: "NAME", nargs: 1, run: userAdd},
		"set-password": {args: "NAME", nargs: 1, run: userSetPassword},
		"set-pin":      {args: "NAME", nargs: 1, run: userSetPIN},
		"set-level":    {args: "NAME off|web-otp|web-otp-only", nargs: 2, run: userSetLevel},
		"set-attr":     {args: "NAME ATTRIBUTE [VALUE...]", nargs: -1, run: userSetAttr},
		"show":         {args: "NAME", nargs: 1, run: userShow},
		"list":         {args: "", nargs: 0, run: userList},
		"unlock":       {args: "NAME", nargs: 1, run: simple("unlocked", func(e *env, a *app, p []string) error { return a.manager.Unlock(e.ctx, p[0]) })},
		"reset":        {args: "NAME", nargs: 1, run: userReset},
		"rename":       {args: "NAME NEW", nargs: 2, run: simple("renamed", func(e *env, a *app, p []string) error { return a.manager.RenameUser(e.ctx, p[0], p[1]) })},
		"delete":       {args: "NAME", nargs: 1, run: simple("deleted", func(e *env, a *app, p []string) error { return a.manager.DeleteUser(e.ctx, p[0]) })},
	}
	return dispatch(e, "user", subs, userOrder, args)
}

// simple wraps an operation that prints "<what> <arg>" on success.
func simple(what string, op func(e *env, a *app, pos []string) error) func(*env, *app, *flag.FlagSet, []string) error {
	return func(e *env, a *app, fs *flag.FlagSet, pos []string) error {
		if err := op(e, a, pos); err != nil {
			return err
		}
		if jsonFlag(fs) {
			return printJSON(e.stdout, map[string]string{"result": what, "name": pos[0]})
		}
		_, err := fmt.Fprintf(e.stdout, "%s %s\n", what, pos[0])
		return err
	}
}

func userAdd(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	pw, err := e.stdin.readConfirmed("password")
	if err != nil {
		return err
	}
	if _, err := a.manager.AddUser(e.ctx, pos[0], pw); err != nil {
		return err
	}
	return showUser(e, a, fs, pos[0])
}

func userSetPassword(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	pw, err := e.stdin.readConfirmed("new password")
	if err != nil {
		return err
	}
	return simple("password set for", func(e *env, a *app, p []string) error {
		return a.manager.SetPassword(e.ctx, p[0], pw)
	})(e, a, fs, pos)
}

func userSetPIN(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	pin, err := e.stdin.readConfirmed("PIN")
	if err != nil {
		return err
	}
	cut, err := a.manager.SetPIN(e.ctx, pos[0], pin)
	if err != nil {
		return err
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, map[string]any{"result": "pin set", "name": pos[0], "truncated": cut})
	}
	if cut {
		fmt.Fprintf(e.stdout, "note: only the first %d characters were kept\n", a.cfg.PINLength)
	}
	_, err = fmt.Fprintf(e.stdout, "PIN set for %s\n", pos[0])
	return err
}

func userSetLevel(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	warnings, err := a.manager.SetLevel(e.ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, map[string]any{"result": "level set", "name": pos[0], "level": pos[1], "warnings": warnings})
	}
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	_, err = fmt.Fprintf(e.stdout, "level of %s set to %s\n", pos[0], pos[1])
	return err
}

func userSetAttr(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	if err := a.manager.SetAttribute(e.ctx, pos[0], pos[1], pos[2:]); err != nil {
		return err
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, map[string]any{"result": "attribute set", "name": pos[0], "attribute": pos[1], "values": pos[2:]})
	}
	_, err := fmt.Fprintf(e.stdout, "attribute %s of %s set (%d values)\n", pos[1], pos[0], len(pos)-2)
	return err
}

func userReset(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	pw, err := e.stdin.readConfirmed("new password")
	if err != nil {
		return err
	}
	return simple("reset (level off, new password)", func(e *env, a *app, p []string) error {
		return a.manager.ResetUser(e.ctx, p[0], pw)
	})(e, a, fs, pos)
}

func userShow(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	return showUser(e, a, fs, pos[0])
}

func showUser(e *env, a *app, fs *flag.FlagSet, name string) error {
	u, err := a.manager.ShowUser(e.ctx, name)
	if err != nil {
		return err
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, u)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "name:\t%s\nlevel:\t%s\npin set:\t%v\nfailures:\t%d\n", u.Name, u.Level, u.PINSet, u.FailCount)
	if u.LockedUntil != nil {
		fmt.Fprintf(w, "backing off until:\t%s\n", u.LockedUntil.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "created:\t%s\n", u.CreatedAt.Format(time.RFC3339))
	for _, name := range slices.Sorted(maps.Keys(u.Attributes)) {
		fmt.Fprintf(w, "%s:\t%s\n", name, strings.Join(u.Attributes[name], ", "))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(u.Tokens) > 0 {
		fmt.Fprintln(e.stdout, "tokens:")
		return writeTokens(e.stdout, u.Tokens)
	}
	return nil
}

func userList(e *env, a *app, fs *flag.FlagSet, _ []string) error {
	users, err := a.manager.ListUsers(e.ctx)
	if err != nil {
		return err
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, users)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tLEVEL\tPIN\tFAILURES")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%v\t%d\n", u.Name, u.Level, u.PINSet, u.FailCount)
	}
	return w.Flush()
}

func writeTokens(out io.Writer, toks []manage.TokenInfo) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERIAL\tTYPE\tSTATE\tLAST USED\tDESCRIPTION")
	for _, t := range toks {
		last := "never"
		if t.LastUsed != nil {
			last = t.LastUsed.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Serial, t.Type, t.State, last, t.Description)
	}
	return w.Flush()
}
