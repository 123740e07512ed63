package verify_test

import (
	"fmt"
	"net/netip"
)

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
