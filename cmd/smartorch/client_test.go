package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func login(t testing.TB, apiURL, password string) string {
	t.Helper()
	var tok struct{ Token string }
	if code := call(t, "POST", apiURL+"/api/login/tokens", "", fmt.Sprintf(`{"username":"admin","password":%q}`, password), &tok); code != 201 {
		t.Fatalf("login: status %d", code)
	}
	return tok.Token
}

func call(t testing.TB, method, url, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}
