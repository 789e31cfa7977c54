// Package cli is the `smartorch` command line for operators: login, and
// clusters, chart repositories, enablers, placement previews and
// operations over the REST API. Long commands follow their operation step
// by step until it ends.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Commands are the top-level commands this package serves.
var Commands = []string{"login", "cluster", "repo", "enabler", "placement", "op"}

// IsCommand says whether name is one of Commands.
func IsCommand(name string) bool { return slices.Contains(Commands, name) }

// Exit codes.
const (
	ExitOK          = 0
	ExitFailed      = 1 // the operation or request failed
	ExitUsage       = 2 // wrong command, flags or arguments
	ExitInterrupted = 130
)

// usageError is a wrong command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errInterrupted: Ctrl-C stopped the wait (never the operation).
var errInterrupted = errors.New("interrupted")

// app is one run of the command line.
type app struct {
	out, err io.Writer
	// tty: out is a terminal, so progress is one line rewritten in place.
	tty    bool
	stdin  io.Reader
	format string
	noWait bool
	// poll is how often an operation is read while waiting.
	poll       time.Duration
	configPath string
	client     *Client
}

// Main runs the command line with args (the command first) and returns
// the exit code. Ctrl-C cancels ctx: a wait stops, the operation goes on.
func Main(ctx context.Context, args []string) int {
	a := &app{out: os.Stdout, err: os.Stderr, stdin: os.Stdin, tty: term.IsTerminal(int(os.Stdout.Fd())), poll: 300 * time.Millisecond}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	root := a.root()
	root.SetArgs(args)
	root.SetOut(a.out)
	root.SetErr(a.err)
	err := root.ExecuteContext(ctx)
	var usage *usageError
	var api *APIError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errInterrupted):
		return ExitInterrupted
	case errors.As(err, &usage) || !isRunError(err):
		fmt.Fprintf(a.err, "Error: %v\nRun 'smartorch %s --help' for usage.\n", err, commandPath(root, args))
		return ExitUsage
	case errors.As(err, &api):
		fmt.Fprintf(a.err, "Error: %s\n", api.Message)
		fmt.Fprintf(a.err, "  (HTTP %d %s, request id %s)\n", api.Code, api.Err, api.RequestID)
		return ExitFailed
	default:
		fmt.Fprintf(a.err, "Error: %v\n", err)
		return ExitFailed
	}
}

// runError marks an error of a command that ran, as opposed to cobra's
// errors for a wrong command line.
type runError struct{ error }

func (e runError) Unwrap() error { return e.error }

func isRunError(err error) bool {
	var r runError
	return errors.As(err, &r)
}

// commandPath is the command the arguments name, for the help hint.
func commandPath(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root {
		return ""
	}
	return cmd.CommandPath()[len(root.Name())+1:]
}

// runE wraps a command's work: its errors are run errors unless it says
// the command line was wrong.
func runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		var usage *usageError
		if err == nil || errors.As(err, &usage) || errors.Is(err, errInterrupted) {
			return err
		}
		return runError{err}
	}
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "smartorch",
		Short: "Operate the Smart Orchestrator: clusters, chart repositories, enablers and their operations",
		Long: `Operate the Smart Orchestrator over its REST API.

Long commands (join, remove, deploy, upgrade, rollback, terminate, rm, op retry)
wait for their operation and print each step as it completes; --no-wait
prints the operation id instead. Ctrl-C stops waiting, never the operation.

Exit codes: 0 success, 1 the request or the operation failed, 2 a wrong
command line, 130 the wait was interrupted.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return checkFormat(a.format)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.PersistentFlags().StringVarP(&a.format, "output", "o", formatTable, "output format: table, json or yaml")
	root.AddCommand(a.loginCommand(), a.clusterCommand(), a.repoCommand(), a.enablerCommand(), a.placementCommand(), a.opCommand())
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// group makes cmd a command of commands: alone it shows its help, with an
// unknown subcommand it is a usage error (cobra would show the help, exit 0).
func group(cmd *cobra.Command, subcommands ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subcommands...)
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return cmd.Help()
	}
	return cmd
}

// addWait adds --no-wait to a long command.
func (a *app) addWait(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().BoolVar(&a.noWait, "no-wait", false, "print the operation id and return at once")
	return cmd
}

// api is the client of the stored login.
func (a *app) api() (*Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	path, err := a.config()
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	if !cfg.Expires.IsZero() && time.Now().After(cfg.Expires) {
		return nil, fmt.Errorf("the login to %s expired at %s: run \"smartorch login %s\" again", cfg.Server, cfg.Expires.Format(time.RFC3339), cfg.Server)
	}
	a.client = &Client{Server: cfg.Server, Token: cfg.Token, HTTP: &http.Client{Timeout: time.Minute}}
	return a.client, nil
}

func (a *app) config() (string, error) {
	if a.configPath != "" {
		return a.configPath, nil
	}
	return ConfigPath()
}

// exactArgs is cobra.ExactArgs with the argument names in the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s) (%v), got %d", cmd.CommandPath(), len(names), names, len(args))
		}
		return nil
	}
}
