package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// bodies are the request bodies of every POST route, each with the rules
// its decoder claims to enforce, written out independently of the
// validate tags.
var bodies = []struct {
	route string
	new   func() any
	check func(v any) error
}{
	{"POST /api/login/tokens", func() any { return &loginRequest{} }, func(v any) error {
		r := v.(*loginRequest)
		return all(text("username", r.Username, 1, 128), text("password", r.Password, 1, 128))
	}},
	{"POST /api/chartrepo", func() any { return &repoRequest{} }, func(v any) error {
		r := v.(*repoRequest)
		errs := []error{label("name", r.Name, 63), text("description", r.Description, 0, 1024), text("url", r.URL, 1, 2048)}
		if r.Auth != nil {
			errs = append(errs, text("auth.username", r.Auth.Username, 1, 256), text("auth.password", r.Auth.Password, 1, 4096))
		}
		return all(errs...)
	}},
	{"POST /api/k8sclusters", func() any { return &clusterRequest{} }, func(v any) error {
		r := v.(*clusterRequest)
		errs := []error{label("name", r.Name, 63), text("description", r.Description, 0, 1024), text("k8s_version", r.K8sVersion, 0, 64)}
		if len(r.Credentials) == 0 {
			errs = append(errs, errors.New("credentials missing"))
		}
		if r.CNI != "" && r.CNI != "cilium" && r.CNI != "flannel" {
			errs = append(errs, fmt.Errorf("cni %q", r.CNI))
		}
		if r.PrometheusURL != "" {
			u, err := url.Parse(r.PrometheusURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || utf8.RuneCountInString(r.PrometheusURL) > 2048 {
				errs = append(errs, fmt.Errorf("prometheusUrl %q", r.PrometheusURL))
			}
		}
		if len(r.MetricsTargets) > 256 {
			errs = append(errs, fmt.Errorf("%d metricsTargets", len(r.MetricsTargets)))
		}
		for _, t := range r.MetricsTargets {
			host, port, err := net.SplitHostPort(t)
			if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("metricsTargets: %q is not host:port", t))
			}
		}
		return all(errs...)
	}},
	{"POST /api/enabler, /api/placement/preview", func() any { return &enablerRequest{} }, func(v any) error {
		r := v.(*enablerRequest)
		errs := []error{
			label("enablerName", r.EnablerName, 53), text("helmChart", r.HelmChart, 1, 512), text("version", r.Version, 0, 128),
			checkPlacement(&r.placementRequest),
		}
		if r.Namespace != "" {
			errs = append(errs, label("namespace", r.Namespace, 63))
		}
		if r.Timeout < 0 || r.Timeout > 3600 {
			errs = append(errs, fmt.Errorf("timeout %d", r.Timeout))
		}
		if t := r.GlobalServiceTargets; t != nil {
			if len(*t) > 64 {
				errs = append(errs, fmt.Errorf("%d globalServiceTargets", len(*t)))
			}
			for _, s := range *t {
				errs = append(errs, text("globalServiceTargets[]", s, 1, 253))
			}
		}
		return all(errs...)
	}},
	{"POST /api/enabler/:id/instantiate", func() any { return &placementRequest{} }, func(v any) error {
		return checkPlacement(v.(*placementRequest))
	}},
	{"POST /api/enabler/:id/upgrade", func() any { return &upgradeRequest{} }, func(v any) error {
		return text("version", v.(*upgradeRequest).Version, 0, 128)
	}},
	{"POST /api/enabler/:id/rollback", func() any { return &rollbackRequest{} }, func(v any) error {
		if r := v.(*rollbackRequest); r.Revision < 0 {
			return fmt.Errorf("revision %d", r.Revision)
		}
		return nil
	}},
}

func checkPlacement(r *placementRequest) error {
	return all(text("vim", r.Vim, 0, 253), text("placementPolicy", r.PlacementPolicy, 0, 64), text("placement_policy", r.PlacementPolicySnake, 0, 64))
}

