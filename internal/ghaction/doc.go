// Package ghaction is the Go side of Hallmark's GitHub actions: the attest
// action at the repository's root (action.yml) and the slsa-verify action
// (verifier/action.yml). Each composite action installs a hallmark binary
// (install.sh: a release binary checked against the checksums committed at
// the action's ref, or a build from the action's own source) and runs the
// hidden command `hallmark action attest` or `hallmark action verify`, which
// call [Attest] and [Verify].
//
// Inputs arrive as INPUT_<NAME> variables, as GitHub passes them to
// JavaScript actions; outputs, masks, annotations and the step summary go
// through go-githubactions. The attest action signs with internal/attest,
// the flow `hallmark attest` runs ([RunAttest], an [Attester] tests can
// replace); the verify action runs `hallmark verify-artifact` through a
// [Runner]. Neither prints the identity
// token: it is masked before anything else happens.
package ghaction
