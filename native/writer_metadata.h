// What a writer tells VSS about itself (IVssCreateWriterMetadata), and its state as
// `vssadmin list writers` shows it. Shared by the simulator and the Windows backend.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hresult.h"

namespace vssb {

struct FileGroup {
  std::string path;      // absolute directory
  std::string filespec;  // wildcard, e.g. "*.db"
  bool recursive = false;
};

struct Component {
  std::string logical_path;  // may be empty
  std::string name;
  std::string caption;
  std::vector<FileGroup> files;
};

struct WriterMetadata {
  std::string id;             // writer class GUID, lowercase, no braces
  std::string name;
  std::string instance_name;  // may be empty
  std::string usage;          // bootableSystemState | systemService | userData | other
  std::string source_type;    // transactedDb | nonTransactedDb | other
  uint32_t freeze_timeout_ms = 60000;   // Freeze -> Thaw window (dwTimeoutFreeze)
  uint32_t handler_timeout_ms = 30000;  // how long one handler may take
  // How a requester restores the writer's files (VSS_RESTOREMETHOD_ENUM, by its TypeScript name).
  std::string restore_method = "restoreIfCanReplace";
  std::vector<Component> components;
};

// VSS_WRITER_STATE values.
enum WriterState : int {
  kWsUnknown = 0,
  kWsStable = 1,
  kWsWaitingForFreeze = 2,
  kWsWaitingForThaw = 3,
  kWsWaitingForPostSnapshot = 4,
  kWsWaitingForBackupComplete = 5,
  kWsFailedAtIdentify = 6,
  kWsFailedAtPrepareBackup = 7,
  kWsFailedAtPrepareSnapshot = 8,
  kWsFailedAtFreeze = 9,
  kWsFailedAtThaw = 10,
  kWsFailedAtPostSnapshot = 11,
  kWsFailedAtBackupComplete = 12,
  kWsFailedAtPreRestore = 13,
  kWsFailedAtPostRestore = 14,
  kWsFailedAtBackupShutdown = 15,
};

struct WriterStatus {
  std::string id;
  std::string instance_id;
  std::string name;
  std::string instance_name;
  int state = kWsStable;
  hresult_t last_error = kS_OK;
  std::string last_error_message;
};

}  // namespace vssb
