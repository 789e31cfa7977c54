package release

import (
	"errors"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// ErrInvalidValues wraps the errors of rendering a chart with values: the
// values break the chart's values.schema.json or its templates fail.
var ErrInvalidValues = errors.New("invalid values")

// Render renders the chart with values as `helm template` would (client
// only, no cluster): the manifest followed by the hooks, as YAML
// documents. Values are coalesced with the chart's defaults. Schema and
// template errors wrap ErrInvalidValues. Helm modifies ch (it drops
// disabled subcharts), so ch must not be used by another call at the same
// time.
func Render(ch *chart.Chart, values map[string]any, name, namespace string) (string, error) {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return "", fmt.Errorf("release name %q: %w", name, err)
	}
	if namespace == "" {
		namespace = "default"
	}
	if values == nil {
		values = map[string]any{}
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = name
	install.Namespace = namespace
	rel, err := install.Run(ch, values)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidValues, err)
	}
	var b strings.Builder
	fmt.Fprintln(&b, strings.TrimSpace(rel.Manifest))
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String(), nil
}
