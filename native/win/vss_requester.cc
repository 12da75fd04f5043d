#include "vss_requester.h"

#include <vsbackup.h>
#include <vss.h>
#include <vsserror.h>
#include <vswriter.h>

#include <algorithm>
#include <cwctype>
#include <functional>

#include "wide.h"

namespace vssb {
namespace {

// GUID_NULL without linking uuid.lib: "let VSS choose the provider" and "query everything".
constexpr GUID kDefaultProvider = {};
constexpr GUID kAll = {};

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::wstring Lower(std::wstring s) {
  for (auto& c : s) c = static_cast<wchar_t>(std::towlower(c));
  return s;
}

// "C:" -> "C:\": AddToSnapshotSet wants a mount point with its trailing backslash.
std::wstring MountPointName(const std::string& volume) {
  std::wstring w = Widen(volume);
  if (!w.empty() && w.back() != L'\\') w += L'\\';
  return w;
}

const char* FailedEventOf(int state) {
  switch (state) {
    case kWsFailedAtIdentify: return "identify";
    case kWsFailedAtPrepareBackup: return "prepareBackup";
    case kWsFailedAtPrepareSnapshot: return "prepareSnapshot";
    case kWsFailedAtFreeze: return "freeze";
    case kWsFailedAtThaw: return "thaw";
    case kWsFailedAtPostSnapshot: return "postSnapshot";
    case kWsFailedAtBackupComplete: return "backupComplete";
    case kWsFailedAtPreRestore: return "preRestore";
    case kWsFailedAtPostRestore: return "postRestore";
    case kWsFailedAtBackupShutdown: return "backupShutdown";
    default: return "";
  }
}

bool IsFailed(const WriterStatus& s) { return s.state >= kWsFailedAtIdentify || s.last_error < 0; }

// One component a writer described in its metadata.
struct WriterComponent {
  GUID instance_id;
  GUID writer_id;
  VSS_COMPONENT_TYPE type;
  std::wstring logical_path;
  std::wstring name;
  bool selectable;
  std::vector<FileGroup> files;  // every file group, database and log file
};

bool SameWriter(const WriterComponent& a, const WriterComponent& b) { return IsEqualGUID(a.instance_id, b.instance_id); }

// `a` is an ancestor of `c`: same writer instance, and c's logical path is a's full path or
// lies under it ("Working with Selectability and Logical Paths").
bool IsAncestor(const WriterComponent& a, const WriterComponent& c) {
  if (&a == &c || !SameWriter(a, c)) return false;
  const std::wstring full = Lower(a.logical_path.empty() ? a.name : a.logical_path + L"\\" + a.name);
  const std::wstring path = Lower(c.logical_path);
  return path == full || path.compare(0, full.size() + 1, full + L"\\") == 0;
}

bool IsTopLevel(const std::vector<WriterComponent>& all, const WriterComponent& c) {
  return std::none_of(all.begin(), all.end(), [&](const WriterComponent& a) { return IsAncestor(a, c); });
}

// A required component: non-selectable and top level. A requester that includes any of a
// writer's components must add all of its required ones ("Overview of the Backup Discovery
// Phase"); a non-selectable component under another comes with its ancestor.
bool IsRequired(const std::vector<WriterComponent>& all, const WriterComponent& c) {
  return !c.selectable && IsTopLevel(all, c);
}

// VShadow's automatic selection (select.cpp): a component is excluded when its files, or a
// descendant's, lie off the set's volumes (its component set would be incomplete); a writer is
// left out whole when a required component is excluded, since it cannot then have all of them.
// Of the rest, a component may be included when it is selectable or required; one whose
// ancestor is included comes with that ancestor and is not added itself. A required component
// without files is included.
std::vector<const WriterComponent*> AutoSelect(const std::vector<WriterComponent>& all,
                                               const std::function<bool(const WriterComponent&)>& on_set) {
  const size_t n = all.size();
  std::vector<bool> off_set(n), excluded(n), includable(n);
  for (size_t i = 0; i < n; i++) off_set[i] = !on_set(all[i]);
  for (size_t i = 0; i < n; i++) {
    excluded[i] = off_set[i];
    for (size_t j = 0; j < n && !excluded[i]; j++) excluded[i] = off_set[j] && IsAncestor(all[i], all[j]);
  }
  for (size_t i = 0; i < n; i++) {
    const bool writer_out = std::any_of(all.begin(), all.end(), [&](const WriterComponent& r) {
      return SameWriter(r, all[i]) && IsRequired(all, r) && excluded[static_cast<size_t>(&r - all.data())];
    });
    includable[i] = !writer_out && !excluded[i] && (all[i].selectable || IsTopLevel(all, all[i]));
  }
  std::vector<const WriterComponent*> out;
  for (size_t i = 0; i < n; i++) {
    if (!includable[i]) continue;
    bool covered = false;
    for (size_t j = 0; j < n && !covered; j++) covered = includable[j] && IsAncestor(all[j], all[i]);
    if (!covered) out.push_back(&all[i]);
  }
  return out;
}

std::string PathOf(const WriterComponent& c) {
  const std::string name = Narrow(c.name);
  return c.logical_path.empty() ? name : Narrow(c.logical_path) + "\\" + name;
}

void AppendFiles(IVssWMComponent* component, UINT count,
                 HRESULT (STDMETHODCALLTYPE IVssWMComponent::*get)(UINT, IVssWMFiledesc**),
                 std::vector<FileGroup>* out) {
  for (UINT i = 0; i < count; i++) {
    ComPtr<IVssWMFiledesc> file;
    if (FAILED((component->*get)(i, file.Put())) || !file) continue;
    BSTR path = nullptr;
    BSTR spec = nullptr;
    // The Windows SDK declares GetRecursive(bool*); MinGW's MIDL-generated header has the
    // one-byte `boolean*`. Same size and meaning, different types: MSVC rejects the other.
#if defined(__MINGW64_VERSION_MAJOR)  // MinGW-w64's headers, whichever compiler reads them
    boolean recursive = false;
#else
    bool recursive = false;
#endif
    if (SUCCEEDED(file->GetPath(&path)) && path != nullptr) {
      file->GetFilespec(&spec);
      file->GetRecursive(&recursive);
      out->push_back(FileGroup{Narrow(path), spec != nullptr ? Narrow(spec) : "*", recursive != 0});
    }
    SysFreeString(path);
    SysFreeString(spec);
  }
}

// Reads every writer's components after GatherWriterMetadata, and, when `writers` is given,
// what each writer instance says of itself (what `vss-bridge metadata` shows).
HRESULT ReadComponents(IVssBackupComponents* bc, std::vector<WriterComponent>* out,
                       std::vector<std::pair<std::string, WriterMetadata>>* writers = nullptr) {
  UINT count = 0;
  HRESULT hr = bc->GetWriterMetadataCount(&count);
  if (FAILED(hr)) return hr;
  for (UINT w = 0; w < count; w++) {
    GUID instance_id;
    ComPtr<IVssExamineWriterMetadata> metadata;
    hr = bc->GetWriterMetadata(w, &instance_id, metadata.Put());
    if (FAILED(hr)) return hr;
    GUID instance_again, writer_id;
    BSTR writer_name = nullptr;
    VSS_USAGE_TYPE usage;
    VSS_SOURCE_TYPE source;
    hr = metadata->GetIdentity(&instance_again, &writer_id, &writer_name, &usage, &source);
    if (FAILED(hr)) {
      SysFreeString(writer_name);
      return hr;
    }
    WriterMetadata described;
    described.id = GuidString(writer_id);
    described.name = Narrow(writer_name);
    described.usage = UsageTypeName(usage);
    described.source_type = SourceTypeName(source);
    described.freeze_timeout_ms = 0;
    described.handler_timeout_ms = 0;
    SysFreeString(writer_name);
    UINT includes = 0, excludes = 0, components = 0;
    hr = metadata->GetFileCounts(&includes, &excludes, &components);
    if (FAILED(hr)) return hr;
    for (UINT c = 0; c < components; c++) {
      ComPtr<IVssWMComponent> component;
      if (FAILED(metadata->GetComponent(c, component.Put()))) continue;
      PVSSCOMPONENTINFO info = nullptr;
      if (FAILED(component->GetComponentInfo(&info)) || info == nullptr) continue;
      WriterComponent entry{instance_id, writer_id, info->type,
                            info->bstrLogicalPath != nullptr ? info->bstrLogicalPath : L"",
                            info->bstrComponentName != nullptr ? info->bstrComponentName : L"",
                            info->bSelectable != 0,
                            {}};
      AppendFiles(component.Get(), info->cFileCount, &IVssWMComponent::GetFile, &entry.files);
      AppendFiles(component.Get(), info->cDatabases, &IVssWMComponent::GetDatabaseFile, &entry.files);
      AppendFiles(component.Get(), info->cLogFiles, &IVssWMComponent::GetDatabaseLogFile, &entry.files);
      described.components.push_back(Component{Narrow(entry.logical_path), Narrow(entry.name),
                                               Narrow(info->bstrCaption), entry.files});
      component->FreeComponentInfo(info);
      out->push_back(std::move(entry));
    }
    if (writers != nullptr) writers->emplace_back(GuidString(instance_id), std::move(described));
  }
  return S_OK;
}

HRESULT ReadWriterStatus(IVssBackupComponents* bc, std::vector<WriterStatus>* out) {
  UINT count = 0;
  HRESULT hr = bc->GetWriterStatusCount(&count);
  if (FAILED(hr)) return hr;
  for (UINT i = 0; i < count; i++) {
    GUID instance_id, writer_id;
    BSTR name = nullptr;
    VSS_WRITER_STATE state = VSS_WS_UNKNOWN;
    HRESULT failure = S_OK;
    hr = bc->GetWriterStatus(i, &instance_id, &writer_id, &name, &state, &failure);
    if (FAILED(hr)) return hr;
    WriterStatus s;
    s.id = GuidString(writer_id);
    s.instance_id = GuidString(instance_id);
    s.name = Narrow(name);
    s.state = static_cast<int>(state);
    s.last_error = failure;
    if (FAILED(failure)) s.last_error_message = "the writer reported a failure";
    SysFreeString(name);
    out->push_back(std::move(s));
  }
  return bc->FreeWriterStatus();
}

// Creates the backup components and initializes them for a backup in `context`.
HRESULT OpenBackup(ComPtr<IVssBackupComponents>* bc, LONG context, std::string* message) {
  HRESULT hr = CreateVssBackupComponents(bc->Put());
  if (FAILED(hr)) {
    *message = DescribeFailure("CreateVssBackupComponents", hr);
    return hr;
  }
  hr = (*bc)->InitializeForBackup(nullptr);
  if (FAILED(hr)) {
    *message = DescribeFailure("IVssBackupComponents::InitializeForBackup", hr);
    return hr;
  }
  hr = (*bc)->SetContext(context);
  if (FAILED(hr)) *message = DescribeFailure("IVssBackupComponents::SetContext", hr);
  return hr;
}

// A requester thread: its own MTA and the process's COM security.
HRESULT EnterCom(const ComApartment& apartment, std::string* message) {
  if (FAILED(apartment.hr())) {
    *message = DescribeFailure("CoInitializeEx", apartment.hr());
    return apartment.hr();
  }
  const SecurityResult security = InitializeComSecurity(ComRole::kRequester);
  if (FAILED(security.hr)) *message = DescribeFailure("CoInitializeSecurity", security.hr);
  return security.hr;
}

class Backup {
 public:
  Backup(const BackupRequest& request, CancelToken* cancel, const std::function<void(const Progress&)>& progress)
      : request_(request),
        cancel_(cancel),
        progress_(progress),
        deadline_(start_ + std::chrono::milliseconds(request.timeout_ms)) {}

