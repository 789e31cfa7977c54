// Package auth issues and checks login tokens and keeps the admin user.
package auth

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/smartorch/smartorch/store"
)

// AdminUser is the user created at first start.
const AdminUser = "admin"

const issuer = "smartorch"

var (
	ErrBadCredentials = errors.New("wrong username or password")
	ErrBadToken       = errors.New("invalid or expired token")
)

// Tokens issues and verifies signed, expiring tokens (JWT, HS256).
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewTokens derives the signing key from the orchestrator's secret key, so
// no second secret has to be managed; tokens last ttl.
func NewTokens(secretKey []byte, ttl time.Duration) (*Tokens, error) {
	key, err := hkdf.Key(sha256.New, secretKey, nil, "smartorch token signing", 32)
	if err != nil {
		return nil, err
	}
	return &Tokens{key: key, ttl: ttl, now: time.Now}, nil
}

// Issue returns a token for username and when it expires.
func (t *Tokens) Issue(username string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl).Truncate(time.Second)
	token := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   username,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	s, err := token.SignedString(t.key)
	return s, exp, err
}

// Verify returns the username of a valid, unexpired token.
func (t *Tokens) Verify(token string) (string, error) {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil || claims.Subject == "" {
		return "", ErrBadToken
	}
	return claims.Subject, nil
}

// Users checks passwords against the store.
type Users struct{ store *store.Store }

func NewUsers(s *store.Store) *Users { return &Users{store: s} }

// dummyHash keeps the time of a login for an unknown user close to that of a
// known user with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)

// Check returns nil when password is username's.
func (u *Users) Check(ctx context.Context, username, password string) error {
	user, err := u.store.Users.FindOne(ctx, store.ByUsername(username))
	if errors.Is(err, store.ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return ErrBadCredentials
	}
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword(user.PasswordHash, []byte(password)) != nil {
		return ErrBadCredentials
	}
	return nil
}

// EnsureAdmin makes sure the admin user exists. With a password, the admin's
// password is set to it (so setting SMARTORCH_ADMIN_PASSWORD resets it). With
// none, a missing admin gets a generated password, which is returned once;
// an existing admin is left alone and "" is returned.
func (u *Users) EnsureAdmin(ctx context.Context, password string, generate func() string) (created string, err error) {
	existing, err := u.store.Users.FindOne(ctx, store.ByUsername(AdminUser))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if existing != nil {
		if password == "" || bcrypt.CompareHashAndPassword(existing.PasswordHash, []byte(password)) == nil {
			return "", nil
		}
		hash, err := hashPassword(password)
		if err != nil {
			return "", err
		}
		existing.PasswordHash = hash
		return "", u.store.Users.Update(ctx, existing)
	}
	if password == "" {
		if generate == nil {
			return "", errors.New("no admin user yet: set SMARTORCH_ADMIN_PASSWORD")
		}
		password = generate()
		created = password
	}
	hash, err := hashPassword(password)
	if err != nil {
		return "", err
	}
	err = u.store.Users.Insert(ctx, &store.User{Username: AdminUser, PasswordHash: hash})
	if errors.Is(err, store.ErrDuplicate) {
		// Another process created it first; theirs stands.
		return "", nil
	}
	return created, err
}

func hashPassword(password string) ([]byte, error) {
	if len(password) < 8 {
		return nil, fmt.Errorf("admin password must have at least 8 characters")
	}
	return bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
}
