package store

import "time"

// SetLockTTL sets how soon a lock document may be broken, until the test ends.
func SetLockTTL(t interface{ Cleanup(func()) }, d time.Duration) {
	old := lockTTL
	lockTTL = d
	t.Cleanup(func() { lockTTL = old })
}
