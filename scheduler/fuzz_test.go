package scheduler

import (
	"encoding/json"
	"math"
	"math/big"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func FuzzParseResources(f *testing.F) {
	for _, s := range [][2]string{
		{"0.5", "512M"}, {"500m", "1Gi"}, {"2", "1073741824"}, {"1e30", "100Ei"},
		{"-1", "-1Gi"}, {"", ""}, {"1.5.5", "1GB"}, {"0.0001", "1e-3"}, {"9223372036854775807", "9223372036854775807"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cpu, memory string) {
		r, err := ParseResources(cpu, memory)
		if err != nil {
			return
		}
		if r.MilliCPU < 0 || r.Memory < 0 {
			t.Fatalf("ParseResources(%q, %q) = %+v: negative", cpu, memory, r)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Resources
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Fatalf("round trip of %s = %+v, %v; want %+v", b, back, err, r)
		}
	})
}

func FuzzDemandOf(f *testing.F) {
	for _, s := range []string{
		"",
		"---\n# Source: x\n---\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: 2, template: {spec: {containers: [{name: c, resources: {limits: {cpu: 1}}}]}}}\n",
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec: {template: {spec: {initContainers: [{name: i, restartPolicy: Always}], containers: [{name: c}]}}}\n",
		"apiVersion: batch/v1\nkind: Job\nspec: {parallelism: 3, completions: 1}\n",
		"apiVersion: v1\nkind: Pod\nspec: {overhead: {cpu: 1}, resources: {requests: {memory: 1Gi}}}\n",
		"kind: [\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, manifest string) {
		d, err := DemandOf(manifest, res(100, 128*Mi))
		if err != nil {
			return
		}
		for _, w := range d.Workloads {
			if w.Replicas < 0 || (w.PerNode && w.Replicas != 0) {
				t.Fatalf("workload %+v", w)
			}
		}
	})
}

// clamp is the int64 the saturating arithmetic must return for the exact x.
func clamp(x *big.Int) int64 {
	switch {
	case x.Cmp(big.NewInt(math.MaxInt64)) > 0:
		return math.MaxInt64
	case x.Cmp(big.NewInt(math.MinInt64)) < 0:
		return math.MinInt64
	}
	return x.Int64()
}

func bigOp(op func(z, x, y *big.Int) *big.Int, a, b int64) int64 {
	return clamp(op(new(big.Int), big.NewInt(a), big.NewInt(b)))
}

// FuzzArithmetic checks Add, Sub and Times against exact big.Int
// arithmetic clamped to the int64 range, and Fits against exact comparison.
func FuzzArithmetic(f *testing.F) {
	f.Add(int64(1500), int64(3*Gi), int64(500), int64(Gi), 3)
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(1), int64(math.MaxInt64), 2)
	f.Add(int64(math.MinInt64), int64(-1), int64(1), int64(math.MinInt64), -1)
	f.Add(int64(-1), int64(0), int64(math.MinInt64), int64(math.MaxInt64), math.MinInt)
	f.Add(int64(math.MaxInt64/2+1), int64(4611686018427387904), int64(-math.MaxInt64), int64(0), 2)
	f.Fuzz(func(t *testing.T, aCPU, aMem, bCPU, bMem int64, n int) {
		a, b := res(aCPU, aMem), res(bCPU, bMem)
		want := res(bigOp((*big.Int).Add, aCPU, bCPU), bigOp((*big.Int).Add, aMem, bMem))
		if got := a.Add(b); got != want {
			t.Fatalf("%+v.Add(%+v) = %+v, want %+v", a, b, got, want)
		}
		if got := b.Add(a); got != want {
			t.Fatalf("Add is not commutative: %+v.Add(%+v) = %+v, want %+v", b, a, got, want)
		}
		want = res(bigOp((*big.Int).Sub, aCPU, bCPU), bigOp((*big.Int).Sub, aMem, bMem))
		if got := a.Sub(b); got != want {
			t.Fatalf("%+v.Sub(%+v) = %+v, want %+v", a, b, got, want)
		}
		want = res(bigOp((*big.Int).Mul, aCPU, int64(n)), bigOp((*big.Int).Mul, aMem, int64(n)))
		if got := a.Times(n); got != want {
			t.Fatalf("%+v.Times(%d) = %+v, want %+v", a, n, got, want)
		}
		if got, want := a.Fits(b), aCPU <= bCPU && aMem <= bMem; got != want {
			t.Fatalf("%+v.Fits(%+v) = %v", a, b, got)
		}
	})
}

// ceilMilli is ⌈q × 1000⌉ computed exactly from the quantity's decimal form.
func ceilMilli(q resource.Quantity, scale int64) (*big.Int, bool) {
	d := q.AsDec()
	exp := int64(d.Scale()) // q = unscaled × 10^-exp
	num := new(big.Int).Mul(d.UnscaledBig(), big.NewInt(scale))
	if exp < -100 || exp > 100 {
		return nil, false // too far out to be worth computing
	}
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(exp)), nil)
	if exp <= 0 {
		return num.Mul(num, pow), true
	}
	// Ceiling division; num ≥ 0 where this is used.
	return num.Div(num.Add(num, new(big.Int).Sub(pow, big.NewInt(1))), pow), true
}

func abs(x int64) int64 { return max(x, -x) }

