// Text, the emulator's folder, faults and the pipe that carries events to writer processes.
#include <cstdio>
#include <cstring>
#include <thread>

#include "../../native/vss_rules.h"
#include "emulator.h"

namespace emu {

HRESULT STDMETHODCALLTYPE NotImplemented() { return E_NOTIMPL; }

std::string Narrow(const wchar_t* w) {
  if (w == nullptr || *w == 0) return std::string();
  const int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, nullptr, 0, nullptr, nullptr);
  std::string s(n > 0 ? n - 1 : 0, '\0');
  if (n > 1) WideCharToMultiByte(CP_UTF8, 0, w, -1, &s[0], n, nullptr, nullptr);
  return s;
}

std::wstring Widen(const std::string& s) {
  if (s.empty()) return std::wstring();
  const int n = MultiByteToWideChar(CP_UTF8, 0, s.c_str(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring w(n, L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.c_str(), static_cast<int>(s.size()), &w[0], n);
  return w;
}

std::string GuidText(const GUID& g) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                static_cast<unsigned long>(g.Data1), g.Data2, g.Data3, g.Data4[0], g.Data4[1], g.Data4[2],
                g.Data4[3], g.Data4[4], g.Data4[5], g.Data4[6], g.Data4[7]);
  return buf;
}

bool ParseGuidText(const std::string& s, GUID* out) {
  unsigned long d1;
  unsigned d2, d3, b[8];
  if (std::sscanf(s.c_str(), "%8lx-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &d1, &d2, &d3, &b[0], &b[1], &b[2], &b[3],
                  &b[4], &b[5], &b[6], &b[7]) != 11) {
    return false;
  }
  out->Data1 = d1;
  out->Data2 = static_cast<unsigned short>(d2);
  out->Data3 = static_cast<unsigned short>(d3);
  for (int i = 0; i < 8; i++) out->Data4[i] = static_cast<unsigned char>(b[i]);
  return true;
}

GUID NewGuid() {
  GUID g;
  CoCreateGuid(&g);
  return g;
}

std::string Hex(HRESULT hr) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08lX", static_cast<unsigned long>(hr));
  return buf;
}

HRESULT ParseHr(const std::string& s) { return static_cast<HRESULT>(std::strtoul(s.c_str(), nullptr, 0)); }

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

BSTR Bstr(const std::string& s) { return s.empty() ? nullptr : SysAllocString(Widen(s).c_str()); }

wchar_t* CoTaskString(const std::string& s) {
  const std::wstring w = Widen(s);
  auto* out = static_cast<wchar_t*>(CoTaskMemAlloc((w.size() + 1) * sizeof(wchar_t)));
  if (out != nullptr) std::memcpy(out, w.c_str(), (w.size() + 1) * sizeof(wchar_t));
  return out;
}

std::wstring EmulatorDir() {
  wchar_t buf[MAX_PATH];
  const DWORD n = GetEnvironmentVariableW(L"VSSEMU_DIR", buf, MAX_PATH);
  std::wstring dir = n > 0 && n < MAX_PATH ? std::wstring(buf) : std::wstring(L"C:\\vssemu");
  CreateDirectoryW(dir.c_str(), nullptr);
  CreateDirectoryW((dir + L"\\writers").c_str(), nullptr);
  return dir;
}

std::wstring EmulatorPath(const std::wstring& name) { return EmulatorDir() + L"\\" + name; }

void Record(const std::string& what) {
  const HANDLE f = CreateFileW(EmulatorPath(L"calls.log").c_str(), FILE_APPEND_DATA,
                               FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_ALWAYS, 0, nullptr);
  if (f == INVALID_HANDLE_VALUE) return;
  const std::string line = std::to_string(GetCurrentProcessId()) + " " + what + "\n";
  DWORD written = 0;
  WriteFile(f, line.data(), static_cast<DWORD>(line.size()), &written, nullptr);
  CloseHandle(f);
}

HANDLE LockFile(const std::wstring& name, DWORD wait_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    // No sharing, deleted on close: a crashed holder releases the lock with its handles.
    const HANDLE h = CreateFileW(EmulatorPath(name).c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                                 OPEN_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, nullptr);
    if (h != INVALID_HANDLE_VALUE || Clock::now() >= deadline) return h;
    Sleep(10);
  }
}

std::string ReadText(const std::wstring& path) {
  const HANDLE f = CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                               nullptr, OPEN_EXISTING, 0, nullptr);
  if (f == INVALID_HANDLE_VALUE) return std::string();
  std::string out;
  char buf[4096];
  DWORD n = 0;
  while (ReadFile(f, buf, sizeof buf, &n, nullptr) && n > 0) out.append(buf, n);
  CloseHandle(f);
  return out;
}

