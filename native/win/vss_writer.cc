#include "vss_writer.h"

#include <vss.h>
#include <vswriter.h>

#include <algorithm>

#include "com.h"
#include "wide.h"

namespace vssb {
namespace {

const char* EventName(vssb_event event) {
  switch (event) {
    case VSSB_EVENT_IDENTIFY: return "identify";
    case VSSB_EVENT_PREPARE_BACKUP: return "prepareBackup";
    case VSSB_EVENT_PREPARE_SNAPSHOT: return "prepareSnapshot";
    case VSSB_EVENT_FREEZE: return "freeze";
    case VSSB_EVENT_THAW: return "thaw";
    case VSSB_EVENT_POST_SNAPSHOT: return "postSnapshot";
    case VSSB_EVENT_ABORT: return "abort";
    case VSSB_EVENT_BACKUP_COMPLETE: return "backupComplete";
    case VSSB_EVENT_BACKUP_SHUTDOWN: return "backupShutdown";
    case VSSB_EVENT_PRE_RESTORE: return "preRestore";
    case VSSB_EVENT_POST_RESTORE: return "postRestore";
  }
  return "unknown";
}

// SetWriterFailure accepts only the VSS_E_WRITERERROR_* codes.
hresult_t WriterFailureCode(hresult_t hr) {
  switch (hr) {
    case kVSS_E_WRITERERROR_INCONSISTENTSNAPSHOT:
    case kVSS_E_WRITERERROR_OUTOFRESOURCES:
    case kVSS_E_WRITERERROR_TIMEOUT:
    case kVSS_E_WRITERERROR_RETRYABLE:
    case kVSS_E_WRITERERROR_NONRETRYABLE:
      return hr;
    default:
      return kVSS_E_WRITERERROR_RETRYABLE;
  }
}

// The state `vssadmin list writers` would show after `event` ended with `ok` (the same
// transitions the simulator applies).
int StateAfter(vssb_event event, bool ok, int current) {
  switch (event) {
    case VSSB_EVENT_PREPARE_BACKUP: return ok ? kWsStable : kWsFailedAtPrepareBackup;
    case VSSB_EVENT_PREPARE_SNAPSHOT: return ok ? kWsWaitingForFreeze : kWsFailedAtPrepareSnapshot;
    case VSSB_EVENT_FREEZE: return ok ? kWsWaitingForThaw : kWsFailedAtFreeze;
    case VSSB_EVENT_THAW: return ok ? kWsWaitingForPostSnapshot : kWsFailedAtThaw;
    case VSSB_EVENT_POST_SNAPSHOT: return ok ? kWsWaitingForBackupComplete : kWsFailedAtPostSnapshot;
    case VSSB_EVENT_BACKUP_COMPLETE: return ok ? kWsStable : kWsFailedAtBackupComplete;
    case VSSB_EVENT_PRE_RESTORE: return ok ? kWsStable : kWsFailedAtPreRestore;
    case VSSB_EVENT_POST_RESTORE: return ok ? kWsStable : kWsFailedAtPostRestore;
    case VSSB_EVENT_BACKUP_SHUTDOWN:
      if (!ok) return kWsFailedAtBackupShutdown;
      return current >= kWsFailedAtIdentify ? current : kWsStable;
    case VSSB_EVENT_ABORT:  // a failure stays visible until the next backup starts
      return current >= kWsFailedAtIdentify ? current : kWsStable;
    case VSSB_EVENT_IDENTIFY:
      return current;
  }
  return current;
}

// The restore methods a writer can choose without naming a service or alternate locations.
// restoreIfCanReplace is Microsoft's sample writer's: restoreIfNotThere would make compliant
// requesters refuse to restore over any file still on disk, a corrupt database included.
VSS_RESTOREMETHOD_ENUM RestoreMethodValue(const std::string& name) {
  if (name == "restoreIfNotThere") return VSS_RME_RESTORE_IF_NOT_THERE;
  if (name == "restoreAtReboot") return VSS_RME_RESTORE_AT_REBOOT;
  if (name == "restoreAtRebootIfCannotReplace") return VSS_RME_RESTORE_AT_REBOOT_IF_CANNOT_REPLACE;
  return VSS_RME_RESTORE_IF_CAN_REPLACE;
}

// "logical\name", or the name alone: how components are named across the TypeScript API.
std::string ComponentPath(const std::string& logical_path, const std::string& name) {
  return logical_path.empty() ? name : logical_path + "\\" + name;
}

std::vector<std::string> SelectedComponents(IVssWriterComponents* components) {
  std::vector<std::string> out;
  UINT count = 0;
  if (components == nullptr || FAILED(components->GetComponentCount(&count))) return out;
  for (UINT i = 0; i < count; i++) {
    IVssComponent* component = nullptr;
    if (FAILED(components->GetComponent(i, &component)) || component == nullptr) continue;
    BSTR logical = nullptr;
    BSTR name = nullptr;
    component->GetLogicalPath(&logical);
    component->GetComponentName(&name);
    out.push_back(ComponentPath(Narrow(logical), Narrow(name)));
    SysFreeString(logical);
    SysFreeString(name);
    component->Release();
  }
  return out;
}

// A volume of the set as the handler can match paths against it: its mount points (C:\,
// C:\mnt\data\) and its volume GUID name.
void AddVolumeNames(const wchar_t* volume, std::vector<std::string>* out) {
  std::vector<wchar_t> paths(1024);
  DWORD needed = 0;
  if (!GetVolumePathNamesForVolumeNameW(volume, paths.data(), static_cast<DWORD>(paths.size()), &needed) &&
      GetLastError() == ERROR_MORE_DATA) {
    paths.resize(needed);
    if (!GetVolumePathNamesForVolumeNameW(volume, paths.data(), needed, &needed)) paths[0] = 0;
  }
  for (const wchar_t* p = paths.data(); *p != 0; p += wcslen(p) + 1) out->push_back(Narrow(p));
  const std::string name = Narrow(volume);
  if (std::find(out->begin(), out->end(), name) == out->end()) out->push_back(name);
}

}  // namespace

WindowsWriter::WindowsWriter(WriterMetadata metadata, std::string instance_id,
                             std::shared_ptr<Dispatcher> dispatcher)
    : metadata_(std::move(metadata)), instance_id_(std::move(instance_id)), dispatcher_(std::move(dispatcher)) {
  status_.id = metadata_.id;
  status_.instance_id = instance_id_;
  status_.name = metadata_.name;
  status_.instance_name = metadata_.instance_name;
  status_.state = kWsStable;
}

WindowsWriter::~WindowsWriter() { Stop(); }

void WindowsWriter::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

WriterStatus WindowsWriter::Status() {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void WindowsWriter::Run(const std::function<void(const WriterStepResult&)>& subscribed,
                        const std::function<void(const WriterStepResult&)>& unsubscribed) {
  // The apartment lives as long as the subscription: VSS calls into it on RPC threads of
  // this process's MTA, which must not be torn down under a subscribed writer.
  ComApartment apartment;
  if (FAILED(apartment.hr())) {
    subscribed(WriterStepResult{apartment.hr(), DescribeFailure("CoInitializeEx", apartment.hr()), {}});
    return;
  }
  vssb_writer* writer = vssb_writer_create(&WindowsWriter::OnEvent, this);
  if (writer == nullptr) {
    subscribed(WriterStepResult{static_cast<hresult_t>(E_OUTOFMEMORY), "out of memory", {}});
    return;
  }
  const WriterStepResult result = Subscribe(writer);
  subscribed(result);
  if (result.hr != kS_OK) {
    vssb_writer_destroy(writer);
    return;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_; });
  }
  dispatcher_->Close("writer \"" + metadata_.name + "\" is unsubscribing");
  const HRESULT hr = vssb_writer_unsubscribe(writer);
  vssb_writer_destroy(writer);
  unsubscribed(WriterStepResult{hr, FAILED(hr) ? DescribeFailure("CVssWriter::Unsubscribe", hr) : "", {}});
}

