package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"

	"github.com/smartorch/smartorch/testenv"
)

// syncBuffer is a bytes.Buffer that many goroutines may log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secret is a value that must not be found, and the forms it may take.
type secret struct {
	name    string
	needles [][]byte
}

// newSecret finds value as it is, in hex, as base64 at any alignment (so
// also inside a larger base64-encoded document) and, for PEM, by each line
// of its body (so also when the PEM was re-wrapped or JSON-escaped).
func newSecret(name string, value []byte) secret {
	s := secret{name: name, needles: [][]byte{value, []byte(hex.EncodeToString(value))}}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		for offset := range 3 {
			// Only the characters made of value's bits alone.
			encoded := enc.EncodeToString(append(make([]byte, offset), value...))
			from, to := (offset*8+5)/6, (offset+len(value))*8/6
			if to-from >= 16 {
				s.needles = append(s.needles, []byte(encoded[from:to]))
			}
		}
	}
	if bytes.HasPrefix(value, []byte("-----BEGIN ")) {
		for line := range bytes.Lines(value) {
			line = bytes.TrimSpace(line)
			if len(line) >= 32 && !bytes.HasPrefix(line, []byte("-----")) {
				s.needles = append(s.needles, line)
			}
		}
	}
	return s
}

func (s secret) in(data []byte) bool {
	for _, n := range s.needles {
		if bytes.Contains(data, n) {
			return true
		}
	}
	return false
}

