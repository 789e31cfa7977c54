package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the orchestrator's REST API.
type Client struct {
	Server string // e.g. http://127.0.0.1:8080
	Token  string
	HTTP   *http.Client
}

// APIError is the server's one error shape, with the request id that finds
// the request in the server's log.
type APIError struct {
	Code      int             `json:"code"`
	Err       string          `json:"error"`
	Message   string          `json:"message"`
	RequestID string          `json:"requestId"`
	Details   json.RawMessage `json:"details,omitempty"`
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s (HTTP %d)", e.Message, e.Code)
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	return msg
}

// Do sends body (when not nil) as JSON and decodes a 2xx answer into out
// (when not nil). Any other answer is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.do(ctx, method, path, body, out)
	return err
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Server, "/")+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e = &APIError{Code: resp.StatusCode, Err: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(data))}
		}
		if e.RequestID == "" {
			e.RequestID = resp.Header.Get("X-Request-ID")
		}
		return resp.Header, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: unexpected answer %.200q: %w", method, path, data, err)
		}
	}
	return resp.Header, nil
}

// NotFound reports whether err is the server's 404.
func NotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == http.StatusNotFound
}

// path joins escaped segments: path("/api/enabler", name, "history").
func path(prefix string, segments ...string) string {
	p := prefix
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}