  SnapshotSetResult Run() {
    ComApartment apartment;
    std::string message;
    HRESULT hr = EnterCom(apartment, &message);
    if (SUCCEEDED(hr)) hr = Sequence(&message);
    if (FAILED(hr)) Fail(hr, message);
    Release();
    result_.duration_ms = MsSince(start_);
    return result_;
  }

 private:
  HRESULT Sequence(std::string* message) {
    HRESULT hr = OpenBackup(&bc_, VSS_CTX_APP_ROLLBACK, message);
    if (FAILED(hr)) return hr;
    const int backup_type = BackupTypeValue(request_.backup_type);
    hr = bc_->SetBackupState(true, false, static_cast<VSS_BACKUP_TYPE>(backup_type), false);
    if (FAILED(hr)) return Failed("IVssBackupComponents::SetBackupState", hr, message);

    hr = Async("identify", [this](IVssAsync** a) { return bc_->GatherWriterMetadata(a); }, message);
    if (FAILED(hr)) return hr;
    std::vector<WriterComponent> components;
    hr = ReadComponents(bc_.Get(), &components);
    if (FAILED(hr)) return Failed("reading the writers' metadata", hr, message);

    hr = bc_->StartSnapshotSet(&set_id_);
    if (FAILED(hr)) return Failed("IVssBackupComponents::StartSnapshotSet", hr, message);
    started_ = true;  // from here on, any failure must call AbortBackup (its documentation)
    result_.snapshot_set_id = GuidString(set_id_);
    std::vector<std::wstring> set_volumes;
    for (const std::string& volume : request_.volumes) {
      std::wstring name = MountPointName(volume);
      GUID snapshot_id;
      hr = bc_->AddToSnapshotSet(&name[0], kDefaultProvider, &snapshot_id);
      if (FAILED(hr)) return Failed("IVssBackupComponents::AddToSnapshotSet(" + volume + ")", hr, message);
      snapshots_.push_back(snapshot_id);
      set_volumes.push_back(VolumeOf(name));
    }
    hr = SelectComponents(components, set_volumes, message);
    if (FAILED(hr)) return hr;
    metadata_read_ = true;

    hr = Async("prepareBackup", [this](IVssAsync** a) { return bc_->PrepareForBackup(a); }, message, kCheckWriters);
    if (FAILED(hr)) return hr;
    // From here on the set's persistent copies may exist (also when DoSnapshotSet fails late or
    // Cancel finds it finished): any failure deletes them.
    snapshot_started_ = true;
    hr = Async("doSnapshotSet", [this](IVssAsync** a) { return bc_->DoSnapshotSet(a); }, message, kCheckWriters);
    if (FAILED(hr)) return hr;
    for (const GUID& id : snapshots_) {
      VSS_SNAPSHOT_PROP prop;
      if (FAILED(bc_->GetSnapshotProperties(id, &prop))) continue;
      result_.snapshots.push_back(SnapshotRecord{GuidString(id), Narrow(prop.m_pwszOriginalVolumeName),
                                                 Narrow(prop.m_pwszSnapshotDeviceObject)});
      VssFreeSnapshotProperties(&prop);
    }
    for (const WriterComponent& c : selected_) {
      bc_->SetBackupSucceeded(c.instance_id, c.writer_id, c.type,
                              c.logical_path.empty() ? nullptr : c.logical_path.c_str(), c.name.c_str(), true);
    }
    hr = Async("backupComplete", [this](IVssAsync** a) { return bc_->BackupComplete(a); }, message);
    if (FAILED(hr)) return hr;
    GatherFinalStatus();
    return S_OK;
  }

