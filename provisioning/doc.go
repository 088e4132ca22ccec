// Package provisioning makes the files Avaya desk phones read that the
// operator has not placed in the file tree:
//
//   - 46xxsettings.txt from the [provisioning] configuration: the values the
//     appliance fills in (HTTPSRVR and TLSSRVR = the address the phone talked
//     to, TRUSTCERTS = the appliance's CA, BRURI = its backup URL), the
//     operator's settings for every phone, per $GROUP and per $MODEL4, and a
//     final GET of 46xxspecials.txt when the tree has one;
//   - each series' upgrade script (46xxupgrade.scr, 16xxupgrade.txt,
//     96xxupgrade.txt, 96x1Hupgrade.txt, 96x1Supgrade.txt, J100Supgrade.txt,
//     K1xxSupgrade.txt) naming, per model, the newest firmware present (or
//     the pinned one), ending with GET 46xxsettings.txt;
//   - per-phone files <mac>.txt from [[provisioning.phone]] entries.
//
// Generator implements fileserve.Generator; the file server consults it only
// for names the tree does not have, so the operator's own file always wins.
// The script language itself is package provisioning/script; firmware
// recognition and bundle import are package provisioning/firmware.
package provisioning
