package trading

// SetHook makes s call h at each step of an order transition ("committed": right after the
// account update; "written": after the matcher's follow-up writes, before it settles the account).
// A non-nil error fails the operation exactly there, a panic crashes it: the tests check what the
// next request or matcher run repairs.
func SetHook(s *Service, h func(step string) error) { s.hook = h }

// Steps, for the tests.
const (
	StepCommitted = stepCommitted
	StepWritten   = stepWritten
)