  // Named components (with their writers' required ones), or VShadow's automatic selection
  // (AutoSelect): a component with files off the set's volumes is left out (its shadow copy
  // would be inconsistent for its writer).
  HRESULT SelectComponents(const std::vector<WriterComponent>& all, const std::vector<std::wstring>& volumes,
                           std::string* message) {
    std::vector<std::string> wanted = request_.components;
    std::vector<const WriterComponent*> chosen;
    if (request_.components.empty()) {
      chosen = AutoSelect(all, [&](const WriterComponent& c) {
        return std::all_of(c.files.begin(), c.files.end(), [&](const FileGroup& f) {
          const std::wstring v = VolumeOf(Widen(f.path));
          return !v.empty() && std::find(volumes.begin(), volumes.end(), v) != volumes.end();
        });
      });
    } else {
      for (const WriterComponent& c : all) {
        const std::wstring path = Lower(Widen(PathOf(c)));
        auto it = std::find_if(wanted.begin(), wanted.end(),
                               [&](const std::string& w) { return Lower(Widen(w)) == path; });
        if (it == wanted.end()) continue;
        wanted.erase(it);
        // A non-selectable member of a component set comes with its selectable ancestor and
        // "should never be explicitly added" (AddComponent: the result is undefined).
        const auto set = std::find_if(all.begin(), all.end(), [&](const WriterComponent& a) {
          return a.selectable && IsAncestor(a, c);
        });
        if (!c.selectable && set != all.end()) {
          *message = "components: \"" + PathOf(c) + "\" is not selectable for backup and comes with \"" +
                     PathOf(*set) + "\", the component that defines its component set: name that one";
          return E_INVALIDARG;
        }
        chosen.push_back(&c);
      }
      // With any of a writer's components, all its required ones.
      std::vector<const WriterComponent*> required;
      for (const WriterComponent& r : all) {
        const auto same = [&](const WriterComponent* c) { return SameWriter(*c, r); };
        if (IsRequired(all, r) && std::any_of(chosen.begin(), chosen.end(), same) &&
            std::find(chosen.begin(), chosen.end(), &r) == chosen.end()) {
          required.push_back(&r);
        }
      }
      chosen.insert(chosen.end(), required.begin(), required.end());
    }
    for (const WriterComponent* chosen_component : chosen) {
      const WriterComponent& c = *chosen_component;
      const HRESULT hr = bc_->AddComponent(c.instance_id, c.writer_id, c.type,
                                           c.logical_path.empty() ? nullptr : c.logical_path.c_str(),
                                           c.name.c_str());
      if (FAILED(hr)) return Failed("IVssBackupComponents::AddComponent(" + PathOf(c) + ")", hr, message);
      selected_.push_back(c);
    }
    if (!wanted.empty()) {
      *message = "no writer has a component named \"" + wanted.front() +
                 "\" (components are named \"logical path\\name\", or the name alone)";
      return VSS_E_OBJECT_NOT_FOUND;
    }
    return S_OK;
  }

