package yubiotp

import (
	"bytes"
	"crypto/aes"
	"errors"
	"strings"
	"testing"
)

func TestSplitRejectsMalformedInput(t *testing.T) {
	t.Parallel()
	valid := "ccbdlnefrtghlbrjtbrdkftfdjgcuinhrndlthutdkkh"
	tests := []struct {
		name        string
		otp         string
		publicIDLen int
		wantErr     error
	}{
		{name: "rejects an empty string", otp: "", publicIDLen: DefaultPublicIDLen, wantErr: ErrBadLength},
		{name: "rejects one character too many", otp: valid + "c", publicIDLen: DefaultPublicIDLen, wantErr: ErrBadLength},
		{name: "rejects a 40-character otp at the default length", otp: valid[4:], publicIDLen: DefaultPublicIDLen, wantErr: ErrBadLength},
		{name: "rejects an odd public id length", otp: valid[1:], publicIDLen: 11, wantErr: ErrBadLength},
		{name: "rejects a negative public id length", otp: valid, publicIDLen: -12, wantErr: ErrBadLength},
		{name: "rejects a 34-character public id", otp: strings.Repeat("c", 34) + valid[12:], publicIDLen: 34, wantErr: ErrBadLength},
		{name: "rejects an upper-case letter", otp: "C" + valid[1:], publicIDLen: DefaultPublicIDLen, wantErr: ErrInvalidModhex},
		{name: "rejects a hex digit", otp: valid[:20] + "0" + valid[21:], publicIDLen: DefaultPublicIDLen, wantErr: ErrInvalidModhex},
		{name: "rejects a space", otp: valid[:43] + " ", publicIDLen: DefaultPublicIDLen, wantErr: ErrInvalidModhex},
		{name: "rejects a multi-byte rune", otp: valid[:42] + "é", publicIDLen: DefaultPublicIDLen, wantErr: ErrInvalidModhex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := Split(tt.otp, tt.publicIDLen); !errors.Is(err, tt.wantErr) {
				t.Errorf("Split error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSplitAcceptsEveryLegalPublicIDLength(t *testing.T) {
	t.Parallel()
	token := strings.Repeat("v", TokenLen)
	for n := 0; n <= MaxPublicIDLen; n += 2 {
		id, tok, err := Split(strings.Repeat("b", n)+token, n)
		if err != nil || len(id) != n || tok != [16]byte(bytes.Repeat([]byte{0xff}, 16)) {
			t.Errorf("public id length %d: %q, %x, %v", n, id, tok, err)
		}
	}
}

func TestModhexRoundTripsEveryByte(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	enc := ModhexEncode(all)
	if enc[:4] != "cccb" || enc[len(enc)-2:] != "vv" {
		t.Errorf("unexpected encoding %q...", enc[:4])
	}
	dec, err := ModhexDecode(enc)
	if err != nil || !bytes.Equal(dec, all) {
		t.Fatalf("round trip failed: %v", err)
	}
	if _, err := ModhexDecode("ccc"); !errors.Is(err, ErrBadLength) {
		t.Errorf("odd length: %v, want ErrBadLength", err)
	}
	if _, err := ModhexDecode("CC"); !errors.Is(err, ErrInvalidModhex) {
		t.Errorf("upper case: %v, want ErrInvalidModhex", err)
	}
}

func TestDecryptRejectsAKeyOfTheWrongSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 15, 17, 24, 32} {
		if _, err := Decrypt(make([]byte, n), [16]byte{}); !errors.Is(err, ErrKeySize) {
			t.Errorf("%d-byte key: %v, want ErrKeySize", n, err)
		}
	}
}

func TestCheckPrivateIDRejectsWrongLengths(t *testing.T) {
	t.Parallel()
	f := Fields{PrivateID: [6]byte{1, 2, 3, 4, 5, 6}}
	for _, want := range [][]byte{nil, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6, 0}} {
		if CheckPrivateID(f, want) {
			t.Errorf("CheckPrivateID accepted %x", want)
		}
	}
}

func TestCounterOrdersUseCounterBeforeSessionCounter(t *testing.T) {
	t.Parallel()
	lastOfSession := Fields{UseCounter: 5, SessionCounter: 255}
	nextPowerUp := Fields{UseCounter: 6, SessionCounter: 0}
	if lastOfSession.Counter() >= nextPowerUp.Counter() {
		t.Errorf("counter %d after power-up is not greater than %d", nextPowerUp.Counter(), lastOfSession.Counter())
	}
	if (Fields{UseCounter: 0x7fff, SessionCounter: 0xff}).Counter() != 0x7fffff {
		t.Error("maximum counter is not 0x7fffff")
	}
}

// encryptFields builds the token a YubiKey would emit; it lets the fuzz and
// benchmark work on valid blocks.
func encryptFields(t testing.TB, key []byte, f Fields) [16]byte {
	t.Helper()
	var plain [16]byte
	copy(plain[:6], f.PrivateID[:])
	raw := f.UseCounter
	if f.CapsLock {
		raw |= capsLockFlag
	}
	plain[6], plain[7] = byte(raw), byte(raw>>8)
	plain[8], plain[9], plain[10] = byte(f.Timestamp), byte(f.Timestamp>>8), byte(f.Timestamp>>16)
	plain[11] = f.SessionCounter
	plain[12], plain[13] = byte(f.Random), byte(f.Random>>8)
	crc := ^crc16(plain[:14])
	plain[14], plain[15] = byte(crc), byte(crc>>8)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	var token [16]byte
	block.Encrypt(token[:], plain[:])
	return token
}

func TestDecryptInvertsAGeneratedToken(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef")
	want := Fields{PrivateID: [6]byte{9, 8, 7, 6, 5, 4}, UseCounter: 0x1234, CapsLock: true,
		Timestamp: 0xabcdef, SessionCounter: 7, Random: 0xbeef}
	got, err := Decrypt(key, encryptFields(t, key, want))
	if err != nil || got != want {
		t.Errorf("Decrypt = %+v, %v; want %+v", got, err, want)
	}
}

func BenchmarkDecrypt(b *testing.B) {
	key := []byte("0123456789abcdef")
	token := encryptFields(b, key, Fields{UseCounter: 1, SessionCounter: 2})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decrypt(key, token); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzSplitDecrypt(f *testing.F) {
	for _, c := range loadVectors(f) {
		f.Add(c.OTP, c.AESKeyHex, len(c.PublicIDModhex))
	}
	f.Add("", "", 0)
	f.Fuzz(func(t *testing.T, otp, keyText string, publicIDLen int) {
		publicID, token, err := Split(otp, publicIDLen)
		if err != nil {
			if len(otp) >= 8 && strings.Contains(err.Error(), otp) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		if publicID+ModhexEncode(token[:]) != otp {
			t.Fatalf("split parts do not re-encode to the input")
		}
		key := []byte((keyText + "0123456789abcdef")[:KeySize])
		fields, err := Decrypt(key, token)
		if err != nil {
			if fields != (Fields{}) {
				t.Fatalf("Decrypt returned fields with error %v", err)
			}
			return
		}
		if encryptFields(t, key, fields) != token {
			t.Fatalf("decrypted fields do not re-encrypt to the token")
		}
	})
}
