package store_test

import (
	"testing"
	"time"

	"github.com/smartorch/smartorch/store"
)

func TestHoldLease(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		hold store.Hold
		at   time.Time
		live bool
	}{
		{"within its lease", store.Hold{Since: t0, Expires: t0.Add(time.Minute)}, t0.Add(59 * time.Second), true},
		{"at its end", store.Hold{Since: t0, Expires: t0.Add(time.Minute)}, t0.Add(time.Minute), false},
		{"after its end", store.Hold{Since: t0, Expires: t0.Add(time.Minute)}, t0.Add(time.Hour), false},
		{"stored without a lease: an hour", store.Hold{Since: t0}, t0.Add(59 * time.Minute), true},
		{"stored without a lease, after the hour", store.Hold{Since: t0}, t0.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hold.Live(tt.at); got != tt.live {
				t.Errorf("Live(%v) = %v, want %v", tt.at.Sub(t0), got, tt.live)
			}
		})
	}
}

// Capacity is freed when a hold is released (FreedAt) or when a lease ends.
func TestReservationFreed(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	r := store.Reservation{FreedAt: t0, Holds: []store.Hold{
		{EnablerID: "ended", Since: t0, Expires: t0.Add(time.Minute)},
		{EnablerID: "live", Since: t0, Expires: t0.Add(time.Hour)},
	}}
	if got := r.Freed(t0.Add(30 * time.Second)); !got.Equal(t0) {
		t.Errorf("before any lease ends: freed %v, want the release at %v", got, t0)
	}
	if got := r.Freed(t0.Add(2 * time.Minute)); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("after the first lease: freed %v, want its end %v", got, t0.Add(time.Minute))
	}
}