WriterStepResult WindowsWriter::Subscribe(vssb_writer* writer) {
  WriterStepResult result;
  const SecurityResult security = InitializeComSecurity(ComRole::kWriter);
  if (!security.warning.empty()) result.warnings.push_back(security.warning);
  if (FAILED(security.hr)) {
    result.hr = security.hr;
    result.message = DescribeFailure("CoInitializeSecurity", security.hr);
    return result;
  }
  GUID id;
  if (!ParseGuid(metadata_.id, &id)) {
    result.hr = static_cast<hresult_t>(E_INVALIDARG);
    result.message = "writer id \"" + metadata_.id + "\" is not a GUID";
    return result;
  }
  const std::wstring name = Widen(metadata_.name);
  const std::wstring instance = Widen(metadata_.instance_name);
  const auto usage = static_cast<VSS_USAGE_TYPE>(UsageTypeValue(metadata_.usage));
  const auto source = static_cast<VSS_SOURCE_TYPE>(SourceTypeValue(metadata_.source_type));
  HRESULT hr = vssb_writer_initialize(writer, &id, name.c_str(), instance.c_str(), usage, source,
                                      metadata_.freeze_timeout_ms);
  if (hr == S_FALSE) {
    result.hr = S_FALSE;
    result.message =
        "CVssWriter::Initialize returned S_FALSE: VSS does not accept writers while Windows runs in "
        "safe mode or setup is in progress";
    return result;
  }
  if (FAILED(hr)) {
    result.hr = hr;
    result.message = DescribeFailure("CVssWriter::Initialize", hr);
    return result;
  }
  hr = vssb_writer_subscribe(writer);
  if (FAILED(hr)) {
    result.hr = hr;
    result.message = DescribeFailure("CVssWriter::Subscribe", hr);
  }
  return result;
}

