// The writer side of the emulated vssapi.dll: CVssWriter's exported members (MSVC-mangled
// names mapped to these C functions by vssapi.def), and the pipe on which the VSS service
// (any requester process, this one included) delivers events. Each event is handled on its
// own thread, which calls the writer's virtual On* method through its MSVC vtable, as VSS's
// RPC worker threads do; SetWriterFailure and the Get* helpers are valid only on that thread.
#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "emulator.h"

namespace emu {
namespace {

// CVssWriter's vtable slots (the SDK's declaration order; the deleting destructor is slot 0).
enum Slot {
  kOnIdentify = 1,
  kOnPrepareBackup,
  kOnPrepareSnapshot,
  kOnFreeze,
  kOnThaw,
  kOnAbort,
  kOnBackupComplete,
  kOnBackupShutdown,
  kOnPreRestore,
  kOnPostRestore,
  kOnPostSnapshot,
};

struct Writer {
  void* object = nullptr;  // the CVssWriter (an MSVC-ABI object)
  GUID id{};
  GUID instance{};
  std::string name;
  std::string instance_name;
  int usage = 0;
  int source = 0;
  DWORD freeze_timeout_ms = 60000;
  bool initialized = false;
  bool subscribed = false;  // under event_mu
  std::timed_mutex event_mu;  // VSS delivers one event at a time to a writer
  std::mutex state_mu;
  int state = VSS_WS_STABLE;
  HRESULT last_error = S_OK;
  // The freeze window: Freeze starts it; Thaw or Abort ends it; past it the writer aborts.
  std::condition_variable window_cv;
  uint64_t window = 0;  // bumped by each Freeze, Thaw and Abort
  bool window_expired = false;  // this set's window ran out: the writer was aborted already
};

// The CVssWriter object's one data member (m_pWrapper) points here.
struct Wrapper {
  std::shared_ptr<Writer> writer;
};

Wrapper*& WrapperOf(void* object) { return reinterpret_cast<Wrapper**>(object)[1]; }

std::mutex g_mu;
std::vector<std::shared_ptr<Writer>> g_subscribed;
bool g_serving = false;

// The event being delivered on this thread.
struct Delivery {
  GUID set{};
  int backup_type = VSS_BT_UNDEFINED;
  std::vector<std::wstring> volumes;
  std::vector<const wchar_t*> volume_ptrs;
  bool components_selected = false;
  HRESULT failure = S_OK;
  bool identify = false;
};
thread_local Delivery* t_delivery = nullptr;

bool CallSlot(void* object, int slot) {
  void** vtable = *reinterpret_cast<void***>(object);
  return reinterpret_cast<bool (*)(void*)>(vtable[slot])(object);
}
bool CallSlot(void* object, int slot, void* iface) {
  void** vtable = *reinterpret_cast<void***>(object);
  return reinterpret_cast<bool (*)(void*, void*)>(vtable[slot])(object, iface);
}
bool CallSlot(void* object, int slot, GUID set) {
  void** vtable = *reinterpret_cast<void***>(object);
  return reinterpret_cast<bool (*)(void*, GUID)>(vtable[slot])(object, set);
}

// ---- IVssCreateWriterMetadata: what OnIdentify describes ----------------------------------
struct FileSpec {
  std::string path, spec;
  bool recursive;
};
struct DescribedComponent {
  int type;
  bool selectable;
  std::string logical, name, caption;
  std::vector<FileSpec> files;
};
struct CreateMetadata : IVssCreateWriterMetadata {
  std::vector<DescribedComponent> components;
  int restore_method = -1;

