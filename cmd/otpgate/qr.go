package main

import (
	"fmt"
	"image/png"
	"io"
	"os"
	"strings"

	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"

	"github.com/otpgate/otpgate/verify"
)

// writeQRPNG writes the otpauth URI as a 256×256 PNG, mode 0600 (it holds
// the secret).
func writeQRPNG(path string, uri verify.Secret) error {
	key, err := otp.NewKeyFromURL(uri.Reveal())
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("qr: %w", err)
	}
	return f.Close()
}

// writeQRTerminal draws the URI as a QR code with Unicode half blocks, two
// modules per character cell, with the quiet zone scanners need.
func writeQRTerminal(w io.Writer, uri verify.Secret) error {
	code, err := qr.Encode(uri.Reveal(), qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	size := code.Bounds().Dx()
	const quiet = 4 // ISO/IEC 18004 asks for a 4-module quiet zone
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		if x < 0 || y < 0 || x >= size || y >= size {
			return false
		}
		r, _, _, _ := code.At(x, y).RGBA()
		return r == 0
	}
	var b strings.Builder
	for y := 0; y < size+2*quiet; y += 2 {
		for x := 0; x < size+2*quiet; x++ {
			// Light modules are drawn as blocks so the code reads on dark terminals.
			top, bottom := !dark(x, y), !dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}
