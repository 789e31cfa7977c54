package testenv

import (
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// kubeconfig returns a kubeconfig as YAML and as JSON whose cluster, context
// and user are all called name, as the orchestrator requires of joined
// clusters.
func kubeconfig(name, server string, caPEM []byte, client keyPair) (yamlData, jsonData []byte, err error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: client.CertPEM, ClientKeyData: client.KeyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	yamlData, err = clientcmd.Write(*cfg)
	if err != nil {
		return nil, nil, err
	}
	jsonData, err = yaml.YAMLToJSON(yamlData)
	if err != nil {
		return nil, nil, err
	}
	return yamlData, jsonData, nil
}
