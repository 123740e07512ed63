package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

var tokenOrder = []string{"enroll", "add-yubikey", "test", "list", "enable", "disable", "delete", "resync", "describe"}

func cmdToken(e *env, args []string) error {
	subs := map[string]subcommand{
		"enroll": {args: "NAME --type hotp|totp|motp [--digits N] [--algorithm A] [--period 30s] [--description TEXT] [--qr FILE.png]",
			nargs: 1, run: tokenEnroll, flags: enrollFlags},
		"add-yubikey": {args: "NAME --public-id MODHEX --private-id HEX [--description TEXT]  (AES key on stdin) | NAME --remote  (one OTP on stdin)",
			nargs: 1, run: tokenAddYubiKey, flags: yubikeyFlags},
		"test":   {args: "NAME SERIAL OTP", nargs: 3, run: tokenTest},
		"list":   {args: "NAME", nargs: 1, run: tokenList},
		"enable": {args: "SERIAL", nargs: 1, run: simple("enabled", func(e *env, a *app, p []string) error { return a.manager.SetTokenEnabled(e.ctx, p[0], true) })},
		"disable": {args: "SERIAL", nargs: 1, run: simple("disabled", func(e *env, a *app, p []string) error {
			return a.manager.SetTokenEnabled(e.ctx, p[0], false)
		})},
		"delete": {args: "SERIAL", nargs: 1, run: simple("deleted", func(e *env, a *app, p []string) error { return a.manager.DeleteToken(e.ctx, p[0]) })},
		"resync": {args: "SERIAL OTP1 OTP2", nargs: 3, run: tokenResync},
		"describe": {args: "SERIAL TEXT", nargs: 2, run: simple("described", func(e *env, a *app, p []string) error {
			return a.manager.DescribeToken(e.ctx, p[0], p[1])
		})},
	}
	return dispatch(e, "token", subs, tokenOrder, args)
}

func enrollFlags(fs *flag.FlagSet) {
	fs.String("type", "", "hotp, totp or motp (required)")
	fs.Int("digits", 0, "6 or 8 (default from config)")
	fs.String("algorithm", "", "SHA1, SHA256 or SHA512 (default from config)")
	fs.String("period", "", "TOTP period, 30s or 60s (default from config)")
	fs.String("description", "", "free text shown in token lists")
	fs.String("qr", "", "also write the QR code as a PNG file")
}

func flagString(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

func enrollRequest(e *env, fs *flag.FlagSet) (manage.EnrollRequest, error) {
	req := manage.EnrollRequest{Type: verify.TokenType(flagString(fs, "type")),
		Algorithm: flagString(fs, "algorithm"), Description: flagString(fs, "description")}
	if req.Type == "" {
		return req, usageErr("token enroll: --type is required")
	}
	req.Digits, _ = strconv.Atoi(flagString(fs, "digits"))
	if p := flagString(fs, "period"); p != "" {
		if !strings.ContainsAny(p, "smh") {
			p += "s"
		}
		d, err := time.ParseDuration(p)
		if err != nil || d%time.Second != 0 {
			return req, usageErr("token enroll: --period: want 30s or 60s")
		}
		req.Period = int(d / time.Second)
	}
	if req.Type == verify.TypeMOTP {
		var err error
		if req.MOTPSecret, err = e.stdin.read("mOTP init secret"); err != nil {
			return req, err
		}
		if req.MOTPPIN, err = e.stdin.read("mOTP PIN"); err != nil {
			return req, err
		}
	}
	return req, nil
}

func tokenEnroll(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	req, err := enrollRequest(e, fs)
	if err != nil {
		return err
	}
	en, err := a.manager.Enroll(e.ctx, pos[0], req)
	if err != nil {
		return err
	}
	if path := flagString(fs, "qr"); path != "" && en.URI != "" {
		if err := writeQRPNG(path, en.URI); err != nil {
			return err
		}
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, map[string]any{"serial": en.Token.Serial, "uri": en.URI.Reveal(), "token": en.Token})
	}
	fmt.Fprintf(e.stdout, "serial: %s\n", en.Token.Serial)
	if en.URI == "" {
		_, err = fmt.Fprintf(e.stdout, "state: pending; test it with: otpgate token test %s %s OTP\n", pos[0], en.Token.Serial)
		return err
	}
	fmt.Fprintf(e.stdout, "uri: %s\n", en.URI.Reveal())
	if err := writeQRTerminal(e.stdout, en.URI); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "state: pending; scan the code, then: otpgate token test %s %s OTP\n", pos[0], en.Token.Serial)
	return err
}

