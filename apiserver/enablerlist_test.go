package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smartorch/smartorch/store"
)

// page is one answer of GET /api/enabler/instanced.
type page struct {
	names []string
	total int
	next  string // the Link rel="next" target, or ""
}

var nextLink = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

func (a *api) listPage(token, path string) page {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a.bodies = append(a.bodies, string(data))
	if resp.StatusCode != 200 {
		a.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
	}
	var items []map[string]any
	if err := json.Unmarshal(data, &items); err != nil {
		a.t.Fatalf("GET %s: %s is not a JSON array: %v", path, data, err)
	}
	p := page{}
	for _, it := range items {
		p.names = append(p.names, it["name"].(string))
		for _, omitted := range []string{"additionalParams", "previous", "globalServices", "volumeCleanup"} {
			if _, ok := it[omitted]; ok {
				a.t.Errorf("GET %s: the summary of %s has %s", path, it["name"], omitted)
			}
		}
	}
	if p.total, err = strconv.Atoi(resp.Header.Get("X-Total-Count")); err != nil {
		a.t.Errorf("GET %s: X-Total-Count %q", path, resp.Header.Get("X-Total-Count"))
	}
	if link := resp.Header.Get("Link"); link != "" {
		m := nextLink.FindStringSubmatch(link)
		if m == nil {
			a.t.Fatalf("GET %s: Link %q", path, link)
		}
		p.next = m[1]
	}
	return p
}

// walk follows the Link headers from path to the last page; between
// pages it calls between (when not nil).
func (a *api) walk(token, path string, between func()) (names []string, pages int) {
	a.t.Helper()
	for path != "" {
		p := a.listPage(token, path)
		names = append(names, p.names...)
		pages++
		path = p.next
		if between != nil {
			between()
		}
	}
	return names, pages
}

func insertEnabler(t testing.TB, st *store.Store, name string) *store.Enabler {
	t.Helper()
	e := &store.Enabler{
		Name: name, HelmChart: "demo/web", Namespace: "default", Status: store.StatusEnabled,
		Values: map[string]any{"password": "s3cret-" + name},
	}
	if err := st.Enablers.Insert(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEnablerListPages(t *testing.T) {
	a := startAPI(t)
	token := a.login()
	if p := a.listPage(token, "/api/enabler/instanced"); len(p.names) != 0 || p.total != 0 || p.next != "" {
		t.Fatalf("empty store: %+v", p)
	}
	for i := range 250 {
		insertEnabler(t, a.store, fmt.Sprintf("web-%03d", i))
	}

	first := a.listPage(token, "/api/enabler/instanced")
	if len(first.names) != 100 || first.total != 250 || first.names[0] != "web-000" || first.names[99] != "web-099" {
		t.Errorf("default page: %d names from %v, total %d; want web-000 to web-099 of 250", len(first.names), first.names[:1], first.total)
	}
	names, pages := a.walk(token, "/api/enabler/instanced?limit=60", nil)
	if pages != 5 {
		t.Errorf("250 enablers in pages of 60: %d pages, want 5", pages)
	}
	for i, n := range names {
		if want := fmt.Sprintf("web-%03d", i); n != want {
			t.Fatalf("item %d of the walk is %s, want %s (every enabler once, by name)", i, n, want)
		}
	}
	if len(names) != 250 {
		t.Errorf("the walk found %d enablers, want 250", len(names))
	}
	if all, _ := a.walk(token, "/api/enabler/instanced?limit=1000", nil); len(all) != 250 {
		t.Errorf("one page of 1000: %d enablers", len(all))
	}

	// The list shows a change as soon as the write returns.
	e, err := a.store.Enablers.FindOne(context.Background(), map[string]any{"name": "web-000"})
	if err != nil {
		t.Fatal(err)
	}
	e.Status = store.StatusTerminated
	if err := a.store.Enablers.Update(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var list []store.EnablerSummary
	a.do("GET", "/api/enabler/instanced?limit=1", token, nil, &list)
	if len(list) != 1 || list[0].Name != "web-000" || list[0].Status != store.StatusTerminated || list[0].HelmChart != "demo/web" || list[0].ID != e.ID {
		t.Errorf("after the update the list shows %+v", list)
	}
	if err := a.store.Enablers.Delete(context.Background(), e.ID); err != nil {
		t.Fatal(err)
	}
	if p := a.listPage(token, "/api/enabler/instanced?limit=1"); p.total != 249 || p.names[0] != "web-001" {
		t.Errorf("after the delete: %+v", p)
	}
	for _, body := range a.bodies {
		if strings.Contains(body, "s3cret-") {
			t.Fatal("a list answer contains an enabler's values")
		}
	}
}

// Paging while enablers are added and removed: every enabler that exists
// throughout is listed exactly once, and the order stays by name.
func TestEnablerListPagingUnderConcurrentWrites(t *testing.T) {
	a := startAPI(t)
	token := a.login()
	for i := range 120 {
		insertEnabler(t, a.store, fmt.Sprintf("web-%03d-a", i))
	}
	victims := map[string]*store.Enabler{}
	for i := range 10 {
		victims[fmt.Sprintf("gone-%d", i)] = insertEnabler(t, a.store, fmt.Sprintf("web-%03d-gone", i*12))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	// A bounded number of writers' inserts: an endless stream would keep
	// adding names after the cursor, and the walk might never reach the end.
	wg.Go(func() {
		for i := range 100 {
			select {
			case <-stop:
				return
			default:
			}
			// New names fall both before and after any cursor.
			e := &store.Enabler{Name: fmt.Sprintf("web-%03d-b%d", (i*37)%120, i), Namespace: "default"}
			if err := a.store.Enablers.Insert(context.Background(), e); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var deleted []string
	removeOne := func() {
		for k, e := range victims {
			if err := a.store.Enablers.Delete(context.Background(), e.ID); err != nil {
				t.Error(err)
			}
			deleted = append(deleted, e.Name)
			delete(victims, k)
			return
		}
	}
	names, pages := a.walk(token, "/api/enabler/instanced?limit=7", removeOne)
	close(stop)
	wg.Wait()
	if pages < 18 {
		t.Errorf("only %d pages of 7", pages)
	}

	seen := map[string]int{}
	for i, n := range names {
		seen[n]++
		if i > 0 && n <= names[i-1] {
			t.Errorf("%s follows %s: not in name order", n, names[i-1])
		}
	}
	for i := range 120 {
		if n := fmt.Sprintf("web-%03d-a", i); seen[n] != 1 {
			t.Errorf("%s listed %d times, want once", n, seen[n])
		}
	}
	for n, count := range seen {
		if count > 1 {
			t.Errorf("%s listed %d times", n, count)
		}
	}
	t.Logf("%d pages, %d names, %d deleted while paging", pages, len(names), len(deleted))
}

func TestEnablerListBadPaging(t *testing.T) {
	a := startAPI(t)
	token := a.login()
	insertEnabler(t, a.store, "web")
	for _, q := range []string{
		"limit=0", "limit=-1", "limit=1001", "limit=ten", "limit=1.5",
		"cursor=%21%21", "cursor=" + strings.Repeat("A", 400), "limit=5&cursor=not%20base64",
	} {
		if code := a.do("GET", "/api/enabler/instanced?"+q, token, nil, nil); code != 400 {
			t.Errorf("?%s: status %d, want 400", q, code)
		}
	}
	if code := a.do("GET", "/api/enabler/instanced?limit=&cursor=", token, nil, nil); code != 200 {
		t.Errorf("empty limit and cursor: status %d, want 200 (the first page)", code)
	}
}
