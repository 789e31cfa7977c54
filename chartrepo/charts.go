package chartrepo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/renameio/v2"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// ErrChartNotFound wraps the errors of Load that the caller's input caused:
// an unknown repository, a chart not in the repository, no such version, a
// chart that is not an application chart.
var ErrChartNotFound = errors.New("chart not found")

// Charts finds, downloads and loads charts, caching archives in CacheDir by
// repository URL, name and exact version (so a retry or another activity
// does not download again). An empty CacheDir disables the cache.
type Charts struct {
	CacheDir string
	Timeout  time.Duration // per HTTP request; default 30s
	Logger   *slog.Logger
}

// Resolved is an exact chart version.
type Resolved struct {
	Ref     string `json:"ref"`     // as given
	Chart   string `json:"chart"`   // chart name
	Version string `json:"version"` // exact version
	URL     string `json:"url"`     // where the archive came from
	Digest  string `json:"digest,omitempty"`
}

// Load resolves ref at version (exact, a semver constraint such as "^0.1",
// or "" for the latest stable version) against repos, downloads the chart
// and loads it. The repository named in ref must be in repos; a registered
// oci:// repository makes "name/chart" mean "<its URL>/chart". For an
// oci:// reference, the repository whose URL is the longest prefix of it
// supplies the credentials.
//
// Credentials are sent only to the repository's own scheme and host (as
// helm's --repo without --pass-credentials). Errors wrap ErrChartNotFound
// when the input is at fault; network and server errors do not, as they
// are worth retrying.
//
// Each call returns a new *chart.Chart: Helm modifies a chart it renders,
// so one chart must not serve two concurrent Render or Install calls.
func (c *Charts) Load(ctx context.Context, ref, version string, repos []Repository) (*chart.Chart, Resolved, error) {
	repoName, name, oci, err := ParseRef(ref)
	if err != nil {
		return nil, Resolved{}, fmt.Errorf("%w: %v", ErrChartNotFound, err)
	}
	if version != "" {
		if _, err := semver.NewConstraint(version); err != nil {
			return nil, Resolved{}, fmt.Errorf("%w: chart %s: version %q is neither a version nor a constraint", ErrChartNotFound, ref, version)
		}
	}

	var data []byte
	var res Resolved
	switch {
	case oci:
		data, res, err = c.fromRegistry(ctx, repoName, name, version, registryCredentials(ref, repos))
	default:
		i := slices.IndexFunc(repos, func(r Repository) bool { return r.Name == repoName })
		if i < 0 {
			return nil, Resolved{}, fmt.Errorf("%w: chart %s: repository %q is not registered", ErrChartNotFound, ref, repoName)
		}
		r := repos[i]
		if strings.HasPrefix(r.URL, ociScheme) {
			data, res, err = c.fromRegistry(ctx, strings.TrimSuffix(r.URL, "/"), name, version, &r)
		} else {
			data, res, err = c.fromIndex(ctx, r, name, version)
		}
	}
	if err != nil {
		return nil, Resolved{}, fmt.Errorf("chart %s: %w", ref, err)
	}

	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, Resolved{}, fmt.Errorf("chart %s %s from %s: %w", ref, res.Version, res.URL, err)
	}
	if t := ch.Metadata.Type; t != "" && t != "application" {
		return nil, Resolved{}, fmt.Errorf("%w: chart %s is a %s chart, not an application chart", ErrChartNotFound, ref, t)
	}
	sum := sha256.Sum256(data)
	res.Ref, res.Chart, res.Digest = ref, ch.Name(), "sha256:"+hex.EncodeToString(sum[:])
	return ch, res, nil
}

// fromIndex resolves the version in the repository's index.yaml and
// downloads the archive it names.
func (c *Charts) fromIndex(ctx context.Context, r Repository, name, version string) ([]byte, Resolved, error) {
	idx, err := fetchIndex(ctx, r, c.timeout())
	if err != nil {
		return nil, Resolved{}, err
	}
	cv, err := idx.Get(name, version)
	switch {
	case errors.Is(err, repo.ErrNoChartName):
		return nil, Resolved{}, fmt.Errorf("%w: repository %s has no chart %q", ErrChartNotFound, r.Name, name)
	case err != nil:
		return nil, Resolved{}, fmt.Errorf("%w: %s", ErrChartNotFound, noVersion(name, version, idx.Entries[name]))
	case len(cv.URLs) == 0:
		return nil, Resolved{}, fmt.Errorf("%s: chart %s %s has no download URL", indexURL(r), name, cv.Version)
	}
	archiveURL, err := repo.ResolveReferenceURL(r.URL, cv.URLs[0])
	if err != nil {
		return nil, Resolved{}, fmt.Errorf("%s: %w", indexURL(r), err)
	}
	data, err := c.cached(r.URL, name, cv.Version, cv.Digest, func() ([]byte, error) {
		return get(ctx, archiveURL, r, c.timeout())
	})
	return data, Resolved{Version: cv.Version, URL: archiveURL}, err
}

