package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// healthcheck asks the local API whether it is up (or, with -ready, ready),
// exiting non-zero if not: the container health check of an image with no
// shell or curl.
func healthcheck(args []string) error {
	fs := flag.NewFlagSet("smartorch healthcheck", flag.ContinueOnError)
	ready := fs.Bool("ready", false, "check /readyz (store and Temporal reachable) instead of /healthz")
	listen := fs.String("listen", envOr("SMARTORCH_LISTEN", ":8080"), "the API address (env SMARTORCH_LISTEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host := *listen
	if strings.HasPrefix(host, ":") {
		host = "127.0.0.1" + host
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + host + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", path, resp.Status)
	}
	fmt.Fprintln(os.Stdout, path, "ok")
	return nil
}