bool WriteText(const std::wstring& path, const std::string& text) {
  const HANDLE f = CreateFileW(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ, nullptr, CREATE_ALWAYS, 0, nullptr);
  if (f == INVALID_HANDLE_VALUE) return false;
  DWORD n = 0;
  const bool ok = WriteFile(f, text.data(), static_cast<DWORD>(text.size()), &n, nullptr) && n == text.size();
  CloseHandle(f);
  return ok;
}

namespace {

int StateNamed(const std::string& name) {
  static const char* const kNames[] = {
      "VSS_WS_UNKNOWN", "VSS_WS_STABLE", "VSS_WS_WAITING_FOR_FREEZE", "VSS_WS_WAITING_FOR_THAW",
      "VSS_WS_WAITING_FOR_POST_SNAPSHOT", "VSS_WS_WAITING_FOR_BACKUP_COMPLETE", "VSS_WS_FAILED_AT_IDENTIFY",
      "VSS_WS_FAILED_AT_PREPARE_BACKUP", "VSS_WS_FAILED_AT_PREPARE_SNAPSHOT", "VSS_WS_FAILED_AT_FREEZE",
      "VSS_WS_FAILED_AT_THAW", "VSS_WS_FAILED_AT_POST_SNAPSHOT", "VSS_WS_FAILED_AT_BACKUP_COMPLETE",
      "VSS_WS_FAILED_AT_PRE_RESTORE", "VSS_WS_FAILED_AT_POST_RESTORE", "VSS_WS_FAILED_AT_BACKUPSHUTDOWN"};
  for (int i = 0; i < 16; i++) {
    if (name == kNames[i]) return i;
  }
  return std::atoi(name.c_str());
}

PhantomWriter& Phantom(Faults* f, const std::string& name) {
  for (PhantomWriter& p : f->phantoms) {
    if (p.name == name) return p;
  }
  PhantomWriter p;
  p.name = name;
  p.instance_id = GuidText(NewGuid());
  p.writer_id = GuidText(NewGuid());
  f->phantoms.push_back(p);
  return f->phantoms.back();
}

}  // namespace

// One fault a line, words separated by spaces:
//   provider-veto | commit-delay <ms> | fail-after-commit <hr> | backup-complete-fails <hr>
//   commit-waits-for <record> (the commit lasts until calls.log has a record starting so, or
//   the writer timeout passes: a test's signal, e.g. writer-window-expired)
//   cancel-finishes | writer-timeout <ms> | unsupported-volume <C:\>
//   writer-fails <name> <event> <hr> | writer-hangs <name> <event> | stuck-writer <name> <state> <hr>
//   writer-component <name> <logical path or -> <component> <selectable 0|1> <files' folder or ->
// A writer named there is a third-party writer the service plays itself, with the components
// writer-component lines give it, else one component "<name>\data" whose files are in
// C:\vssemu-data\<name>.
Faults ReadFaults() {
  Faults f;
  for (const std::string& raw : Split(ReadText(EmulatorPath(L"faults")), '\n')) {
    std::vector<std::string> w;
    for (const std::string& word : Split(raw, ' ')) {
      if (!word.empty() && word != "\r") w.push_back(word.back() == '\r' ? word.substr(0, word.size() - 1) : word);
    }
    if (w.empty() || w[0][0] == '#') continue;
    const auto arg = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
    if (w[0] == "provider-veto") f.provider_veto = true;
    else if (w[0] == "commit-delay") f.commit_delay_ms = std::strtoul(arg(1).c_str(), nullptr, 10);
    else if (w[0] == "commit-waits-for") f.commit_waits_for = arg(1);
    else if (w[0] == "fail-after-commit") f.after_commit = ParseHr(arg(1));
    else if (w[0] == "backup-complete-fails") f.backup_complete = ParseHr(arg(1));
    else if (w[0] == "cancel-finishes") f.cancel_finishes = true;
    else if (w[0] == "writer-timeout") f.writer_timeout_ms = std::strtoul(arg(1).c_str(), nullptr, 10);
    else if (w[0] == "unsupported-volume") f.unsupported_volumes.push_back(Lower(arg(1)));
    else if (w[0] == "writer-fails") {
      PhantomWriter& p = Phantom(&f, arg(1));
      p.fail_event = arg(2);
      p.fail_hr = ParseHr(arg(3));
    } else if (w[0] == "writer-hangs") {
      Phantom(&f, arg(1)).hang_event = arg(2);
    } else if (w[0] == "writer-component") {
      const auto dash = [](const std::string& s) { return s == "-" ? std::string() : s; };
      Phantom(&f, arg(1)).components.push_back(PhantomComponent{dash(arg(2)), arg(3), dash(arg(5)), arg(4) == "1"});
    } else if (w[0] == "stuck-writer") {
      PhantomWriter& p = Phantom(&f, arg(1));
      p.stuck_state = p.state = StateNamed(arg(2));
      p.stuck_error = p.last_error = ParseHr(arg(3));
    }
  }
  return f;
}

