package testenv

import "net"

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// binaries take port numbers, not listeners, so there is a small window in
// which another process could take it; envtest accepts the same race.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
