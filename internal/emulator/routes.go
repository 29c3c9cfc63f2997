package emulator

// routes registers every emulated API method. Each resource family lives in
// its own file with its own xxxRoutes method.
func (s *Server) routes() {
	s.operationRoutes()
	s.imageRoutes()
	s.computeRoutes()
}