std::wstring PipeName(DWORD pid) {
  // The folder is part of the name: two emulated machines in one Wine prefix stay apart.
  const std::string dir = Lower(Narrow(EmulatorDir().c_str()));
  unsigned long hash = 5381;
  for (char c : dir) hash = hash * 33 + static_cast<unsigned char>(c);
  return L"\\\\.\\pipe\\vssemu-" + std::to_wstring(hash) + L"-" + std::to_wstring(pid);
}

bool ProcessAlive(DWORD pid) {
  const HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (h == nullptr) return false;
  const bool alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  CloseHandle(h);
  return alive;
}

bool CallWriterProcess(DWORD pid, const std::string& request, Clock::time_point deadline, std::string* answer) {
  const std::wstring name = PipeName(pid);
  HANDLE pipe = INVALID_HANDLE_VALUE;
  while (pipe == INVALID_HANDLE_VALUE) {
    pipe = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                       FILE_FLAG_OVERLAPPED, nullptr);
    if (pipe != INVALID_HANDLE_VALUE) break;
    // Busy, or between two listening instances: retry while the process lives.
    const DWORD err = GetLastError();
    if (err != ERROR_PIPE_BUSY && !ProcessAlive(pid)) return false;
    if (Clock::now() >= deadline) return false;
    Sleep(5);
  }
  DWORD mode = PIPE_READMODE_MESSAGE;
  SetNamedPipeHandleState(pipe, &mode, nullptr, nullptr);
  const HANDLE event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  // Overlapped I/O, so the wait for the writer's answer has the caller's deadline.
  const auto io = [&](bool write, void* buf, DWORD size, DWORD* done) -> DWORD {
    OVERLAPPED ov{};
    ov.hEvent = event;
    ResetEvent(event);
    const BOOL ok = write ? WriteFile(pipe, buf, size, nullptr, &ov) : ReadFile(pipe, buf, size, nullptr, &ov);
    DWORD err = ok ? ERROR_SUCCESS : GetLastError();
    if (!ok && err == ERROR_IO_PENDING) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (WaitForSingleObject(event, left > 0 ? static_cast<DWORD>(left) : 0) != WAIT_OBJECT_0) {
        CancelIo(pipe);
        GetOverlappedResult(pipe, &ov, done, TRUE);
        return ERROR_TIMEOUT;
      }
      err = ERROR_SUCCESS;
    }
    if (err == ERROR_SUCCESS && !GetOverlappedResult(pipe, &ov, done, FALSE)) err = GetLastError();
    return err;
  };
  DWORD done = 0;
  std::string data = request;
  bool ok = io(true, &data[0], static_cast<DWORD>(data.size()), &done) == ERROR_SUCCESS;
  answer->clear();
  while (ok) {
    char buf[8192];
    const DWORD err = io(false, buf, sizeof buf, &done);
    if (err != ERROR_SUCCESS && err != ERROR_MORE_DATA) {
      ok = false;
      break;
    }
    answer->append(buf, done);
    if (err == ERROR_SUCCESS) break;
  }
  CloseHandle(event);
  CloseHandle(pipe);
  return ok;
}

std::vector<DWORD> WriterProcesses() {
  std::vector<DWORD> out;
  WIN32_FIND_DATAW found;
  const HANDLE h = FindFirstFileW((EmulatorDir() + L"\\writers\\*").c_str(), &found);
  if (h == INVALID_HANDLE_VALUE) return out;
  do {
    const DWORD pid = wcstoul(found.cFileName, nullptr, 10);
    if (pid != 0) out.push_back(pid);
  } while (FindNextFileW(h, &found));
  FindClose(h);
  return out;
}

int StateAfterEvent(const std::string& event, bool ok, int current) {
  if (const vssb::EventRule* rule = vssb::RuleFor(event.c_str())) return ok ? rule->ok_state : rule->failed_state;
  if (event == "backupShutdown" && !ok) return VSS_WS_FAILED_AT_BACKUPSHUTDOWN;
  if (event == "abort" || event == "backupShutdown") {
    // A failure stays visible until the next backup; anything else is stable again.
    return current >= VSS_WS_FAILED_AT_IDENTIFY ? current : VSS_WS_STABLE;
  }
  return current;  // identify
}

bool AbortsOnFailure(const std::string& event) {
  const vssb::EventRule* rule = vssb::RuleFor(event.c_str());
  return rule != nullptr && rule->abort_on_failure;
}

}  // namespace emu
