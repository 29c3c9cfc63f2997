package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// instanceRoutes registers instances.*: what the googlecompute builder
// drives and the in-use scan reads.
func (s *Server) instanceRoutes() {
	const inst = "projects/{project}/zones/{zone}/instances"
	s.route("POST", inst, "instances.insert", s.instanceInsert)
	s.route("GET", inst, "instances.list", s.instanceList)
	s.route("GET", inst+"/{instance}", "instances.get", s.instanceGet)
	s.route("DELETE", inst+"/{instance}", "instances.delete", s.instanceDelete)
	s.route("GET", inst+"/{instance}/serialPort", "instances.getSerialPortOutput", s.instanceSerialPort)
	s.route("POST", inst+"/{instance}/setMetadata", "instances.setMetadata", s.instanceSetMetadata)
	s.route("POST", inst+"/{instance}/stop", "instances.stop", s.instanceStop)
	s.route("POST", inst+"/{instance}/start", "instances.start", s.instanceStart)
	s.route("GET", "projects/{project}/aggregated/instances", "instances.aggregatedList", s.instanceAggregatedList)
}

func instancePath(project, zone, name string) string {
	return fmt.Sprintf("projects/%s/zones/%s/instances/%s", project, zone, name)
}

// instanceInsert creates an instance and, in the same operation, the disks
// its initializeParams describe (the boot disk is named after the instance
// unless initializeParams.diskName says otherwise). Existing disks named by
// `source` are attached.
func (s *Server) instanceInsert(r *http.Request) (proto.Message, error) {
	req := &computepb.Instance{}
	if err := decodeBody(r, req); err != nil {
		return nil, err
	}
	zone := r.PathValue("zone")
	return s.mutation(r, "instances.insert", "insert", func(p *project) (opTarget, error) {
		in := proto.Clone(req).(*computepb.Instance)
		warnings, err := s.store.newInstanceLocked(p, zone, in)
		if err != nil {
			return opTarget{}, err
		}
		return opTarget{link: in.GetSelfLink(), id: in.GetId(), warnings: warnings}, nil
	})
}

