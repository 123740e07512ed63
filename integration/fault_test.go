package integration

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/otpgate/otpgate/verify/otp"
)

// throwawayDB is a MariaDB server of the test's own: its own datadir and a
// unix socket only (no TCP port), killed and restarted at will.
type throwawayDB struct {
	t       *testing.T
	mariadb string
	dir     string
	socket  string
	cmd     *exec.Cmd
}

func newThrowawayDB(t *testing.T) *throwawayDB {
	t.Helper()
	install := requireTool(t, "mariadb-install-db")
	d := &throwawayDB{t: t, mariadb: requireTool(t, "mariadbd"), dir: t.TempDir()}
	d.socket = filepath.Join(d.dir, "db.sock")
	out, err := exec.Command(install, "--no-defaults", "--datadir="+filepath.Join(d.dir, "data"), "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	d.start()
	t.Cleanup(func() { d.kill() })
	return d
}

// start runs mariadbd and waits for its "ready for connections" line.
func (d *throwawayDB) start() {
	d.t.Helper()
	d.cmd = exec.Command(d.mariadb, "--no-defaults", "--datadir="+filepath.Join(d.dir, "data"),
		"--socket="+d.socket, "--skip-networking", "--user=root", "--pid-file="+filepath.Join(d.dir, "pid"),
		"--innodb-buffer-pool-size=16M")
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ready for connections") {
				ready <- true
				io.Copy(io.Discard, stderr)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			d.t.Fatal("mariadbd exited before it was ready")
		}
	case <-time.After(60 * time.Second):
		d.t.Fatal("mariadbd not ready after 60s")
	}
}

// kill stops the server with SIGKILL, as a crash would.
func (d *throwawayDB) kill() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
		d.cmd = nil
	}
}

func (d *throwawayDB) exec(query string) {
	d.t.Helper()
	db, err := sql.Open("mysql", "root@unix("+d.socket+")/")
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		d.t.Fatal(err)
	}
}

// TestDatabaseCrashNeverAccepts kills the database under a running
// otpgate: no request is accepted while it is down, otpgate serves again
// after it comes back without a restart, and no code accepted before the
// crash can be replayed after it.
func TestDatabaseCrashNeverAccepts(t *testing.T) {
	t.Parallel()
	db := newThrowawayDB(t)
	db.exec("CREATE DATABASE otpgate")
	in := newMySQLInstance(t, fmt.Sprintf("[store]\ndriver = \"mysql\"\nhost = %q\nuser = \"root\"\ndatabase = \"otpgate\"\ntimeout = \"500ms\"\n", db.socket), nil)
	in.mustRun("correct horse\n", "user", "add", "alice")
	in.mustRun("ab12\n", "user", "set-pin", "alice")
	in.mustRun("", "user", "set-level", "alice", "web-otp")
	out := in.mustRun("", "token", "enroll", "alice", "--type", "hotp")
	serial, key := field(t, out, "serial"), mustBase32(t, uriSecret(t, field(t, out, "uri")))
	code := func(c uint64) string { s, _ := otp.HOTP(key, c, otp.SHA1, 6); return s }
	in.mustRun("", "token", "test", "alice", serial, code(0))
	addr := in.serve("[radius]\nlisten = [\"127.0.0.1:0\"]\n[ldap]\nlisten = []\n").addrs["radius"]

	if got := exchange(t, addr, "alice", "ab12"+code(1)); got != radius.CodeAccessAccept {
		t.Fatalf("before the crash: %v", got)
	}
	db.kill()
	var wg sync.WaitGroup
	for c := uint64(2); c < 12; c++ {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			resp, err := radius.Exchange(ctx, papRequest(t, "alice", "ab12"+code(c)), addr)
			if err == nil && resp.Code == radius.CodeAccessAccept {
				t.Errorf("counter %d accepted while the database was down", c)
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("counter %d: %v", c, err)
			}
		})
	}
	wg.Wait()
	db.start()
	if got := exchange(t, addr, "alice", "ab12"+code(1)); got != radius.CodeAccessReject {
		t.Fatalf("the code accepted before the crash was accepted again: %v", got)
	}
	if got := exchange(t, addr, "alice", "ab12"+code(5)); got != radius.CodeAccessAccept { // within the window from 2
		t.Fatalf("after the database came back: %v", got)
	}
}
