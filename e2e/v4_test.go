package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/smartorch/smartorch/testenv"
)

// TestV4Routes replays the original dashboard's requests on the v4 routes
// (the original's paths, payloads and headers): each answers the status
// and the field names the dashboard reads, needs the token, and no answer
// carries a kubeconfig's credentials or a repository password.
func TestV4Routes(t *testing.T) {
	const repoUser, repoPassword = "reader", "v4-repo-password-9f2c71"
	private := testenv.StartPrivateChartRepo(t, repoUser, repoPassword)
	env := testenv.Start(t, testenv.Options{Temporal: true, ChartRepo: true, Clusters: []testenv.ClusterOptions{
		{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}},
	}})
	cloud := env.Clusters[0]
	o := startOrchestrator(t, env)
	d := &dashboard{o: o, t: t}

	t.Run("every route needs the token", func(t *testing.T) {
		for _, r := range [][2]string{{"GET", "/clusters"}, {"POST", "/clusters"}, {"GET", "/clusters/x"}, {"GET", "/clusters/cloud/find"},
			{"GET", "/clusters/node/x"}, {"DELETE", "/clusters/x"}, {"GET", "/repos"}, {"GET", "/repos/charts/x"}, {"POST", "/repos/public"},
			{"POST", "/repos/private"}, {"POST", "/repos/update"}, {"DELETE", "/repos/x"}, {"GET", "/enabler"}, {"GET", "/enabler/cluster/x"},
			{"POST", "/enabler"}, {"POST", "/enabler/upgrade/x"}, {"DELETE", "/enabler/x"}, {"DELETE", "/enabler/volumes/x"}} {
			if code, _ := d.send(r[0], r[1], nil, nil, false); code != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d, want 401", r[0], r[1], code)
			}
		}
	})

	// The dashboard sends the kubeconfig as a JSON object and cloud as a string.
	var kubeconfig map[string]any
	must(t, json.Unmarshal(cloud.KubeconfigJSON, &kubeconfig))
	joined := d.call(t, "POST", "/clusters", nil, map[string]any{"name": "cloud", "description": "the cloud", "credentials": kubeconfig, "cloud": "true", "cni": "cilium"}, 200)
	wantFields(t, "POST /clusters", joined, "uid", "name", "status", "cloud", "operationId")
	uid := joined["uid"].(string)
	eventually(t, 2*time.Minute, "the cluster to be Enabled", func() bool {
		return d.call(t, "GET", "/clusters/"+uid, nil, nil, 200)["status"] == "Enabled"
	})

	t.Run("clusters", func(t *testing.T) {
		list := d.list(t, "/clusters", 200)
		if len(list) != 1 {
			t.Fatalf("GET /clusters: %d clusters, want 1", len(list))
		}
		wantFields(t, "GET /clusters", list[0], "uid", "name", "description", "status", "cloud")
		if c := d.call(t, "GET", "/clusters/cloud/find", nil, nil, 200); c["uid"] != uid || c["cloud"] != true {
			t.Errorf("GET /clusters/cloud/find: %v, want the cloud cluster %s", c, uid)
		}
		nodes := d.list(t, "/clusters/node/"+uid, 200)
		if len(nodes) != 1 {
			t.Fatalf("GET /clusters/node: %v", nodes)
		}
		wantFields(t, "GET /clusters/node", nodes[0], "name", "labels")
		d.call(t, "GET", "/clusters/nope", nil, nil, 404)
	})

	var publicUID, privateUID string
	t.Run("repositories", func(t *testing.T) {
		pub := d.call(t, "POST", "/repos/public", nil, map[string]any{"name": "public", "url": env.ChartRepo.URL, "description": "test charts"}, 200)
		wantFields(t, "POST /repos/public", pub, "uid", "name", "url", "description", "type", "status")
		publicUID = pub["uid"].(string)
		priv := d.call(t, "POST", "/repos/private", nil, map[string]any{"name": "private", "url": private.URL, "description": "private charts",
			"auth": map[string]any{"username": repoUser, "password": repoPassword}}, 200)
		privateUID = priv["uid"].(string)
		if pub["type"] != "public" || priv["type"] != "private" || pub["status"] != "Enabled" {
			t.Errorf("types %v and %v, status %v: want public, private, Enabled", pub["type"], priv["type"], pub["status"])
		}
		d.call(t, "POST", "/repos/public", nil, map[string]any{"name": "other", "url": private.URL, "description": "d",
			"auth": map[string]any{"username": repoUser, "password": repoPassword}}, 400)
		d.call(t, "POST", "/repos/private", nil, map[string]any{"name": "other", "url": private.URL, "description": "d"}, 400)

		repos := d.list(t, "/repos", 200)
		if len(repos) != 2 {
			t.Fatalf("GET /repos: %v", repos)
		}
		for _, r := range repos {
			wantFields(t, "GET /repos", r, "uid", "name", "url", "description", "type", "status")
		}
		charts := d.list(t, "/repos/charts/"+publicUID, 200)
		i := slices.IndexFunc(charts, func(c map[string]any) bool { return c["Name"] == "web" })
		if i < 0 {
			t.Fatalf("GET /repos/charts: %v, want web", charts)
		}
		if versions, _ := charts[i]["versions"].([]any); len(versions) != 2 {
			t.Errorf("web versions %v, want 0.2.0 and 0.1.0", charts[i]["versions"])
		}
		if got := d.call(t, "POST", "/repos/update", nil, nil, 200); got["message"] != "Update Completed" {
			t.Errorf("POST /repos/update: %v", got)
		}
	})

	t.Run("enablers", func(t *testing.T) {
		manual := d.call(t, "POST", "/enabler", nil, map[string]any{"name": "web", "helmChart": "public/web", "values": map[string]any{"replicaCount": 1},
			"cluster": uid, "auto": false, "placement_policy": "", "version": "0.1.0", "timeout": "120"}, 200)
		wantFields(t, "POST /enabler", manual, "uid", "name", "helmChart", "status", "description", "operationId", "values")
		// auto: the original ignored cluster then; the dashboard sends it empty.
		auto := d.call(t, "POST", "/enabler", nil, map[string]any{"name": "auto", "helmChart": "private/web", "values": map[string]any{},
			"cluster": "", "auto": true, "placement_policy": "worst-fit"}, 200)
		d.call(t, "POST", "/enabler", nil, map[string]any{"name": "Bad Name", "helmChart": "public/web", "cluster": uid}, 400)
		webUID, autoUID := manual["uid"].(string), auto["uid"].(string)

		byName := func() map[string]map[string]any {
			out := map[string]map[string]any{}
			for _, e := range d.list(t, "/enabler", 200) {
				out[e["name"].(string)] = e
			}
			return out
		}
		completed := func(ops ...map[string]any) func() bool {
			return func() bool {
				for _, op := range ops {
					if o.operation(op["operationId"].(string)).State != "Completed" {
						return false
					}
				}
				return true
			}
		}
		eventually(t, 3*time.Minute, "both instantiations to complete", completed(manual, auto))
		for name, e := range byName() {
			if e["status"] != "Enabled" {
				t.Fatalf("enabler %s: %v, want Enabled", name, e)
			}
		}
		for name, e := range byName() {
			wantFields(t, "GET /enabler "+name, e, "uid", "name", "cluster", "helmChart", "status", "description", "version")
			if e["cluster"] != uid {
				t.Errorf("enabler %s: cluster %v, want the cluster's uid %s", name, e["cluster"], uid)
			}
		}
		onCluster := d.list(t, "/enabler/cluster/"+uid, 200)
		if len(onCluster) != 2 {
			t.Errorf("GET /enabler/cluster: %d enablers, want 2", len(onCluster))
		}

		up := d.call(t, "POST", "/enabler/upgrade/"+webUID, nil, map[string]any{"values": map[string]any{"replicaCount": 2}, "version": "0.2.0", "timeout": 120}, 200)
		wantFields(t, "POST /enabler/upgrade", up, "uid", "status", "operationId")
		eventually(t, 3*time.Minute, "the upgrade to complete", completed(up))
		if e := byName()["web"]; e["status"] != "Enabled" || e["chartVersion"] != "0.2.0" || e["version"] != "0.2.0" {
			t.Errorf("after the upgrade: %v, want Enabled with chart 0.2.0", e)
		}

		vol := d.call(t, "DELETE", "/enabler/volumes/"+webUID, nil, nil, 200)
		wantFields(t, "DELETE /enabler/volumes", vol, "uid", "volumeCleanup")

		for id, force := range map[string]string{webUID: "false", autoUID: "true"} {
			gone := d.call(t, "DELETE", "/enabler/"+id, map[string]string{"Force": force, "Timeout": "120"}, nil, 200)
			wantFields(t, "DELETE /enabler", gone, "uid", "status", "operationId")
		}
		eventually(t, 3*time.Minute, "both enablers to be deleted", func() bool { return len(byName()) == 0 })
		// Force: true did not orphan the release, as it did in the original.
		for _, name := range []string{"web", "auto"} {
			if n := helmReleases(t, cloud, name); n != 0 {
				t.Errorf("%d releases of %s left after DELETE /enabler", n, name)
			}
		}
	})

	t.Run("remove", func(t *testing.T) {
		for _, id := range []string{publicUID, privateUID} {
			wantFields(t, "DELETE /repos", d.call(t, "DELETE", "/repos/"+id, nil, nil, 200), "uid", "name")
		}
		wantFields(t, "DELETE /clusters", d.call(t, "DELETE", "/clusters/"+uid, map[string]string{"Force": "true"}, nil, 200), "uid", "operationId")
		eventually(t, 2*time.Minute, "the cluster to be removed", func() bool {
			code, _ := d.send("GET", "/clusters/"+uid, nil, nil, true)
			return code == http.StatusNotFound
		})
	})

	t.Run("no answer carries a secret", func(t *testing.T) {
		secrets := append(clusterSecrets(t, cloud), newSecret("the chart repository password", []byte(repoPassword)))
		if len(d.bodies) < 30 {
			t.Fatalf("only %d answers recorded", len(d.bodies))
		}
		for _, b := range d.bodies {
			for _, s := range secrets {
				if s.in(b) {
					t.Errorf("%s is in an answer: %.300s", s.name, b)
				}
			}
			for _, field := range []string{`"credentials"`, `"password"`} {
				if bytes.Contains(b, []byte(field)) {
					t.Errorf("an answer has a %s field: %.300s", field, b)
				}
			}
		}
	})
}

