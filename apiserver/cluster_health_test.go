package apiserver

import (
	"strings"
	"testing"
)

func TestFailoverFieldsAreChecked(t *testing.T) {
	for body, want := range map[string]string{
		`{"enablerName":"web","helmChart":"test/web","failover":{"enabled":true,"graceSeconds":-1}}`:    "failover.graceSeconds must be at least 0",
		`{"enablerName":"web","helmChart":"test/web","failover":{"enabled":true,"graceSeconds":"x"}}`:   "field failover.graceSeconds must be a number",
		`{"enablerName":"web","helmChart":"test/web","failover":{"enabled":true,"grace":5}}`:            `unknown field "grace"`,
		`{"enablerName":"web","helmChart":"test/web","failover":{"enabled":true,"graceSeconds":90000}}`: "failover.graceSeconds must be at most 86400",
	} {
		var req enablerRequest
		err := decodeBody([]byte(body), &req)
		e, ok := err.(*Error)
		if !ok || e.Code != 400 || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %v, want 400 containing %q", body, err, want)
		}
	}
	var req upgradeRequest
	if err := decodeBody([]byte(`{"failover":{"enabled":true,"graceSeconds":30}}`), &req); err != nil || req.Failover == nil || *req.Failover.GraceSeconds != 30 {
		t.Errorf("upgrade with failover: %v %+v", err, req.Failover)
	}
}
