// Package scheduler decides on which cluster an enabler's rendered chart
// runs. It is pure: no I/O, no goroutines, no clock (the caller passes
// "now"). See README.md for the pipeline and its rules.
package scheduler

import (
	"encoding/json"
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources is an amount of CPU and memory, exact integers.
type Resources struct {
	MilliCPU int64 `bson:"milliCPU"` // millicores
	Memory   int64 `bson:"memory"`   // bytes
}

var (
	maxCPU    = resource.NewMilliQuantity(math.MaxInt64, resource.DecimalSI)
	maxMemory = resource.NewQuantity(math.MaxInt64, resource.BinarySI)
)

// ParseResources reads Kubernetes quantities: "0.5", "500m" or "2" CPU;
// "512M", "1Gi" or "1073741824" bytes of memory.
func ParseResources(cpu, memory string) (Resources, error) {
	c, err := parseQuantity("cpu", cpu, maxCPU)
	if err != nil {
		return Resources{}, err
	}
	m, err := parseQuantity("memory", memory, maxMemory)
	if err != nil {
		return Resources{}, err
	}
	return Resources{MilliCPU: c.MilliValue(), Memory: m.Value()}, nil
}

func parseQuantity(name, s string, max *resource.Quantity) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(s)
	switch {
	case err != nil:
		return q, fmt.Errorf("%s %q: %w", name, s, err)
	case q.Sign() < 0:
		return q, fmt.Errorf("%s %q: negative", name, s)
	case q.Cmp(*max) >= 0: // ParseQuantity clamps some huge values to the maximum
		return q, fmt.Errorf("%s %q: too large", name, s)
	}
	return q, nil
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU + o.MilliCPU, Memory: r.Memory + o.Memory}
}

// Sub returns r − o (possibly negative).
func (r Resources) Sub(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU - o.MilliCPU, Memory: r.Memory - o.Memory}
}

// Times returns r × n.
func (r Resources) Times(n int) Resources {
	return Resources{MilliCPU: r.MilliCPU * int64(n), Memory: r.Memory * int64(n)}
}

// Fits reports whether r fits in in: both dimensions ≤.
func (r Resources) Fits(in Resources) bool {
	return r.MilliCPU <= in.MilliCPU && r.Memory <= in.Memory
}

// IsZero reports whether both dimensions are 0.
func (r Resources) IsZero() bool { return r == Resources{} }

// floor returns r with negative dimensions raised to 0.
func (r Resources) floor() Resources {
	return Resources{MilliCPU: max(r.MilliCPU, 0), Memory: max(r.Memory, 0)}
}

func (r Resources) cpu() string {
	return resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI).String()
}

func (r Resources) memory() string {
	return resource.NewQuantity(r.Memory, resource.BinarySI).String()
}

// String is "cpu 1500m, memory 3Gi".
func (r Resources) String() string {
	return "cpu " + r.cpu() + ", memory " + r.memory()
}

type resourcesJSON struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// MarshalJSON writes {"cpu":"1500m","memory":"3Gi"}.
func (r Resources) MarshalJSON() ([]byte, error) {
	return json.Marshal(resourcesJSON{CPU: r.cpu(), Memory: r.memory()})
}

// UnmarshalJSON reads what MarshalJSON writes; an absent or empty field is 0.
// Unlike ParseResources it accepts negative amounts, which Sub can produce.
func (r *Resources) UnmarshalJSON(data []byte) error {
	var j resourcesJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	var out Resources
	if j.CPU != "" {
		q, err := resource.ParseQuantity(j.CPU)
		if err != nil {
			return fmt.Errorf("cpu %q: %w", j.CPU, err)
		}
		out.MilliCPU = q.MilliValue()
	}
	if j.Memory != "" {
		q, err := resource.ParseQuantity(j.Memory)
		if err != nil {
			return fmt.Errorf("memory %q: %w", j.Memory, err)
		}
		out.Memory = q.Value()
	}
	*r = out
	return nil
}
