package chartrepo

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

const ociScheme = "oci://"

var (
	repoNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	chartNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// ParseRef splits a chart reference: "repo/chart" (a registered repository
// name and a chart name) or an oci:// reference ("oci://host/path/chart"),
// for which repo is the reference without the chart ("oci://host/path").
// The version is never part of the reference. Error text is user-facing.
func ParseRef(ref string) (repo, chart string, oci bool, err error) {
	if strings.HasPrefix(ref, ociScheme) {
		return parseOCIRef(ref)
	}
	repo, chart, ok := strings.Cut(ref, "/")
	if !ok || strings.Contains(chart, "/") {
		return "", "", false, fmt.Errorf("chart %q: must be <repository>/<chart> or oci://<registry>/<path>/<chart>", ref)
	}
	if !repoNameRE.MatchString(repo) {
		return "", "", false, fmt.Errorf("chart %q: %q is not a repository name", ref, repo)
	}
	if err := checkChartName(ref, chart); err != nil {
		return "", "", false, err
	}
	return repo, chart, false, nil
}

func parseOCIRef(ref string) (repo, chart string, oci bool, err error) {
	// url.Parse decodes %XX: a reference with escapes would be checked in
	// one spelling and fetched in another. Registries need none.
	if strings.Contains(ref, "%") {
		return "", "", true, fmt.Errorf("chart %q: an oci:// reference has no %%-escapes", ref)
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", "", true, fmt.Errorf("chart %q: not a valid oci:// reference", ref)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(ref, "?") || strings.HasSuffix(ref, "#") {
		return "", "", true, fmt.Errorf("chart %q: an oci:// reference has no credentials, query or fragment", ref)
	}
	i := strings.LastIndex(u.Path, "/")
	if i < 0 || u.Path == "/" {
		return "", "", true, fmt.Errorf("chart %q: must be oci://<registry>/<path>/<chart>", ref)
	}
	chart = u.Path[i+1:]
	if strings.ContainsAny(chart, ":@") {
		return "", "", true, fmt.Errorf("chart %q: give the version separately, not as a tag or digest in the reference", ref)
	}
	if err := checkChartName(ref, chart); err != nil {
		return "", "", true, err
	}
	if dir := u.Path[:i]; dir != "" {
		for _, seg := range strings.Split(dir[1:], "/") {
			if seg == "" || seg == "." || seg == ".." {
				return "", "", true, fmt.Errorf("chart %q: empty or relative path segment", ref)
			}
			// Only the last segment may carry a tag or digest, and not here either.
			if strings.ContainsAny(seg, ":@") {
				return "", "", true, fmt.Errorf("chart %q: path segment %q has ':' or '@'", ref, seg)
			}
		}
	}
	return ociScheme + u.Host + u.Path[:i], chart, true, nil
}

func checkChartName(ref, chart string) error {
	if !chartNameRE.MatchString(chart) || strings.Contains(chart, "..") {
		return fmt.Errorf("chart %q: %q is not a chart name", ref, chart)
	}
	return nil
}

// registryCredentials returns the repository whose oci:// URL is the longest
// prefix (on a path boundary) of ref, the repository "oci://host/path" of a
// chart; nil when none matches.
func registryCredentials(ref string, repos []Repository) *Repository {
	var best *Repository
	for i, r := range repos {
		u := strings.TrimSuffix(r.URL, "/")
		if !strings.HasPrefix(u, ociScheme) || (ref != u && !strings.HasPrefix(ref, u+"/")) {
			continue
		}
		if best == nil || len(u) > len(strings.TrimSuffix(best.URL, "/")) {
			best = &repos[i]
		}
	}
	return best
}
