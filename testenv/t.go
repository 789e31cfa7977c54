package testenv

import (
	"log"
	"os"
	"sync"
)

// T is the part of testing.TB the harness uses. *testing.T and *testing.B
// satisfy it; a program that is not a test uses a Session.
type T interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}

// Session implements T for programs (cmd/testenv): cleanups run when Close
// is called, and Fatalf runs them before it exits the program.
type Session struct {
	mu       sync.Mutex
	cleanups []func()
	closed   bool
}

// NewSession returns an empty Session. Call Close when done.
func NewSession() *Session { return &Session{} }

func (s *Session) Helper() {}

func (s *Session) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *Session) Logf(format string, args ...any) { log.Printf(format, args...) }

// Fatalf logs, cleans up and exits with status 1.
func (s *Session) Fatalf(format string, args ...any) {
	log.Printf(format, args...)
	s.Close()
	os.Exit(1)
}

// TempDir returns a new directory that Close removes.
func (s *Session) TempDir() string {
	dir, err := os.MkdirTemp("", "smartorch-testenv-")
	if err != nil {
		s.Fatalf("testenv: %v", err)
	}
	s.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			log.Printf("testenv: %v", err)
		}
	})
	return dir
}

// Close runs the cleanups in reverse order of registration, once.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

// fatal fails t with err when err is not nil.
func fatal(t T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
}