func (st *Store) newInstanceLocked(p *project, zone string, in *computepb.Instance) ([]*computepb.Warnings, error) {
	if err := checkZone(p.name, zone); err != nil {
		return nil, err
	}
	if err := checkName("resource.name", in.GetName()); err != nil {
		return nil, err
	}
	key := zone + "/" + in.GetName()
	if err := checkLabels("resource.labels", in.GetLabels()); err != nil {
		return nil, err
	}
	if _, exists := p.instances[key]; exists {
		return nil, errAlreadyExists(instancePath(p.name, zone, in.GetName()))
	}
	if in.GetMachineType() == "" {
		return nil, &apiError{Code: http.StatusBadRequest, Reason: "required", Message: "Required field 'resource.machineType' not specified"}
	}
	mtName := lastSegment(in.GetMachineType())
	if z := zoneOfURL(in.GetMachineType()); z != "" && z != zone {
		return nil, errInvalid("Invalid value for field 'resource.machineType': '%s'. Machine type must be in zone '%s'.", in.GetMachineType(), zone)
	}
	mt, ok := machineTypeMessage(p.name, zone, mtName)
	if !ok {
		return nil, errInvalid("Invalid value for field 'resource.machineType': '%s'. Machine type with name '%s' does not exist in zone '%s'.", in.GetMachineType(), mtName, zone)
	}
	if len(in.GetDisks()) == 0 {
		return nil, errInvalid("Invalid value for field 'resource.disks': ''. Boot disk must be specified.")
	}
	boots := 0
	for _, ad := range in.GetDisks() {
		if ad.GetBoot() {
			boots++
		}
	}
	if boots == 0 {
		// Compute Engine treats the first disk as the boot disk.
		in.Disks[0].Boot = proto.Bool(true)
	} else if boots > 1 {
		return nil, errInvalid("Invalid value for field 'resource.disks': ''. Only one boot disk may be specified.")
	}

	st.fillInstanceLocked(p, in, zone)
	in.Status = proto.String("RUNNING")
	selfLinkURL := in.GetSelfLink()
	now := formatTime(st.clock())
	in.LastStartTimestamp = proto.String(now)

	var warnings []*computepb.Warnings
	// The boot disk comes first in Compute Engine's answer.
	ordered := make([]*computepb.AttachedDisk, 0, len(in.Disks))
	for _, ad := range in.Disks {
		if ad.GetBoot() {
			ordered = append(ordered, ad)
		}
	}
	for _, ad := range in.Disks {
		if !ad.GetBoot() {
			ordered = append(ordered, ad)
		}
	}
	// What the loop below does to disks (a disk made from initializeParams,
	// an existing disk's users) is undone when a later disk is refused: a
	// refused insert changes nothing.
	var undo []func()
	committed := false
	defer func() {
		for i := len(undo) - 1; i >= 0 && !committed; i-- {
			undo[i]()
		}
	}()
	for i, ad := range ordered {
		field := fmt.Sprintf("resource.disks[%d]", i)
		var disk *computepb.Disk
		switch {
		case ad.InitializeParams != nil && ad.GetSource() == "":
			ip := ad.GetInitializeParams()
			name := ip.GetDiskName()
			if name == "" {
				name = in.GetName()
				if !ad.GetBoot() {
					name = fmt.Sprintf("%s-%d", in.GetName(), i)
				}
			}
			disk = &computepb.Disk{
				Name:        proto.String(name),
				Description: ip.Description,
				Labels:      ip.GetLabels(),
				Type:        ip.DiskType,
				SizeGb:      ip.DiskSizeGb,
				SourceImage: ip.SourceImage,
			}
			if ip.DiskSizeGb != nil && ip.GetDiskSizeGb() == 0 {
				disk.SizeGb = nil
			}
			w, err := st.newDiskLocked(p, zone, disk)
			if err != nil {
				if ae, ok := err.(*apiError); ok && ae.Reason != "alreadyExists" && ae.Reason != "notFound" {
					ae.Message = strings.Replace(ae.Message, "'resource.", "'"+field+".initializeParams.", 1)
				}
				return nil, err
			}
			made := zone + "/" + disk.GetName()
			undo = append(undo, func() { delete(p.disks, made) })
			if w != nil {
				warnings = append(warnings, w)
			}
		case ad.GetSource() != "":
			src := canonicalURL(p.name, ad.GetSource())
			dz := zoneOfURL(src)
			d, ok := p.disks[dz+"/"+lastSegment(src)]
			if !ok || !strings.HasPrefix(relativePath(src), "projects/"+p.name+"/") {
				return nil, errNotFound(relativePath(src))
			}
			if dz != zone {
				return nil, errInvalid("Invalid value for field '%s.source': '%s'. Disk must be in zone '%s'.", field, ad.GetSource(), zone)
			}
			if len(d.GetUsers()) > 0 && ad.GetMode() != "READ_ONLY" {
				return nil, &apiError{Code: http.StatusBadRequest, Reason: "resourceInUseByAnotherResource",
					Message: fmt.Sprintf("The disk resource '%s' is already being used by '%s'", relativePath(d.GetSelfLink()), relativePath(d.GetUsers()[0]))}
			}
			disk = d
		default:
			return nil, errInvalid("Invalid value for field '%s': ''. Source or initializeParams must be specified.", field)
		}
		touched(st, p, kindDisk, p.disks, zone+"/"+disk.GetName())
		users, attached := disk.Users, disk.LastAttachTimestamp
		undo = append(undo, func() { disk.Users, disk.LastAttachTimestamp = users, attached })
		disk.Users = append(disk.Users, selfLinkURL)
		disk.LastAttachTimestamp = proto.String(now)

		ad.Source = proto.String(disk.GetSelfLink())
		ad.InitializeParams = nil
		ad.Kind = proto.String("compute#attachedDisk")
		ad.Index = proto.Int32(int32(i))
		ad.Boot = proto.Bool(ad.GetBoot())
		ad.AutoDelete = proto.Bool(ad.GetAutoDelete())
		if ad.GetType() == "" {
			ad.Type = proto.String("PERSISTENT")
		}
		if ad.GetMode() == "" {
			ad.Mode = proto.String("READ_WRITE")
		}
		if ad.GetDeviceName() == "" {
			ad.DeviceName = proto.String(fmt.Sprintf("persistent-disk-%d", i))
		}
		if ad.GetInterface() == "" {
			ad.Interface = proto.String("SCSI")
		}
		ad.DiskSizeGb = proto.Int64(disk.GetSizeGb())
		ad.Licenses = append([]string(nil), disk.GetLicenses()...)
		ad.GuestOsFeatures = cloneSlice(disk.GetGuestOsFeatures())
		if disk.Architecture != nil {
			ad.Architecture = proto.String(disk.GetArchitecture())
		}
	}
	in.Disks = ordered

	in.MachineType = mt.SelfLink
	in.CpuPlatform = proto.String(cpuPlatforms[0])
	if in.GetMinCpuPlatform() != "" {
		in.CpuPlatform = proto.String(in.GetMinCpuPlatform())
	}
	in.StartRestricted = proto.Bool(false)
	in.DeletionProtection = proto.Bool(in.GetDeletionProtection())
	in.CanIpForward = proto.Bool(in.GetCanIpForward())
	in.LabelFingerprint = proto.String(labelFingerprint(in.GetLabels()))
	in.Metadata = normalMetadata(in.GetMetadata())
	if in.Tags == nil {
		in.Tags = &computepb.Tags{}
	}
	in.Tags.Fingerprint = proto.String(tagsFingerprint(in.Tags.GetItems()))
	if in.Scheduling == nil {
		in.Scheduling = &computepb.Scheduling{}
	}
	sch := in.Scheduling
	if sch.OnHostMaintenance == nil || sch.GetOnHostMaintenance() == "" {
		sch.OnHostMaintenance = proto.String("MIGRATE")
	}
	if sch.AutomaticRestart == nil {
		sch.AutomaticRestart = proto.Bool(!sch.GetPreemptible())
	}
	sch.Preemptible = proto.Bool(sch.GetPreemptible())
	if sch.GetProvisioningModel() == "" {
		sch.ProvisioningModel = proto.String("STANDARD")
		if sch.GetPreemptible() {
			sch.ProvisioningModel = proto.String("SPOT")
		}
	}
	for _, sa := range in.ServiceAccounts {
		if sa.GetEmail() == "default" || sa.GetEmail() == "" {
			sa.Email = proto.String(defaultServiceAccount(p.name))
		}
	}
	for i, ni := range in.NetworkInterfaces {
		fillNetworkInterface(p.name, zone, in.GetId(), i, ni)
	}
	in.Fingerprint = proto.String(fingerprintOf(in))
	put(st, p, kindInstance, p.instances, key, in)
	committed = true
	return warnings, nil
}

