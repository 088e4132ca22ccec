// Package deploy holds what ships beside the binary; the commented example
// configuration is embedded so `phoneprov init` writes exactly this file.
package deploy

import _ "embed"

//go:embed phoneprov.toml
var exampleConfig []byte

// ExampleConfig returns a copy of the commented example configuration.
func ExampleConfig() []byte { return append([]byte(nil), exampleConfig...) }
