package scheduler

import (
	"fmt"
	"strings"
)

// Policy says how to choose among the clusters that fit.
type Policy string

const (
	WorstFit    Policy = "worst-fit"    // most headroom left after placing
	BestFit     Policy = "best-fit"     // least headroom left after placing
	TrafficMost Policy = "traffic-most" // highest network receive rate
	Manual      Policy = "manual"       // a target cluster was named: the policy is not applied
)

var policySpellings = map[string]Policy{
	"worst-fit":    WorstFit,
	"worst_fit":    WorstFit,
	"best-fit":     BestFit,
	"best_fit":     BestFit,
	"traffic-most": TrafficMost,
	"traffic_most": TrafficMost,
	"most-traffic": TrafficMost,
	"most_traffic": TrafficMost,
}

// ParsePolicy accepts worst-fit, best-fit, traffic-most, most-traffic and
// their snake_case spellings, in any case.
func ParsePolicy(s string) (Policy, error) {
	if p, ok := policySpellings[strings.ToLower(strings.TrimSpace(s))]; ok {
		return p, nil
	}
	return "", fmt.Errorf("unknown placement policy %q: accepted are worst-fit, best-fit, traffic-most (also most-traffic, worst_fit, best_fit, traffic_most, most_traffic)", s)
}
