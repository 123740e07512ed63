package main

import (
	"errors"
	"io"

	"github.com/otpgate/otpgate/cmd/otpgate/bench"
)

// cmdBench runs "otpgate bench seed|radius|ldap": the operators' load
// generator (see BENCHMARKS.md).
func cmdBench(e *env, args []string) error {
	err := bench.Command(e.ctx, args, e.stdout, func() (bench.SeedTarget, io.Closer, error) {
		a, err := e.open(false)
		if err != nil {
			return bench.SeedTarget{}, nil, err
		}
		return bench.SeedTarget{Store: a.store, Manager: a.manager, PINLength: a.cfg.PINLength}, a, nil
	})
	if errors.Is(err, bench.ErrUsage) {
		return exitErr{exitError, err}
	}
	return err
}