int WindowsWriter::OnEvent(void* user, vssb_writer* writer, vssb_event event, void* iface,
                           const GUID* shutdown_set) {
  auto* self = static_cast<WindowsWriter*>(user);
  try {
    if (event == VSSB_EVENT_IDENTIFY) return self->Identify(iface) ? 1 : 0;
    return self->Handle(writer, event, iface, shutdown_set) ? 1 : 0;
  } catch (...) {  // nothing may unwind into vssapi.dll (out of memory is all that can throw)
    if (event != VSSB_EVENT_IDENTIFY) vssb_writer_set_failure(writer, kVSS_E_WRITERERROR_OUTOFRESOURCES);
    return 0;
  }
}

// Answered from the metadata given at construction, on the RPC thread, without JS: VSS sends
// Identify at any time (`vssadmin list writers` does), also while the event loop is busy.
bool WindowsWriter::Identify(void* iface) {
  auto* metadata = static_cast<IVssCreateWriterMetadata*>(iface);
  if (metadata == nullptr) return false;
  for (const Component& c : metadata_.components) {
    const std::wstring logical = Widen(c.logical_path);
    const std::wstring name = Widen(c.name);
    const std::wstring caption = Widen(c.caption);
    const wchar_t* logical_or_null = logical.empty() ? nullptr : logical.c_str();
    HRESULT hr = metadata->AddComponent(VSS_CT_FILEGROUP, logical_or_null, name.c_str(), caption.c_str(),
                                        nullptr, 0, false, true, true, true, 0);
    if (FAILED(hr)) return false;
    for (const FileGroup& f : c.files) {
      const std::wstring path = Widen(f.path);
      const std::wstring spec = Widen(f.filespec);
      hr = metadata->AddFilesToFileGroup(logical_or_null, name.c_str(), path.c_str(), spec.c_str(),
                                         f.recursive, nullptr,
                                         VSS_FSBT_ALL_BACKUP_REQUIRED | VSS_FSBT_ALL_SNAPSHOT_REQUIRED);
      if (FAILED(hr)) return false;
    }
  }
  // PreRestore/PostRestore reach the handlers whatever the method (VSS_WRE_ALWAYS).
  return SUCCEEDED(metadata->SetRestoreMethod(RestoreMethodValue(metadata_.restore_method), nullptr, nullptr,
                                              VSS_WRE_ALWAYS, false));
}