// text checks a length in characters, as the error messages count.
func text(field, s string, minLen, maxLen int) error {
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		return fmt.Errorf("%s has %d characters, not %d to %d", field, n, minLen, maxLen)
	}
	return nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func label(field, s string, maxLen int) error {
	if !dnsLabel.MatchString(s) || len(s) > maxLen {
		return fmt.Errorf("%s %q is not a DNS label of at most %d characters", field, s, maxLen)
	}
	return nil
}

func all(errs ...error) error { return errors.Join(errs...) }

// FuzzDecode decodes a body as each POST route's request. A rejection is a
// 400 with a message; an accepted body is one JSON object, obeys every rule
// of the route, and re-encodes to a body that decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"username":"admin","password":"pw"}`,
		`{"name":"bitnami","url":"https://charts.bitnami.com/bitnami","auth":{"username":"u","password":"p"}}`,
		`{"name":"edge-1","credentials":"apiVersion: v1","cloud":"true","cni":"cilium","prometheusUrl":"http://p:9090","metricsTargets":["10.0.0.1:9100","[::1]:9100"]}`,
		`{"enablerName":"web","helmChart":"bitnami/nginx","vim":"edge-1","timeout":"300","additionalParams":{"a":[1,{"b":null}]},"globalServiceTargets":[]}`,
		`{"enablerName":"web","helmChart":"oci://h/c/web","auto":true,"placementPolicy":"worst-fit","namespace":"apps","version":"^1"}`,
		`{"auto":"false","placement_policy":"traffic-most"}`,
		`{"additionalParams":{},"version":"1.2.3","reuseValues":true}`,
		`{"revision":3}`,
		`{"revision":-1}`, `{"timeout":1e3}`, `{"cloud":"yes"}`, `[]`, `null`, `{} {}`, `{"a":1}`, `{"name":`, "",
		`{"enablerName":"ÄBC","helmChart":"x/y","timeout":3601}`, `{"metricsTargets":["h:0","h:99999",":1"]}`,
	} {
		for i := range bodies {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		b := bodies[int(which)%len(bodies)]
		v := b.new()
		err := decodeBody(body, v)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != 400 || e.Message == "" {
				t.Fatalf("%s %q: error %#v is not a 400 with a message", b.route, body, err)
			}
			return
		}
		if !json.Valid(body) || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			t.Fatalf("%s accepted %q, which is not a JSON object", b.route, body)
		}
		if err := b.check(v); err != nil {
			t.Fatalf("%s accepted %q, which breaks its rules: %v", b.route, body, err)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s %q: re-encoding: %v", b.route, body, err)
		}
		v2 := b.new()
		if err := decodeBody(again, v2); err != nil {
			t.Fatalf("%s accepted %q but not its re-encoding %s: %v", b.route, body, again, err)
		}
		if again2, _ := json.Marshal(v2); !bytes.Equal(again, again2) {
			t.Fatalf("%s %q: round trip changed %s into %s", b.route, body, again, again2)
		}
	})
}

// Crashers of FuzzDecode and messages it led to, as plain cases.
func TestDecodeMessages(t *testing.T) {
	long := `"` + strings.Repeat("a", 254) + `"`
	for _, c := range []struct{ body, want string }{
		{"null", "request body must be a JSON object, not null"},
		{" null\n", "request body must be a JSON object, not null"},
		{`{"enablerName":"a","helmChart":"r/c","vim":` + long + `}`, "vim must be at most 253 characters"},
		{`{"enablerName":"a","helmChart":"r/c","vim":1}`, "field vim must be a string, not number"},
		{`{"enablerName":"a","helmChart":"r/c","timeout":-1}`, "timeout must be at least 0"},
		{`{"enablerName":"a","helmChart":"r/c"} {}`, "request body must hold a single JSON object"},
	} {
		var req enablerRequest
		err := decodeBody([]byte(c.body), &req)
		var e *Error
		if !errors.As(err, &e) || e.Code != 400 || e.Message != c.want {
			t.Errorf("%s: %v, want 400 %q", c.body, err, c.want)
		}
	}
}
