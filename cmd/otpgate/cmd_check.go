package main

import (
	"flag"
	"fmt"
	"net/netip"

	"github.com/otpgate/otpgate/verify"
)

// cmdCheck runs the engine on one request exactly as a listener would,
// replay state included.
func cmdCheck(e *env, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	service := fs.String("service", "", "policy service name (required)")
	client := fs.String("client", "", "client IP address to attribute the request to")
	asJSON := fs.Bool("json", false, "print a JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs("check", pos, 1, "--service SERVICE [--client IP] NAME"); err != nil {
		return err
	}
	if *service == "" {
		return usageErr("check: --service is required")
	}
	var addr netip.Addr
	if *client != "" {
		if addr, err = netip.ParseAddr(*client); err != nil {
			return usageErr("check: --client: %v", err)
		}
	}
	pw, err := e.stdin.read("password")
	if err != nil {
		return err
	}
	a, err := e.open(false)
	if err != nil {
		return err
	}
	defer a.Close()
	dec := a.engine.Verify(e.ctx, verify.Request{User: pos[0], Password: pw, Service: *service,
		Protocol: verify.ProtoCLI, Client: addr})
	if *asJSON {
		err = printJSON(e.stdout, map[string]string{"decision": dec.Outcome.String(), "reason": string(dec.Reason),
			"mode": string(dec.Mode), "token": dec.TokenSerial})
	} else {
		_, err = fmt.Fprintf(e.stdout, "%s %s\n", dec.Outcome, dec.Reason)
	}
	if err != nil {
		return err
	}
	switch dec.Outcome {
	case verify.Accept:
		return nil
	case verify.Unavailable:
		return exitErr{code: exitError}
	}
	return exitErr{code: exitRefused}
}