// FuzzParseQuantities checks ParseResources against exact decimal
// arithmetic: it accepts exactly the non-negative quantities whose
// millicores and bytes (rounded up, as Kubernetes does) fit in an int64, and
// returns those; QuantityResources agrees, saturating past the range.
func FuzzParseQuantities(f *testing.F) {
	for _, s := range [][2]string{
		{"0.5", "512M"}, {"9223372036854775.806", "9223372036854775806"}, {"9223372036854775.8065", "9223372036854775806.5"},
		{"9223372036854775.807", "9223372036854775807"}, {"1e16", "8Ei"}, {"0.0001", "0.5"}, {"100Ei", "1e30"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cpu, memory string) {
		qc, errC := resource.ParseQuantity(cpu)
		qm, errM := resource.ParseQuantity(memory)
		if errC != nil || errM != nil {
			if _, err := ParseResources(cpu, memory); err == nil {
				t.Fatalf("ParseResources(%q, %q) accepts what resource.ParseQuantity refuses", cpu, memory)
			}
			return
		}
		if qc.Sign() < 0 || qm.Sign() < 0 {
			return
		}
		milli, ok1 := ceilMilli(qc, 1000)
		bytes, ok2 := ceilMilli(qm, 1)
		if !ok1 || !ok2 {
			return
		}
		inRange := milli.Cmp(big.NewInt(math.MaxInt64)) < 0 && bytes.Cmp(big.NewInt(math.MaxInt64)) < 0
		r, err := ParseResources(cpu, memory)
		if inRange != (err == nil) {
			t.Fatalf("ParseResources(%q, %q) = %+v, %v; exact values %s, %s", cpu, memory, r, err, milli, bytes)
		}
		want := res(clamp(milli), clamp(bytes))
		if err == nil && r != want {
			t.Fatalf("ParseResources(%q, %q) = %+v, want %+v", cpu, memory, r, want)
		}
		if got := QuantityResources(qc, qm); got != want {
			t.Fatalf("QuantityResources(%s, %s) = %+v, want %+v", &qc, &qm, got, want)
		}
	})
}

// FuzzFit places replicas of a pod on one node and checks the simulation
// against exact arithmetic: all fit iff replicas × pod ≤ the node's free
// room, and copies counts the pods that fit.
func FuzzFit(f *testing.F) {
	f.Add(int64(4000), int64(8*Gi), int64(1000), int64(Gi), int64(1500), int64(2*Gi), uint8(3))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(0), int64(0), int64(math.MaxInt64/2+1), int64(1), uint8(2))
	f.Add(int64(1000), int64(Gi), int64(math.MaxInt64), int64(math.MaxInt64), int64(0), int64(0), uint8(1))
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), uint8(0))
	f.Fuzz(func(t *testing.T, allocCPU, allocMem, reqCPU, reqMem, podCPU, podMem int64, replicas uint8) {
		for _, v := range []int64{allocCPU, allocMem, reqCPU, reqMem, podCPU, podMem} {
			if v < 0 { // quantities from Kubernetes are never negative
				return
			}
		}
		nodes, reason := filter(Cluster{Nodes: []Node{{Name: "n", Schedulable: true, Allocatable: res(allocCPU, allocMem), Requested: res(reqCPU, reqMem)}}})
		if reason != "" {
			t.Fatal(reason)
		}
		free := func(alloc, req int64) *big.Int {
			f := new(big.Int).Sub(big.NewInt(alloc), big.NewInt(req))
			if f.Sign() < 0 {
				f.SetInt64(0)
			}
			return f
		}
		freeCPU, freeMem := free(allocCPU, reqCPU), free(allocMem, reqMem)
		if nodes[0].free != res(freeCPU.Int64(), freeMem.Int64()) {
			t.Fatalf("free = %+v, want %s, %s", nodes[0].free, freeCPU, freeMem)
		}
		pod := res(podCPU, podMem)
		fitsAll := func(free *big.Int, pod int64) bool {
			return new(big.Int).Mul(big.NewInt(pod), big.NewInt(int64(replicas))).Cmp(free) <= 0
		}
		want := fitsAll(freeCPU, podCPU) && fitsAll(freeMem, podMem)
		reason = simulate(nodes, planOf(Demand{Workloads: []Workload{{Kind: "Deployment", Name: "w", Replicas: int(replicas), Pod: pod}}}))
		if (reason == "") != want {
			t.Fatalf("%d pods of %+v on a node with %s, %s free: simulate says %q, want fit=%v", replicas, pod, freeCPU, freeMem, reason, want)
		}
		if want && nodes[0].placed != pod.Times(int(replicas)) {
			t.Fatalf("placed %+v, want %d × %+v", nodes[0].placed, replicas, pod)
		}
		if pod.IsZero() {
			return
		}
		n := copies(res(freeCPU.Int64(), freeMem.Int64()), pod)
		quota := func(free *big.Int, pod int64) *big.Int {
			if pod == 0 {
				return big.NewInt(math.MaxInt64)
			}
			return new(big.Int).Div(free, big.NewInt(pod))
		}
		wantN := quota(freeCPU, podCPU)
		if m := quota(freeMem, podMem); m.Cmp(wantN) < 0 {
			wantN = m
		}
		if int64(n) != wantN.Int64() {
			t.Fatalf("copies(%s, %s free; %+v) = %d, want %s", freeCPU, freeMem, pod, n, wantN)
		}
	})
}