// noVersion says which versions exist when none matched.
func noVersion(name, version string, versions repo.ChartVersions) string {
	var have []string
	for _, v := range versions {
		if len(have) == 10 {
			have = append(have, "...")
			break
		}
		have = append(have, v.Version)
	}
	want := "a stable version"
	if version != "" {
		want = "version " + version
	}
	return fmt.Sprintf("chart %s has no %s (versions: %s)", name, want, strings.Join(have, ", "))
}

// fromRegistry pulls repository/name (repository is "oci://host/path") at
// version, the tag; "" or a constraint picks the newest matching semver tag.
func (c *Charts) fromRegistry(ctx context.Context, repository, name, version string, creds *Repository) ([]byte, Resolved, error) {
	if err := ctx.Err(); err != nil {
		return nil, Resolved{}, err
	}
	ref := strings.TrimPrefix(repository, ociScheme) + "/" + name
	client, err := registryClient(ref, creds, c.timeout())
	if err != nil {
		return nil, Resolved{}, err
	}
	tag := version
	if _, err := semver.StrictNewVersion(version); err != nil {
		if tag, err = newestTag(client, ref, version); err != nil {
			return nil, Resolved{}, err
		}
	}
	u := ociScheme + ref + ":" + tag
	data, err := c.cached(repository, name, tag, "", func() ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := client.Pull(ref+":"+tag, registry.PullOptWithChart(true))
		if err != nil {
			return nil, registryError(u, err)
		}
		return res.Chart.Data, nil
	})
	return data, Resolved{Version: tag, URL: u}, err
}

// newestTag returns the newest semver tag of ref matching the constraint
// ("" matches stable versions).
func newestTag(client *registry.Client, ref, constraint string) (string, error) {
	if constraint == "" {
		constraint = "*"
	}
	cons, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("%w: version %q is neither a version nor a constraint", ErrChartNotFound, constraint)
	}
	tags, err := client.Tags(ref) // newest first
	if err != nil {
		return "", registryError(ociScheme+ref, err)
	}
	for _, t := range tags {
		if v, err := semver.NewVersion(t); err == nil && cons.Check(v) {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: %s has no tag matching %q (tags: %s)", ErrChartNotFound, ociScheme+ref, constraint, strings.Join(tags, ", "))
}

// registryError marks "no such repository or tag" as the caller's error.
func registryError(ref string, err error) error {
	var resp *errcode.ErrorResponse
	if errors.Is(err, errdef.ErrNotFound) || (errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound) {
		return fmt.Errorf("%w: %s: %v", ErrChartNotFound, ref, err)
	}
	return fmt.Errorf("%s: %w", ref, err)
}

// cached returns the archive of name at version from repository, from the
// cache when it is there (and matches digest, the index's sha256 when it
// gives one), else from fetch, storing it.
func (c *Charts) cached(repository, name, version, digest string, fetch func() ([]byte, error)) ([]byte, error) {
	path := c.cachePath(repository, name, version)
	if path != "" {
		if data, err := os.ReadFile(path); err == nil && matches(data, digest) {
			c.logger().Debug("chart archive from cache", "chart", name, "version", version, "path", path)
			return data, nil
		}
	}
	data, err := fetch()
	if err != nil {
		return nil, err
	}
	if !matches(data, digest) {
		return nil, fmt.Errorf("chart %s %s: archive does not match the index digest %s", name, version, digest)
	}
	if path != "" {
		// Through a temporary file: concurrent readers see the whole archive or none.
		err := os.MkdirAll(filepath.Dir(path), 0o700)
		if err == nil {
			err = renameio.WriteFile(path, data, 0o600, renameio.WithTempDir(filepath.Dir(path)))
		}
		if err != nil {
			// The chart is loaded all the same; the next call downloads again.
			c.logger().Warn("cannot cache chart archive", "path", path, "error", err)
		}
	}
	return data, nil
}

func (c *Charts) cachePath(repository, name, version string) string {
	if c.CacheDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.TrimSuffix(repository, "/") + "\x00" + name + "\x00" + version))
	return filepath.Join(c.CacheDir, name+"-"+hex.EncodeToString(sum[:12])+".tgz")
}

func matches(data []byte, digest string) bool {
	if digest == "" {
		return true
	}
	sum := sha256.Sum256(data)
	return strings.EqualFold(strings.TrimPrefix(digest, "sha256:"), hex.EncodeToString(sum[:]))
}

func (c *Charts) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 30 * time.Second
	}
	return c.Timeout
}

func (c *Charts) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
