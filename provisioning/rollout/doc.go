// Package rollout moves a series or a model of phones from one firmware to
// another in waves, with a brake.
//
// A roll-out is the operator's decision (Start): a target (a series such
// as 96x1S, or one MODEL4 value), the version to reach, a canary set (N
// phones, a list of MACs, or the phones of one GROUP) and growing waves
// (cumulative shares such as 10 %, 50 %, 100 % of the target's phones).
// The upgrade script names the new firmware only to the members of the
// waves started so far (Plan); every other phone is offered what it would
// be without the new image (its running, or pinned, firmware).
//
// Each member is pending until it downloads the new image completely,
// then fetched; upgraded when it comes back (asks for its upgrade script
// again) reporting the new version, or presumed so by the inventory;
// failed when it comes back on another version, downloads the image a
// second time, or does not come back within Config.ComeBackWindow. A
// pending member that never downloads within the window is absent: it
// does not hold the wave back, and is still offered the image.
//
// Past Config.MaxFailureShare of a wave failed, the roll-out brakes: it
// pauses itself, logs, raises phoneprov_rollout_braked and offers the
// image to no phone that has not fetched it yet, until the operator
// resumes (accepting the failures so far), aborts or finishes. The next
// wave starts once every member of the current one is upgraded, failed or
// absent. State lives in <data_dir>/rollouts/state.json, replaced
// atomically at every change (internal/durable), so a kill -9 loses
// nothing that was acknowledged.
//
// New firmware is held (Config.HoldNewFirmware): the state keeps a
// released version per firmware line (provisioning.ReleaseLine), every
// version present at the first look ever being released, and an image
// newer than its line's released version is named to no phone outside a
// roll-out to it (provisioning.UpgradePlan.Released). Finish releases the
// roll-out's version, Release a version at once; abort keeps the
// released one.
package rollout
