// The CVssWriter subclass behind every VssWriter on Windows. It does no work itself: each
// On* method hands its event to the addon through vssb_event_fn (see writer_shim.h) on the
// RPC thread VSS called it on, and returns what the addon answered. Every virtual is
// overridden, so the vtable never points into vssapi.dll's default implementations.
#include <windows.h>

#if defined(__MINGW64_VERSION_MAJOR)
#include "cvss_writer_decl.h"  // MinGW's vswriter.h lacks the CVssWriter class
#else
#include <vss.h>
#include <vswriter.h>
#endif

#include "writer_shim.h"

namespace {

class BridgeWriter final : public CVssWriter {
 public:
  BridgeWriter(vssb_event_fn on_event, void* user) : on_event_(on_event), user_(user) {}

  // Its own allocation, so this file needs no C++ runtime: in the cross-build the global
  // operator new/delete would be MSVC's, which MinGW's runtime does not provide. A noexcept
  // operator new that returns null makes `new` return null instead of throwing.
  static void* operator new(size_t size) noexcept { return HeapAlloc(GetProcessHeap(), 0, size); }
  static void operator delete(void* p) noexcept { HeapFree(GetProcessHeap(), 0, p); }

  // The protected writer API, for the C functions below.
  using CVssWriter::AreComponentsSelected;
  using CVssWriter::GetBackupType;
  using CVssWriter::GetCurrentSnapshotSetId;
  using CVssWriter::GetCurrentVolumeArray;
  using CVssWriter::GetCurrentVolumeCount;
  using CVssWriter::SetWriterFailure;

  bool STDMETHODCALLTYPE OnIdentify(IVssCreateWriterMetadata* metadata) override {
    return Deliver(VSSB_EVENT_IDENTIFY, metadata);
  }
  bool STDMETHODCALLTYPE OnPrepareBackup(IVssWriterComponents* components) override {
    return Deliver(VSSB_EVENT_PREPARE_BACKUP, components);
  }
  bool STDMETHODCALLTYPE OnPrepareSnapshot() override {
    return Deliver(VSSB_EVENT_PREPARE_SNAPSHOT, nullptr);
  }
  bool STDMETHODCALLTYPE OnFreeze() override { return Deliver(VSSB_EVENT_FREEZE, nullptr); }
  bool STDMETHODCALLTYPE OnThaw() override { return Deliver(VSSB_EVENT_THAW, nullptr); }
  bool STDMETHODCALLTYPE OnAbort() override { return Deliver(VSSB_EVENT_ABORT, nullptr); }
  bool STDMETHODCALLTYPE OnPostSnapshot(IVssWriterComponents* components) override {
    return Deliver(VSSB_EVENT_POST_SNAPSHOT, components);
  }
  bool STDMETHODCALLTYPE OnBackupComplete(IVssWriterComponents* components) override {
    return Deliver(VSSB_EVENT_BACKUP_COMPLETE, components);
  }
  bool STDMETHODCALLTYPE OnBackupShutdown(VSS_ID snapshot_set) override {
    return on_event_(user_, Self(), VSSB_EVENT_BACKUP_SHUTDOWN, nullptr, &snapshot_set) != 0;
  }
  bool STDMETHODCALLTYPE OnPreRestore(IVssWriterComponents* components) override {
    return Deliver(VSSB_EVENT_PRE_RESTORE, components);
  }
  bool STDMETHODCALLTYPE OnPostRestore(IVssWriterComponents* components) override {
    return Deliver(VSSB_EVENT_POST_RESTORE, components);
  }
  // Sent only to writers that registered for I/O throttling; this one does not.
  bool STDMETHODCALLTYPE OnBackOffIOOnVolume(VSS_PWSZ, VSS_ID, VSS_ID) override { return true; }
  bool STDMETHODCALLTYPE OnContinueIOOnVolume(VSS_PWSZ, VSS_ID, VSS_ID) override { return true; }
  // Sent only to alternate writers; this one is not.
  bool STDMETHODCALLTYPE OnVSSShutdown() override { return true; }
  bool STDMETHODCALLTYPE OnVSSApplicationStartup() override { return true; }

 private:
  vssb_writer* Self() { return reinterpret_cast<vssb_writer*>(this); }
  bool Deliver(vssb_event event, void* iface) {
    return on_event_(user_, Self(), event, iface, nullptr) != 0;
  }

  const vssb_event_fn on_event_;
  void* const user_;
};

BridgeWriter* From(vssb_writer* writer) { return reinterpret_cast<BridgeWriter*>(writer); }
const BridgeWriter* From(const vssb_writer* writer) {
  return reinterpret_cast<const BridgeWriter*>(writer);
}

}  // namespace

extern "C" {

vssb_writer* vssb_writer_create(vssb_event_fn on_event, void* user) {
  return reinterpret_cast<vssb_writer*>(new BridgeWriter(on_event, user));
}

void vssb_writer_destroy(vssb_writer* writer) { delete From(writer); }

HRESULT vssb_writer_initialize(vssb_writer* writer, const GUID* writer_id, const WCHAR* name,
                               const WCHAR* instance_name, int usage_type, int source_type,
                               DWORD freeze_timeout_ms) {
  return From(writer)->Initialize(*writer_id, name, static_cast<VSS_USAGE_TYPE>(usage_type),
                                  static_cast<VSS_SOURCE_TYPE>(source_type), VSS_APP_FRONT_END,
                                  freeze_timeout_ms, VSS_AWS_NO_ALTERNATE_WRITER, false,
                                  instance_name != nullptr && instance_name[0] != 0 ? instance_name
                                                                                    : nullptr);
}

HRESULT vssb_writer_subscribe(vssb_writer* writer) { return From(writer)->Subscribe(); }

HRESULT vssb_writer_unsubscribe(vssb_writer* writer) { return From(writer)->Unsubscribe(); }

int vssb_writer_current_backup_type(const vssb_writer* writer) {
  return static_cast<int>(From(writer)->GetBackupType());
}

GUID vssb_writer_current_snapshot_set(const vssb_writer* writer) {
  return From(writer)->GetCurrentSnapshotSetId();
}

UINT vssb_writer_current_volume_count(const vssb_writer* writer) {
  return From(writer)->GetCurrentVolumeCount();
}

const WCHAR* vssb_writer_current_volume(const vssb_writer* writer, UINT index) {
  LPCWSTR* volumes = From(writer)->GetCurrentVolumeArray();
  if (volumes == nullptr || index >= From(writer)->GetCurrentVolumeCount()) return nullptr;
  return volumes[index];
}

int vssb_writer_components_selected(const vssb_writer* writer) {
  return From(writer)->AreComponentsSelected() ? 1 : 0;
}

HRESULT vssb_writer_set_failure(vssb_writer* writer, HRESULT failure) {
  return From(writer)->SetWriterFailure(failure);
}

}  // extern "C"
