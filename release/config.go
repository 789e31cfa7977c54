package release

import (
	"context"
	"fmt"
	"log/slog"

	"helm.sh/helm/v3/pkg/action"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Target is a cluster and namespace.
type Target struct {
	Kubeconfig []byte // YAML or JSON kubeconfig with one context (current-context set)
	Namespace  string // empty means "default"
	Logger     *slog.Logger
}

func (t Target) namespace() string {
	if t.Namespace == "" {
		return "default"
	}
	return t.Namespace
}

func (t Target) logger() *slog.Logger {
	if t.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.Logger
}

// configuration returns a Helm action configuration for the target, built
// from the kubeconfig in memory, storing releases as Secrets in the target
// namespace. Every call gets its own: they are not safe to share between
// concurrent actions.
func configuration(t Target) (*action.Configuration, error) {
	getter, err := newClientGetter(t.Kubeconfig, t.namespace())
	if err != nil {
		return nil, err
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(getter, t.namespace(), "secret", debugLog(t.logger())); err != nil {
		return nil, err
	}
	return cfg, nil
}

// debugLog adapts Helm's printf-style logging to slog at debug level.
func debugLog(l *slog.Logger) func(string, ...any) {
	return func(format string, args ...any) {
		if l.Enabled(context.Background(), slog.LevelDebug) {
			l.Debug(fmt.Sprintf(format, args...), "component", "helm")
		}
	}
}

// clientGetter is a genericclioptions.RESTClientGetter over a kubeconfig
// held in memory, with the namespace overridden.
type clientGetter struct {
	clientConfig clientcmd.ClientConfig
	restConfig   *rest.Config
	discovery    discovery.CachedDiscoveryInterface
	mapper       meta.RESTMapper
}

var _ genericclioptions.RESTClientGetter = (*clientGetter)(nil)

func newClientGetter(kubeconfig []byte, namespace string) (*clientGetter, error) {
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cc := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: namespace}})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	// Discovery and a chart's many resources would otherwise be throttled
	// at client-go's default 5 requests per second.
	rc.QPS, rc.Burst = 50, 100
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, nil)
	return &clientGetter{clientConfig: cc, restConfig: rc, discovery: cached, mapper: mapper}, nil
}

// ToRESTConfig returns a copy: kubectl's factory sets defaults on the
// config it gets.
func (g *clientGetter) ToRESTConfig() (*rest.Config, error) {
	return rest.CopyConfig(g.restConfig), nil
}

func (g *clientGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *clientGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

func (g *clientGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.clientConfig }