  // GatherWriterStatus: a writer with a selected component that failed an event fails the
  // set, as VShadow checks after PrepareForBackup and after DoSnapshotSet. Writers with
  // nothing selected cannot fail it: one broken third-party writer must not fail every set.
  // The set fails with the writer's error, else with `otherwise`.
  HRESULT CheckWriters(HRESULT otherwise, std::string* message) {
    std::vector<WriterStatus> writers;
    HRESULT hr = Async("gatherWriterStatus", [this](IVssAsync** a) { return bc_->GatherWriterStatus(a); }, message);
    if (FAILED(hr)) return hr;
    hr = ReadWriterStatus(bc_.Get(), &writers);
    if (FAILED(hr)) return Failed("IVssBackupComponents::GetWriterStatus", hr, message);
    SetWriters(writers);
    for (const WriterStatus& w : writers) {
      if (!IsFailed(w) || !IsSelected(w)) continue;
      result_.failed_writer = w.instance_id;
      result_.failed_event = FailedEventOf(w.state);
      *message = "writer \"" + w.name + "\" failed" +
                 (result_.failed_event.empty() ? std::string() : " at " + result_.failed_event);
      return FAILED(w.last_error) ? w.last_error : otherwise;
    }
    return S_OK;
  }

  bool IsSelected(const WriterStatus& w) const {
    return std::any_of(selected_.begin(), selected_.end(),
                       [&](const WriterComponent& c) { return GuidString(c.instance_id) == w.instance_id; });
  }

