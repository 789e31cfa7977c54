package apiserver_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/smartorch/smartorch/store"
)

// BenchmarkListRepos measures an authenticated GET /api/chartrepo with 50
// repositories over real HTTP against the real store (token check, store
// read, decryption of the sealed passwords, JSON).
func BenchmarkListRepos(b *testing.B) {
	a := startAPI(b)
	for i := range 50 {
		r := &store.Repo{Name: fmt.Sprintf("repo-%02d", i), URL: "https://charts.example.com", Username: "u", Password: "p"}
		if err := a.store.Repos.Insert(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	token := a.login()
	client := &http.Client{}
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("GET", a.url+"/api/chartrepo", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
