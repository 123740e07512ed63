package selfservice_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/ldapsrv"
	"github.com/otpgate/otpgate/verify"
)

// chromiumPath finds Chromium; without it the browser test skips loudly,
// or fails when OTPGATE_REQUIRE_TOOLS=1 (CI installs chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("OTPGATE_REQUIRE_TOOLS") == "1" {
		t.Fatal("chromium required (OTPGATE_REQUIRE_TOOLS=1) but not found; apt-get install chromium")
	}
	t.Skip("SKIPPED: no chromium at /usr/bin/chromium; apt-get install chromium to run the browser test")
	return ""
}

// artifactDir is where screenshots go: $OTPGATE_ARTIFACTS/<test> or a
// temp dir.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("OTPGATE_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tab drives one headless Chromium tab.
type tab struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	shot int
}

func newTab(t *testing.T) *tab {
	t.Helper()
	exe := chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1400),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	tb := &tab{t: t, ctx: ctx, dir: artifactDir(t)}
	tb.do(chromedp.Navigate("about:blank")) // starts the browser
	return tb
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatal(err)
	}
}

func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// screenshot saves the viewport as NN-name.png.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.shot++
	path := filepath.Join(tb.dir, fmt.Sprintf("%02d-%s.png", tb.shot, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", path)
}

// pressAndLoad presses Enter on the focused element and waits for the
// next page (the old document carries a marker the new one lacks).
func (tb *tab) pressAndLoad(key string) {
	tb.t.Helper()
	eval[bool](tb, `window.__old = true`)
	tb.do(chromedp.KeyEvent(key))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`!window.__old && document.readyState === "complete"`))
		if err == nil && v {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.t.Fatal("no new page after the key press")
}

