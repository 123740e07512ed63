package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// server is a running "otpgate serve" with the addresses it bound.
type server struct {
	addrs map[string]string // listener name ("radius", "ldap", ...) → address
	cmd   *exec.Cmd
	done  chan error
	logs  chan string // log lines after "otpgate ready" (bounded; extra lines are dropped)
}

// serve starts "otpgate serve" in the instance's directory with extra
// config appended, and waits for its "otpgate ready" log line; the
// listeners' "listening" lines give the bound addresses (the config uses
// port 0). It stops the server when the test ends and checks it exited 0.
func (in *instance) serve(extraConfig string) *server {
	in.t.Helper()
	cfg := filepath.Join(in.dir, "otpgate.toml")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		in.t.Fatal(err)
	}
	f.WriteString(extraConfig)
	f.Close()

	cmd := exec.Command(binary, "serve")
	cmd.Dir = in.dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	cmd.Stdout = io.Discard // audit records
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	s := &server{addrs: map[string]string{}, cmd: cmd, done: make(chan error, 1), logs: make(chan string, 1000)}
	ready := make(chan error, 1)
	go s.readLog(stderr, ready)
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			in.t.Fatalf("otpgate serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		in.t.Fatal("otpgate serve did not become ready in 30s")
	}
	in.t.Cleanup(func() { s.stop(in.t) })
	return s
}

// readLog scans the JSON log for listener addresses and readiness, then
// keeps draining it.
func (s *server) readLog(r io.Reader, ready chan<- error) {
	sc := bufio.NewScanner(r)
	signalled := false
	for sc.Scan() {
		var rec struct {
			Msg, Listener, Addr string
		}
		if signalled {
			select {
			case s.logs <- sc.Text():
			default:
			}
			continue
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch {
		case strings.HasSuffix(rec.Msg, "listening"):
			s.addrs[rec.Listener] = rec.Addr
		case rec.Msg == "otpgate ready":
			signalled = true
			ready <- nil
		case strings.Contains(rec.Msg, "error") || rec.Msg == "otpgate failed":
			signalled = true
			ready <- &logError{sc.Text()}
		}
	}
	if !signalled {
		ready <- &logError{"exited before it was ready"}
	}
	s.done <- s.cmd.Wait()
}

// waitLog returns the first log line after ready containing want.
func (s *server) waitLog(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line := <-s.logs:
			if strings.Contains(line, want) {
				return line
			}
		case <-timeout:
			t.Fatalf("no log line with %q within 20s", want)
		}
	}
}

type logError struct{ line string }

func (e *logError) Error() string { return e.line }

// stop sends SIGTERM (what systemd sends) and requires a clean exit.
func (s *server) stop(t *testing.T) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("otpgate serve exited with %v after SIGTERM", err)
		}
	case <-ctx.Done():
		s.cmd.Process.Kill()
		t.Error("otpgate serve did not stop within 20s of SIGTERM")
	}
}
