package apiserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartorch/smartorch/apiserver"
	"github.com/smartorch/smartorch/store"
)

// publicRoutes are the only routes answered without a token.
var publicRoutes = []string{
	"GET /api/openapi.json",
	"GET /healthz",
	"GET /metrics",
	"GET /readyz",
	"POST /api/login/tokens",
}

// reply is a response as the security tests look at it.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request with exactly the given headers, from the local
// address from (127.0.0.1 when empty).
func (a *api) send(method, path string, header http.Header, body string, from string) reply {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.url+path, strings.NewReader(body))
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	transport := &http.Transport{}
	if from != "" {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		transport.DialContext = dialer.DialContext
	}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Timeout: 30 * time.Second, Transport: transport}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a.bodies = append(a.bodies, string(data))
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// tokenKey derives the token signing key as package auth does, so the test
// can sign tokens the server must refuse for reasons other than the key.
// TestEveryProtectedRouteNeedsAValidToken checks that it is still right.
func tokenKey(t *testing.T, secret []byte) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, "smartorch token signing", 32)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacWithHeader signs claims with HMAC-SHA256 under a header naming
// another algorithm (the algorithm-confusion attack).
func hmacWithHeader(t *testing.T, header map[string]string, key []byte, claims jwt.MapClaims) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	unsigned := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// withPayload replaces the claims of a signed token, keeping its header and
// signature.
func withPayload(token string, claims map[string]any) string {
	parts := strings.Split(token, ".")
	c, _ := json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(c)
	return strings.Join(parts, ".")
}

// badCredentials are Authorization (and Token) headers the API must refuse,
// built around the valid token issued.
func badCredentials(t *testing.T, secret []byte, issued string) map[string]http.Header {
	key := tokenKey(t, secret)
	now := time.Now()
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "smartorch", "sub": "admin", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	valid := claims(nil)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)
	hs256 := sign(t, jwt.SigningMethodHS256, key, valid)
	// Another first character changes the signature's first bits (the last
	// character may hold only padding bits).
	sig := strings.Split(issued, ".")[2]
	flipped := "A" + sig[1:]
	if sig[0] == 'A' {
		flipped = "B" + sig[1:]
	}

	tokens := map[string]string{
		"garbage":                       "not-a-token",
		"two parts":                     strings.Join(strings.Split(issued, ".")[:2], "."),
		"signature removed":             strings.Join(strings.Split(issued, ".")[:2], ".") + ".",
		"signature changed":             strings.Join(strings.Split(issued, ".")[:2], ".") + "." + flipped,
		"alg none":                      none,
		"alg none with a valid HMAC":    strings.TrimSuffix(none, ".") + "." + strings.Split(hs256, ".")[2],
		"HS384 with the right key":      sign(t, jwt.SigningMethodHS384, key, valid),
		"HS512 with the right key":      sign(t, jwt.SigningMethodHS512, key, valid),
		"RS256 header, HS256 signature": hmacWithHeader(t, map[string]string{"alg": "RS256", "typ": "JWT"}, key, valid),
		"RS256 with another key":        sign(t, jwt.SigningMethodRS256, rsaKey, valid),
		"ES256 with another key":        sign(t, jwt.SigningMethodES256, ecKey, valid),
		"HS256 with a random key":       sign(t, jwt.SigningMethodHS256, store.NewKey(), valid),
		"HS256 with the raw secret key": sign(t, jwt.SigningMethodHS256, secret, valid),
		"expired":                       sign(t, jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Second).Unix() })),
		"long expired": sign(t, jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-48*time.Hour).Unix(), now.Add(-47*time.Hour).Unix()
		})),
		"no expiry":                      sign(t, jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"not valid before an hour":       sign(t, jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"another issuer":                 sign(t, jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["iss"] = "someone-else" })),
		"no issuer":                      sign(t, jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"no subject":                     sign(t, jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { delete(c, "sub") })),
		"subject changed, old signature": withPayload(issued, claims(func(c jwt.MapClaims) { c["sub"] = "root" })),
		"expiry extended, old signature": withPayload(issued, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(24 * time.Hour).Unix() })),
		"header alg changed to none":     base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + issued[strings.Index(issued, "."):],
	}
	creds := map[string]http.Header{
		"no credentials":                                {},
		"empty Authorization":                           {"Authorization": {""}},
		"scheme only":                                   {"Authorization": {"Bearer"}},
		"scheme and a space":                            {"Authorization": {"Bearer "}},
		"token without scheme":                          {"Authorization": {issued}},
		"Basic with the admin account":                  {"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminPassword))}},
		"Token scheme":                                  {"Authorization": {"Token " + issued}},
		"token and trailing garbage":                    {"Authorization": {"Bearer " + issued + " x"}},
		"token twice":                                   {"Authorization": {"Bearer " + issued + "," + issued}},
		"bad Authorization beside a valid Token header": {"Authorization": {"Basic eDp5"}, "Token": {issued}},
		"Token header with an expired token":            {"Token": {tokens["expired"]}},
	}
	for name, token := range tokens {
		creds[name] = bearer(token)
	}
	return creds
}

