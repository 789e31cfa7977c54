package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of the secret key: AES-256.
const KeySize = 32

// sealVersion prefixes every ciphertext so the format (or key) can change later.
const sealVersion byte = 1

// Cipher encrypts secret fields with AES-256-GCM. The additional data binds a
// ciphertext to the record and field it belongs to, so it cannot be copied
// into another record and decrypted there.
type Cipher struct{ aead cipher.AEAD }

// NewCipher takes a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead}, nil
}

// ParseKey decodes a key given as 64 hex digits or as standard base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	return nil, errors.New("secret key must be 32 bytes, as 64 hex digits or base64")
}

// NewKey returns a random key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return k
}

// Seal encrypts plaintext for the given context (collection, id, field).
// An empty plaintext seals to nil so optional secrets stay absent.
func (c *Cipher) Seal(plaintext []byte, context string) []byte {
	if len(plaintext) == 0 {
		return nil
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := append([]byte{sealVersion}, nonce...)
	return c.aead.Seal(out, nonce, plaintext, []byte(context))
}

// Open decrypts what Seal produced for the same context.
func (c *Cipher) Open(sealed []byte, context string) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	n := c.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, errors.New("secret field: unknown format")
	}
	plain, err := c.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, fmt.Errorf("secret field %s: cannot decrypt (wrong SMARTORCH_SECRET_KEY?)", context)
	}
	return plain, nil
}
