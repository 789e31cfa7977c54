package chartrepo

import (
	"strings"
	"testing"
)

// FuzzParseRef checks what ParseRef accepts: the reference is exactly
// repo/chart (nothing decoded or dropped on the way, so what is checked is
// what is fetched), the chart is a plain name, and an oci:// repository has
// a host and no empty, relative, credential, query or version parts.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"bitnami/nginx", "oci://registry.example.com/charts/web", "oci://127.0.0.1:5000/a/b/web", "oci://ghcr.io/web",
		"a/b/c", "oci://h/charts/web:1.0", "oci://u:p@h/c/web", "oci://h/c/web?x=1", "oci://h//web", "oci://h/../web",
		"oci://h/a%2Fb/web", "oci://h/c/w%65b", "oci:///web", "OCI://h/c/web", "repo/..", "oci://[::1]:5000/c/web",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		repo, chart, oci, err := ParseRef(ref)
		if err != nil {
			if !strings.Contains(err.Error(), "chart ") {
				t.Fatalf("ParseRef(%q): error %q does not name the chart", ref, err)
			}
			return
		}
		if oci != strings.HasPrefix(ref, ociScheme) {
			t.Fatalf("ParseRef(%q): oci = %v", ref, oci)
		}
		if repo+"/"+chart != ref {
			t.Fatalf("ParseRef(%q) = %q, %q: not the reference itself", ref, repo, chart)
		}
		if !chartNameRE.MatchString(chart) || strings.Contains(chart, "..") {
			t.Fatalf("ParseRef(%q): chart %q is not a chart name", ref, chart)
		}
		if !oci {
			if !repoNameRE.MatchString(repo) {
				t.Fatalf("ParseRef(%q): repository %q is not a repository name", ref, repo)
			}
			return
		}
		host, path, _ := strings.Cut(strings.TrimPrefix(repo, ociScheme), "/")
		if host == "" || strings.ContainsAny(host, "@?#") || strings.ContainsAny(path, "@?#:") {
			t.Fatalf("ParseRef(%q): repository %q", ref, repo)
		}
		if path != "" {
			for _, seg := range strings.Split(path, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("ParseRef(%q): repository %q has an empty or relative segment", ref, repo)
				}
			}
		}
		again, chart2, oci2, err := ParseRef(repo + "/" + chart)
		if err != nil || again != repo || chart2 != chart || !oci2 {
			t.Fatalf("ParseRef(%q) is not stable: %q %q %v %v", ref, again, chart2, oci2, err)
		}
	})
}
