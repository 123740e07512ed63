package selfservice_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/otpgate/otpgate/verify"
)

// TestBrowserEnrollYubiKey follows the how-to with the keyboard alone:
// choose YubiKey, click into the field and touch the key (a YubiKey types
// its OTP and presses Enter), Perform OTP test with a second touch, Save.
func TestBrowserEnrollYubiKey(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	f := newFixture(t, fixtureOptions{realTime: true, remote: yubiCloud(t)})
	f.user("wendy", "pw-wendy", "", verify.LevelOff)
	older, newer := ykVector(t, "yubiotp-random-0000"), ykVector(t, "yubiotp-random-ffff")

	tb.do(chromedp.Navigate(f.srv.URL+"/self/"), chromedp.WaitVisible(chromedp.ID("user")))
	tb.do(chromedp.SendKeys(chromedp.ID("user"), "wendy"), chromedp.SendKeys(chromedp.ID("password"), "pw-wendy"))
	tb.pressAndLoad(kb.Enter)
	tb.wantText("Logged in as wendy", "Touch your YubiKey")

	// The token type radio group is one Tab stop; YubiKey is the fourth.
	tb.tabTo("#type-totp")
	for range 3 {
		tb.do(chromedp.KeyEvent(kb.ArrowDown))
	}
	if !eval[bool](tb, `document.getElementById("type-yubikey").checked`) {
		t.Fatal("ArrowDown did not reach the YubiKey type")
	}
	tb.tabTo("#yubikey_otp")
	tb.do(chromedp.KeyEvent("cccccc-garbled"))
	tb.pressAndLoad(kb.Enter)
	tb.wantText("This is not a one-time password of a YubiKey.")
	described := eval[string](tb, `document.getElementById("yubikey_otp").getAttribute("aria-describedby")`)
	if described != "yubikey-help yubikey_otp-error" || !eval[bool](tb, `document.getElementById("type-yubikey").checked`) {
		t.Errorf("after the error: aria-describedby %q, YubiKey still chosen: %v", described,
			eval[bool](tb, `document.getElementById("type-yubikey").checked`))
	}
	tb.screenshot("yubikey-error")

	// The touch: the key types the OTP and Enter.
	tb.tabTo("#yubikey_otp")
	tb.do(chromedp.KeyEvent(older.OTP))
	tb.pressAndLoad(kb.Enter)
	tb.wantText("(YubiKey) is waiting for its OTP test", "Perform OTP test")
	if eval[bool](tb, `document.getElementById("qr") !== null || document.getElementById("otpauth-uri") !== null`) {
		t.Error("a YubiKey enrollment shows a QR code or a key URI")
	}
	tb.screenshot("yubikey-test")
	tb.tabTo("#code")
	tb.do(chromedp.KeyEvent(newer.OTP))
	tb.pressAndLoad(kb.Enter)
	tb.wantText("The OTP test was successful.")
	tb.tabTo("#save")
	tb.pressAndLoad(kb.Enter)
	tb.wantText("You have changed your OTP settings.", "is active.")
	tb.screenshot("yubikey-saved")
	for s, tok := range f.tokens("wendy") {
		if tok.State != "active" || tok.Type != string(verify.TypeYubiCloud) {
			t.Fatalf("token %s: %+v", s, tok)
		}
	}
	f.assertNoSecret(&client{}, older.OTP, newer.OTP)
}
