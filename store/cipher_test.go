package store

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

func TestCipherRoundTripAndTamper(t *testing.T) {
	c, err := NewCipher(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	sealed := c.Seal([]byte("secret"), "repos/1/password")
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("ciphertext contains plaintext")
	}
	plain, err := c.Open(sealed, "repos/1/password")
	if err != nil || string(plain) != "secret" {
		t.Fatalf("open = %q, %v", plain, err)
	}
	if _, err := c.Open(sealed, "repos/2/password"); err == nil {
		t.Error("opened with another record's context")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := c.Open(sealed, "repos/1/password"); err == nil {
		t.Error("opened a tampered ciphertext")
	}
	other, _ := NewCipher(NewKey())
	if _, err := other.Open(c.Seal([]byte("x"), "a"), "a"); err == nil {
		t.Error("opened with another key")
	}
	if c.Seal(nil, "a") != nil {
		t.Error("empty secret should seal to nil")
	}
}

func TestParseKey(t *testing.T) {
	k := NewKey()
	for _, s := range []string{hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), " " + hex.EncodeToString(k) + "\n"} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", hex.EncodeToString(k[:16])} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func BenchmarkSealOpen(b *testing.B) {
	c, _ := NewCipher(NewKey())
	kubeconfig := make([]byte, 8<<10)
	b.SetBytes(int64(len(kubeconfig)))
	for b.Loop() {
		sealed := c.Seal(kubeconfig, "clusters/x/credentials")
		if _, err := c.Open(sealed, "clusters/x/credentials"); err != nil {
			b.Fatal(err)
		}
	}
}
