package cuda

// Check is one line of gputrain doctor: what was checked, what was found
// and, when it failed, what to do about it.
type Check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// String is the check's line: "ok NAME: DETAIL", or "FAIL: NAME: DETAIL;
// FIX" (what failed, why, and what to do).
func (c Check) String() string {
	if c.OK {
		return "ok " + c.Name + ": " + c.Detail
	}
	s := "FAIL: " + c.Name + ": " + c.Detail
	if c.Fix != "" {
		s += "; " + c.Fix
	}
	return s
}
