// Package script reads, writes, checks and runs the small script language of
// Avaya desk phones: the upgrade scripts (46xxupgrade.scr, 96x1Supgrade.txt,
// J100Supgrade.txt, …) and settings files (46xxsettings.txt) they fetch.
//
// The language, as the admin guides describe it, has one command a line:
//
//	SET NAME value          set a phone parameter (quote values with spaces: SET X "a b")
//	GET file                fetch file; if it arrives, reading goes on in it, else here
//	GOTO TAG                continue after the label "# TAG"
//	IF $VAR SEQ text GOTO TAG   string compare on a phone variable
//	# TAG                   a label: one '#', one space, a name without spaces
//	## anything             any other line starting with '#' is a comment
//
// Parse keeps every byte of the input, so Script.Bytes gives the file back
// exactly; Script.Format prints the normalised form (upper-case keywords,
// single spaces, LF line ends), which is also what generated files use, so a
// generated file parses and formats back to itself byte for byte.
//
// Lint finds mistakes a phone would silently stumble over (a GOTO to a missing
// label, an APPNAME naming a file the server does not have, a GET that is not
// last in a file 4600 phones read), LintTree does that for the scripts in an
// operator's file tree, and Run is a tiny interpreter that says which SETs and
// GETs a phone with given variables would carry out.
package script
