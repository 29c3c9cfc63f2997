// Package gce is the only code in this project that talks to Compute Engine:
// authentication, the endpoint override, retries, operation waits and error
// mapping live here, behind the narrow Compute interface the rest depends on.
//
// Decisions worth knowing before changing anything here:
//
//   - One retry policy (Backoff) for every call; the generated client's own
//     retries are switched off per call so that attempts stay bounded.
//   - A mutation keeps one requestId across its retries. An alreadyExists
//     on a retry of an insert counts as success only when a global operation
//     carrying that requestId created the image (see insertImage).
//   - Global operations are waited for with globalOperations.wait (one call
//     that returns when the operation ends), not the client's
//     Operation.Wait (a poll, then sleeps of 1 s, 2 s...); their error list
//     is read directly: httpErrorStatusCode may be missing.
//   - custom_endpoints.compute is accepted as googlecompute users write it
//     (.../compute/v1/) and reduced to the base the REST client appends its
//     paths to (pluginconfig.NormalizeEndpoint).
package gce
