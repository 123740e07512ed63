package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/otpgate/otpgate/verify"
)

// maxSecretLine bounds one line of secret input.
const maxSecretLine = 4096

// secretReader reads secrets one line at a time from stdin, or from a
// no-echo prompt when stdin is a terminal. Secrets never come from argv.
type secretReader struct {
	in     io.Reader
	prompt io.Writer
	lines  *bufio.Reader
}

func newSecretReader(in io.Reader, prompt io.Writer) *secretReader {
	return &secretReader{in: in, prompt: prompt}
}

func (r *secretReader) terminalFd() (int, bool) {
	f, ok := r.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// read returns the next secret; what names it in the prompt and errors.
func (r *secretReader) read(what string) (verify.Secret, error) {
	if fd, ok := r.terminalFd(); ok {
		fmt.Fprintf(r.prompt, "%s: ", what)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(r.prompt)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", what, err)
		}
		return verify.Secret(b), nil
	}
	if r.lines == nil {
		r.lines = bufio.NewReaderSize(io.LimitReader(r.in, 64*maxSecretLine), maxSecretLine)
	}
	line, err := r.lines.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("read %s: line longer than %d bytes", what, maxSecretLine)
	}
	if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
		return "", usageErr("read %s from stdin: no input", what)
	}
	s := strings.TrimRight(string(line), "\r\n")
	return verify.Secret(s), nil
}

// readConfirmed reads a new secret; on a terminal it asks twice.
func (r *secretReader) readConfirmed(what string) (verify.Secret, error) {
	s, err := r.read(what)
	if err != nil {
		return "", err
	}
	if _, ok := r.terminalFd(); ok {
		again, err := r.read(what + " (again)")
		if err != nil {
			return "", err
		}
		if again != s {
			return "", usageErr("the two entries of the %s differ", what)
		}
	}
	return s, nil
}
