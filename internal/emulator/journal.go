package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/atomicfile"
)

// The state file and its journal.
//
// With Options.StateFile (--state FILE) the emulator keeps FILE in the State
// format, complete and loadable on its own, and beside it FILE.journal: one
// JSON object a line for each resource a mutation changed, appended in one
// write before the mutation is answered:
//
//	{"op":"put","kind":"images","project":"acme","key":"web-v1","resource":{ <Image JSON> }}
//	{"op":"delete","kind":"disks","project":"acme","key":"us-central1-a/build-1"}
//
// kind is a State field name (images, instanceTemplates, disks...), key the
// resource's name, or zone/name and region/name for zonal and regional ones.
// At start the emulator loads FILE, replays FILE.journal over it, writes the
// result back to FILE (temporary file, fsync, rename) and starts an empty
// journal; Server.Close, which `imagefamily emulator` calls on SIGINT and
// SIGTERM, does the same and removes the journal. So a mutation costs
// marshalling what it changed and one append, and the whole state is written
// only at start, at stop, and when the journal has grown past twice the
// state's size (and at least compactMin bytes).
//
// Durability: an answered mutation's line is in the kernel before the answer
// leaves, so SIGTERM and SIGKILL of the emulator lose nothing it answered. A
// kill in the middle of a write leaves a last line cut short, which replay
// ignores (that mutation was not answered). The journal is not fsynced per
// mutation: an operating-system crash or power loss can lose the mutations
// the kernel had not yet written back, never FILE itself.
type journal struct {
	st        *Store
	path      string   // the state file
	f         *os.File // path + ".journal", opened for appending
	size      int64    // bytes in the journal since the last compaction
	stateSize int64    // bytes in the state file at the last compaction
	buf       bytes.Buffer
}

// compactMin is the journal size below which it is never compacted while
// the emulator runs: compaction rewrites the whole state.
const compactMin = 16 << 20

// journalLine is one line of the journal.
type journalLine struct {
	Op       string          `json:"op"` // "put" or "delete"
	Kind     string          `json:"kind"`
	Project  string          `json:"project"`
	Key      string          `json:"key"`
	Resource json.RawMessage `json:"resource,omitempty"`
}

// openJournal loads the state file and its journal into st, compacts them
// into the state file and opens an empty journal.
func openJournal(st *Store, path string) (*journal, error) {
	state, _, err := readStateFile(path)
	if err != nil {
		return nil, err
	}
	st.lock()
	defer st.unlock()
	if err := st.applyStateLocked(state); err != nil {
		return nil, fmt.Errorf("emulator state %s: %w", path, err)
	}
	j := &journal{st: st, path: path}
	if err := j.replayLocked(); err != nil {
		return nil, err
	}
	// Loading is not a change: nothing of it goes to the journal.
	st.discardLocked()
	f, err := os.OpenFile(j.journalPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("emulator state journal: %w", err)
	}
	j.f = f
	if err := j.compactLocked(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return j, nil
}

func (j *journal) journalPath() string { return j.path + ".journal" }

// replayLocked applies the journal left by the previous run, if any.
func (j *journal) replayLocked() error {
	f, err := os.Open(j.journalPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emulator state journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A last line without its newline was cut short by a kill
			// while it was written: its mutation was never answered.
			return nil
		}
		if err != nil {
			return fmt.Errorf("emulator state journal %s: %w", j.journalPath(), err)
		}
		if err := j.applyLineLocked(line); err != nil {
			return fmt.Errorf("emulator state journal %s, line %d: %w", j.journalPath(), n, err)
		}
	}
}

func (j *journal) applyLineLocked(line []byte) error {
	var l journalLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	switch l.Op {
	case "delete":
		j.st.removeLocked(resKey{l.Kind, l.Project, l.Key})
		return nil
	case "put":
		ps := ProjectState{}
		raw := []json.RawMessage{l.Resource}
		switch l.Kind {
		case kindImage:
			ps.Images = raw
		case kindTemplate:
			ps.InstanceTemplates = raw
		case kindRegionTemplate:
			ps.RegionInstanceTemplates = raw
		case kindInstance:
			ps.Instances = raw
		case kindDisk:
			ps.Disks = raw
		case kindIGM:
			ps.InstanceGroupManagers = raw
		case kindRegionIGM:
			ps.RegionInstanceGroupManagers = raw
		default:
			return fmt.Errorf("unknown kind %q", l.Kind)
		}
		return j.st.applyStateLocked(State{Projects: map[string]ProjectState{l.Project: ps}})
	}
	return fmt.Errorf("unknown op %q", l.Op)
}

// appendLocked writes the committed changes: each resource's value now, or
// its deletion.
func (j *journal) appendLocked(changes []change) error {
	j.buf.Reset()
	for _, c := range changes {
		l := journalLine{Op: "delete", Kind: c.kind, Project: c.project, Key: c.key}
		if m, ok := j.st.lookupLocked(c.resKey); ok {
			b, err := protojson.Marshal(m)
			if err != nil {
				return err
			}
			l.Op, l.Resource = "put", b
		}
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		j.buf.Write(b)
		j.buf.WriteByte('\n')
	}
	n, err := j.f.Write(j.buf.Bytes())
	j.size += int64(n)
	if err != nil {
		return err
	}
	if j.size > compactMin && j.size > 2*j.stateSize {
		return j.compactLocked()
	}
	return nil
}

// compactLocked writes the whole state to the state file and empties the
// journal. The order makes a crash between the two harmless: replaying a
// journal over a state that already holds it changes nothing.
func (j *journal) compactLocked() error {
	state, err := j.st.stateLocked()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	// 0600, as the state file always was: it can hold whatever a test or a
	// user put in metadata.
	if err := atomicfile.WriteFile(j.path, b, 0o600); err != nil {
		return err
	}
	j.stateSize = int64(len(b))
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("emulator state journal: %w", err)
	}
	j.size = 0
	return nil
}

// closeLocked compacts and removes the journal.
func (j *journal) closeLocked() error {
	err := j.compactLocked()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if rerr := os.Remove(j.journalPath()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	return err
}

// removeLocked deletes a stored resource, as a journal line asks.
func (st *Store) removeLocked(k resKey) {
	p := st.projects[k.project]
	if p == nil {
		return
	}
	switch k.kind {
	case kindImage:
		drop(st, p, kindImage, p.images, k.key)
		delete(p.imageReadyAt, k.key)
	case kindTemplate:
		drop(st, p, kindTemplate, p.templates, k.key)
	case kindRegionTemplate:
		drop(st, p, kindRegionTemplate, p.regionalTemplates, k.key)
	case kindInstance:
		drop(st, p, kindInstance, p.instances, k.key)
	case kindDisk:
		drop(st, p, kindDisk, p.disks, k.key)
	case kindIGM:
		drop(st, p, kindIGM, p.igms, k.key)
	case kindRegionIGM:
		drop(st, p, kindRegionIGM, p.regionIGMs, k.key)
	}
}

// Close writes the state file one last time and removes its journal. It
// is what `imagefamily emulator` does on SIGINT and SIGTERM; without a
// state file it does nothing. The server must not be used after Close.
func (s *Server) Close() error {
	st := s.store
	st.lock()
	defer st.unlock()
	if st.journal == nil {
		return nil
	}
	err := st.journal.closeLocked()
	st.journal = nil
	return err
}
