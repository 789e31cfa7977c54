package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) opCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "op",
		Short: "Follow an operation, or retry or abort one that waits for an operator",
		Long: `Every long command runs as an operation (a durable workflow) whose id the
command prints. An operation whose step used up its retries waits for an
operator: fix the cause, then "op retry ID" runs the step again, or "op
abort ID" undoes what the operation did.`,
	}
	return group(cmd, a.opGet(), a.opWatch(), a.opSignal("retry", "Run the step the operation waits at again, then follow it"),
		a.opSignal("abort", "Give up the operation: undo what it did, then follow the undoing"))
}

func (a *app) opGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show an operation: its state, the current step and the steps done",
		Args:  exactArgs("ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			api, err := a.api()
			if err != nil {
				return err
			}
			var op operation
			if err := api.Do(cmd.Context(), "GET", path("/api/operations", args[0]), nil, &op); err != nil {
				return err
			}
			if a.format != formatTable {
				return encode(a.out, a.format, op)
			}
			return writeOperation(a, &op)
		}),
	}
}

func writeOperation(a *app, op *operation) error {
	t := newTable("ID", "TYPE", "STATE", "STEP", "ATTEMPTS", "AGE")
	step := op.Step
	if step == "" {
		step = "-"
	}
	t.add(op.ID, op.Type, op.State, step, op.Attempts, age(op.Started))
	if err := t.write(a.out); err != nil {
		return err
	}
	if len(op.Done) > 0 {
		fmt.Fprintln(a.out, "\nDone:")
		for _, s := range op.Done {
			fmt.Fprintf(a.out, "  ✓ %s\n", s)
		}
	}
	if op.LastError != "" {
		fmt.Fprintf(a.out, "\nLast error: %s\n", op.LastError)
	}
	if op.State == stateWaiting {
		fmt.Fprintf(a.out, "\nIt waits for an operator: fix the cause, then run: smartorch op retry %s\n  (or undo it: smartorch op abort %s)\n", op.ID, op.ID)
	}
	return nil
}

func (a *app) opWatch() *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an operation step by step until it ends",
		Args:  exactArgs("ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.progressWriter(), "operation %s\n", args[0])
			op, err := a.watch(cmd.Context(), args[0])
			if err == nil && a.format != formatTable {
				return encode(a.out, a.format, op)
			}
			return err
		}),
	}
}

// opSignal is op retry and op abort: send the operator's decision, then
// follow the operation.
func (a *app) opSignal(signal, short string) *cobra.Command {
	return a.addWait(&cobra.Command{
		Use:   signal + " ID",
		Short: short,
		Args:  exactArgs("ID"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			id := args[0]
			err := a.operate(cmd.Context(), "POST", path("/api/operations", id, signal), nil, func(context.Context) error { return nil })
			if f, ok := err.(*operationFailed); ok && signal == "abort" && strings.Contains(f.op.LastError, "aborted by the operator") {
				fmt.Fprintf(a.progressWriter(), "operation %s aborted: what it did is undone\n", id)
				return nil
			}
			return err
		}),
	})
}