// fillNetworkInterface gives an interface what Compute Engine assigns: full
// network URLs, an internal IP and, for each access config, an external IP.
// The addresses are derived from the instance id, so they are stable.
func fillNetworkInterface(project, zone string, id uint64, i int, ni *computepb.NetworkInterface) {
	ni.Kind = proto.String("compute#networkInterface")
	if ni.GetName() == "" {
		ni.Name = proto.String(fmt.Sprintf("nic%d", i))
	}
	network := ni.GetNetwork()
	if network == "" {
		network = "global/networks/default"
	} else if !strings.Contains(network, "/") {
		network = "global/networks/" + network
	}
	ni.Network = proto.String(canonicalURL(project, network))
	subnet := ni.GetSubnetwork()
	if subnet == "" {
		subnet = "regions/" + zoneRegion[zone] + "/subnetworks/" + lastSegment(network)
	} else if !strings.Contains(subnet, "/") {
		subnet = "regions/" + zoneRegion[zone] + "/subnetworks/" + subnet
	}
	ni.Subnetwork = proto.String(canonicalURL(project, subnet))
	if ni.GetNetworkIP() == "" {
		ni.NetworkIP = proto.String(fmt.Sprintf("10.128.%d.%d", (id>>8)%256, id%250+2))
	}
	if ni.GetStackType() == "" {
		ni.StackType = proto.String("IPV4_ONLY")
	}
	for j, ac := range ni.AccessConfigs {
		if ac == nil {
			ac = &computepb.AccessConfig{}
			ni.AccessConfigs[j] = ac
		}
		ac.Kind = proto.String("compute#accessConfig")
		if ac.GetType() == "" {
			ac.Type = proto.String("ONE_TO_ONE_NAT")
		}
		if ac.GetName() == "" {
			ac.Name = proto.String("External NAT")
		}
		if ac.GetNetworkTier() == "" {
			ac.NetworkTier = proto.String("PREMIUM")
		}
		if ac.GetNatIP() == "" {
			ac.NatIP = proto.String(fmt.Sprintf("34.%d.%d.%d", 64+(id>>16)%64, (id>>8)%256, (id+uint64(j))%250+2))
		}
	}
	ni.Fingerprint = proto.String(fingerprintOf(ni))
}