bool WindowsWriter::Handle(vssb_writer* writer, vssb_event event, void* iface, const GUID* shutdown_set) {
  if (event == VSSB_EVENT_FREEZE) {
    std::lock_guard<std::mutex> lock(mu_);
    freeze_started_ = Clock::now();
  }
  EventContext ctx = ContextFor(writer, event, iface, shutdown_set);
  const Outcome outcome = dispatcher_->Dispatch(std::move(ctx), DeadlineFor(event));
  Record(event, outcome);
  if (outcome.ok()) return true;
  // On this RPC thread, before returning: VSS ties the failure to the event it delivered.
  vssb_writer_set_failure(writer, WriterFailureCode(outcome.hr));
  return false;
}

EventContext WindowsWriter::ContextFor(vssb_writer* writer, vssb_event event, void* components,
                                       const GUID* shutdown_set) {
  EventContext ctx;
  ctx.event = EventName(event);
  const GUID set = shutdown_set != nullptr ? *shutdown_set : vssb_writer_current_snapshot_set(writer);
  ctx.snapshot_set_id = GuidString(set);
  ctx.backup_type = BackupTypeName(vssb_writer_current_backup_type(writer));
  const UINT volumes = vssb_writer_current_volume_count(writer);
  for (UINT i = 0; i < volumes; i++) {
    const wchar_t* volume = reinterpret_cast<const wchar_t*>(vssb_writer_current_volume(writer, i));
    if (volume != nullptr) AddVolumeNames(volume, &ctx.volumes);
  }
  // Components are told with PrepareForBackup and the events that carry IVssWriterComponents;
  // the events in between see what PrepareForBackup selected for the same set.
  const bool carries_components = event == VSSB_EVENT_PREPARE_BACKUP || event == VSSB_EVENT_POST_SNAPSHOT ||
                                  event == VSSB_EVENT_BACKUP_COMPLETE || event == VSSB_EVENT_PRE_RESTORE ||
                                  event == VSSB_EVENT_POST_RESTORE;
  std::lock_guard<std::mutex> lock(mu_);
  if (carries_components && vssb_writer_components_selected(writer)) {
    ctx.components = SelectedComponents(static_cast<IVssWriterComponents*>(components));
    selected_for_set_ = ctx.snapshot_set_id;
    selected_ = ctx.components;
  } else if (selected_for_set_ == ctx.snapshot_set_id) {
    ctx.components = selected_;
  }
  return ctx;
}

// Shorter than VSS's own limit, so the writer answers (and says why it failed) before VSS
// gives up on it: Freeze must end inside the freeze window it opens. Thaw and Abort are never
// cut short by it: they release what Freeze took, so their handlers always run, with their own
// handler timeout, however late they arrive (VSS, not the writer, decides a window is over).
Clock::time_point WindowsWriter::DeadlineFor(vssb_event event) {
  const auto now = Clock::now();
  auto deadline = now + std::chrono::milliseconds(metadata_.handler_timeout_ms);
  if (event == VSSB_EVENT_FREEZE) {
    const uint32_t window = metadata_.freeze_timeout_ms;
    const uint32_t margin = std::min<uint32_t>(1000, window / 10);
    std::lock_guard<std::mutex> lock(mu_);
    deadline = std::min(deadline, freeze_started_ + std::chrono::milliseconds(window - margin));
  }
  return deadline;
}

void WindowsWriter::Record(vssb_event event, const Outcome& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  if (event == VSSB_EVENT_PREPARE_BACKUP) {  // a new backup clears the last one's failure
    status_.last_error = kS_OK;
    status_.last_error_message.clear();
  }
  status_.state = StateAfter(event, outcome.ok(), status_.state);
  if (!outcome.ok()) {
    status_.last_error = WriterFailureCode(outcome.hr);
    status_.last_error_message = outcome.message;
  }
}

}  // namespace vssb