// clusterSecrets are a testenv cluster's credentials: its client key and certificate.
func clusterSecrets(t *testing.T, c *testenv.Cluster) []secret {
	t.Helper()
	cfg, err := clientcmd.Load(c.Kubeconfig)
	must(t, err)
	user := cfg.AuthInfos[c.Name]
	if user == nil || len(user.ClientKeyData) == 0 {
		t.Fatalf("%s's kubeconfig has no client key", c.Name)
	}
	return []secret{
		newSecret(c.Name+"'s client key", user.ClientKeyData),
		newSecret(c.Name+"'s client certificate", user.ClientCertificateData),
	}
}

// dashboard sends requests as the original dashboard does, with headers,
// and keeps every answer.
type dashboard struct {
	o      *orchestrator
	t      *testing.T
	bodies [][]byte
}

func (d *dashboard) send(method, path string, headers map[string]string, body any, token bool) (int, []byte) {
	d.t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, d.o.url+path, r)
	must(d.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if token {
		req.Header.Set("Authorization", "Bearer "+d.o.token)
	}
	resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
	must(d.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(d.t, err)
	d.bodies = append(d.bodies, data)
	return resp.StatusCode, data
}

// call sends a request with the token and decodes an object answer.
func (d *dashboard) call(t *testing.T, method, path string, headers map[string]string, body any, want int) map[string]any {
	t.Helper()
	code, data := d.send(method, path, headers, body, true)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, data, want)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %s: %v", method, path, data, err)
	}
	if code >= 400 && (out["message"] == nil || out["code"] == nil) {
		t.Errorf("%s %s: error %s lacks the original's {code, message}", method, path, data)
	}
	return out
}

// list GETs an array answer.
func (d *dashboard) list(t *testing.T, path string, want int) []map[string]any {
	t.Helper()
	code, data := d.send("GET", path, nil, nil, true)
	if code != want {
		t.Fatalf("GET %s: %d %s, want %d", path, code, data, want)
	}
	var out []map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("GET %s: %s: %v", path, data, err)
	}
	return out
}

func wantFields(t *testing.T, what string, m map[string]any, fields ...string) {
	t.Helper()
	var missing []string
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: no field %s in %v", what, strings.Join(missing, ", "), m)
	}
}
