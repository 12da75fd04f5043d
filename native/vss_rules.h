// What VSS does when a writer answers a backup event: the state the writer is left in, and
// whether a failure sends Abort to every writer (OnAbort's and "Aborting VSS Operations"
// documentation: after PrepareForBackup, Freeze or Thaw, not after PrepareForSnapshot,
// PostSnapshot or BackupComplete). One table for the simulator (snapshot_set.cc) and the
// emulated VSS under Wine (test/emulator), so the two cannot drift.
#pragma once
#include <cstring>

#include "writer_metadata.h"

namespace vssb {

struct EventRule {
  const char* event;  // the TypeScript event name
  int ok_state;
  int failed_state;
  bool abort_on_failure;
};

constexpr EventRule kBackupEventRules[] = {
    {"prepareBackup", kWsStable, kWsFailedAtPrepareBackup, true},
    {"prepareSnapshot", kWsWaitingForFreeze, kWsFailedAtPrepareSnapshot, false},
    {"freeze", kWsWaitingForThaw, kWsFailedAtFreeze, true},
    {"thaw", kWsWaitingForPostSnapshot, kWsFailedAtThaw, true},
    {"postSnapshot", kWsWaitingForBackupComplete, kWsFailedAtPostSnapshot, false},
    {"backupComplete", kWsStable, kWsFailedAtBackupComplete, false},
    {"preRestore", kWsStable, kWsFailedAtPreRestore, false},
    {"postRestore", kWsStable, kWsFailedAtPostRestore, false},
};

// The rule of `event`, or nullptr for the events outside the main sequence (identify, abort,
// backupShutdown).
inline const EventRule* RuleFor(const char* event) {
  for (const EventRule& r : kBackupEventRules) {
    if (std::strcmp(r.event, event) == 0) return &r;
  }
  return nullptr;
}

}  // namespace vssb
