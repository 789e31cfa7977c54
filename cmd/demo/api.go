package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// api calls the orchestrator's REST API with plain net/http, as any client would.
type api struct {
	base  string
	token string
	http  *http.Client
}

// apiError is the orchestrator's one error shape.
type apiError struct {
	Code      int             `json:"code"`
	Err       string          `json:"error"`
	Message   string          `json:"message"`
	RequestID string          `json:"requestId"`
	Details   json.RawMessage `json:"details"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s (request id %s)", e.Code, e.Err, e.Message, e.RequestID)
}

// call sends body as JSON and decodes a 2xx answer into out (when not nil).
// Any other status is an *apiError.
func (a *api) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &apiError{}
		if json.Unmarshal(data, e) != nil || e.Code == 0 {
			e = &apiError{Code: resp.StatusCode, Err: http.StatusText(resp.StatusCode), Message: string(data)}
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, e)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: answer %.200s: %w", method, path, data, err)
		}
	}
	return resp.StatusCode, nil
}

// The parts of the API's answers the demo shows.

type token struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

type cluster struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Cloud         bool     `json:"cloud"`
	Status        string   `json:"status"`
	StatusReason  string   `json:"statusReason"`
	ServerVersion string   `json:"serverVersion"`
	NodeCount     int      `json:"nodeCount"`
	PodCIDRs      []string `json:"podCIDRs"`
	Mesh          *struct {
		ID    int      `json:"id"`
		Peers []string `json:"peers"`
	} `json:"mesh"`
}

type repo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	URL    string `json:"url"`
	Charts []struct {
		Name     string   `json:"name"`
		Versions []string `json:"versions"`
	} `json:"charts"`
}

type resources struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

type candidate struct {
	ClusterID      string    `json:"clusterId"`
	Cluster        string    `json:"cluster"`
	Cloud          bool      `json:"cloud"`
	Allocatable    resources `json:"allocatable"`
	Free           resources `json:"free"`
	ReplicasFit    int       `json:"replicasFit"`
	ReplicasNeeded int       `json:"replicasNeeded"`
	Traffic        *struct {
		BytesPerSecond float64 `json:"bytesPerSecond"`
		Error          string  `json:"error"`
	} `json:"traffic"`
	Feasible bool    `json:"feasible"`
	Score    float64 `json:"score"`
	Reason   string  `json:"reason"`
}

type decision struct {
	Policy     string      `json:"policy"`
	Applied    string      `json:"applied"`
	Fallback   string      `json:"fallback"`
	Total      resources   `json:"total"`
	Candidates []candidate `json:"candidates"`
	ClusterID  string      `json:"clusterId"`
	Cluster    string      `json:"cluster"`
	Reason     string      `json:"reason"`
}

type enabler struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	HelmChart       string    `json:"helmChart"`
	ChartVersion    string    `json:"chartVersion"`
	Namespace       string    `json:"namespace"`
	Policy          string    `json:"placementPolicy"`
	Cluster         string    `json:"cluster"`
	Status          string    `json:"status"`
	StatusReason    string    `json:"statusReason"`
	OperationID     string    `json:"operationId"`
	ReleaseRevision int       `json:"releaseRevision"`
	Placement       *decision `json:"placement"`
}

type operation struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	State     string     `json:"state"`
	Step      string     `json:"step"`
	Done      []string   `json:"done"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"lastError"`
	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended"`
	Waiting   *struct {
		Step  string `json:"step"`
		Error string `json:"error"`
		Hint  string `json:"hint"`
	} `json:"waiting"`
}
