package release

import (
	"context"
	"errors"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/testenv"
)

func TestRender(t *testing.T) {
	t.Parallel()
	chartRepo := testenv.StartChartRepo(t)
	repos := []chartrepo.Repository{{Name: "test", URL: chartRepo.URL}}
	load := func() *chart.Chart {
		ch, _, err := (&chartrepo.Charts{}).Load(context.Background(), "test/web", "0.1.0", repos)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}

	manifest, err := Render(load(), map[string]any{"replicaCount": 3}, "shop", "apps")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: Deployment", "kind: Service", "name: shop-web", "replicas: 3", "cpu: 100m", "# Source: web/templates/deployment.yaml"} {
		if !strings.Contains(manifest, want) {
			t.Errorf("manifest lacks %q:\n%s", want, manifest)
		}
	}
	manifest, err = Render(load(), nil, "shop", "")
	if err != nil || !strings.Contains(manifest, "replicas: 1") {
		t.Errorf("Render with the chart's defaults = %v:\n%s", err, manifest)
	}

	if _, err := Render(load(), nil, "Not_A_Name", "apps"); err == nil || errors.Is(err, ErrInvalidValues) {
		t.Errorf("Render with an invalid release name: error = %v, want one that is not ErrInvalidValues", err)
	}
}

func TestRenderInvalidValues(t *testing.T) {
	t.Parallel()
	ch := func() *chart.Chart {
		return &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "strict", Version: "1.0.0"},
			Values:   map[string]any{"replicaCount": 1},
			Schema:   []byte(`{"type": "object", "properties": {"replicaCount": {"type": "integer", "minimum": 1}}}`),
			Templates: []*chart.File{
				{Name: "templates/cm.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  image: {{ required "image is required" .Values.image | quote }}
  replicas: {{ .Values.replicaCount | quote }}
`)},
				{Name: "templates/job.yaml", Data: []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-setup
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: setup, image: {{ .Values.image | quote }}}]
`)},
			},
		}
	}

	manifest, err := Render(ch(), map[string]any{"image": "nginx", "replicaCount": 2}, "s", "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`image: "nginx"`, `replicas: "2"`, "# Source: strict/templates/job.yaml", "helm.sh/hook: pre-install"} {
		if !strings.Contains(manifest, want) {
			t.Errorf("manifest lacks %q:\n%s", want, manifest)
		}
	}

	for _, tt := range []struct {
		values map[string]any
		msg    string
	}{
		{map[string]any{"replicaCount": 2}, "image is required"},
		{map[string]any{"image": "nginx", "replicaCount": "three"}, "replicaCount"},
		{map[string]any{"image": "nginx", "replicaCount": 0}, "minimum"},
	} {
		_, err := Render(ch(), tt.values, "s", "default")
		if !errors.Is(err, ErrInvalidValues) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Render(%v) error = %v, want ErrInvalidValues mentioning %q", tt.values, err, tt.msg)
		}
	}
}
