package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestServeStopsCleanlyOnCancel starts serve with a RADIUS listener on a
// free port, waits for its ready line and cancels: exit 0, store closed.
func TestServeStopsCleanlyOnCancel(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	f, err := os.OpenFile(c.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("[radius]\nlisten = [\"127.0.0.1:0\"]\n[ldap]\nlisten = []\n[http]\nlisten = \"127.0.0.1:0\"\n")
	f.Close()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-c", c.cfg, "serve"}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var sawRadius bool
	for sc.Scan() {
		line := sc.Text()
		sawRadius = sawRadius || strings.Contains(line, `"msg":"radius listening"`)
		if strings.Contains(line, `"msg":"otpgate ready"`) {
			break
		}
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Fatalf("serve logged an error: %s", line)
		}
	}
	if !sawRadius {
		t.Error("serve did not log the RADIUS address before ready")
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d after cancel", code)
	}
}

func TestServeRefusesAnInvalidListenAddress(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	f, _ := os.OpenFile(c.cfg, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("[radius]\nlisten = [\"127.0.0.1:0\", \"256.0.0.1:1812\"]\n[ldap]\nlisten = []\n")
	f.Close()
	_, errOut, code := c.run("", "serve")
	if code != 2 || !strings.Contains(errOut, "radius.listen") {
		t.Fatalf("serve with a bad address: exit %d, %q", code, errOut)
	}
}