  void GatherFinalStatus() {
    std::string ignored;
    std::vector<WriterStatus> writers;
    ComPtr<IVssAsync> async;
    if (FAILED(bc_->GatherWriterStatus(async.Put())) ||
        FAILED(WaitForAsync(async.Get(), Clock::now() + std::chrono::seconds(10), nullptr)) ||
        FAILED(ReadWriterStatus(bc_.Get(), &writers))) {
      return;
    }
    SetWriters(writers);
  }

  void SetWriters(const std::vector<WriterStatus>& writers) {
    result_.writers.clear();
    for (const WriterStatus& w : writers) result_.writers.push_back(WriterReport{w, {}});
  }

  // Starts one asynchronous step, waits for it within the set's deadline and records it.
  //
  // A step that sends the writers an event (kCheckWriters) ends as its writers did, as the
  // simulator's phases do: VSS may report such a step succeeded and leave a writer's veto to
  // GatherWriterStatus (a failed Thaw), or fail it on the writers' account
  // (VSS_E_UNEXPECTED_WRITER_ERROR) without naming the writer. So before the step's end is
  // recorded and reported, CheckWriters asks; its GatherWriterStatus is a step of its own,
  // inside this one, and this one's record goes where it started, keeping the phases in order.
  static constexpr bool kCheckWriters = true;
  template <typename Start>
  HRESULT Async(const std::string& phase, Start start, std::string* message, bool check_writers = false) {
    const auto started = Clock::now();
    const size_t position = result_.phases.size();
    Emit(phase, "start");
    ComPtr<IVssAsync> async;
    HRESULT hr = start(async.Put());
    if (SUCCEEDED(hr)) hr = WaitForAsync(async.Get(), deadline_, cancel_);
    EventRecord record;
    record.event = phase;
    record.start_ms = std::chrono::duration<double, std::milli>(started - start_).count();
    record.hr = SUCCEEDED(hr) ? kS_OK : hr;
    if (hr == E_ABORT) {
      record.outcome = "abandoned";
      record.message = *message = "the snapshot set was cancelled during " + phase;
    } else if (hr == HRESULT_FROM_WIN32(ERROR_TIMEOUT)) {
      record.outcome = "timedOut";
      record.message = *message = "the snapshot set did not finish within " +
                                  std::to_string(request_.timeout_ms) + " ms (during " + phase + ")";
    } else if (FAILED(hr)) {
      record.outcome = "failed";
      record.message = *message = DescribeFailure(phase, hr);
    } else {
      record.outcome = "succeeded";
    }
    // A cancelled or timed-out step has no time left to ask the writers (Fail names one).
    if (check_writers && hr != E_ABORT && hr != HRESULT_FROM_WIN32(ERROR_TIMEOUT)) {
      std::string checked;
      const HRESULT writers = CheckWriters(FAILED(hr) ? hr : VSS_E_UNEXPECTED_WRITER_ERROR, &checked);
      if (!result_.failed_writer.empty()) {  // CheckWriters found the writer that failed
        record.outcome = writers == VSS_E_WRITERERROR_TIMEOUT ? "timedOut" : "failed";
        record.hr = writers;
        record.message = checked;
        *message = FAILED(hr) ? checked + " (" + *message + ")" : checked;
        hr = writers;
      } else if (SUCCEEDED(hr) && FAILED(writers)) {
        // GatherWriterStatus itself failed: its own step says so, this one succeeded.
        *message = checked;
        hr = writers;
      }
    }
    record.duration_ms = MsSince(started);
    result_.phases.insert(result_.phases.begin() + static_cast<std::ptrdiff_t>(position), record);
    Emit(phase, "end", record.outcome);
    return hr;
  }

