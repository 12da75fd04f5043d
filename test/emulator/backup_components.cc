// The requester side of the emulated vssapi.dll: IVssBackupComponents and its IVssAsync
// operations. The process holding the object plays the VSS service for its backup: it sends
// each event to every writer (writer processes over their pipes, and the third-party writers
// the faults file describes), in VSS's order, and enforces VSS's rules: calls out of order
// answer VSS_E_BAD_STATE, one snapshot set at a time machine-wide, 64 copies a volume,
// persistent copies kept until DeleteSnapshots. Every call is recorded in calls.log.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "emulator.h"

namespace emu {
namespace {

// ---- what the writers described ------------------------------------------------------------
struct FileSpec {
  std::string path, spec;
  bool recursive = false;
};
struct ComponentInfo {
  int type = VSS_CT_FILEGROUP;
  bool selectable = true;
  std::string logical, name, caption;
  std::vector<FileSpec> files;
};
struct KnownWriter {
  DWORD pid = 0;        // 0: a third-party writer the faults file describes
  int phantom = -1;     // its index in Faults::phantoms
  std::string instance, id, name, instance_name;
  int usage = VSS_UT_USERDATA, source = VSS_ST_OTHER;
  DWORD freeze_timeout_ms = 60000;
  int state = VSS_WS_STABLE;
  HRESULT last_error = S_OK;
  std::vector<ComponentInfo> components;
  std::vector<std::pair<std::string, std::string>> selected;  // AddComponent: logical, name
};

// Parses the W/C/F lines a writer process answers IDENTIFY or STATUS with.
std::vector<KnownWriter> ParseWriters(DWORD pid, const std::string& answer) {
  std::vector<KnownWriter> out;
  for (const std::string& line : Split(answer, '\n')) {
    const std::vector<std::string> f = Split(line, '\t');
    if (f[0] == "W" && f.size() >= 10) {
      KnownWriter w;
      w.pid = pid;
      w.instance = f[1];
      w.id = f[2];
      w.state = std::atoi(f[3].c_str());
      w.last_error = ParseHr(f[4]);
      w.usage = std::atoi(f[5].c_str());
      w.source = std::atoi(f[6].c_str());
      w.freeze_timeout_ms = std::strtoul(f[7].c_str(), nullptr, 10);
      w.name = f[8];
      w.instance_name = f[9];
      out.push_back(w);
    } else if (f[0] == "C" && f.size() >= 6 && !out.empty()) {
      out.back().components.push_back(ComponentInfo{std::atoi(f[1].c_str()), f[2] == "1", f[3], f[4], f[5], {}});
    } else if (f[0] == "F" && f.size() >= 4 && !out.empty() && !out.back().components.empty()) {
      out.back().components.back().files.push_back(FileSpec{f[1], f[2], f[3] == "1"});
    }
  }
  return out;
}

// A component's full logical path: its logical path, then its name.
std::string FullPath(const std::string& logical, const std::string& name) {
  return logical.empty() ? name : logical + "\\" + name;
}

// A component whose logical path is `logical` lies under the component whose full logical path
// is `full`: that one is its ancestor ("Logical Pathing of Components").
bool Under(const std::string& logical, const std::string& full) {
  const std::string path = Lower(logical), parent = Lower(full);
  return path == parent || path.compare(0, parent.size() + 1, parent + "\\") == 0;
}

// A selectable ancestor of `c`: `c` is in that component's set.
const ComponentInfo* SelectableAncestor(const KnownWriter& w, const ComponentInfo& c) {
  for (const ComponentInfo& a : w.components) {
    if (&a != &c && a.selectable && Under(c.logical, FullPath(a.logical, a.name))) return &a;
  }
  return nullptr;
}

// `c` was added to the Backup Components Document, or comes with an ancestor that was.
bool Included(const KnownWriter& w, const ComponentInfo& c) {
  return std::any_of(w.selected.begin(), w.selected.end(), [&](const std::pair<std::string, std::string>& s) {
    return (s.first == c.logical && s.second == c.name) || Under(c.logical, FullPath(s.first, s.second));
  });
}

KnownWriter FromPhantom(const PhantomWriter& p, int index) {
  KnownWriter w;
  w.phantom = index;
  w.instance = p.instance_id;
  w.id = p.writer_id;
  w.name = p.name;
  w.state = p.state;
  w.last_error = p.last_error;
  if (p.stuck_state != 0) return w;  // a stuck writer takes part in nothing and describes nothing
  for (const PhantomComponent& c : p.components) {
    ComponentInfo info{VSS_CT_FILEGROUP, c.selectable, c.logical, c.name, c.name, {}};
    if (!c.path.empty()) info.files.push_back(FileSpec{c.path, "*", true});
    w.components.push_back(info);
  }
  if (p.components.empty()) {
    w.components.push_back(
        ComponentInfo{VSS_CT_FILEGROUP, true, p.name, "data", p.name, {FileSpec{"C:\\vssemu-data\\" + p.name, "*", true}}});
  }
  return w;
}

// ---- IVssWMFiledesc, IVssWMComponent, IVssExamineWriterMetadata -----------------------------
struct Filedesc : Counted<IVssWMFiledesc, Filedesc> {
  FileSpec file;
  static Filedesc* Self(IVssWMFiledesc* p) { return static_cast<Filedesc*>(p); }
  static HRESULT STDMETHODCALLTYPE GetPath(IVssWMFiledesc* p, BSTR* out) {
    *out = Bstr(Self(p)->file.path);
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetFilespec(IVssWMFiledesc* p, BSTR* out) {
    *out = Bstr(Self(p)->file.spec);
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetRecursive(IVssWMFiledesc* p, boolean* out) {
    *out = Self(p)->file.recursive;
    return S_OK;
  }
  explicit Filedesc(FileSpec f) : file(std::move(f)) {
    static IVssWMFiledescVtbl vtbl = [] {
      IVssWMFiledescVtbl v;
      Base(&v);
      v.GetPath = &GetPath;
      v.GetFilespec = &GetFilespec;
      v.GetRecursive = &GetRecursive;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

struct WMComponent : Counted<IVssWMComponent, WMComponent> {
  ComponentInfo info;
  static WMComponent* Self(IVssWMComponent* p) { return static_cast<WMComponent*>(p); }
  static HRESULT STDMETHODCALLTYPE GetComponentInfo(IVssWMComponent* p, PVSSCOMPONENTINFO* out) {
    const ComponentInfo& c = Self(p)->info;
    auto* info = static_cast<VSS_COMPONENTINFO*>(CoTaskMemAlloc(sizeof(VSS_COMPONENTINFO)));
    if (info == nullptr) return E_OUTOFMEMORY;
    std::memset(info, 0, sizeof *info);
    info->type = static_cast<VSS_COMPONENT_TYPE>(c.type);
    info->bstrLogicalPath = Bstr(c.logical);
    info->bstrComponentName = Bstr(c.name);
    info->bstrCaption = Bstr(c.caption);
    info->bSelectable = c.selectable;
    info->bNotifyOnBackupComplete = true;
    info->cFileCount = static_cast<UINT>(c.files.size());
    *out = info;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE FreeComponentInfo(IVssWMComponent*, PVSSCOMPONENTINFO info) {
    if (info == nullptr) return S_OK;
    SysFreeString(info->bstrLogicalPath);
    SysFreeString(info->bstrComponentName);
    SysFreeString(info->bstrCaption);
    CoTaskMemFree(const_cast<VSS_COMPONENTINFO*>(info));
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetFile(IVssWMComponent* p, UINT i, IVssWMFiledesc** out) {
    if (i >= Self(p)->info.files.size()) return E_INVALIDARG;
    *out = new Filedesc(Self(p)->info.files[i]);
    return S_OK;
  }
  explicit WMComponent(ComponentInfo c) : info(std::move(c)) {
    static IVssWMComponentVtbl vtbl = [] {
      IVssWMComponentVtbl v;
      Base(&v);
      v.GetComponentInfo = &GetComponentInfo;
      v.FreeComponentInfo = &FreeComponentInfo;
      v.GetFile = &GetFile;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

struct ExamineMetadata : Counted<IVssExamineWriterMetadata, ExamineMetadata> {
  KnownWriter writer;
  static ExamineMetadata* Self(IVssExamineWriterMetadata* p) { return static_cast<ExamineMetadata*>(p); }
  static HRESULT STDMETHODCALLTYPE GetIdentity(IVssExamineWriterMetadata* p, VSS_ID* instance, VSS_ID* id, BSTR* name,
                                               VSS_USAGE_TYPE* usage, VSS_SOURCE_TYPE* source) {
    const KnownWriter& w = Self(p)->writer;
    ParseGuidText(w.instance, instance);
    ParseGuidText(w.id, id);
    *name = Bstr(w.name);
    *usage = static_cast<VSS_USAGE_TYPE>(w.usage);
    *source = static_cast<VSS_SOURCE_TYPE>(w.source);
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetFileCounts(IVssExamineWriterMetadata* p, UINT* includes, UINT* excludes,
                                                 UINT* components) {
    *includes = 0;
    *excludes = 0;
    *components = static_cast<UINT>(Self(p)->writer.components.size());
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetComponent(IVssExamineWriterMetadata* p, UINT i, IVssWMComponent** out) {
    if (i >= Self(p)->writer.components.size()) return E_INVALIDARG;
    *out = new WMComponent(Self(p)->writer.components[i]);
    return S_OK;
  }
  explicit ExamineMetadata(KnownWriter w) : writer(std::move(w)) {
    static IVssExamineWriterMetadataVtbl vtbl = [] {
      IVssExamineWriterMetadataVtbl v;
      Base(&v);
      v.GetIdentity = &GetIdentity;
      v.GetFileCounts = &GetFileCounts;
      v.GetComponent = &GetComponent;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

// ---- persistent shadow copies: copies.txt, under copies.lock --------------------------------
struct Copy {
  std::string id, set_id, volume, original, device;
  LONGLONG created = 0;
  LONG context = 0;
};

std::vector<Copy> ReadCopies() {
  std::vector<Copy> out;
  for (const std::string& line : Split(ReadText(EmulatorPath(L"copies.txt")), '\n')) {
    const std::vector<std::string> f = Split(line, '\t');
    if (f.size() < 7) continue;
    out.push_back(Copy{f[0], f[1], f[2], f[3], f[4], std::atoll(f[5].c_str()), std::atol(f[6].c_str())});
  }
  return out;
}

void WriteCopies(const std::vector<Copy>& copies) {
  std::string text;
  for (const Copy& c : copies) {
    text += c.id + "\t" + c.set_id + "\t" + c.volume + "\t" + c.original + "\t" + c.device + "\t" +
            std::to_string(c.created) + "\t" + std::to_string(c.context) + "\n";
  }
  WriteText(EmulatorPath(L"copies.txt"), text);
}

// Runs `f` on the copies under the lock; false when the lock could not be had in time.
bool WithCopies(const std::function<void(std::vector<Copy>*)>& f) {
  const HANDLE lock = LockFile(L"copies.lock", 10000);
  if (lock == INVALID_HANDLE_VALUE) return false;
  std::vector<Copy> copies = ReadCopies();
  f(&copies);
  WriteCopies(copies);
  CloseHandle(lock);
  return true;
}

// HarddiskVolumeShadowCopyN numbers are never reused while the copies exist: a counter file.
int NextCopyNumber() {
  const std::wstring path = EmulatorPath(L"copy-number");
  const int n = std::atoi(ReadText(path).c_str()) + 1;
  WriteText(path, std::to_string(n));
  return n;
}

// "c:" -> "c:\" (lower case): how the emulator names a volume of a set.
std::string MountPoint(const std::string& v) {
  std::string out = Lower(v);
  if (out.empty() || out.back() != '\\') out += '\\';
  return out;
}

std::string VolumeNameOf(const std::string& mount) {
  wchar_t name[MAX_PATH];
  if (GetVolumeNameForVolumeMountPointW(Widen(mount).c_str(), name, MAX_PATH)) return Narrow(name);
  return mount;
}

LONGLONG Now() {
  FILETIME ft;
  GetSystemTimeAsFileTime(&ft);
  return (static_cast<LONGLONG>(ft.dwHighDateTime) << 32) | ft.dwLowDateTime;
}

// ---- IVssEnumObject over the copies a Query found ---------------------------------------------
struct EnumCopies : Counted<IVssEnumObject, EnumCopies> {
  std::vector<Copy> copies;
  size_t next = 0;
  static EnumCopies* Self(IVssEnumObject* p) { return static_cast<EnumCopies*>(p); }
  static HRESULT STDMETHODCALLTYPE Next(IVssEnumObject* p, ULONG count, VSS_OBJECT_PROP* out, ULONG* fetched) {
    EnumCopies* self = Self(p);
    ULONG n = 0;
    for (; n < count && self->next < self->copies.size(); n++, self->next++) {
      const Copy& c = self->copies[self->next];
      VSS_OBJECT_PROP& prop = out[n];
      std::memset(&prop, 0, sizeof prop);
      prop.Type = VSS_OBJECT_SNAPSHOT;
      VSS_SNAPSHOT_PROP& s = prop.Obj.Snap;
      ParseGuidText(c.id, &s.m_SnapshotId);
      ParseGuidText(c.set_id, &s.m_SnapshotSetId);
      s.m_lSnapshotsCount = 1;
      s.m_pwszSnapshotDeviceObject = CoTaskString(c.device);
      s.m_pwszOriginalVolumeName = CoTaskString(c.original);
      s.m_lSnapshotAttributes = c.context;
      s.m_tsCreationTimestamp = c.created;
      s.m_eStatus = VSS_SS_CREATED;
    }
    *fetched = n;
    return n == count ? S_OK : S_FALSE;
  }
  explicit EnumCopies(std::vector<Copy> c) : copies(std::move(c)) {
    static IVssEnumObjectVtbl vtbl = [] {
      IVssEnumObjectVtbl v;
      Base(&v);
      v.Next = &Next;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

// ---- IVssAsync ---------------------------------------------------------------------------------
// An operation on its own thread. Cancel asks it to stop at its next step; with the
// cancel-finishes fault the operation instead finishes, and Cancel reports that it had.
struct Operation {
  std::mutex mu;
  std::condition_variable cv;
  HRESULT status = VSS_S_ASYNC_PENDING;  // or FINISHED, CANCELLED, a failure
  bool cancel_requested = false;
  bool cancel_finishes = false;
  bool Cancelled() {
    std::lock_guard<std::mutex> lock(mu);
    return cancel_requested && !cancel_finishes;
  }
  // Sleeps up to `ms`, waking when asked to cancel (or, with cancel-finishes, to hurry).
  void Pause(DWORD ms) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return cancel_requested; });
  }
  void Finish(HRESULT hr) {
    std::lock_guard<std::mutex> lock(mu);
    status = hr;
    cv.notify_all();
  }
};

struct Async : Counted<IVssAsync, Async> {
  std::shared_ptr<Operation> op;
  std::string what;
  static Async* Self(IVssAsync* p) { return static_cast<Async*>(p); }
  static HRESULT STDMETHODCALLTYPE Cancel(IVssAsync* p) {
    Operation& op = *Self(p)->op;
    std::unique_lock<std::mutex> lock(op.mu);
    HRESULT hr;
    if (op.status == VSS_S_ASYNC_CANCELLED) {
      hr = VSS_S_ASYNC_CANCELLED;
    } else if (op.status != VSS_S_ASYNC_PENDING) {
      hr = VSS_S_ASYNC_FINISHED;
    } else {
      op.cancel_requested = true;
      op.cv.notify_all();
      hr = S_OK;
      if (op.cancel_finishes) {  // the race: the operation completes as Cancel arrives
        op.cv.wait_for(lock, std::chrono::seconds(60), [&] { return op.status != VSS_S_ASYNC_PENDING; });
        if (op.status != VSS_S_ASYNC_PENDING) hr = VSS_S_ASYNC_FINISHED;
      }
    }
    lock.unlock();
    Record("IVssAsync::Cancel " + Self(p)->what + " " + Hex(hr));
    return hr;
  }
  static HRESULT STDMETHODCALLTYPE Wait(IVssAsync* p, DWORD ms) {
    Operation& op = *Self(p)->op;
    std::unique_lock<std::mutex> lock(op.mu);
    const auto done = [&] { return op.status != VSS_S_ASYNC_PENDING; };
    if (ms == INFINITE) {
      op.cv.wait(lock, done);
    } else if (!op.cv.wait_for(lock, std::chrono::milliseconds(ms), done)) {
      return HRESULT_FROM_WIN32(ERROR_TIMEOUT);
    }
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE QueryStatus(IVssAsync* p, HRESULT* result, INT*) {
    Operation& op = *Self(p)->op;
    std::lock_guard<std::mutex> lock(op.mu);
    *result = op.status;
    return S_OK;
  }
  Async(std::shared_ptr<Operation> o, std::string w) : op(std::move(o)), what(std::move(w)) {
    static IVssAsyncVtbl vtbl = [] {
      IVssAsyncVtbl v;
      Base(&v);
      v.Cancel = &Cancel;
      v.Wait = &Wait;
      v.QueryStatus = &QueryStatus;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

// ---- IVssBackupComponents ---------------------------------------------------------------------
struct Answer {
  bool answered = false;
  bool failed = false;
  int state = VSS_WS_UNKNOWN;
  HRESULT error = S_OK;
};

struct Backup : Counted<IVssBackupComponents, Backup> {
  std::mutex mu;
  Faults faults = ReadFaults();
  bool initialized = false;
  LONG context = VSS_CTX_BACKUP;
  VSS_BACKUP_TYPE backup_type = VSS_BT_FULL;
  bool select_components = false;
  bool busy = false;  // an asynchronous operation is running
  std::vector<KnownWriter> writers;       // GatherWriterMetadata's
  bool metadata = false;
  std::vector<KnownWriter> statuses;  // GatherWriterStatus's
  bool status_gathered = false;
  HANDLE set_lock = INVALID_HANDLE_VALUE;
  GUID set{};
  bool set_started = false, prepared = false, snapshotted = false, completed = false, aborted = false;
  bool events_sent = false;  // the writers heard of this set (PrepareForBackup went out)
  bool post_snapshot_sent = false;  // from here on VSS sends no Abort (vss_rules.h)
  struct Member {
    GUID id;
    std::string mount;
  };
  std::vector<Member> members;  // AddToSnapshotSet
  std::vector<Copy> made;       // the copies DoSnapshotSet made

  static Backup* Self(IVssBackupComponents* p) { return static_cast<Backup*>(p); }

  // The checks every call makes first; records the call when it is refused.
  HRESULT Refuse(const char* call, bool ok_state) {
    if (busy) {
      Record(std::string("IVssBackupComponents::") + call + " VSS_E_BAD_STATE (an asynchronous operation is running)");
      return VSS_E_BAD_STATE;
    }
    if (!ok_state) {
      Record(std::string("IVssBackupComponents::") + call + " VSS_E_BAD_STATE (out of order)");
      return VSS_E_BAD_STATE;
    }
    return S_OK;
  }

  // Sends `event` to every writer taking part, at once, and waits for all answers (each
  // within its own deadline: the freeze window for Freeze and Thaw, else the writer timeout).
  // Writers that did not answer in time failed the event with VSS_E_WRITERERROR_TIMEOUT.
  std::vector<Answer> Send(const std::string& event, Operation* op) {
    struct Shared {
      std::mutex mu;
      std::condition_variable cv;
      std::vector<Answer> answers;
      size_t left;
    };
    auto shared = std::make_shared<Shared>();
    shared->answers.resize(writers.size());
    shared->left = writers.size();
    std::vector<Clock::time_point> deadlines;
    std::string set_text = GuidText(set);
    for (size_t i = 0; i < writers.size(); i++) {
      KnownWriter& w = writers[i];
      const bool window = event == "freeze" || event == "thaw";
      const DWORD limit = window ? std::min<DWORD>(w.freeze_timeout_ms, faults.writer_timeout_ms) : faults.writer_timeout_ms;
      const auto deadline = Clock::now() + std::chrono::milliseconds(limit);
      deadlines.push_back(deadline);
      const auto settle = [shared, i](Answer a) {
        std::lock_guard<std::mutex> lock(shared->mu);
        a.answered = true;
        shared->answers[i] = a;
        shared->left--;
        shared->cv.notify_all();
      };
      // In component mode a writer none of whose components the requester added "receive[s]
      // no events after this point" ("Working with Selectability and Logical Paths"): VSS
      // "inhibits that writer from participating" ("Overview of the Backup Discovery Phase").
      if (select_components && w.selected.empty()) {
        settle(Answer{true, false, w.state, w.last_error});
        continue;
      }
      if (w.phantom >= 0) {
        PhantomWriter& p = faults.phantoms[w.phantom];
        if (p.stuck_state != 0) {
          settle(Answer{true, false, p.state, p.last_error});
          continue;
        }
        if (p.hang_event == event) continue;  // never answers
        const bool fails = p.fail_event == event;
        if (event == "prepareBackup") p.last_error = S_OK;
        p.state = StateAfterEvent(event, !fails, p.state);
        if (fails) p.last_error = p.fail_hr;
        settle(Answer{true, fails, p.state, p.last_error});
        continue;
      }
      std::string request = "EVENT\t" + w.instance + "\t" + event + "\t" + set_text + "\t" +
                            std::to_string(backup_type) + "\t" + (select_components ? "1" : "0") + "\n";
      // GetCurrentVolumeArray gives the volumes' unique names (\\?\Volume{...}\), as VSS does.
      for (const Member& m : members) request += "V\t" + VolumeNameOf(m.mount) + "\n";
      for (const auto& s : w.selected) request += "S\t" + s.first + "\t" + s.second + "\n";
      const DWORD pid = w.pid;
      std::thread([request, pid, deadline, settle] {
        std::string answer;
        Answer a;
        if (CallWriterProcess(pid, request, deadline, &answer)) {
          const std::vector<std::string> f = Split(answer, '\t');
          if (f[0] == "R" && f.size() >= 5) {
            a.failed = f[1] != "1" || FAILED(ParseHr(f[2]));
            a.state = std::atoi(f[3].c_str());
            a.error = ParseHr(f[4]);
            settle(a);
            return;
          }
          // The writer unsubscribed or went away: it takes no further part.
          a.state = VSS_WS_UNKNOWN;
          settle(a);
        }
      }).detach();
    }
    const auto last = deadlines.empty() ? Clock::now() : *std::max_element(deadlines.begin(), deadlines.end());
    std::unique_lock<std::mutex> lock(shared->mu);
    while (shared->left > 0 && Clock::now() < last && !(op != nullptr && op->Cancelled())) {
      shared->cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    std::vector<Answer> answers = shared->answers;
    lock.unlock();
    for (size_t i = 0; i < writers.size(); i++) {
      Answer& a = answers[i];
      if (!a.answered) {
        // VSS gave up on the writer: it failed this event by timing out.
        a.failed = true;
        a.error = VSS_E_WRITERERROR_TIMEOUT;
        a.state = StateAfterEvent(event, false, writers[i].state);
        if (writers[i].pid != 0) {
          std::string ignored;
          CallWriterProcess(writers[i].pid, "TIMEOUT\t" + writers[i].instance + "\t" + event,
                            Clock::now() + std::chrono::seconds(2), &ignored);
        } else {
          PhantomWriter& p = faults.phantoms[writers[i].phantom];
          p.state = a.state;
          p.last_error = a.error;
        }
        Record("writer-timed-out " + writers[i].name + " " + event);
      }
      writers[i].state = a.state;
      if (a.failed) writers[i].last_error = a.error;
    }
    Record("event " + event + " " + GuidText(set));
    return answers;
  }

  static bool AnyFailed(const std::vector<Answer>& answers) {
    return std::any_of(answers.begin(), answers.end(), [](const Answer& a) { return a.failed; });
  }

  // Runs `body` as an IVssAsync operation; the object is busy until it ends.
  HRESULT Start(const char* call, IVssAsync** out, std::function<HRESULT(Operation*)> body) {
    auto op = std::make_shared<Operation>();
    op->cancel_finishes = faults.cancel_finishes;
    busy = true;
    Record(std::string("IVssBackupComponents::") + call);
    AddRef(this);
    std::string name = call;
    std::thread([this, op, body, name] {
      const HRESULT hr = body(op.get());
      {
        std::lock_guard<std::mutex> lock(mu);
        busy = false;
      }
      const bool cancelled = op->Cancelled();
      op->Finish(cancelled ? VSS_S_ASYNC_CANCELLED : FAILED(hr) ? hr : VSS_S_ASYNC_FINISHED);
      Record("async " + name + " " + (cancelled ? std::string("cancelled") : Hex(FAILED(hr) ? hr : S_OK)));
      Release(this);
    }).detach();
    *out = new Async(op, call);
    return S_OK;
  }

  // ---- the methods ---------------------------------------------------------------------------
  static HRESULT STDMETHODCALLTYPE InitializeForBackup(IVssBackupComponents* p, BSTR xml) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    Record("IVssBackupComponents::InitializeForBackup");
    if (xml != nullptr) return E_NOTIMPL;
    if (b->initialized) return VSS_E_BAD_STATE;
    b->initialized = true;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE SetContext(IVssBackupComponents* p, LONG context) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    Record("IVssBackupComponents::SetContext " + std::to_string(context));
    if (HRESULT hr = b->Refuse("SetContext", b->initialized && !b->set_started)) return hr;
    b->context = context;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE SetBackupState(IVssBackupComponents* p, boolean select, boolean, VSS_BACKUP_TYPE type,
                                                  boolean) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    Record("IVssBackupComponents::SetBackupState " + std::to_string(type));
    if (HRESULT hr = b->Refuse("SetBackupState", b->initialized && !b->prepared)) return hr;
    if (type < VSS_BT_FULL || type > VSS_BT_OTHER) return E_INVALIDARG;
    b->select_components = select;
    b->backup_type = type;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GatherWriterMetadata(IVssBackupComponents* p, IVssAsync** out) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("GatherWriterMetadata", b->initialized && !b->prepared)) return hr;
    return b->Start("GatherWriterMetadata", out, [b](Operation*) {
      std::vector<KnownWriter> found;
      for (DWORD pid : WriterProcesses()) {
        std::string answer;
        const auto deadline = Clock::now() + std::chrono::milliseconds(b->faults.writer_timeout_ms);
        if (!CallWriterProcess(pid, "IDENTIFY", deadline, &answer)) continue;
        for (KnownWriter& w : ParseWriters(pid, answer)) found.push_back(std::move(w));
      }
      for (size_t i = 0; i < b->faults.phantoms.size(); i++) found.push_back(FromPhantom(b->faults.phantoms[i], static_cast<int>(i)));
      std::lock_guard<std::mutex> lock(b->mu);
      b->writers = std::move(found);
      b->metadata = true;
      return S_OK;
    });
  }
  static HRESULT STDMETHODCALLTYPE GetWriterMetadataCount(IVssBackupComponents* p, UINT* count) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("GetWriterMetadataCount", b->metadata)) return hr;
    *count = static_cast<UINT>(b->writers.size());
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetWriterMetadata(IVssBackupComponents* p, UINT i, VSS_ID* instance,
                                                     IVssExamineWriterMetadata** out) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("GetWriterMetadata", b->metadata)) return hr;
    if (i >= b->writers.size()) return E_INVALIDARG;
    ParseGuidText(b->writers[i].instance, instance);
    *out = new ExamineMetadata(b->writers[i]);
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE FreeWriterMetadata(IVssBackupComponents* p) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    Record("IVssBackupComponents::FreeWriterMetadata");
    return b->Refuse("FreeWriterMetadata", true);  // the writers stay known to the set
  }
  static HRESULT STDMETHODCALLTYPE AddComponent(IVssBackupComponents* p, VSS_ID instance, VSS_ID, VSS_COMPONENT_TYPE,
                                                LPCWSTR logical, LPCWSTR name) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    const std::string l = Narrow(logical), n = Narrow(name);
    Record("IVssBackupComponents::AddComponent " + l + "\\" + n);
    if (HRESULT hr = b->Refuse("AddComponent", b->metadata && !b->prepared)) return hr;
    for (KnownWriter& w : b->writers) {
      if (w.instance != GuidText(instance)) continue;
      for (const ComponentInfo& c : w.components) {
        if (c.logical != l || c.name != n) continue;
        // AddComponent's remarks: a non-selectable component with a selectable ancestor is a
        // member of that ancestor's component set, comes in with it, and "should never be
        // explicitly added"; "the result of doing so is undefined". A selectable one with a
        // selectable ancestor may be added. Microsoft documents no code for the refusal;
        // E_INVALIDARG is AddComponent's documented answer to a parameter that is not valid.
        const ComponentInfo* a = c.selectable ? nullptr : SelectableAncestor(w, c);
        if (a != nullptr) {
          Record("IVssBackupComponents::AddComponent E_INVALIDARG (" + l + "\\" + n + " is in the component set of " +
                 a->logical + "\\" + a->name + ")");
          return E_INVALIDARG;
        }
        if (std::find(w.selected.begin(), w.selected.end(), std::make_pair(l, n)) != w.selected.end()) {
          return VSS_E_OBJECT_ALREADY_EXISTS;
        }
        w.selected.emplace_back(l, n);
        return S_OK;
      }
    }
    return VSS_E_OBJECT_NOT_FOUND;
  }
  static HRESULT STDMETHODCALLTYPE StartSnapshotSet(IVssBackupComponents* p, VSS_ID* id) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    const bool writers_needed = (b->context & VSS_VOLSNAP_ATTR_NO_WRITERS) == 0;
    if (HRESULT hr = b->Refuse("StartSnapshotSet", b->initialized && !b->set_started && (b->metadata || !writers_needed))) {
      return hr;
    }
    b->set_lock = LockFile(L"set.lock", 0);
    if (b->set_lock == INVALID_HANDLE_VALUE) {
      Record("IVssBackupComponents::StartSnapshotSet VSS_E_SNAPSHOT_SET_IN_PROGRESS");
      return VSS_E_SNAPSHOT_SET_IN_PROGRESS;
    }
    b->set = NewGuid();
    b->set_started = true;
    *id = b->set;
    Record("IVssBackupComponents::StartSnapshotSet " + GuidText(b->set));
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE AddToSnapshotSet(IVssBackupComponents* p, VSS_PWSZ volume, VSS_ID, VSS_ID* id) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    const std::string mount = MountPoint(Narrow(volume));
    if (HRESULT hr = b->Refuse("AddToSnapshotSet", b->set_started && !b->prepared)) return hr;
    HRESULT hr = S_OK;
    wchar_t root[MAX_PATH];
    const auto& unsupported = b->faults.unsupported_volumes;
    if (std::find(unsupported.begin(), unsupported.end(), mount) != unsupported.end()) {
      hr = VSS_E_VOLUME_NOT_SUPPORTED;
    } else if (!GetVolumePathNameW(Widen(mount).c_str(), root, MAX_PATH) || Lower(Narrow(root)) != mount) {
      hr = VSS_E_OBJECT_NOT_FOUND;  // not a volume's mount point
    } else if (std::any_of(b->members.begin(), b->members.end(), [&](const Member& m) { return m.mount == mount; })) {
      hr = VSS_E_OBJECT_ALREADY_EXISTS;
    } else {
      size_t existing = 0;
      for (const Copy& c : ReadCopies()) existing += c.volume == mount ? 1 : 0;
      if (existing >= 64) hr = VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED;
    }
    Record("IVssBackupComponents::AddToSnapshotSet " + mount + " " + Hex(hr));
    if (FAILED(hr)) return hr;
    b->members.push_back(Member{NewGuid(), mount});
    *id = b->members.back().id;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE PrepareForBackup(IVssBackupComponents* p, IVssAsync** out) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("PrepareForBackup", b->set_started && !b->prepared && !b->aborted && !b->members.empty())) {
      return hr;
    }
    b->prepared = true;
    b->events_sent = true;
    if (b->select_components) b->RecordSelection();
    return b->Start("PrepareForBackup", out, [b](Operation* op) {
      const std::vector<Answer> answers = b->Send("prepareBackup", op);
      if (op->Cancelled()) return b->Interrupt(op);
      if (AnyFailed(answers)) return b->EndByWriter(op);
      return S_OK;
    });
  }
  // The Backup Components Document as PrepareForBackup hands it to the writers: each writer's
  // explicitly added components ("selection <writer>: <components>", "-" for none), and each
  // required component left out of a writer that has some ("required-left-out <writer>:
  // <component>"). A requester that includes any of a writer's components "must add all of its
  // required components" (nonselectable, no selectable ancestor: "Overview of the Backup
  // Discovery Phase", "Use of Components by the Requester"), but neither PrepareForBackup nor
  // AddComponent documents an error for one that does not: the emulator refuses nothing here
  // and only records, for tests to check the requester.
  void RecordSelection() {
    for (const KnownWriter& w : writers) {
      std::string list;
      for (const auto& s : w.selected) list += (list.empty() ? "" : ", ") + s.first + "\\" + s.second;
      Record("selection " + w.name + ": " + (list.empty() ? "-" : list));
      if (w.selected.empty()) continue;
      for (const ComponentInfo& c : w.components) {
        if (c.selectable || SelectableAncestor(w, c) != nullptr || Included(w, c)) continue;
        Record("required-left-out " + w.name + ": " + c.logical + "\\" + c.name);
      }
    }
  }
  // The set cannot go on: every writer gets Abort; the operation reports it.
  HRESULT EndByWriter(Operation* op) {
    Send("abort", op);
    aborted = true;
    return VSS_E_UNEXPECTED_WRITER_ERROR;
  }
  HRESULT Interrupt(Operation* op) {
    Send("abort", nullptr);
    aborted = true;
    (void)op;
    return E_ABORT;
  }
  static HRESULT STDMETHODCALLTYPE DoSnapshotSet(IVssBackupComponents* p, IVssAsync** out) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("DoSnapshotSet", b->prepared && !b->snapshotted && !b->aborted)) return hr;
    b->snapshotted = true;
    return b->Start("DoSnapshotSet", out, [b](Operation* op) { return b->RunSnapshot(op); });
  }
  // Until calls.log (every process's records, "<pid> <what>") has a record starting with
  // `what`, the writer timeout passes, or the operation is cancelled.
  void WaitForRecord(const std::string& what, Operation* op) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(faults.writer_timeout_ms);
    while (Clock::now() < deadline && !op->Cancelled()) {
      for (const std::string& line : Split(ReadText(EmulatorPath(L"calls.log")), '\n')) {
        const size_t space = line.find(' ');
        if (space != std::string::npos && line.compare(space + 1, what.size(), what) == 0) return;
      }
      op->Pause(20);
    }
  }
  HRESULT RunSnapshot(Operation* op) {
    if (AnyFailed(Send("prepareSnapshot", op))) {
      aborted = true;  // no Abort after PrepareForSnapshot (vss_rules.h), but the set is over
      return VSS_E_UNEXPECTED_WRITER_ERROR;
    }
    if (op->Cancelled()) return Interrupt(op);
    if (AnyFailed(Send("freeze", op))) return EndByWriter(op);
    if (op->Cancelled()) return Interrupt(op);
    // The provider's commit.
    if (faults.commit_delay_ms > 0) op->Pause(faults.commit_delay_ms);
    if (!faults.commit_waits_for.empty()) WaitForRecord(faults.commit_waits_for, op);
    if (op->Cancelled()) return Interrupt(op);
    if (faults.provider_veto) {
      Record("provider-veto " + GuidText(set));
      Send("abort", op);
      aborted = true;
      return VSS_E_PROVIDER_VETO;
    }
    std::vector<Copy> copies;
    for (const Member& m : members) {
      Copy c;
      c.id = GuidText(m.id);
      c.set_id = GuidText(set);
      c.volume = m.mount;
      c.original = VolumeNameOf(m.mount);
      c.created = Now();
      c.context = context;
      copies.push_back(c);
    }
    WithCopies([&](std::vector<Copy>* all) {
      for (Copy& c : copies) {
        c.device = "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy" + std::to_string(NextCopyNumber());
        all->push_back(c);
      }
    });
    {
      std::lock_guard<std::mutex> lock(mu);
      made = copies;
    }
    Record("copies-made " + GuidText(set) + " " + std::to_string(copies.size()));
    for (const Copy& c : copies) Record("copy-made " + c.id + " " + c.set_id);
    if (FAILED(faults.after_commit)) {
      Send("abort", op);
      aborted = true;
      return faults.after_commit;
    }
    // From here the copies exist: writer failures show in GatherWriterStatus, not here.
    if (AnyFailed(Send("thaw", op))) {
      Send("abort", op);
      aborted = true;
      return S_OK;
    }
    post_snapshot_sent = true;
    Send("postSnapshot", op);
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GatherWriterStatus(IVssBackupComponents* p, IVssAsync** out) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("GatherWriterStatus", b->initialized)) return hr;
    return b->Start("GatherWriterStatus", out, [b](Operation*) {
      std::vector<KnownWriter> found;
      for (DWORD pid : WriterProcesses()) {
        std::string answer;
        if (!CallWriterProcess(pid, "STATUS", Clock::now() + std::chrono::seconds(10), &answer)) continue;
        for (KnownWriter& w : ParseWriters(pid, answer)) found.push_back(std::move(w));
      }
      for (size_t i = 0; i < b->faults.phantoms.size(); i++) found.push_back(FromPhantom(b->faults.phantoms[i], static_cast<int>(i)));
      std::lock_guard<std::mutex> lock(b->mu);
      b->statuses = std::move(found);
      b->status_gathered = true;
      return S_OK;
    });
  }
  static HRESULT STDMETHODCALLTYPE GetWriterStatusCount(IVssBackupComponents* p, UINT* count) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("GetWriterStatusCount", b->status_gathered)) return hr;
    *count = static_cast<UINT>(b->statuses.size());
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetWriterStatus(IVssBackupComponents* p, UINT i, VSS_ID* instance, VSS_ID* id,
                                                   BSTR* name, VSS_WRITER_STATE* state, HRESULT* failure) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("GetWriterStatus", b->status_gathered)) return hr;
    if (i >= b->statuses.size()) return E_INVALIDARG;
    const KnownWriter& w = b->statuses[i];
    ParseGuidText(w.instance, instance);
    ParseGuidText(w.id, id);
    *name = Bstr(w.name);
    *state = static_cast<VSS_WRITER_STATE>(w.state);
    *failure = w.last_error;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE FreeWriterStatus(IVssBackupComponents* p) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    b->statuses.clear();
    b->status_gathered = false;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetSnapshotProperties(IVssBackupComponents* p, VSS_ID id, VSS_SNAPSHOT_PROP* prop) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("GetSnapshotProperties", b->snapshotted)) return hr;
    for (const Copy& c : ReadCopies()) {
      if (c.id != GuidText(id)) continue;
      std::memset(prop, 0, sizeof *prop);
      prop->m_SnapshotId = id;
      ParseGuidText(c.set_id, &prop->m_SnapshotSetId);
      prop->m_lSnapshotsCount = static_cast<LONG>(b->members.size());
      prop->m_pwszSnapshotDeviceObject = CoTaskString(c.device);
      prop->m_pwszOriginalVolumeName = CoTaskString(c.original);
      prop->m_lSnapshotAttributes = c.context;
      prop->m_tsCreationTimestamp = c.created;
      prop->m_eStatus = VSS_SS_CREATED;
      return S_OK;
    }
    return VSS_E_OBJECT_NOT_FOUND;
  }
  static HRESULT STDMETHODCALLTYPE SetBackupSucceeded(IVssBackupComponents* p, VSS_ID, VSS_ID, VSS_COMPONENT_TYPE,
                                                      LPCWSTR logical, LPCWSTR name, boolean ok) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    Record("IVssBackupComponents::SetBackupSucceeded " + Narrow(logical) + "\\" + Narrow(name) + " " + (ok ? "1" : "0"));
    return b->Refuse("SetBackupSucceeded", b->snapshotted && !b->completed);
  }
  static HRESULT STDMETHODCALLTYPE BackupComplete(IVssBackupComponents* p, IVssAsync** out) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    if (HRESULT hr = b->Refuse("BackupComplete", b->snapshotted && !b->completed && !b->aborted)) return hr;
    b->completed = true;
    return b->Start("BackupComplete", out, [b](Operation* op) {
      b->Send("backupComplete", op);
      return b->faults.backup_complete;
    });
  }
  static HRESULT STDMETHODCALLTYPE AbortBackup(IVssBackupComponents* p) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    Record("IVssBackupComponents::AbortBackup");
    if (HRESULT hr = b->Refuse("AbortBackup", b->initialized)) return hr;
    // Ignored when no backup is under way; writers that heard of the set get Abort.
    if (b->set_started && !b->completed && !b->aborted) {
      b->aborted = true;
      if (b->events_sent && !b->post_snapshot_sent) b->Send("abort", nullptr);
    }
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE Query(IVssBackupComponents* p, VSS_ID, VSS_OBJECT_TYPE, VSS_OBJECT_TYPE type,
                                         IVssEnumObject** out) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    Record("IVssBackupComponents::Query");
    if (HRESULT hr = b->Refuse("Query", b->initialized)) return hr;
    if (type != VSS_OBJECT_SNAPSHOT) return E_INVALIDARG;
    std::vector<Copy> found;
    for (const Copy& c : ReadCopies()) {
      if (b->context == static_cast<LONG>(VSS_CTX_ALL) || c.context == b->context) found.push_back(c);
    }
    const bool none = found.empty();
    *out = new EnumCopies(std::move(found));
    return none ? S_FALSE : S_OK;
  }
  static HRESULT STDMETHODCALLTYPE DeleteSnapshots(IVssBackupComponents* p, VSS_ID id, VSS_OBJECT_TYPE type, BOOL,
                                                   LONG* deleted, VSS_ID* not_deleted) {
    Backup* b = Self(p);
    std::lock_guard<std::mutex> lock(b->mu);
    *deleted = 0;
    *not_deleted = GUID{};
    if (HRESULT hr = b->Refuse("DeleteSnapshots", b->initialized)) return hr;
    if (type != VSS_OBJECT_SNAPSHOT && type != VSS_OBJECT_SNAPSHOT_SET) return E_INVALIDARG;
    const std::string key = GuidText(id);
    LONG n = 0;
    if (!WithCopies([&](std::vector<Copy>* all) {
          const auto gone = [&](const Copy& c) { return (type == VSS_OBJECT_SNAPSHOT ? c.id : c.set_id) == key; };
          n = static_cast<LONG>(std::count_if(all->begin(), all->end(), gone));
          all->erase(std::remove_if(all->begin(), all->end(), gone), all->end());
        })) {
      return E_UNEXPECTED;
    }
    *deleted = n;
    Record("IVssBackupComponents::DeleteSnapshots " + key + " " + std::to_string(n));
    return n > 0 ? S_OK : VSS_E_OBJECT_NOT_FOUND;
  }

  // The last Release: what VSS does when a requester lets go of its backup.
  void Close() {
    if (set_started && events_sent && !completed && !aborted) {
      Record("abandoned " + GuidText(set) + " (released without AbortBackup or BackupComplete)");
      if (!post_snapshot_sent) Send("abort", nullptr);
    } else if (set_started && !completed && !aborted) {
      Record("abandoned " + GuidText(set) + " (released without AbortBackup after StartSnapshotSet)");
    }
    if (events_sent) Send("backupShutdown", nullptr);
    // Copies of a non-persistent context go with the backup that made them.
    if (!made.empty() && (context & VSS_VOLSNAP_ATTR_NO_AUTO_RELEASE) == 0) {
      WithCopies([&](std::vector<Copy>* all) {
        all->erase(std::remove_if(all->begin(), all->end(), [&](const Copy& c) { return c.set_id == GuidText(set); }),
                   all->end());
      });
    }
    if (set_lock != INVALID_HANDLE_VALUE) CloseHandle(set_lock);
    Record("IVssBackupComponents::Release");
  }
  ~Backup() { Close(); }

  Backup() {
    static IVssBackupComponentsVtbl vtbl = [] {
      IVssBackupComponentsVtbl v;
      Base(&v);
      v.InitializeForBackup = &InitializeForBackup;
      v.SetContext = &SetContext;
      v.SetBackupState = &SetBackupState;
      v.GatherWriterMetadata = &GatherWriterMetadata;
      v.GetWriterMetadataCount = &GetWriterMetadataCount;
      v.GetWriterMetadata = &GetWriterMetadata;
      v.FreeWriterMetadata = &FreeWriterMetadata;
      v.AddComponent = &AddComponent;
      v.StartSnapshotSet = &StartSnapshotSet;
      v.AddToSnapshotSet = &AddToSnapshotSet;
      v.PrepareForBackup = &PrepareForBackup;
      v.DoSnapshotSet = &DoSnapshotSet;
      v.GatherWriterStatus = &GatherWriterStatus;
      v.GetWriterStatusCount = &GetWriterStatusCount;
      v.GetWriterStatus = &GetWriterStatus;
      v.FreeWriterStatus = &FreeWriterStatus;
      v.GetSnapshotProperties = &GetSnapshotProperties;
      v.SetBackupSucceeded = &SetBackupSucceeded;
      v.BackupComplete = &BackupComplete;
      v.AbortBackup = &AbortBackup;
      v.Query = &Query;
      v.DeleteSnapshots = &DeleteSnapshots;
      return v;
    }();
    lpVtbl = &vtbl;
    Record("CreateVssBackupComponents");
  }
};

}  // namespace
}  // namespace emu

using namespace emu;

extern "C" {

HRESULT emu_CreateVssBackupComponents(IVssBackupComponents** out) {
  if (out == nullptr) return E_INVALIDARG;
  *out = new Backup();
  return S_OK;
}

void emu_VssFreeSnapshotProperties(VSS_SNAPSHOT_PROP* prop) {
  if (prop == nullptr) return;
  for (VSS_PWSZ s : {prop->m_pwszSnapshotDeviceObject, prop->m_pwszOriginalVolumeName, prop->m_pwszOriginatingMachine,
                     prop->m_pwszServiceMachine, prop->m_pwszExposedName, prop->m_pwszExposedPath}) {
    CoTaskMemFree(s);
  }
}

}  // extern "C"
