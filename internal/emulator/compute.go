package emulator

// computeRoutes registers projects, zones, regions, machine types, instances,
// disks and instance templates.
func (s *Server) computeRoutes() {}