  HRESULT Failed(const std::string& what, HRESULT hr, std::string* message) {
    *message = DescribeFailure(what, hr);
    return hr;
  }

  void Fail(HRESULT hr, const std::string& message) {
    result_.hr = hr;
    result_.message = message;
    if (!bc_) return;
    if (metadata_read_ && result_.failed_writer.empty()) {
      // DoSnapshotSet may fail on its own when a writer vetoed: name the writer that did.
      GatherFinalStatus();
      for (const WriterReport& w : result_.writers) {
        if (!IsFailed(w.status) || !IsSelected(w.status)) continue;
        result_.failed_writer = w.status.instance_id;
        result_.failed_event = FailedEventOf(w.status.state);
        result_.hr = FAILED(w.status.last_error) ? w.status.last_error : hr;
        result_.message = "writer \"" + w.status.name + "\" failed" +
                          (result_.failed_event.empty() ? "" : " at " + result_.failed_event) + " (" + message + ")";
        break;
      }
    }
    // The writers may hold state for this set: tell them it is over (VSS sends Abort when
    // they heard of it, and ignores the call when nothing is under way).
    if (started_) bc_->AbortBackup();
    // Persistent copies stay until deleted (at most 64 a volume): none may outlive a failure.
    if (snapshot_started_) DeleteSetCopies();
  }

