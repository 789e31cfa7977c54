package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/smartorch/smartorch/auth"
)

type loginRequest struct {
	Username string `json:"username" validate:"required,max=128"`
	Password string `json:"password" validate:"required,max=128"`
}

type tokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

func (s *server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	if err := s.Users.Check(ctx, req.Username, req.Password); err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			s.Logger.Warn("login failed", "requestId", requestID(c), "user", req.Username, "ip", c.IP())
			return apiError(fiber.StatusUnauthorized, "wrong username or password")
		}
		return err
	}
	token, exp, err := s.Tokens.Issue(req.Username)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(tokenResponse{Token: token, Expires: exp})
}

// loginLimiters count failed logins: per user from one address, and per
// address over all users (to slow down guessing across accounts). Successful
// logins are not counted.
func (s *server) loginLimiters() []fiber.Handler {
	limited := func(c *fiber.Ctx) error {
		return apiError(fiber.StatusTooManyRequests, "too many failed logins; wait %s and try again", s.LoginWindow)
	}
	return []fiber.Handler{
		limiter.New(limiter.Config{
			Max:                    s.LoginAttempts * 10,
			Expiration:             s.LoginWindow,
			KeyGenerator:           func(c *fiber.Ctx) string { return clientOf(c.IP()) },
			LimitReached:           limited,
			SkipSuccessfulRequests: true,
		}),
		limiter.New(limiter.Config{
			Max:                    s.LoginAttempts,
			Expiration:             s.LoginWindow,
			KeyGenerator:           func(c *fiber.Ctx) string { return clientOf(c.IP()) + "\x00" + usernameOf(c.Body()) },
			LimitReached:           limited,
			SkipSuccessfulRequests: true,
		}),
	}
}

// renderErrors writes h's error response at once, so the limiters around it
// see the real status (they count only failed logins).
func renderErrors(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := h(c); err != nil {
			return c.App().ErrorHandler(c, err)
		}
		return nil
	}
}

// clientOf is the client an address stands for: an IPv4 address, or the /64
// network of an IPv6 address, since one IPv6 host usually holds a whole /64
// and could otherwise bypass the limits by changing its address.
func clientOf(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr.WithZone(""), 64).Masked().String()
}

func usernameOf(body []byte) string {
	var req struct {
		Username string `json:"username"`
	}
	_ = json.NewDecoder(bytes.NewReader(body)).Decode(&req)
	return req.Username
}

// authenticate accepts "Authorization: Bearer <token>" and the seed-era
// "Token: <token>" header.
func (s *server) authenticate(c *fiber.Ctx) error {
	token := c.Get("Token")
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="smartorch", error="invalid_request"`)
			return apiError(fiber.StatusUnauthorized, "Authorization header must be \"Bearer <token>\"")
		}
		token = strings.TrimSpace(rest)
	}
	if token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="smartorch"`)
		return apiError(fiber.StatusUnauthorized, "authentication required: POST /api/login/tokens and send \"Authorization: Bearer <token>\"")
	}
	user, err := s.Tokens.Verify(token)
	if err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="smartorch", error="invalid_token"`)
		return apiError(fiber.StatusUnauthorized, "invalid or expired token: log in again")
	}
	c.Locals(userKey, user)
	return c.Next()
}

const userKey = "user"
