// Package gce is the only code in this project that talks to Compute Engine:
// authentication, the endpoint override, retries, operation waits and error
// mapping live here, behind the narrow Compute interface the rest depends on.
package gce

import (
	_ "cloud.google.com/go/compute/apiv1"
	_ "github.com/google/uuid"
	_ "github.com/googleapis/gax-go/v2"
	_ "golang.org/x/oauth2"
	_ "google.golang.org/api/impersonate"
	_ "google.golang.org/api/option"
)
