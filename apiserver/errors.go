package apiserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/smartorch/smartorch/store"
)

// Error is the one shape every error response has.
type Error struct {
	Code      int    `json:"code"`
	Err       string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
	// Details explain the error further, e.g. the placement decision when
	// no cluster fits.
	Details any `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func apiError(code int, format string, args ...any) *Error {
	return &Error{Code: code, Err: errorName(code), Message: fmt.Sprintf(format, args...)}
}

// errorName turns a status into a short machine-readable name: 409 → "conflict".
func errorName(code int) string {
	name := strings.ToLower(http.StatusText(code))
	if name == "" {
		return "error"
	}
	return strings.NewReplacer(" ", "_", "-", "_").Replace(name)
}

// errorHandler maps every error a handler or Fiber returns to an Error.
func errorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var e *Error
		var fe *fiber.Error
		switch {
		case errors.As(err, &e):
		case errors.As(err, &fe) && fe.Code == fiber.StatusNotFound:
			e = apiError(fe.Code, "no route %s %s", c.Method(), c.Path())
		case errors.As(err, &fe) && fe.Code == fiber.StatusMethodNotAllowed:
			e = apiError(fe.Code, "method %s is not allowed on %s", c.Method(), c.Path())
		case errors.As(err, &fe) && fe.Code == fiber.StatusRequestEntityTooLarge:
			e = apiError(fe.Code, "request body is larger than %d bytes", c.App().Config().BodyLimit)
		case errors.As(err, &fe):
			e = apiError(fe.Code, "%s", fe.Message)
		case errors.Is(err, store.ErrNotFound):
			e = apiError(fiber.StatusNotFound, "not found")
		case errors.Is(err, store.ErrDuplicate):
			e = apiError(fiber.StatusConflict, "already exists")
		case errors.Is(err, store.ErrStale):
			e = apiError(fiber.StatusConflict, "changed by another request; read it again and retry")
		case store.Unavailable(err):
			logger.Warn("store unavailable", "requestId", requestID(c), "route", routeOf(c), "err", err)
			c.Set(fiber.HeaderRetryAfter, "5")
			e = apiError(fiber.StatusServiceUnavailable, "the store did not answer in time; try again shortly")
		default:
			logger.Error("request failed", "requestId", requestID(c), "route", routeOf(c), "err", err)
			e = apiError(fiber.StatusInternalServerError, "internal error; the request id identifies it in the logs")
		}
		e.RequestID = requestID(c)
		if e.RequestID == "" {
			// Fiber refused the request before the middleware ran (e.g. too large).
			e.RequestID = uuid.NewString()
			c.Set(fiber.HeaderXRequestID, e.RequestID)
		}
		return c.Status(e.Code).JSON(e)
	}
}
