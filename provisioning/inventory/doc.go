// Package inventory keeps the fleet inventory: which phone (MAC, model,
// firmware) fetched what, from which address, and whether it is up to date.
//
// Facts come from three places: DHCP lease events (dhcpd.LeaseEvent),
// file server access events
// (fileserve.AccessEvent; the client address is tied to a MAC through the
// latest lease, the kernel's neighbour table, or a MAC in the User-Agent),
// and the neighbour table itself for phones with static addresses. An
// Inventory folds them on one goroutine, keeps bounded records in memory,
// and appends changes to a journal file at most once a second.
//
// The states a phone can be in are defined on the State constants.
package inventory