// tagsFingerprint is the fingerprint of network tags. An instance without
// tags reports 42WmSpB8rSM=, the value Compute Engine gives empty label sets
// too (seen in real instances' tags_fingerprint through the Terraform
// provider); other values only need to change when the tags do.
func tagsFingerprint(items []string) string {
	if len(items) == 0 {
		return emptyLabelFingerprint
	}
	return fingerprintOf(&computepb.Tags{Items: items})
}

// normalMetadata returns metadata as Compute Engine writes it: kind and
// fingerprint always present, even with no items.
func normalMetadata(md *computepb.Metadata) *computepb.Metadata {
	out := &computepb.Metadata{Kind: proto.String("compute#metadata")}
	if md != nil {
		out.Items = md.Items
	}
	out.Fingerprint = proto.String(metadataFingerprint(out.Items))
	return out
}

func (s *Server) lookupInstanceLocked(r *http.Request) (*project, *computepb.Instance, error) {
	project, zone, name := r.PathValue("project"), r.PathValue("zone"), r.PathValue("instance")
	if err := checkZone(project, zone); err != nil {
		return nil, nil, err
	}
	p := s.store.readProjectLocked(project)
	in, ok := byNameOrID(p.instances, zone, name)
	if !ok {
		return nil, nil, errNotFound(instancePath(project, zone, name))
	}
	return p, in, nil
}

func (s *Server) instanceGet(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	_, in, err := s.lookupInstanceLocked(r)
	if err != nil {
		return nil, err
	}
	return proto.Clone(in), nil
}

func (s *Server) instanceList(r *http.Request) (proto.Message, error) {
	page, next, err := zonalPage(s, r, func(p *project) map[string]*computepb.Instance { return p.instances })
	if err != nil {
		return nil, err
	}
	project, zone := r.PathValue("project"), r.PathValue("zone")
	return &computepb.InstanceList{
		Kind:          proto.String("compute#instanceList"),
		Id:            proto.String("projects/" + project + "/zones/" + zone + "/instances"),
		Items:         page,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "zones/"+zone+"/instances")),
	}, nil
}

// instanceDelete deletes the instance, deletes its autoDelete disks and
// detaches the others (which the googlecompute builder then deletes itself).
func (s *Server) instanceDelete(r *http.Request) (proto.Message, error) {
	return s.mutation(r, "instances.delete", "delete", func(p *project) (opTarget, error) {
		_, in, err := s.lookupInstanceLocked(r)
		if err != nil {
			return opTarget{}, err
		}
		if in.GetDeletionProtection() {
			return opTarget{}, &apiError{Code: http.StatusBadRequest, Reason: "resourceIsProtected",
				Message: "Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'."}
		}
		s.store.deleteInstanceLocked(p, r.PathValue("zone"), in)
		return opTarget{link: in.GetSelfLink(), id: in.GetId()}, nil
	})
}

// deleteInstanceLocked deletes an instance with its autoDelete disks and
// detaches the others.
func (st *Store) deleteInstanceLocked(p *project, zone string, in *computepb.Instance) {
	now := formatTime(st.clock())
	for _, ad := range in.GetDisks() {
		key := zoneOfURL(ad.GetSource()) + "/" + lastSegment(ad.GetSource())
		d, ok := p.disks[key]
		if !ok {
			continue
		}
		if ad.GetAutoDelete() {
			drop(st, p, kindDisk, p.disks, key)
			continue
		}
		touched(st, p, kindDisk, p.disks, key)
		users := d.Users[:0]
		for _, u := range d.Users {
			if u != in.GetSelfLink() {
				users = append(users, u)
			}
		}
		d.Users = users
		if len(d.Users) == 0 {
			d.Users = nil
		}
		d.LastDetachTimestamp = proto.String(now)
	}
	drop(st, p, kindInstance, p.instances, zone+"/"+in.GetName())
}

// serialLog is what an instance prints on its first serial port: enough of
// a boot log for tools that show or scan it.
func serialLog(in *computepb.Instance) string {
	var b strings.Builder
	b.WriteString("SeaBIOS (version 1.8.2-google)\r\n")
	b.WriteString("Booting from Hard Disk 0...\r\n")
	b.WriteString("[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)\r\n")
	fmt.Fprintf(&b, "[    1.104212] Google Compute Engine instance %s (id %d) in %s\r\n", in.GetName(), in.GetId(), lastSegment(in.GetZone()))
	b.WriteString("[  OK  ] Started google-guest-agent.service - Google Compute Engine Guest Agent.\r\n")
	b.WriteString("[  OK  ] Reached target multi-user.target - Multi-User System.\r\n")
	fmt.Fprintf(&b, "\r\nDebian GNU/Linux 12 %s ttyS0\r\n\r\n%s login: ", in.GetName(), in.GetName())
	return b.String()
}

