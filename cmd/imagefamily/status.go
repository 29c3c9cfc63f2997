package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

const statusUsage = `usage: imagefamily status --project P --family F [policy flags] [--at TIME] [flags]

Shows every image of the family, newest first: state, creation and deprecation
dates, the head, why an image is protected from rotation, and its next step
under the policy and when it falls due. Nothing is changed.

flags:
  --family F               the family (required)
  --at TIME                show the family as rotation would see it at TIME (RFC 3339)
` + policyUsage + commonUsage

// statusReport is status's JSON output (docs/cli.md).
type statusReport struct {
	Project string             `json:"project"`
	Family  string             `json:"family"`
	At      time.Time          `json:"at"`
	Head    string             `json:"head"`
	Policy  apply.PolicyReport `json:"policy"`
	// Lease is the family's lease while a command of this project holds
	// it; null otherwise.
	Lease  *statusLease  `json:"lease"`
	Images []statusImage `json:"images"`
}

type statusLease struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
	Image   string    `json:"image"`
}

type statusImage struct {
	Name string `json:"name"`
	// State is the deprecation state, or ORPHANED for an image in no family
	// that an interrupted release was releasing into this family
	// (imagefamily-releasing-into): rotate deletes it once older than the
	// orphan grace.
	State      lifecycle.State `json:"state"`
	Orphaned   bool            `json:"orphaned"`
	Age        string          `json:"age"`
	Status     string          `json:"status"`
	Created    time.Time       `json:"created"`
	Deprecated *time.Time      `json:"deprecated"`
	Obsolete   *time.Time      `json:"obsolete"`
	Deleted    *time.Time      `json:"deleted"`
	Head       bool            `json:"head"`
	// ProtectedBy is head, keep_active, min_age, protected (the label) or
	// in_use; null when rotation may move the image.
	ProtectedBy *lifecycle.Why `json:"protected_by"`
	// Why and Reason are the rotation plan's entry for the image.
	Why    lifecycle.Why `json:"why"`
	Reason string        `json:"reason"`
	UsedBy []string      `json:"used_by"`
	Next   statusNext    `json:"next"`
}

type statusNext struct {
	Action    lifecycle.Action `json:"action"`
	Due       *time.Time       `json:"due"`
	Condition string           `json:"condition"`
}

// stateOrphaned is the STATE status shows for an orphan of an interrupted
// release.
const stateOrphaned lifecycle.State = "ORPHANED"

var protections = map[lifecycle.Why]bool{lifecycle.WhyHead: true, lifecycle.WhyKeepActive: true,
	lifecycle.WhyMinAge: true, lifecycle.WhyProtected: true, lifecycle.WhyInUse: true}

func cmdStatus(e *env, args []string) int {
	var (
		common commonFlags
		pf     policyFlags
		family string
		atFlag string
	)
	fs := newFlagSet("status")
	common.register(fs)
	pf.register(fs)
	fs.StringVar(&family, "family", "", "")
	fs.StringVar(&atFlag, "at", "", "")
	pos, exit, done := e.parse(fs, args, statusUsage)
	if done {
		return exit
	}
	if len(pos) > 0 {
		return e.fail(usagef("unexpected argument %q: status takes flags only (--family F)", pos[0]), exitUsage)
	}
	if err := common.check(e); err != nil {
		return e.fail(err, exitUsage)
	}
	if err := checkFamily(family); err != nil {
		return e.fail(err, exitUsage)
	}
	pol, inUse, err := pf.read()
	if err != nil {
		return e.fail(err, exitUsage)
	}
	at, err := parseAt(atFlag)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	if at.IsZero() {
		at = clock().UTC()
	}
	c, err := common.client(e)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	defer c.Close()

	s, err := apply.Gather(e.ctx, c, common.project, family, inUse, pol.CheckInUse)
	if err != nil {
		return e.fail(err, exitPartial)
	}
	plan := lifecycle.Plan(s, pol, at)
	rep := statusReport{Project: common.project, Family: family, At: at, Head: plan.Head,
		Policy: apply.Preview(plan).Policy, Images: []statusImage{}}
	if l, ok := lifecycle.HeldByOther(lifecycle.LeasesOf(s.Images), "", clock()); ok {
		rep.Lease = &statusLease{Holder: l.Holder, Expires: l.Expires.UTC(), Image: l.Image.Name}
	}
	next := lifecycle.NextSteps(plan)
	for i, en := range plan.Entries {
		img := en.Image
		si := statusImage{Name: img.Name, State: img.State(), Status: orDefault(img.Status, lifecycle.StatusReady),
			Created: img.CreatedAt.UTC(), Deprecated: utc(img.Deprecation.Deprecated), Obsolete: utc(img.Deprecation.Obsolete),
			Deleted: utc(img.Deprecation.Deleted), Head: img.Name == plan.Head, Why: en.Why, Reason: en.Reason, UsedBy: []string{},
			Next: statusNext{Action: next[i].Action, Due: utc(next[i].Due), Condition: next[i].Condition}}
		si.Age = lifecycle.FormatDuration(at.Sub(img.CreatedAt).Truncate(time.Minute))
		if img.Family != family {
			si.State, si.Orphaned = stateOrphaned, true
		}
		if protections[en.Why] {
			why := en.Why
			si.ProtectedBy = &why
		}
		for _, u := range en.UsedBy {
			si.UsedBy = append(si.UsedBy, u.String())
		}
		rep.Images = append(rep.Images, si)
	}
	if common.format == "json" {
		if err := writeJSON(e.stdout, rep); err != nil {
			return e.fail(err, exitPartial)
		}
		return exitOK
	}
	writeStatusTable(e.stdout, rep)
	return exitOK
}

