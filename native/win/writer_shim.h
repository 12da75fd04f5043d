// The C interface between the addon (g++ or MSVC) and the one translation unit that
// subclasses CVssWriter (writer_shim.cc).
//
// Why a C interface: vssapi.dll exports CVssWriter with MSVC-mangled C++ names and an MSVC
// vtable. The MinGW cross-build compiles writer_shim.cc with clang in the MSVC ABI and the
// rest of the addon with g++; only plain C calls and COM interfaces (whose vtable layout is
// the same in both ABIs) cross between them. An MSVC build compiles both sides alike.
//
// Strings are UTF-16 (WCHAR is 16 bits on both sides; C linkage does not encode it).
#pragma once
#include <windows.h>

#ifdef __cplusplus
extern "C" {
#endif

// CVssWriter's events, in the order of a backup.
typedef enum vssb_event {
  VSSB_EVENT_IDENTIFY = 0,
  VSSB_EVENT_PREPARE_BACKUP,
  VSSB_EVENT_PREPARE_SNAPSHOT,
  VSSB_EVENT_FREEZE,
  VSSB_EVENT_THAW,
  VSSB_EVENT_POST_SNAPSHOT,
  VSSB_EVENT_ABORT,
  VSSB_EVENT_BACKUP_COMPLETE,
  VSSB_EVENT_BACKUP_SHUTDOWN,
  VSSB_EVENT_PRE_RESTORE,
  VSSB_EVENT_POST_RESTORE,
} vssb_event;

typedef struct vssb_writer vssb_writer;

// Called on the RPC thread that delivered the event, which is also the only thread on which
// the vssb_writer_current_* and vssb_writer_set_failure calls below are valid.
//   iface: IVssCreateWriterMetadata* for IDENTIFY; IVssWriterComponents* (may be NULL) for
//          PREPARE_BACKUP, POST_SNAPSHOT, BACKUP_COMPLETE, PRE_RESTORE, POST_RESTORE.
//   shutdown_set: the snapshot set id of BACKUP_SHUTDOWN, else NULL.
// Returns nonzero when the event succeeded. Must not throw.
typedef int (*vssb_event_fn)(void* user, vssb_writer* writer, vssb_event event, void* iface,
                             const GUID* shutdown_set);

// NULL when out of memory. `user` is passed back to `on_event` unchanged.
vssb_writer* vssb_writer_create(vssb_event_fn on_event, void* user);
// Only after a successful vssb_writer_unsubscribe or when it was never subscribed.
void vssb_writer_destroy(vssb_writer* writer);

// CVssWriter::Initialize with VSS_APP_FRONT_END, no alternate writer, not throttling-only.
// S_FALSE means VSS refused in safe mode or during setup.
HRESULT vssb_writer_initialize(vssb_writer* writer, const GUID* writer_id, const WCHAR* name,
                               const WCHAR* instance_name, int usage_type, int source_type,
                               DWORD freeze_timeout_ms);
HRESULT vssb_writer_subscribe(vssb_writer* writer);
HRESULT vssb_writer_unsubscribe(vssb_writer* writer);

// The writer API of the event being delivered (valid only inside on_event).
int vssb_writer_current_backup_type(const vssb_writer* writer);  // VSS_BACKUP_TYPE
GUID vssb_writer_current_snapshot_set(const vssb_writer* writer);
UINT vssb_writer_current_volume_count(const vssb_writer* writer);
const WCHAR* vssb_writer_current_volume(const vssb_writer* writer, UINT index);
int vssb_writer_components_selected(const vssb_writer* writer);
// Not from IDENTIFY (VSS ignores it there).
HRESULT vssb_writer_set_failure(vssb_writer* writer, HRESULT failure);

#ifdef __cplusplus
}
#endif