// decisionResult prints a decision and maps it to the exit code.
func decisionResult(e *env, fs *flag.FlagSet, dec verify.Decision, okText string) error {
	var err error
	if jsonFlag(fs) {
		err = printJSON(e.stdout, map[string]string{"decision": dec.Outcome.String(), "reason": string(dec.Reason), "token": dec.TokenSerial})
	} else if dec.Outcome == verify.Accept {
		_, err = fmt.Fprintln(e.stdout, okText)
	} else {
		_, err = fmt.Fprintf(e.stdout, "%s %s\n", dec.Outcome, dec.Reason)
	}
	switch {
	case err != nil:
		return err
	case dec.Outcome == verify.Accept:
		return nil
	case dec.Outcome == verify.Unavailable:
		return exitErr{code: exitError}
	}
	return exitErr{code: exitRefused}
}

func tokenTest(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	dec := a.manager.TestToken(e.ctx, verify.TokenRequest{User: pos[0], Serial: pos[1], Protocol: verify.ProtoCLI}, verify.Secret(pos[2]))
	return decisionResult(e, fs, dec, "ok: token "+pos[1]+" is active")
}

func tokenResync(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	dec, err := a.manager.Resync(e.ctx, pos[0], verify.Secret(pos[1]), verify.Secret(pos[2]), verify.ProtoCLI)
	if err != nil {
		return err
	}
	return decisionResult(e, fs, dec, "ok: token "+pos[0]+" resynchronised")
}

func tokenList(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	toks, err := a.manager.ListTokens(e.ctx, pos[0])
	if err != nil {
		return err
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, toks)
	}
	return writeTokens(e.stdout, toks)
}

func yubikeyFlags(fs *flag.FlagSet) {
	fs.String("public-id", "", "modhex public id of a locally validated YubiKey")
	fs.String("private-id", "", "12 hex digits of private id of a locally validated YubiKey")
	fs.Bool("remote", false, "validate with the [yubikey.validation] servers; one OTP on stdin")
	fs.String("description", "", "free text shown in token lists")
}

// tokenAddYubiKey registers a YubiKey: local (AES key on stdin) or remote
// (one OTP on stdin gives the public id). The token is pending until
// "token test" with a fresh OTP.
func tokenAddYubiKey(e *env, a *app, fs *flag.FlagSet, pos []string) error {
	req := manage.YubiKeyRequest{Remote: flagString(fs, "remote") == "true", PublicID: flagString(fs, "public-id"),
		PrivateID: flagString(fs, "private-id"), Description: flagString(fs, "description")}
	var err error
	if req.Remote {
		if req.PublicID != "" || req.PrivateID != "" {
			return usageErr("token add-yubikey: --remote takes no --public-id or --private-id")
		}
		req.OTP, err = e.stdin.read("YubiKey OTP")
	} else {
		req.AESKey, err = e.stdin.read("AES key (32 hex digits)")
	}
	if err != nil {
		return err
	}
	info, err := a.manager.AddYubiKey(e.ctx, pos[0], req)
	if err != nil {
		return err
	}
	if jsonFlag(fs) {
		return printJSON(e.stdout, info)
	}
	_, err = fmt.Fprintf(e.stdout, "serial: %s\nstate: pending; test it with: otpgate token test %s %s OTP\n", info.Serial, pos[0], info.Serial)
	return err
}
