package yubiotp

import "fmt"

// alphabet is the modhex alphabet: modhex digit i stands for hex digit i.
// The letters are the keys that sit at the same place on most Western
// keyboard layouts, so a YubiKey typing them as a USB keyboard produces the
// same characters whatever layout the host uses.
const alphabet = "cbdefghijklnrtuv"

// modhexValue maps a byte to its modhex value, or to invalidDigit.
var modhexValue = func() (table [256]byte) {
	for i := range table {
		table[i] = invalidDigit
	}
	for i := range len(alphabet) {
		table[alphabet[i]] = byte(i)
	}
	return table
}()

const invalidDigit = 0xff

// ModhexEncode returns b in modhex, two lower-case characters per byte.
func ModhexEncode(b []byte) string {
	out := make([]byte, 2*len(b))
	for i, v := range b {
		out[2*i] = alphabet[v>>4]
		out[2*i+1] = alphabet[v&0x0f]
	}
	return string(out)
}

// ModhexDecode decodes s, which must have an even length (else ErrBadLength)
// and consist only of the lower-case letters "cbdefghijklnrtuv" (else
// ErrInvalidModhex). Upper case is rejected: see the package documentation
// for why.
func ModhexDecode(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("yubiotp: modhex: odd length %d: %w", len(s), ErrBadLength)
	}
	out := make([]byte, len(s)/2)
	if err := decodeInto(out, s); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeInto decodes the modhex s into dst; len(s) must be 2*len(dst). The
// error names the offset, never the character (the input may be a secret).
func decodeInto(dst []byte, s string) error {
	for i := range dst {
		hi, lo := modhexValue[s[2*i]], modhexValue[s[2*i+1]]
		if hi == invalidDigit || lo == invalidDigit {
			return fmt.Errorf("yubiotp: modhex: bad character near offset %d: %w", 2*i, ErrInvalidModhex)
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

// isModhex reports whether every byte of s is a lower-case modhex digit.
func isModhex(s string) bool {
	for i := range len(s) {
		if modhexValue[s[i]] == invalidDigit {
			return false
		}
	}
	return true
}
