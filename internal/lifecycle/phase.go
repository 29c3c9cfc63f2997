package lifecycle

// Phase is a set of actions that may be carried out in any order and at once.
// A plan of several steps that depend on each other (copy the target, then
// deprecate the newer images) is a sequence of phases.
type Phase struct {
	// Name says what the phase does, for people ("copy the target").
	Name    string
	Entries []Entry
	// Required: the phases after this one start only when every action of
	// this one was done; an action skipped or failed stops the plan there
	// (the later actions are reported as not started).
	Required bool
}

// Actions lists the entries of the phases that change something, in order.
func Actions(phases []Phase) []Entry {
	var out []Entry
	for _, p := range phases {
		for _, e := range p.Entries {
			if e.Action != ActionNone {
				out = append(out, e)
			}
		}
	}
	return out
}

// CopySpec is an image to create from another one (ActionCopy).
type CopySpec struct {
	// Project and Name are the image to create.
	Project string
	Name    string
	Source  ImageRef
	Family  string
	// Description, when empty, is left to Compute Engine.
	Description      string
	Labels           map[string]string
	StorageLocations []string
	// Architecture is X86_64 or ARM64; empty leaves it to Compute Engine.
	Architecture    string
	GuestOsFeatures []string
	Licenses        []string
}

// Ref is the image the copy creates.
func (c CopySpec) Ref() ImageRef { return ImageRef{Project: c.Project, Name: c.Name} }