func writeStatusTable(w io.Writer, r statusReport) {
	p := r.Policy
	fmt.Fprintf(w, "family %s of project %s at %s: head %s\n", r.Family, r.Project, r.At.Format(time.RFC3339), orDash(r.Head))
	fmt.Fprintf(w, "policy: keep_active %d, min_age %s, obsolete_after %s, delete_after %s, purge_after %s, protect_label %s, check_in_use %t\n",
		p.KeepActive, p.MinAge, p.ObsoleteAfter, p.DeleteAfter, p.PurgeAfter, orDash(p.ProtectLabel), p.CheckInUse)
	if l := r.Lease; l != nil {
		fmt.Fprintf(w, "lease: held by %s until %s (label %s on %s)\n", l.Holder, l.Expires.Format(time.RFC3339), lifecycle.LabelLease, l.Image)
	}
	if len(r.Images) == 0 {
		fmt.Fprintln(w, "no images")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HEAD\tIMAGE\tSTATE\tCREATED\tDEPRECATED\tOBSOLETE\tDELETED\tPROTECTED BY\tNEXT\tDUE\tWHEN")
	for _, img := range r.Images {
		mark := ""
		if img.Head {
			mark = "*"
		}
		state := string(img.State)
		if img.Orphaned {
			state += " (" + img.Age + " old)"
		}
		if img.Status != lifecycle.StatusReady {
			state += " (" + img.Status + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, img.Name, state, img.Created.Format(time.RFC3339),
			textfmt.TimeOrDash(img.Deprecated), textfmt.TimeOrDash(img.Obsolete), textfmt.TimeOrDash(img.Deleted), protectedBy(img), img.Next.Action, textfmt.TimeOrDash(img.Next.Due), img.Next.Condition)
	}
	_ = tw.Flush()
}

// protectedBy says why rotation leaves the image alone, naming the label or
// the users where there are some.
func protectedBy(img statusImage) string {
	if img.ProtectedBy == nil {
		return "-"
	}
	switch *img.ProtectedBy {
	case lifecycle.WhyProtected, lifecycle.WhyInUse:
		return oneLine(img.Reason)
	}
	return string(*img.ProtectedBy)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkFamily(family string) error {
	if family == "" {
		return usagef("--family is required: name the image family, e.g. --family web")
	}
	if err := lifecycle.ValidateName(family); err != nil {
		return usagef("--family %q: %v", family, err)
	}
	return nil
}

const policyUsage = `
policy flags (the post-processor's rotation block; durations like 168h, 7d, 1d12h):
  --keep-active N          newest ACTIVE images kept, the head included (default 2)
  --min-age D              never touch images younger than D (default 1h)
  --obsolete-after D       DEPRECATED -> OBSOLETE after D (default 7d)
  --delete-after D         OBSOLETE -> DELETED after D (default 30d)
  --purge-after D          DELETED -> deleted for good after D (default 7d)
  --orphan-grace D         delete orphans of interrupted releases older than D
                           (default: --min-age)
  --protect-label KEY      images with this label are never touched (default imagefamily-protect; "" for none)
  --check-in-use BOOL      never touch images used by templates or instances (default true)
  --in-use-projects P,...  also look for users in these projects
`

const commonUsage = `
common flags:
  --project P                        the project holding the images (required)
  --format table|json                output format (default table)
  --endpoint URL                     Compute Engine endpoint (default: $IMAGEFAMILY_COMPUTE_ENDPOINT, else Google's)
  --credentials-file FILE            credentials JSON file
  --access-token TOKEN               OAuth 2.0 access token
  --impersonate-service-account SA   impersonate SA with application default credentials
  (nothing set: application default credentials)
`
