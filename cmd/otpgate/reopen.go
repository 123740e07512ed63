package main

import (
	"os"
	"sync"
)

// reopenableFile is an append-only log file that can be reopened under
// the same name, so logrotate can move it away and signal otpgate.
type reopenableFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openReopenable(path string) (*reopenableFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &reopenableFile{path: path, f: f}, nil
}

// Write appends p; concurrent writers are serialised so records stay whole.
func (r *reopenableFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Write(p)
}

// Reopen opens the path afresh and closes the old file; on error the old
// file stays in use.
func (r *reopenableFile) Reopen() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.f
	r.f = f
	r.mu.Unlock()
	return old.Close()
}

// Close closes the current file.
func (r *reopenableFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