func (s *Server) instanceSerialPort(r *http.Request) (proto.Message, error) {
	q := r.URL.Query()
	port := 1
	if v := q.Get("port"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4 {
			return nil, errInvalid("Invalid value for field 'port': '%s'. Must be in the range [1, 4].", v)
		}
		port = n
	}
	var start int64
	if v := q.Get("start"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errInvalid("Invalid value for field 'start': '%s'. Must be an integer.", v)
		}
		start = n
	}
	s.store.lock()
	defer s.store.unlock()
	_, in, err := s.lookupInstanceLocked(r)
	if err != nil {
		return nil, err
	}
	var text string
	if port == 1 {
		text = serialLog(in)
	}
	total := int64(len(text))
	// A negative start counts from the end; one before the buffer is moved
	// to its beginning, as Compute Engine does once old output is dropped.
	if start < 0 {
		start = max(total+start, 0)
	}
	start = min(start, total)
	return &computepb.SerialPortOutput{
		Kind:     proto.String("compute#serialPortOutput"),
		Contents: proto.String(text[start:]),
		Start:    proto.Int64(start),
		Next:     proto.Int64(total),
		SelfLink: proto.String(in.GetSelfLink() + "/serialPort"),
	}, nil
}

// instanceSetMetadata replaces the instance metadata. Like Compute Engine it
// demands the current fingerprint, so concurrent writers cannot clobber one
// another.
func (s *Server) instanceSetMetadata(r *http.Request) (proto.Message, error) {
	md := &computepb.Metadata{}
	if err := decodeBody(r, md); err != nil {
		return nil, err
	}
	return s.mutation(r, "instances.setMetadata", "setMetadata", func(p *project) (opTarget, error) {
		_, in, err := s.lookupInstanceLocked(r)
		if err != nil {
			return opTarget{}, err
		}
		if !sameFingerprint(md.GetFingerprint(), in.GetMetadata().GetFingerprint()) {
			return opTarget{}, errConditionNotMet("Supplied fingerprint does not match current metadata fingerprint.")
		}
		seen := map[string]bool{}
		for _, it := range md.GetItems() {
			if seen[it.GetKey()] {
				return opTarget{}, errInvalid("Invalid value for field 'metadata.items[]': '%s'. Duplicate keys are not allowed.", it.GetKey())
			}
			seen[it.GetKey()] = true
		}
		touched(s.store, p, kindInstance, p.instances, r.PathValue("zone")+"/"+in.GetName())
		in.Metadata = normalMetadata(&computepb.Metadata{Items: md.GetItems()})
		return opTarget{link: in.GetSelfLink(), id: in.GetId()}, nil
	})
}

func (s *Server) instanceStop(r *http.Request) (proto.Message, error) {
	return s.setInstanceStatus(r, "instances.stop", "stop", "TERMINATED")
}

func (s *Server) instanceStart(r *http.Request) (proto.Message, error) {
	return s.setInstanceStatus(r, "instances.start", "start", "RUNNING")
}

func (s *Server) setInstanceStatus(r *http.Request, method, opType, status string) (proto.Message, error) {
	return s.mutation(r, method, opType, func(p *project) (opTarget, error) {
		_, in, err := s.lookupInstanceLocked(r)
		if err != nil {
			return opTarget{}, err
		}
		if in.GetStatus() != status {
			touched(s.store, p, kindInstance, p.instances, r.PathValue("zone")+"/"+in.GetName())
			in.Status = proto.String(status)
			now := proto.String(formatTime(s.store.clock()))
			if status == "RUNNING" {
				in.LastStartTimestamp = now
			} else {
				in.LastStopTimestamp = now
			}
		}
		return opTarget{link: in.GetSelfLink(), id: in.GetId()}, nil
	})
}

func (s *Server) instanceAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	items, next, err := scopedPage(r, zoneScopes(), func(scope string) []*computepb.Instance {
		return zonal(p.instances, strings.TrimPrefix(scope, "zones/"))
	}, func(in []*computepb.Instance, w *computepb.Warning) *computepb.InstancesScopedList {
		return &computepb.InstancesScopedList{Instances: in, Warning: w}
	})
	if err != nil {
		return nil, err
	}
	return &computepb.InstanceAggregatedList{
		Kind:          proto.String("compute#instanceAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/instances"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/instances")),
	}, nil
}