func TestSecretDetection(t *testing.T) {
	pem := []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yRJ9hoeMFknVmrPmpexHKZmAvAAoAoGCCqGSM49\nAwEHoUQDQgAE3TP0nwNkmaGQ0OXoSCZVcVAiLn6Mjhp9U0QuRJD1bPzA6zMwuDQJ\n-----END EC PRIVATE KEY-----\n")
	s := newSecret("key", pem)
	embedded := func(prefix string) []byte { return []byte(prefix + string(pem) + "tail") }
	for name, data := range map[string][]byte{
		"plain":                  embedded("x"),
		"base64 at offset 0":     []byte(base64.StdEncoding.EncodeToString(embedded(""))),
		"base64 at offset 1":     []byte(base64.StdEncoding.EncodeToString(embedded("a"))),
		"base64 at offset 2":     []byte(base64.StdEncoding.EncodeToString(embedded("ab"))),
		"base64url at offset 1":  []byte(base64.RawURLEncoding.EncodeToString(embedded("a"))),
		"JSON-escaped":           mustJSON(t, string(pem)),
		"hex":                    []byte(hex.EncodeToString(embedded("x"))),
		"a line in a YAML block": []byte("key: |\n    " + strings.Split(string(pem), "\n")[2] + "\n"),
	} {
		if !s.in(data) {
			t.Errorf("%s: not found", name)
		}
	}
	if s.in([]byte(base64.StdEncoding.EncodeToString([]byte("-----BEGIN EC PRIVATE KEY-----\nsomething else")))) {
		t.Error("found in a different key")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func randomSecret(prefix string) string {
	return prefix + rand.Text()
}

// TestSecretsStaySecret joins a cluster with a kubeconfig holding a client
// key and a service account token, adds a password-protected chart
// repository and runs an enabler with a password among its values. None
// of the credentials may then be in a response, in the raw store, in the
// logs or in the Temporal histories.
func TestSecretsStaySecret(t *testing.T) {
	ctx := context.Background()
	const repoUser = "reader"
	repoPassword := randomSecret("repo-password-")
	valuesSecret := randomSecret("values-password-")
	charts := testenv.StartPrivateChartRepo(t, repoUser, repoPassword)
	env := testenv.Start(t, testenv.Options{Temporal: true, Clusters: []testenv.ClusterOptions{
		{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}},
	}})
	cluster := env.Clusters[0]
	o := startOrchestrator(t, env)

	// The kubeconfig carries a client certificate and key and a service
	// account token.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "smartorch", Namespace: "kube-system"}}
	_, err := cluster.Client.CoreV1().ServiceAccounts("kube-system").Create(ctx, sa, metav1.CreateOptions{})
	must(t, err)
	tr, err := cluster.Client.CoreV1().ServiceAccounts("kube-system").CreateToken(ctx, "smartorch", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	must(t, err)
	kubeconfig, err := clientcmd.Load(cluster.Kubeconfig)
	must(t, err)
	user := kubeconfig.AuthInfos[cluster.Name]
	user.Token = tr.Status.Token
	credentials, err := clientcmd.Write(*kubeconfig)
	must(t, err)

	secretKey, err := hex.DecodeString(o.workerEnvValue("E2E_SECRET_KEY"))
	must(t, err)
	// Secrets no response may hold.
	secrets := []secret{
		newSecret("the kubeconfig's client key", user.ClientKeyData),
		newSecret("the kubeconfig's client certificate", user.ClientCertificateData),
		newSecret("the kubeconfig's token", []byte(user.Token)),
		newSecret("the chart repository password", []byte(repoPassword)),
		newSecret("the admin password", []byte(adminPassword)),
		newSecret("the secret key", secretKey),
	}
	// The values and the login token are answered on purpose, but must be
	// nowhere else.
	valuesPassword := newSecret("a password in the enabler's values", []byte(valuesSecret))
	loginToken := newSecret("the login token", []byte(o.token))

	// Join the cluster; the wrong name makes a 400 that must not quote the
	// kubeconfig.
	if code, _ := o.join(cluster, map[string]any{"name": "other", "credentials": string(credentials)}, ""); code != 400 {
		t.Errorf("join with a kubeconfig of another name: %d, want 400", code)
	}
	code, joined := o.join(cluster, map[string]any{"credentials": string(credentials)}, "2m")
	if code != 202 || joined.Cluster.Status != "Enabled" {
		t.Fatalf("join: %d %+v", code, joined)
	}

	repo := func(password string) map[string]any {
		return map[string]any{"name": "private", "url": charts.URL, "auth": map[string]string{"username": repoUser, "password": password}}
	}
	if code := o.call("POST", "/api/chartrepo", repo("wrong-"+repoPassword[:4]), nil); code != 422 {
		t.Errorf("chart repository with a wrong password: %d, want 422", code)
	}
	var added struct{ ID string }
	if code := o.call("POST", "/api/chartrepo", repo(repoPassword), &added); code != 201 {
		t.Fatalf("add the chart repository: %d", code)
	}

	values := map[string]any{"replicaCount": 1, "auth": map[string]any{"password": valuesSecret}}
	e := o.instantiate(map[string]any{"enablerName": "secure", "helmChart": "private/web", "additionalParams": values, "vim": cluster.Name})
	if e.Status != "Enabled" {
		t.Fatalf("enabler: %+v", e)
	}
	var upgraded struct{ OperationID string }
	values["replicaCount"] = 2
	if code := o.call("POST", "/api/enabler/"+e.ID+"/upgrade?wait=3m", map[string]any{"additionalParams": values, "version": "0.2.0"}, &upgraded); code != 202 {
		t.Fatalf("upgrade: %d", code)
	}
	for _, path := range []string{"/api/k8sclusters", "/api/k8sclusters/" + joined.Cluster.ID, "/api/k8sclusters/node/" + joined.Cluster.ID,
		"/api/chartrepo", "/api/chartrepo/" + added.ID, "/api/chartrepo/" + added.ID + "/charts",
		"/api/enabler/instanced", "/api/enabler/" + e.ID, "/api/enabler/" + e.ID + "/history", "/api/enabler/enabler_cluster/" + joined.Cluster.ID,
		"/api/operations/" + joined.OperationID, "/api/operations/" + e.OperationID, "/api/operations/" + upgraded.OperationID} {
		if code := o.call("GET", path, nil, nil); code != 200 {
			t.Errorf("GET %s: %d", path, code)
		}
	}

	t.Run("store", func(t *testing.T) {
		docs := rawStore(t, o)
		sealed := map[string]bool{}
		for _, d := range docs {
			for _, field := range []string{"credentials", "password", "values"} {
				if _, err := bson.Raw(d.raw).LookupErr(field); err == nil {
					sealed[d.collection+"."+field] = true
				}
			}
		}
		// The scan saw the documents that hold the secrets, sealed.
		for _, want := range []string{"clusters.credentials", "repos.password", "enablers.values"} {
			if !sealed[want] {
				t.Errorf("no stored %s found: the scan missed documents (seen %v)", want, sealed)
			}
		}
		for _, d := range docs {
			for _, s := range append(secrets, valuesPassword, loginToken) {
				if s.in(d.raw) {
					t.Errorf("%s is in plaintext in store document %s/%s", s.name, d.collection, d.id)
				}
			}
		}
	})

	// The enabler is deleted after the store scan, so that the histories
	// and logs below also cover a deletion.
	if code := o.call("DELETE", "/api/enabler/"+e.ID+"?wait=3m", nil, nil); code != 202 {
		t.Errorf("delete the enabler: %d", code)
	}

	t.Run("responses", func(t *testing.T) {
		all := []byte(strings.Join(o.bodies, "\n"))
		// Controls: what is answered on purpose is found.
		if !valuesPassword.in(all) || !loginToken.in(all) {
			t.Fatal("the enabler's values or the login token are not in any response: the scan is broken")
		}
		for _, b := range o.bodies {
			for _, s := range secrets {
				if s.in([]byte(b)) {
					t.Errorf("%s is in a response: %.300s", s.name, b)
				}
			}
		}
	})

	t.Run("logs", func(t *testing.T) {
		logs := []byte(o.logs.String())
		t.Logf("%d bytes of logs at every level", len(logs))
		for _, want := range []string{"level=DEBUG", "level=INFO", "msg=request", "cluster join started"} {
			if !bytes.Contains(logs, []byte(want)) {
				t.Errorf("the captured logs lack %q: are they captured at every level?", want)
			}
		}
		temporalLog, err := os.ReadFile(filepath.Join(env.Dir, "temporal", "temporal.log"))
		must(t, err)
		for name, data := range map[string][]byte{"API and worker": logs, "Temporal server": temporalLog} {
			for _, s := range append(secrets, valuesPassword, loginToken) {
				if s.in(data) {
					t.Errorf("%s is in the %s logs", s.name, name)
				}
			}
		}
	})

	t.Run("histories", func(t *testing.T) {
		// Join, instantiate, upgrade and delete.
		histories := workflowHistories(t, o, 4)
		for _, id := range []string{joined.OperationID, e.OperationID, upgraded.OperationID} {
			if _, ok := histories[id]; !ok {
				t.Errorf("no history of operation %s", id)
			}
		}
		for id, h := range histories {
			// Control: the payloads are read as they are stored.
			if !bytes.Contains(h, []byte(joined.Cluster.ID)) && !bytes.Contains(h, []byte(e.ID)) {
				t.Errorf("history of %s names neither the cluster nor the enabler: the scan is broken", id)
			}
			for _, s := range append(secrets, valuesPassword, loginToken) {
				if s.in(h) {
					t.Errorf("%s is in the Temporal history of %s", s.name, id)
				}
			}
		}
	})
}

// workerEnvValue is a value of the environment worker processes get.
func (o *orchestrator) workerEnvValue(name string) string {
	for _, kv := range o.workerEnv {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	o.t.Fatalf("no %s in the worker environment", name)
	return ""
}

type storedDoc struct {
	collection, id string
	raw            []byte
}

// rawStore reads every document of every collection with the Mongo
// driver, as the raw BSON the server holds.
func rawStore(t *testing.T, o *orchestrator) []storedDoc {
	t.Helper()
	ctx := context.Background()
	db := o.store.Raw("users").Database()
	names, err := db.ListCollectionNames(ctx, bson.D{})
	must(t, err)
	var docs []storedDoc
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		must(t, err)
		for cur.Next(ctx) {
			id, _ := cur.Current.Lookup("_id").StringValueOK()
			docs = append(docs, storedDoc{collection: name, id: id, raw: bytes.Clone(cur.Current)})
		}
		must(t, cur.Err())
		must(t, cur.Close(ctx))
	}
	if len(docs) == 0 {
		t.Fatal("the store is empty")
	}
	return docs
}

// workflowHistories are the serialized histories (every event, with its
// payloads as stored) of the workflows on the orchestrator's task queue,
// by workflow id.
func workflowHistories(t *testing.T, o *orchestrator, want int) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	var executions []*workflowpb.WorkflowExecutionInfo
	// Visibility lags behind the workflows a little.
	eventually(t, 30*time.Second, fmt.Sprintf("at least %d workflows listed", want), func() bool {
		resp, err := o.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("TaskQueue = '%s'", o.taskQueue)})
		must(t, err)
		executions = resp.GetExecutions()
		return len(executions) >= want
	})
	histories := map[string][]byte{}
	for _, ex := range executions {
		id := ex.GetExecution().GetWorkflowId()
		iter := o.temporal.GetWorkflowHistory(ctx, id, ex.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			event, err := iter.Next()
			must(t, err)
			data, err := proto.Marshal(event)
			must(t, err)
			histories[id] = append(histories[id], data...)
		}
	}
	return histories
}