  DescribedComponent* Find(LPCWSTR logical, LPCWSTR name) {
    for (DescribedComponent& c : components) {
      if (c.logical == Narrow(logical) && c.name == Narrow(name)) return &c;
    }
    return nullptr;
  }
  static CreateMetadata* Self(IVssCreateWriterMetadata* p) { return static_cast<CreateMetadata*>(p); }
  static HRESULT STDMETHODCALLTYPE AddComponent(IVssCreateWriterMetadata* p, VSS_COMPONENT_TYPE ct, LPCWSTR logical,
                                                LPCWSTR name, LPCWSTR caption, const BYTE*, UINT, boolean,
                                                boolean, boolean selectable, boolean, DWORD) {
    if (name == nullptr || *name == 0) return E_INVALIDARG;
    if (Self(p)->Find(logical, name) != nullptr) return VSS_E_OBJECT_ALREADY_EXISTS;
    Self(p)->components.push_back(
        DescribedComponent{ct, selectable != 0, Narrow(logical), Narrow(name), Narrow(caption), {}});
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE AddFilesToFileGroup(IVssCreateWriterMetadata* p, LPCWSTR logical, LPCWSTR group,
                                                       LPCWSTR path, LPCWSTR spec, boolean recursive, LPCWSTR,
                                                       DWORD) {
    DescribedComponent* c = Self(p)->Find(logical, group);
    if (c == nullptr) return VSS_E_OBJECT_NOT_FOUND;
    if (path == nullptr || spec == nullptr) return E_INVALIDARG;
    c->files.push_back(FileSpec{Narrow(path), Narrow(spec), recursive != 0});
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE SetRestoreMethod(IVssCreateWriterMetadata* p, VSS_RESTOREMETHOD_ENUM method,
                                                    LPCWSTR, LPCWSTR, VSS_WRITERRESTORE_ENUM, boolean) {
    Self(p)->restore_method = method;
    return S_OK;
  }
  CreateMetadata() {
    static IVssCreateWriterMetadataVtbl vtbl = [] {
      IVssCreateWriterMetadataVtbl v;
      FillNotImplemented(&v);
      v.AddComponent = &AddComponent;
      v.AddFilesToFileGroup = &AddFilesToFileGroup;
      v.SetRestoreMethod = &SetRestoreMethod;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

// ---- IVssWriterComponents / IVssComponent: what the requester selected -------------------
struct SelectedComponent : Counted<IVssComponent, SelectedComponent> {
  std::string logical, name;
  static SelectedComponent* Self(IVssComponent* p) { return static_cast<SelectedComponent*>(p); }
  static HRESULT STDMETHODCALLTYPE GetLogicalPath(IVssComponent* p, BSTR* out) {
    *out = Bstr(Self(p)->logical);
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetComponentName(IVssComponent* p, BSTR* out) {
    *out = Bstr(Self(p)->name);
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetComponentType(IVssComponent*, VSS_COMPONENT_TYPE* out) {
    *out = VSS_CT_FILEGROUP;
    return S_OK;
  }
  SelectedComponent(std::string l, std::string n) : logical(std::move(l)), name(std::move(n)) {
    static IVssComponentVtbl vtbl = [] {
      IVssComponentVtbl v;
      Base(&v);
      v.GetLogicalPath = &GetLogicalPath;
      v.GetComponentName = &GetComponentName;
      v.GetComponentType = &GetComponentType;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

struct WriterComponents : IVssWriterComponents {
  GUID instance{}, writer{};
  std::vector<std::pair<std::string, std::string>> selected;  // logical path, name
  static WriterComponents* Self(IVssWriterComponents* p) { return static_cast<WriterComponents*>(p); }
  static HRESULT STDMETHODCALLTYPE GetComponentCount(IVssWriterComponents* p, UINT* out) {
    *out = static_cast<UINT>(Self(p)->selected.size());
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetWriterInfo(IVssWriterComponents* p, VSS_ID* instance, VSS_ID* writer) {
    *instance = Self(p)->instance;
    *writer = Self(p)->writer;
    return S_OK;
  }
  static HRESULT STDMETHODCALLTYPE GetComponent(IVssWriterComponents* p, UINT i, IVssComponent** out) {
    if (i >= Self(p)->selected.size()) return E_INVALIDARG;
    *out = new SelectedComponent(Self(p)->selected[i].first, Self(p)->selected[i].second);
    return S_OK;
  }
  WriterComponents() {
    static IVssWriterComponentsVtbl vtbl = [] {
      IVssWriterComponentsVtbl v;
      FillNotImplemented(&v);
      v.GetComponentCount = &GetComponentCount;
      v.GetWriterInfo = &GetWriterInfo;
      v.GetComponent = &GetComponent;
      return v;
    }();
    lpVtbl = &vtbl;
  }
};

// ---- the service's requests ---------------------------------------------------------------
std::string StatusLine(Writer& w) {
  std::lock_guard<std::mutex> lock(w.state_mu);
  return "W\t" + GuidText(w.instance) + "\t" + GuidText(w.id) + "\t" + std::to_string(w.state) + "\t" +
         Hex(w.last_error) + "\t" + std::to_string(w.usage) + "\t" + std::to_string(w.source) + "\t" +
         std::to_string(w.freeze_timeout_ms) + "\t" + w.name + "\t" + w.instance_name + "\n";
}

std::vector<std::shared_ptr<Writer>> Subscribed() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_subscribed;
}

void SetState(Writer& w, int state, HRESULT error, bool set_error) {
  std::lock_guard<std::mutex> lock(w.state_mu);
  w.state = state;
  if (set_error) w.last_error = error;
}

std::string Identify() {
  std::string out;
  for (const std::shared_ptr<Writer>& w : Subscribed()) {
    CreateMetadata metadata;
    Delivery delivery;
    delivery.identify = true;
    bool ok;
    {
      std::unique_lock<std::timed_mutex> lock(w->event_mu, std::chrono::seconds(30));
      if (!lock.owns_lock() || !w->subscribed) continue;
      t_delivery = &delivery;
      ok = CallSlot(w->object, kOnIdentify, static_cast<IVssCreateWriterMetadata*>(&metadata));
      t_delivery = nullptr;
    }
    if (!ok) SetState(*w, VSS_WS_FAILED_AT_IDENTIFY, VSS_E_WRITERERROR_NONRETRYABLE, true);
    Record("identify " + w->name + " restore-method " + std::to_string(metadata.restore_method));
    out += StatusLine(*w);
    if (!ok) continue;
    out += "M\t" + std::to_string(metadata.restore_method) + "\n";
    for (const DescribedComponent& c : metadata.components) {
      out += "C\t" + std::to_string(c.type) + "\t" + (c.selectable ? "1" : "0") + "\t" + c.logical + "\t" + c.name +
             "\t" + c.caption + "\n";
      for (const FileSpec& f : c.files) out += "F\t" + f.path + "\t" + f.spec + "\t" + (f.recursive ? "1" : "0") + "\n";
    }
  }
  return out;
}

int SlotOf(const std::string& event) {
  if (event == "prepareBackup") return kOnPrepareBackup;
  if (event == "prepareSnapshot") return kOnPrepareSnapshot;
  if (event == "freeze") return kOnFreeze;
  if (event == "thaw") return kOnThaw;
  if (event == "abort") return kOnAbort;
  if (event == "postSnapshot") return kOnPostSnapshot;
  if (event == "backupComplete") return kOnBackupComplete;
  if (event == "backupShutdown") return kOnBackupShutdown;
  if (event == "preRestore") return kOnPreRestore;
  if (event == "postRestore") return kOnPostRestore;
  return 0;
}

void StartFreezeWindow(const std::shared_ptr<Writer>& w);

// Calls the writer's On<event> on this thread and applies VSS's state rules to the answer.
// Answers "R <ok> <failure> <state> <last error>".
std::string Deliver(const std::shared_ptr<Writer>& w, const std::string& event, Delivery* delivery,
                    WriterComponents* components) {
  const int slot = SlotOf(event);
  if (slot == 0) return "E\tunknown event\n";
  bool ok;
  {
    std::unique_lock<std::timed_mutex> lock(w->event_mu, std::chrono::seconds(120));
    if (!lock.owns_lock()) return "E\tthe writer is still busy with an earlier event\n";
    if (!w->subscribed) return "E\tthe writer unsubscribed\n";
    if (event == "prepareBackup") {  // a new backup
      SetState(*w, VSS_WS_STABLE, S_OK, true);
      std::lock_guard<std::mutex> state(w->state_mu);
      w->window_expired = false;
    }
    if (event == "thaw" || event == "abort") {
      // OnFreeze is followed by OnThaw or OnAbort (CVssWriter::OnFreeze), once: a writer
      // aborted when its freeze window ran out answers Thaw and Abort with that failure, unasked.
      std::lock_guard<std::mutex> state(w->state_mu);
      if (w->window_expired) {
        return "R\t0\t" + Hex(w->last_error) + "\t" + std::to_string(w->state) + "\t" + Hex(w->last_error) + "\n";
      }
    }
    if (event == "freeze" || event == "thaw" || event == "abort") {
      std::lock_guard<std::mutex> state(w->state_mu);
      if (event == "freeze") w->window_expired = false;
      w->window++;
      w->window_cv.notify_all();
    }
    t_delivery = delivery;
    const bool carries = slot == kOnPrepareBackup || slot == kOnPostSnapshot || slot == kOnBackupComplete ||
                         slot == kOnPreRestore || slot == kOnPostRestore;
    if (slot == kOnBackupShutdown) ok = CallSlot(w->object, slot, delivery->set);
    else if (carries) ok = CallSlot(w->object, slot, static_cast<IVssWriterComponents*>(components));
    else ok = CallSlot(w->object, slot);
    t_delivery = nullptr;
  }
  // SetWriterFailure then returning true still reports the failure.
  const bool failed = !ok || FAILED(delivery->failure);
  const HRESULT error = FAILED(delivery->failure) ? delivery->failure : VSS_E_WRITERERROR_NONRETRYABLE;
  int state;
  {
    std::lock_guard<std::mutex> lock(w->state_mu);
    w->state = StateAfterEvent(event, !failed, w->state);
    if (failed) w->last_error = error;
    state = w->state;
  }
  if (event == "freeze" && !failed) StartFreezeWindow(w);
  std::lock_guard<std::mutex> lock(w->state_mu);
  return "R\t" + std::string(ok ? "1" : "0") + "\t" + Hex(delivery->failure) + "\t" + std::to_string(state) + "\t" +
         Hex(w->last_error) + "\n";
}

// Past the freeze window with no Thaw or Abort, VSS's writer side aborts the writer itself and
// reports the timeout.
void StartFreezeWindow(const std::shared_ptr<Writer>& w) {
  uint64_t window;
  {
    std::lock_guard<std::mutex> lock(w->state_mu);
    window = w->window;
  }
  std::thread([w, window] {
    {
      std::unique_lock<std::mutex> lock(w->state_mu);
      if (w->window_cv.wait_for(lock, std::chrono::milliseconds(w->freeze_timeout_ms),
                                [&] { return w->window != window; })) {
        return;
      }
    }
    Delivery abort;
    std::unique_lock<std::timed_mutex> lock(w->event_mu, std::chrono::seconds(120));
    if (!lock.owns_lock() || !w->subscribed) return;
    {
      std::lock_guard<std::mutex> state(w->state_mu);
      if (w->window != window) return;
      w->window++;
      w->window_expired = true;
    }
    t_delivery = &abort;
    CallSlot(w->object, kOnAbort);
    t_delivery = nullptr;
    SetState(*w, VSS_WS_FAILED_AT_FREEZE, VSS_E_WRITERERROR_TIMEOUT, true);
    Record("writer-window-expired " + w->name);
  }).detach();
}

std::string HandleRequest(const std::string& request) {
  const std::vector<std::string> lines = Split(request, '\n');
  const std::vector<std::string> head = Split(lines[0], '\t');
  if (head[0] == "IDENTIFY") return Identify();
  if (head[0] == "STATUS") {
    std::string out;
    for (const std::shared_ptr<Writer>& w : Subscribed()) out += StatusLine(*w);
    return out;
  }
  if (head[0] == "TIMEOUT" && head.size() >= 3) {  // the service gave up waiting at <event>
    for (const std::shared_ptr<Writer>& w : Subscribed()) {
      if (GuidText(w->instance) == head[1]) {
        SetState(*w, StateAfterEvent(head[2], false, VSS_WS_STABLE), VSS_E_WRITERERROR_TIMEOUT, true);
      }
    }
    return "OK\n";
  }
  if (head[0] != "EVENT" || head.size() < 6) return "E\tbad request\n";
  // EVENT <instance> <event> <set> <backup type> <components selected>, then V <volume> and
  // S <logical path> <name> lines.
  std::shared_ptr<Writer> writer;
  for (const std::shared_ptr<Writer>& w : Subscribed()) {
    if (GuidText(w->instance) == head[1]) writer = w;
  }
  if (!writer) return "E\tno such writer\n";
  Delivery delivery;
  ParseGuidText(head[3], &delivery.set);
  delivery.backup_type = std::atoi(head[4].c_str());
  delivery.components_selected = head[5] == "1";
  WriterComponents components;
  components.instance = writer->instance;
  components.writer = writer->id;
  for (size_t i = 1; i < lines.size(); i++) {
    const std::vector<std::string> f = Split(lines[i], '\t');
    if (f[0] == "V" && f.size() >= 2) delivery.volumes.push_back(Widen(f[1]));
    if (f[0] == "S" && f.size() >= 3) components.selected.emplace_back(f[1], f[2]);
  }
  for (const std::wstring& v : delivery.volumes) delivery.volume_ptrs.push_back(v.c_str());
  return Deliver(writer, head[2], &delivery, &components);
}

void ServeConnection(HANDLE pipe) {
  std::string request;
  for (;;) {
    char buf[8192];
    DWORD n = 0;
    const BOOL ok = ReadFile(pipe, buf, sizeof buf, &n, nullptr);
    request.append(buf, n);
    if (ok) break;
    if (GetLastError() != ERROR_MORE_DATA) {
      request.clear();
      break;
    }
  }
  if (!request.empty()) {
    std::string answer = HandleRequest(request);
    if (answer.empty()) answer = "\n";  // a message of zero bytes would not be seen
    DWORD n = 0;
    WriteFile(pipe, answer.data(), static_cast<DWORD>(answer.size()), &n, nullptr);
    FlushFileBuffers(pipe);
  }
  DisconnectNamedPipe(pipe);
  CloseHandle(pipe);
}

// For the life of the process, once a writer subscribed: one listening pipe instance.
void Serve(std::wstring name) {
  for (;;) {
    const HANDLE pipe = CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX,
                                         PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                                         PIPE_UNLIMITED_INSTANCES, 1 << 16, 1 << 16, 0, nullptr);
    if (pipe == INVALID_HANDLE_VALUE) {
      Sleep(100);
      continue;
    }
    if (ConnectNamedPipe(pipe, nullptr) || GetLastError() == ERROR_PIPE_CONNECTED) {
      std::thread(ServeConnection, pipe).detach();
    } else {
      CloseHandle(pipe);
    }
  }
}

std::wstring RegistrationPath() {
  return EmulatorDir() + L"\\writers\\" + std::to_wstring(GetCurrentProcessId());
}

// The registration file lists this process's writers ("<class id>\t<instance name>"), so
// that Subscribe in any process can refuse a duplicate.
void WriteRegistration() {
  std::string text;
  for (const std::shared_ptr<Writer>& w : g_subscribed) text += GuidText(w->id) + "\t" + w->instance_name + "\n";
  if (g_subscribed.empty()) {
    DeleteFileW(RegistrationPath().c_str());
  } else {
    WriteText(RegistrationPath(), text);
  }
}

bool SubscribedElsewhere(const Writer& w) {
  const std::string me = GuidText(w.id) + "\t" + w.instance_name;
  for (DWORD pid : WriterProcesses()) {
    if (pid == GetCurrentProcessId()) continue;
    const std::wstring path = EmulatorDir() + L"\\writers\\" + std::to_wstring(pid);
    std::string answer;
    // A registration left by a process that is gone does not count.
    if (!CallWriterProcess(pid, "STATUS", Clock::now() + std::chrono::seconds(5), &answer)) {
      DeleteFileW(path.c_str());
      continue;
    }
    for (const std::string& line : Split(ReadText(path), '\n')) {
      if (line == me) return true;
    }
  }
  return false;
}

Writer* From(void* object) {
  Wrapper* wrapper = WrapperOf(object);
  return wrapper != nullptr ? wrapper->writer.get() : nullptr;
}

// The base class's own virtuals, in effect only while the subclass is being constructed.
bool DefaultEvent() { return true; }
void* g_base_vtable[16];

}  // namespace
}  // namespace emu

using namespace emu;

extern "C" {

void* emu_CVssWriter_ctor(void* object) {
  for (void*& slot : g_base_vtable) slot = reinterpret_cast<void*>(&DefaultEvent);
  *reinterpret_cast<void**>(object) = g_base_vtable;
  auto* wrapper = new Wrapper{std::make_shared<Writer>()};
  wrapper->writer->object = object;
  WrapperOf(object) = wrapper;
  return object;  // MSVC constructors return this
}

void emu_CVssWriter_dtor(void* object) {
  Wrapper* wrapper = WrapperOf(object);
  if (wrapper == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto& v = g_subscribed;
    const size_t before = v.size();
    v.erase(std::remove(v.begin(), v.end(), wrapper->writer), v.end());
    if (v.size() != before) WriteRegistration();
  }
  {
    std::unique_lock<std::timed_mutex> lock(wrapper->writer->event_mu, std::chrono::seconds(60));
    wrapper->writer->subscribed = false;
  }
  delete wrapper;
  WrapperOf(object) = nullptr;
}

HRESULT emu_CVssWriter_Initialize(void* object, GUID writer_id, LPCWSTR name, int usage, int source, int level,
                                  DWORD freeze_timeout_ms, int alternate, bool throttling_only,
                                  LPCWSTR instance_name) {
  Writer* w = From(object);
  const bool level_ok = level == VSS_APP_FRONT_END || level == VSS_APP_BACK_END || level == VSS_APP_SYSTEM ||
                        level == VSS_APP_AUTO;
  const bool alternate_ok = alternate == VSS_AWS_NO_ALTERNATE_WRITER || alternate == VSS_AWS_ALTERNATE_WRITER_EXISTS ||
                            alternate == VSS_AWS_THIS_IS_ALTERNATE_WRITER;
  if (w == nullptr || name == nullptr || *name == 0 || usage < VSS_UT_BOOTABLESYSTEMSTATE ||
      usage > VSS_UT_USERDATA || source < VSS_ST_TRANSACTEDDB || source > VSS_ST_OTHER || !level_ok ||
      !alternate_ok) {
    return E_INVALIDARG;
  }
  if (w->initialized) return VSS_E_BAD_STATE;
  (void)throttling_only;
  w->id = writer_id;
  w->instance = NewGuid();
  w->name = Narrow(name);
  w->instance_name = Narrow(instance_name);
  w->usage = usage;
  w->source = source;
  w->freeze_timeout_ms = freeze_timeout_ms;
  w->initialized = true;
  Record("CVssWriter::Initialize " + w->name);
  return S_OK;
}

HRESULT emu_CVssWriter_Subscribe(void* object, DWORD) {
  Wrapper* wrapper = WrapperOf(object);
  if (wrapper == nullptr || !wrapper->writer->initialized) return VSS_E_BAD_STATE;
  const std::shared_ptr<Writer>& w = wrapper->writer;
  const HANDLE registry = LockFile(L"registry.lock", 10000);
  if (registry == INVALID_HANDLE_VALUE) return E_UNEXPECTED;
  HRESULT hr = S_OK;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    const bool here = std::any_of(g_subscribed.begin(), g_subscribed.end(), [&](const std::shared_ptr<Writer>& o) {
      return o != w && IsEqualGUID(o->id, w->id) && o->instance_name == w->instance_name;
    });
    if (std::find(g_subscribed.begin(), g_subscribed.end(), w) != g_subscribed.end()) {
      hr = VSS_E_BAD_STATE;
    } else if (here || SubscribedElsewhere(*w)) {
      hr = VSS_E_WRITER_ALREADY_SUBSCRIBED;
    } else {
      {
        std::lock_guard<std::timed_mutex> events(w->event_mu);
        w->subscribed = true;
      }
      g_subscribed.push_back(w);
      if (!g_serving) {
        g_serving = true;
        // Several listeners, so that a new connection finds one while another is handed off.
        for (int i = 0; i < 4; i++) std::thread(Serve, PipeName(GetCurrentProcessId())).detach();
      }
      WriteRegistration();
    }
  }
  CloseHandle(registry);
  Record("CVssWriter::Subscribe " + w->name + " " + Hex(hr));
  return hr;
}

HRESULT emu_CVssWriter_Unsubscribe(void* object) {
  Wrapper* wrapper = WrapperOf(object);
  if (wrapper == nullptr) return VSS_E_BAD_STATE;
  const std::shared_ptr<Writer> w = wrapper->writer;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = std::find(g_subscribed.begin(), g_subscribed.end(), w);
    if (it == g_subscribed.end()) return S_OK;
    g_subscribed.erase(it);
    WriteRegistration();
  }
  // Unsubscribe waits for the event being delivered, as VSS's does.
  std::unique_lock<std::timed_mutex> lock(w->event_mu, std::chrono::seconds(60));
  w->subscribed = false;
  Record("CVssWriter::Unsubscribe " + w->name);
  return lock.owns_lock() ? S_OK : E_UNEXPECTED;
}

// The protected helpers: valid only on the thread delivering an event.
GUID* emu_CVssWriter_GetCurrentSnapshotSetId(const void*, GUID* out) {  // MSVC: the result via RDX
  *out = t_delivery != nullptr ? t_delivery->set : GUID{};
  return out;
}
int emu_CVssWriter_GetBackupType(const void*) {
  return t_delivery != nullptr ? t_delivery->backup_type : VSS_BT_UNDEFINED;
}
int emu_CVssWriter_GetRestoreType(const void*) { return VSS_RTYPE_UNDEFINED; }
LONG emu_CVssWriter_GetContext(const void*) { return VSS_CTX_BACKUP; }
int emu_CVssWriter_GetCurrentLevel(const void*) { return VSS_APP_FRONT_END; }
UINT emu_CVssWriter_GetCurrentVolumeCount(const void*) {
  return t_delivery != nullptr ? static_cast<UINT>(t_delivery->volume_ptrs.size()) : 0;
}
const wchar_t** emu_CVssWriter_GetCurrentVolumeArray(const void*) {
  return t_delivery != nullptr && !t_delivery->volume_ptrs.empty() ? t_delivery->volume_ptrs.data() : nullptr;
}
bool emu_CVssWriter_AreComponentsSelected(const void*) {
  return t_delivery != nullptr && t_delivery->components_selected;
}
bool emu_CVssWriter_IsBootableSystemStateBackedUp(const void*) { return false; }
bool emu_CVssWriter_IsPartialFileSupportEnabled(const void*) { return false; }
// The volume that holds the path (its mount point resolved to a unique name) is in the set.
bool emu_CVssWriter_IsPathAffected(const void*, LPCWSTR path) {
  if (t_delivery == nullptr || path == nullptr) return false;
  wchar_t mount[MAX_PATH], name[MAX_PATH];
  if (!GetVolumePathNameW(path, mount, MAX_PATH) || !GetVolumeNameForVolumeMountPointW(mount, name, MAX_PATH)) {
    return false;
  }
  for (const std::wstring& v : t_delivery->volumes) {
    if (Lower(Narrow(v.c_str())) == Lower(Narrow(name))) return true;
  }
  return false;
}
HRESULT emu_CVssWriter_GetSnapshotDeviceName(const void*, LPCWSTR, LPCWSTR* out) {
  if (out != nullptr) *out = nullptr;
  return E_NOTIMPL;
}
HRESULT emu_CVssWriter_SetWriterFailure(void* object, HRESULT failure) {
  // Only on the thread of an event, not from OnIdentify, and only the VSS_E_WRITERERROR_* codes.
  if (t_delivery == nullptr || t_delivery->identify) {
    Record("CVssWriter::SetWriterFailure-outside-an-event " + Hex(failure));
    return VSS_E_BAD_STATE;
  }
  switch (failure) {
    case VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT:
    case VSS_E_WRITERERROR_OUTOFRESOURCES:
    case VSS_E_WRITERERROR_TIMEOUT:
    case VSS_E_WRITERERROR_RETRYABLE:
    case VSS_E_WRITERERROR_NONRETRYABLE:
      t_delivery->failure = failure;
      (void)object;
      return S_OK;
    default:
      Record("CVssWriter::SetWriterFailure-bad-code " + Hex(failure));
      return E_INVALIDARG;
  }
}
HRESULT emu_CVssWriter_InstallAlternateWriter(void*, GUID, GUID) { return E_NOTIMPL; }

}  // extern "C"