  // One copy at a time, so that the caller learns which copies existed and what became of
  // each: VSS_E_OBJECT_NOT_FOUND is a copy the set never made (DoSnapshotSet failed before it).
  void DeleteSetCopies() {
    HRESULT first_failure = S_OK;
    for (const GUID& id : snapshots_) {
      LONG deleted = 0;
      GUID not_deleted = {};
      const HRESULT hr = bc_->DeleteSnapshots(id, VSS_OBJECT_SNAPSHOT, TRUE, &deleted, &not_deleted);
      if (SUCCEEDED(hr) && deleted > 0) {
        result_.deleted_copies.push_back(GuidString(id));
      } else if (FAILED(hr) && hr != VSS_E_OBJECT_NOT_FOUND) {
        result_.undeleted_copies.push_back(GuidString(id));
        if (SUCCEEDED(first_failure)) first_failure = hr;
      }
    }
    const size_t n = result_.deleted_copies.size();
    if (n > 0) {
      result_.message += " (the set's " + std::to_string(n) + " shadow " + (n == 1 ? "copy was" : "copies were") +
                         " deleted)";
    }
    if (FAILED(first_failure)) {
      result_.message += " (" + DescribeFailure("deleting the set's shadow copies", first_failure) + "; " +
                         "delete snapshot set " + result_.snapshot_set_id + " by hand)";
    }
  }

  // Releasing IVssBackupComponents is what sends BackupShutdown to the writers.
  void Release() {
    if (!bc_) return;
    const auto started = Clock::now();
    Emit("backupShutdown", "start");
    if (metadata_read_) bc_->FreeWriterMetadata();
    bc_.Reset();
    EventRecord record;
    record.event = "backupShutdown";
    record.start_ms = std::chrono::duration<double, std::milli>(started - start_).count();
    record.duration_ms = MsSince(started);
    record.outcome = "succeeded";
    result_.phases.push_back(record);
    Emit("backupShutdown", "end", "succeeded");
  }

  void Emit(const std::string& phase, const std::string& status, const std::string& outcome = "") {
    if (!progress_) return;
    Progress p;
    p.phase = phase;
    p.status = status;
    p.outcome = outcome;
    p.elapsed_ms = MsSince(start_);
    progress_(p);
  }

  const BackupRequest& request_;
  CancelToken* const cancel_;
  const std::function<void(const Progress&)>& progress_;
  const Clock::time_point start_ = Clock::now();
  const Clock::time_point deadline_;
  ComPtr<IVssBackupComponents> bc_;
  std::vector<GUID> snapshots_;
  std::vector<WriterComponent> selected_;
  GUID set_id_ = {};
  bool metadata_read_ = false;
  bool started_ = false;           // StartSnapshotSet succeeded
  bool snapshot_started_ = false;  // DoSnapshotSet was called
  SnapshotSetResult result_;
};

}  // namespace

SnapshotSetResult RunBackup(const BackupRequest& request, CancelToken* cancel,
                            const std::function<void(const Progress&)>& progress) {
  return Backup(request, cancel, progress).Run();
}

WriterList ListWriters(uint32_t timeout_ms) {
  WriterList out;
  ComApartment apartment;
  HRESULT hr = EnterCom(apartment, &out.message);
  ComPtr<IVssBackupComponents> bc;
  if (SUCCEEDED(hr)) hr = OpenBackup(&bc, VSS_CTX_BACKUP, &out.message);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int step = 0; SUCCEEDED(hr) && step < 2; step++) {
    ComPtr<IVssAsync> async;
    hr = step == 0 ? bc->GatherWriterMetadata(async.Put()) : bc->GatherWriterStatus(async.Put());
    if (SUCCEEDED(hr)) hr = WaitForAsync(async.Get(), deadline, nullptr);
    if (FAILED(hr)) out.message = DescribeFailure(step == 0 ? "GatherWriterMetadata" : "GatherWriterStatus", hr);
  }
  if (SUCCEEDED(hr)) {
    std::vector<WriterComponent> components;
    hr = ReadComponents(bc.Get(), &components, &out.metadata);
    if (FAILED(hr)) out.message = DescribeFailure("reading the writers' metadata", hr);
  }
  if (SUCCEEDED(hr)) {
    hr = ReadWriterStatus(bc.Get(), &out.writers);
    if (FAILED(hr)) out.message = DescribeFailure("IVssBackupComponents::GetWriterStatus", hr);
    bc->FreeWriterMetadata();
  }
  out.hr = SUCCEEDED(hr) ? kS_OK : hr;
  return out;
}

