// Package firmware knows Avaya desk-phone firmware: it recognises firmware
// files by their names (which series, models, protocol and version each is
// for, see the rule table in names.go and how sure each rule is), lists the
// firmware at the top of a file tree (Scan, Catalog) and keeps that list
// current for the generator, the inventory and the status page alike
// (Tree), picks the newest for a model, reads vendor upgrade scripts to see which model they give which
// file (ScriptCoverage), and imports vendor bundles into the tree atomically
// (Import).
package firmware
