// The requester side of real VSS: IVssBackupComponents driven in the order of Microsoft's
// VShadow sample. Each function blocks its calling thread (an environment-owned thread, never
// the JS thread) and runs COM in its own multithreaded apartment.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "../snapshot_set_result.h"
#include "com.h"

namespace vssb {

struct BackupRequest {
  std::vector<std::string> volumes;  // "C:\", "C:", a mount point or \\?\Volume{...}\ names
  std::string backup_type = "full";
  std::vector<std::string> components;  // "logical\name" paths; empty selects automatically
  uint32_t timeout_ms = 120000;        // one deadline for the whole set
};

// Creates persistent shadow copies of `volumes` with the writers taking part:
//   InitializeForBackup, SetContext(VSS_CTX_APP_ROLLBACK), SetBackupState, GatherWriterMetadata,
//   AddComponent..., StartSnapshotSet, AddToSnapshotSet..., PrepareForBackup,
//   GatherWriterStatus, DoSnapshotSet, GatherWriterStatus, SetBackupSucceeded...,
//   BackupComplete, release (BackupShutdown).
// Any failure after StartSnapshotSet calls AbortBackup, and any failure once DoSnapshotSet was
// called deletes the set's shadow copies, before the release. Real VSS reports no
// per-writer timelines to a requester: phases are this process's calls, writers their final
// statuses.
SnapshotSetResult RunBackup(const BackupRequest& request, CancelToken* cancel,
                            const std::function<void(const Progress&)>& progress);

struct WriterList {
  hresult_t hr = kS_OK;
  std::string message;
  std::vector<WriterStatus> writers;
  // What each writer instance (by instance id) described in GatherWriterMetadata. The freeze
  // and handler timeouts of another process's writer are not in its metadata: they are 0.
  std::vector<std::pair<std::string, WriterMetadata>> metadata;
};
// GatherWriterMetadata then GatherWriterStatus: what `vssadmin list writers` shows.
WriterList ListWriters(uint32_t timeout_ms);

// The unique name (\\?\Volume{...}\, lower case) of the volume that holds `path`, found
// through its mount point, so that a folder with another volume mounted on it resolves to
// that volume; "" when it cannot be resolved. Any thread.
std::wstring VolumeOf(const std::wstring& path);

struct ShadowCopy {
  std::string id;
  std::string set_id;
  std::string volume;         // original volume name
  std::string device_object;  // \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN
  std::string provider_id;
  double created_ms = 0;  // Unix epoch milliseconds
  int32_t attributes = 0;  // VSS_VOLUME_SNAPSHOT_ATTRIBUTES
};
struct ShadowCopyList {
  hresult_t hr = kS_OK;
  std::string message;
  std::vector<ShadowCopy> copies;
};
ShadowCopyList QueryShadowCopies();

struct DeleteResult {
  hresult_t hr = kS_OK;
  std::string message;
  int32_t deleted = 0;
};
// `id` is a shadow copy id, or a snapshot set id when `whole_set`.
DeleteResult DeleteShadowCopies(const std::string& id, bool whole_set);

}  // namespace vssb
