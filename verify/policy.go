package verify

import "fmt"

// Policy maps a user's level and a service's class to a Mode.
type Policy struct {
	// PINLength is the number of characters of the PIN at the start of a
	// PIN+OTP password.
	PINLength int
	// Services maps a service name to its class.
	Services map[string]string
	// Modes maps level → class → mode.
	Modes map[string]map[string]Mode
}

// DefaultPolicy returns mailbox.org's three levels over the classes web and
// other with the built-in services.
func DefaultPolicy() Policy {
	return Policy{
		PINLength: 4,
		Services: map[string]string{
			"webmail": "web", "imap": "other", "pop3": "other",
			"smtp": "other", "dav": "other", "activesync": "other",
		},
		Modes: map[string]map[string]Mode{
			LevelOff:        {"web": ModePassword, "other": ModePassword},
			LevelWebOTP:     {"web": ModePINOTP, "other": ModePassword},
			LevelWebOTPOnly: {"web": ModePINOTP, "other": ModeReject},
		},
	}
}

// Validate checks that the policy is complete: a positive PIN length, the
// three built-in levels, and a valid mode for every level × used class.
func (p Policy) Validate() error {
	if p.PINLength < 1 {
		return fmt.Errorf("policy: pin length %d is not positive", p.PINLength)
	}
	if len(p.Services) == 0 {
		return fmt.Errorf("policy: no services")
	}
	for _, lvl := range []string{LevelOff, LevelWebOTP, LevelWebOTPOnly} {
		if _, ok := p.Modes[lvl]; !ok {
			return fmt.Errorf("policy: level %q missing", lvl)
		}
	}
	for lvl, classes := range p.Modes {
		for svc, class := range p.Services {
			m, ok := classes[class]
			if !ok {
				return fmt.Errorf("policy: level %q has no mode for class %q (service %q)", lvl, class, svc)
			}
			if !m.Valid() {
				return fmt.Errorf("policy: level %q class %q: invalid mode %q", lvl, class, m)
			}
		}
	}
	return nil
}

// HasLevel reports whether level is a level of the policy.
func (p Policy) HasLevel(level string) bool {
	_, ok := p.Modes[level]
	return ok
}

// mode returns the mode for level and class; an unknown level rejects.
func (p Policy) mode(level, class string) Mode {
	m, ok := p.Modes[level][class]
	if !ok {
		return ModeReject
	}
	return m
}
