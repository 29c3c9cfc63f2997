package emulator

// routes registers every emulated API method. Each resource registers its
// own routes, in the file that holds its handlers.
func (s *Server) routes() {
	s.operationRoutes()
	s.imageRoutes()
	s.projectRoutes()
	s.locationRoutes()
	s.instanceRoutes()
	s.diskRoutes()
	s.templateRoutes()
	s.igmRoutes()
}