// tabTo presses Tab until the element matching css has the focus and
// checks that the focus is visible (an outline from :focus-visible).
func (tb *tab) tabTo(css string) {
	tb.t.Helper()
	js := fmt.Sprintf(`document.activeElement === document.querySelector(%q)`, css)
	for range 80 {
		tb.do(chromedp.KeyEvent(kb.Tab))
		if eval[bool](tb, js) {
			style := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle + " " + getComputedStyle(document.activeElement).outlineWidth`)
			if strings.HasPrefix(style, "none") || strings.HasSuffix(style, " 0px") {
				tb.t.Errorf("focused %s has no visible outline (%s)", css, style)
			}
			return
		}
	}
	tb.t.Fatalf("Tab never reached %s", css)
}

func (tb *tab) bodyText() string {
	tb.t.Helper()
	return eval[string](tb, `document.body.innerText`)
}

func (tb *tab) wantText(texts ...string) {
	tb.t.Helper()
	body := tb.bodyText()
	for _, s := range texts {
		if !strings.Contains(body, s) {
			tb.t.Errorf("page lacks %q; text:\n%s", s, body)
		}
	}
}

func TestBrowserEnrollAndKeyboardTokenControls(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	f := newFixture(t, fixtureOptions{realTime: true})
	f.user("wendy", "pw-wendy", "", verify.LevelOff)
	base := f.srv.URL + "/self/"

	// Log in with the keyboard: type into the fields, Enter submits.
	tb.do(chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("user")))
	tb.screenshot("login")
	tb.tabTo("a.skip-link")
	tb.do(chromedp.SendKeys(chromedp.ID("user"), "wendy"), chromedp.SendKeys(chromedp.ID("password"), "pw-wendy"))
	tb.pressAndLoad(kb.Enter)
	tb.wantText("Logged in as wendy", "Your tokens")

	// PIN and level.
	tb.do(chromedp.SendKeys(chromedp.ID("pin"), "ab12"), chromedp.SendKeys(chromedp.ID("pin_confirm"), "ab12"))
	tb.pressAndLoad(kb.Enter)
	tb.wantText("Your new PIN is set.")
	// A radio group is one Tab stop; the arrow keys choose within it.
	tb.tabTo("#level-off")
	tb.do(chromedp.KeyEvent(kb.ArrowDown))
	if !eval[bool](tb, `document.getElementById("level-web-otp").checked`) {
		t.Fatal("ArrowDown did not choose the web-otp level")
	}
	tb.tabTo("#save-level")
	tb.pressAndLoad(kb.Enter)
	tb.wantText("Web service OTP, other services password.", "you have no active token yet")
	tb.screenshot("home")

	// Enroll TOTP: QR code and URI, test with the code computed from the
	// URI shown on the page, Save.
	tb.tabTo("#enroll")
	tb.pressAndLoad(kb.Enter)
	tb.do(chromedp.WaitVisible(chromedp.ID("qr")))
	qrLoaded := eval[bool](tb, `document.getElementById("qr").complete && document.getElementById("qr").naturalWidth === 256`)
	if !qrLoaded {
		t.Error("the QR code image did not load (CSP img-src data:?)")
	}
	saveDisabled := eval[bool](tb, `document.getElementById("save").disabled`)
	if !saveDisabled {
		t.Error("Save is enabled before the OTP test")
	}
	tb.screenshot("enroll-qr")
	uri, err := chromedp.Run(tb.ctx, chromedp.Value(chromedp.ID("otpauth-uri")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Fatalf("URI on the page = %q", uri)
	}
	tb.do(chromedp.SendKeys(chromedp.ID("code"), codeFromURI(t, uri, time.Now())))
	tb.pressAndLoad(kb.Enter)
	tb.wantText("The OTP test was successful.")
	if strings.Contains(tb.bodyText(), "otpauth://") {
		t.Error("the URI is still shown after the test")
	}
	tb.screenshot("tested")
	tb.tabTo("#save")
	tb.pressAndLoad(kb.Enter)
	tb.wantText("You have changed your OTP settings.", "Your two-factor authentication is now active.",
		"Finally, log out to finish the setup.")
	tb.screenshot("saved")

	// The webmail logs in over LDAP with the PIN and the next code.
	bindDN := "uid=wendy,ou=people,dc=example,dc=org"
	c, err := goldap.DialURL("ldap://" + startLDAP(t, f))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(bindDN, "ab12"+codeFromURI(t, uri, time.Now().Add(30*time.Second))); err != nil {
		t.Fatalf("LDAP bind with PIN+TOTP after enrolling in the browser: %v", err)
	}
	if err := c.Bind(bindDN, "pw-wendy"); err == nil {
		t.Fatal("LDAP bind with the account password succeeded at level web-otp")
	}

	var serial string
	for s, tok := range f.tokens("wendy") {
		if tok.State != "active" {
			t.Fatalf("token %s is %s", s, tok.State)
		}
		serial = s
	}

	// Keyboard only: Tab to the token's Disable button, Enter; then Delete.
	tb.do(chromedp.Navigate(base))
	tb.tabTo(fmt.Sprintf(`button[data-action="disable"][data-serial=%q]`, serial))
	tb.screenshot("disable-focused")
	tb.pressAndLoad(kb.Enter)
	tb.wantText("Token " + serial + " is now disabled.")
	if st := f.tokens("wendy")[serial].State; st != "disabled" {
		t.Fatalf("after keyboard Disable the token is %s", st)
	}
	tb.screenshot("disabled")
	tb.tabTo(fmt.Sprintf(`button[data-action="delete"][data-serial=%q]`, serial))
	tb.screenshot("delete-focused")
	tb.pressAndLoad(kb.Enter)
	tb.wantText("Token "+serial+" has been deleted.", "You have no tokens yet.")
	if n := len(f.tokens("wendy")); n != 0 {
		t.Fatalf("%d tokens left after keyboard Delete", n)
	}
	tb.screenshot("deleted")
	f.assertNoSecret(&client{}, uri, secretOf(t, uri))
}

// startLDAP serves the fixture's engine and store over LDAP (service
// webmail) on a loopback port until the test ends.
func startLDAP(t *testing.T, f *fixture) string {
	t.Helper()
	srv, err := ldapsrv.New(ldapsrv.Config{Service: "webmail", BaseDN: "dc=example,dc=org",
		UserDNTemplates: []string{"uid={user},ou=people,dc=example,dc=org"}}, f.engine, f.store, f.keyring, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ldap Serve: %v", err)
		}
	})
	return ln.Addr().String()
}