// routePath fills a route's parameters.
var routeParam = regexp.MustCompile(`:[A-Za-z]+\??`)

func routePath(pattern string) string {
	return routeParam.ReplaceAllString(pattern, "00000000-0000-0000-0000-000000000000")
}

func TestEveryProtectedRouteNeedsAValidToken(t *testing.T) {
	a := startAPI(t)
	issued := a.login()
	creds := badCredentials(t, a.key, issued)

	// The controls: the tokens above differ from ones the API accepts only
	// in what their names say.
	key := tokenKey(t, a.key)
	now := time.Now()
	own := sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"iss": "smartorch", "sub": "admin", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	for name, h := range map[string]http.Header{
		"issued":                bearer(issued),
		"signed by the test":    bearer(own),
		"lower-case scheme":     {"Authorization": {"bearer " + issued}},
		"seed-era Token header": {"Token": {issued}},
	} {
		if r := a.send("GET", "/api/chartrepo", h, "", ""); r.status != 200 {
			t.Fatalf("control %s: status %d %s, want 200 (is tokenKey still the derivation of package auth?)", name, r.status, r.body)
		}
	}

	var public []string
	protected := 0
	for _, r := range a.app.GetRoutes(true) {
		path := routePath(r.Path)
		if r.Method == "HEAD" || r.Method == "CONNECT" || r.Method == "TRACE" {
			// Fiber adds HEAD for every GET; checked below with its GET.
			continue
		}
		if got := a.send(r.Method, path, nil, "", ""); got.status != 401 {
			public = append(public, r.Method+" "+r.Path)
			continue
		}
		protected++
		for name, h := range creds {
			got := a.send(r.Method, path, h, "", "")
			if got.status != 401 {
				t.Errorf("%s %s with %s: status %d %s, want 401", r.Method, path, name, got.status, got.body)
				continue
			}
			checkUnauthorized(t, r.Method+" "+path+" with "+name, got)
			if r.Method == "GET" {
				if head := a.send("HEAD", path, h, "", ""); head.status != 401 {
					t.Errorf("HEAD %s with %s: status %d, want 401", path, name, head.status)
				}
			}
		}
	}
	slices.Sort(public)
	public = slices.Compact(public)
	if !slices.Equal(public, publicRoutes) {
		t.Errorf("routes answered without a token:\n  %s\nwant exactly:\n  %s", strings.Join(public, "\n  "), strings.Join(publicRoutes, "\n  "))
	}
	if protected < 20 {
		t.Errorf("only %d protected routes found in the app", protected)
	}

	// Unknown paths under /api do not reveal whether they exist.
	if got := a.send("GET", "/api/no-such-route", nil, "", ""); got.status != 401 {
		t.Errorf("unknown route without a token: %d, want 401", got.status)
	}
}

// checkUnauthorized asserts a 401 is the JSON error shape with a message
// and asks for a bearer token.
func checkUnauthorized(t *testing.T, what string, r reply) {
	t.Helper()
	resp := &http.Response{StatusCode: r.status, Header: r.header}
	checkErrorShape(t, what, resp, r.body)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", what, r.header.Get("WWW-Authenticate"))
	}
}

func loginBody(user, password string) string {
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return string(b)
}