ShadowCopyList QueryShadowCopies() {
  ShadowCopyList out;
  ComApartment apartment;
  HRESULT hr = EnterCom(apartment, &out.message);
  ComPtr<IVssBackupComponents> bc;
  if (SUCCEEDED(hr)) hr = OpenBackup(&bc, VSS_CTX_ALL, &out.message);
  ComPtr<IVssEnumObject> items;
  if (SUCCEEDED(hr)) {
    hr = bc->Query(kAll, VSS_OBJECT_NONE, VSS_OBJECT_SNAPSHOT, items.Put());
    if (FAILED(hr)) out.message = DescribeFailure("IVssBackupComponents::Query", hr);
  }
  // S_FALSE: there are no shadow copies, and no enumerator.
  while (hr == S_OK && items) {
    VSS_OBJECT_PROP prop;
    ULONG fetched = 0;
    hr = items->Next(1, &prop, &fetched);
    if (hr != S_OK || fetched == 0) break;
    const VSS_SNAPSHOT_PROP& s = prop.Obj.Snap;
    ShadowCopy copy;
    copy.id = GuidString(s.m_SnapshotId);
    copy.set_id = GuidString(s.m_SnapshotSetId);
    copy.volume = Narrow(s.m_pwszOriginalVolumeName);
    copy.device_object = Narrow(s.m_pwszSnapshotDeviceObject);
    copy.provider_id = GuidString(s.m_ProviderId);
    copy.attributes = s.m_lSnapshotAttributes;
    // VSS_TIMESTAMP is a FILETIME: 100 ns ticks since 1601.
    copy.created_ms = static_cast<double>(s.m_tsCreationTimestamp - 116444736000000000LL) / 10000.0;
    out.copies.push_back(std::move(copy));
    VssFreeSnapshotProperties(&prop.Obj.Snap);
  }
  if (FAILED(hr) && out.message.empty()) out.message = DescribeFailure("IVssEnumObject::Next", hr);
  out.hr = FAILED(hr) ? hr : kS_OK;
  return out;
}

DeleteResult DeleteShadowCopies(const std::string& id, bool whole_set) {
  DeleteResult out;
  GUID guid;
  if (!ParseGuid(id, &guid)) {
    out.hr = E_INVALIDARG;
    out.message = "\"" + id + "\" is not a GUID";
    return out;
  }
  ComApartment apartment;
  HRESULT hr = EnterCom(apartment, &out.message);
  ComPtr<IVssBackupComponents> bc;
  if (SUCCEEDED(hr)) hr = OpenBackup(&bc, VSS_CTX_ALL, &out.message);
  if (SUCCEEDED(hr)) {
    LONG deleted = 0;
    GUID not_deleted = {};
    hr = bc->DeleteSnapshots(guid, whole_set ? VSS_OBJECT_SNAPSHOT_SET : VSS_OBJECT_SNAPSHOT, TRUE, &deleted,
                             &not_deleted);
    out.deleted = deleted;
    if (FAILED(hr)) {
      out.message = DescribeFailure("IVssBackupComponents::DeleteSnapshots", hr);
      if (deleted > 0) out.message += " after deleting " + std::to_string(deleted);
    }
  }
  out.hr = FAILED(hr) ? hr : kS_OK;
  return out;
}

std::wstring VolumeOf(const std::wstring& path) {
  wchar_t expanded[MAX_PATH * 2];
  const DWORD n = ExpandEnvironmentStringsW(path.c_str(), expanded, MAX_PATH * 2);
  const std::wstring full = n > 0 && n <= MAX_PATH * 2 ? std::wstring(expanded) : path;
  wchar_t mount[MAX_PATH];
  if (!GetVolumePathNameW(full.c_str(), mount, MAX_PATH)) return std::wstring();
  wchar_t unique[MAX_PATH];
  if (!GetVolumeNameForVolumeMountPointW(mount, unique, MAX_PATH)) return std::wstring();
  return Lower(unique);
}

}  // namespace vssb
