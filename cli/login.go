package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) loginCommand() *cobra.Command {
	var username string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login URL",
		Short: "Log in to the orchestrator's API and store the URL and token",
		Long: `Log in to the orchestrator's API at URL (e.g. http://127.0.0.1:8080) and
store the URL and the token in the user config directory
(smartorch/config.json, readable by you only). The password is read from the
terminal without echo, or with --password-stdin from standard input.`,
		Example: `  smartorch login http://127.0.0.1:8080
  echo "$PASSWORD" | smartorch login http://127.0.0.1:8080 --password-stdin`,
		Args: exactArgs("URL"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			server, err := serverURL(args[0])
			if err != nil {
				return err
			}
			password, err := a.readPassword(passwordStdin)
			if err != nil {
				return err
			}
			return a.login(cmd.Context(), server, username, password)
		}),
	}
	cmd.Flags().StringVarP(&username, "username", "u", "admin", "user name")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

// serverURL checks the API URL given to login.
func serverURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("URL %q: want http(s)://host:port", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (a *app) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("standard input is not a terminal: give the password with --password-stdin")
	}
	fmt.Fprint(a.err, "Password: ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.err)
	return string(p), err
}

func (a *app) login(ctx context.Context, server, username, password string) error {
	c := &Client{Server: server, HTTP: &http.Client{Timeout: 30 * time.Second}}
	var tok struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}
	if err := c.Do(ctx, "POST", "/api/login/tokens", map[string]string{"username": username, "password": password}, &tok); err != nil {
		return err
	}
	path, err := a.config()
	if err != nil {
		return err
	}
	if err := SaveConfig(path, &Config{Server: server, Username: username, Token: tok.Token, Expires: tok.Expires}); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "Logged in to %s as %s until %s (stored in %s)\n", server, username, tok.Expires.Local().Format(time.RFC3339), path)
	return nil
}
