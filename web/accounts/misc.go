package accounts

import (
	"strconv"

	"github.com/hallpass/hallpass/internal/failure"
)

func itoa(n int) string { return strconv.Itoa(n) }

// asRefusal finds a domain refusal in err (failure.AsRefusal).
func asRefusal(err error) (failure.Refusal, bool) { return failure.AsRefusal(err) }

// refusedParam reports whether err is a refusal of the input param (the
// key of a link, rather than what the form asked for).
func refusedParam(err error, param string) bool {
	ref, ok := failure.AsRefusal(err)
	if !ok {
		return false
	}
	for _, d := range ref.Details() {
		if d.Param == param {
			return true
		}
	}
	return false
}
