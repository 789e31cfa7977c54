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

// The largest amounts whose conversion cannot overflow: MilliValue and
// Value round up, so anything above these may need more than an int64.
var (
	maxCPU    = resource.NewMilliQuantity(math.MaxInt64-1, resource.DecimalSI)
	maxMemory = resource.NewQuantity(math.MaxInt64-1, resource.BinarySI)
	minCPU    = resource.NewMilliQuantity(math.MinInt64+1, resource.DecimalSI)
	minMemory = resource.NewQuantity(math.MinInt64+1, resource.BinarySI)
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
	case q.Cmp(*max) > 0:
		return q, fmt.Errorf("%s %q: too large", name, s)
	}
	return q, nil
}

// QuantityResources converts a cpu and a memory quantity. Unlike
// Quantity.MilliValue and Value, which wrap or return 0 past the int64
// range, it saturates: an absurd request must not look free.
func QuantityResources(cpu, memory resource.Quantity) Resources {
	return Resources{
		MilliCPU: saturated(cpu, minCPU, maxCPU, cpu.MilliValue),
		Memory:   saturated(memory, minMemory, maxMemory, memory.Value),
	}
}

func saturated(q resource.Quantity, lo, hi *resource.Quantity, value func() int64) int64 {
	switch {
	case q.Cmp(*hi) > 0:
		return math.MaxInt64
	case q.Cmp(*lo) < 0:
		return math.MinInt64
	}
	return value()
}

// The arithmetic saturates at the int64 limits instead of wrapping, so a
// sum of huge requests stays huge (and fits nowhere) rather than turning
// negative (and fitting everywhere).

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{MilliCPU: add(r.MilliCPU, o.MilliCPU), Memory: add(r.Memory, o.Memory)}
}

// Sub returns r − o (possibly negative).
func (r Resources) Sub(o Resources) Resources {
	return Resources{MilliCPU: sub(r.MilliCPU, o.MilliCPU), Memory: sub(r.Memory, o.Memory)}
}

// Times returns r × n.
func (r Resources) Times(n int) Resources {
	return Resources{MilliCPU: mul(r.MilliCPU, int64(n)), Memory: mul(r.Memory, int64(n))}
}

func add(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) { // wrapped
		return limit(b > 0)
	}
	return s
}

func sub(a, b int64) int64 {
	d := a - b
	if (d < a) != (b > 0) { // wrapped
		return limit(b < 0)
	}
	return d
}

func mul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == math.MinInt64 && b == -1) {
		return limit((a > 0) == (b > 0))
	}
	return p
}

func limit(positive bool) int64 {
	if positive {
		return math.MaxInt64
	}
	return math.MinInt64
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
	var cpu, memory resource.Quantity
	var err error
	if j.CPU != "" {
		if cpu, err = resource.ParseQuantity(j.CPU); err != nil {
			return fmt.Errorf("cpu %q: %w", j.CPU, err)
		}
	}
	if j.Memory != "" {
		if memory, err = resource.ParseQuantity(j.Memory); err != nil {
			return fmt.Errorf("memory %q: %w", j.Memory, err)
		}
	}
	*r = QuantityResources(cpu, memory)
	return nil
}