// checkLimited asserts a 429 is the JSON error shape and says, in
// Retry-After, how many seconds (within the window) to wait.
func checkLimited(t *testing.T, what string, r reply, window time.Duration) int {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("%s: status %d %s, want 429", what, r.status, r.body)
	}
	checkErrorShape(t, what, &http.Response{StatusCode: r.status, Header: r.header}, r.body)
	after, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || after < 1 || after > int(window.Seconds()) {
		t.Errorf("%s: Retry-After %q, want 1 to %v seconds", what, r.header.Get("Retry-After"), window.Seconds())
	}
	return after
}

func TestLoginRateLimit(t *testing.T) {
	const attempts, window = 3, time.Minute
	a := startAPI(t, func(c *apiserver.Config) { c.LoginAttempts, c.LoginWindow = attempts, window })
	const login = "/api/login/tokens"
	bad, good := loginBody("admin", "guess"), loginBody("admin", adminPassword)

	for i := range attempts {
		if r := a.send("POST", login, nil, bad, ""); r.status != 401 {
			t.Fatalf("failed login %d: status %d, want 401", i+1, r.status)
		}
	}
	checkLimited(t, "failed login over the limit", a.send("POST", login, nil, bad, ""), window)
	// Once limited, even the right password waits: guessing cannot go on.
	checkLimited(t, "right password while limited", a.send("POST", login, nil, good, ""), window)
	// Spelling the same body differently does not escape the limit.
	checkLimited(t, "same user, fields reordered", a.send("POST", login, nil, `{"password":"x", "username":"admin"}`, ""), window)

	// The limit is per user and client: another user from this client, and
	// the same user from another client, may still log in.
	if r := a.send("POST", login, nil, loginBody("operator", "guess"), ""); r.status != 401 {
		t.Errorf("another user from the limited client: status %d, want 401", r.status)
	}
	if r := a.send("POST", login, nil, good, "127.0.0.2"); r.status != 201 {
		t.Errorf("admin from another client: status %d %s, want 201", r.status, r.body)
	}

	// A client guessing across many users is limited too (ten times the
	// attempts), and then cannot log in as anyone.
	const other = "127.0.0.3"
	for i := range attempts * 10 {
		if r := a.send("POST", login, nil, loginBody("user-"+strconv.Itoa(i), "guess"), other); r.status != 401 {
			t.Fatalf("failed login %d across users: status %d, want 401", i+1, r.status)
		}
	}
	checkLimited(t, "a new user from a client over its limit", a.send("POST", login, nil, loginBody("yet-another", "guess"), other), window)
	checkLimited(t, "admin's right password from a client over its limit", a.send("POST", login, nil, good, other), window)
}

// TestLoginRateLimitHoldsUnderConcurrency sends many wrong passwords at
// once: no more than the allowed attempts may reach the password check.
func TestLoginRateLimitHoldsUnderConcurrency(t *testing.T) {
	const attempts, requests = 4, 24
	a := startAPI(t, func(c *apiserver.Config) { c.LoginAttempts = attempts })
	codes := make(chan int, requests)
	var wg sync.WaitGroup
	for range requests {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(context.Background(), "POST", a.url+"/api/login/tokens", strings.NewReader(loginBody("admin", "guess")))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[401] != attempts || count[429] != requests-attempts {
		t.Errorf("statuses %v, want %d × 401 and %d × 429", count, attempts, requests-attempts)
	}
}

// TestLoginRateLimitWindow: the limit lifts when the window ends, and
// Retry-After says when that is.
func TestLoginRateLimitWindow(t *testing.T) {
	// Long enough that the failed logins (bcrypt, slow on a loaded machine)
	// fit in one window.
	const window = 5 * time.Second
	a := startAPI(t, func(c *apiserver.Config) { c.LoginAttempts, c.LoginWindow = 2, window })
	bad, good := loginBody("admin", "guess"), loginBody("admin", adminPassword)
	for range 2 {
		a.send("POST", "/api/login/tokens", nil, bad, "")
	}
	after := checkLimited(t, "over the limit", a.send("POST", "/api/login/tokens", nil, good, ""), window)
	// The limiter's clock ticks once a second, so allow one more.
	time.Sleep(time.Duration(after)*time.Second + time.Second)
	if r := a.send("POST", "/api/login/tokens", nil, good, ""); r.status != 201 {
		t.Errorf("right password after Retry-After: status %d %s, want 201", r.status, r.body)
	}
}
