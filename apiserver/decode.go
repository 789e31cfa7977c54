package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"
	"k8s.io/apimachinery/pkg/util/validation"
)

var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
			return ""
		case name == "" && f.Anonymous:
			return embedded
		}
		return name
	})
	must(v.RegisterValidation("dns1123label", func(fl validator.FieldLevel) bool {
		return len(validation.IsDNS1123Label(fl.Field().String())) == 0
	}))
	return v
}

// embedded names the structs embedded in a request, whose fields are the
// request's own in JSON and so in messages.
const embedded = "\x00"

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// decode reads the JSON body into v strictly (one object, no unknown fields)
// and validates it, answering 400 with a message naming the offending field.
func decode(c *fiber.Ctx, v any) error {
	return decodeBody(c.Body(), v)
}

// decodeBody is decode of a body already read; its errors are *Error.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apiError(fiber.StatusBadRequest, "request body is empty: a JSON object is expected")
	}
	// null would decode to nothing at all, and so pass as an empty object.
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return apiError(fiber.StatusBadRequest, "request body must be a JSON object, not null")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiError(fiber.StatusBadRequest, "%s", jsonMessage(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiError(fiber.StatusBadRequest, "request body must hold a single JSON object")
	}
	if err := validate.Struct(v); err != nil {
		return apiError(fiber.StatusBadRequest, "%s", validationMessage(err))
	}
	return nil
}

func jsonMessage(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("request body must be a JSON object, not %s", typ.Value)
		}
		// encoding/json names an embedded struct's fields through it.
		field := strings.ReplaceAll(typ.Field, "placementRequest.", "")
		return fmt.Sprintf("field %s must be %s, not %s", field, jsonType(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "malformed JSON: " + err.Error()
	}
}

func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Uint:
		return "a number"
	case reflect.Slice:
		return "an array"
	default:
		return "an object"
	}
}

func validationMessage(err error) string {
	var errs validator.ValidationErrors
	if !errors.As(err, &errs) || len(errs) == 0 {
		return err.Error()
	}
	var msgs []string
	for _, e := range errs {
		// Namespace is "requestType.field.sub"; users know the body only.
		_, field, _ := strings.Cut(e.Namespace(), ".")
		field = strings.ReplaceAll(field, embedded+".", "")
		msgs = append(msgs, fieldMessage(field, e))
	}
	return strings.Join(msgs, "; ")
}

func fieldMessage(field string, e validator.FieldError) string {
	switch e.Tag() {
	case "required":
		return field + " is required"
	case "dns1123label":
		return fmt.Sprintf("%s %q must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", field, e.Value())
	case "max":
		return fmt.Sprintf("%s must be at most %s%s", field, e.Param(), unit(e.Kind()))
	case "min":
		return fmt.Sprintf("%s must be at least %s%s", field, e.Param(), unit(e.Kind()))
	case "required_with":
		return fmt.Sprintf("%s is required with %s", field, e.Param())
	default:
		return fmt.Sprintf("%s is invalid (%s)", field, e.Tag())
	}
}

// unit names what min and max count.
func unit(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return " characters"
	case reflect.Slice, reflect.Map:
		return " items"
	default:
		return ""
	}
}
