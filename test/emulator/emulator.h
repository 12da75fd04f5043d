// The emulated VSS for tests under Wine (never shipped): a vssapi.dll of our own that the
// unmodified win32-x64 addon loads in place of Wine's stubs. See docs/ARCHITECTURE.md.
//
// Who plays which part:
//   - a process that subscribes a CVssWriter serves a named pipe; each request on it is
//     handled on its own thread, the "RPC worker thread" that calls the writer's On* method;
//   - the process holding an IVssBackupComponents is the VSS service for its snapshot set:
//     it finds the writer processes in the emulator's folder, sends them each event in VSS's
//     order and applies VSS's rules (native/vss_rules.h, shared with the simulator);
//   - shared state lives in the emulator's folder (EmulatorDir): writer registrations, the
//     persistent shadow copies, the machine-wide snapshot-set lock, the faults to inject and
//     the record of every requester call (calls.log), which tests read.
// Built with MinGW (C++, COM interfaces through their C vtables, so that every method the
// addon does not call answers E_NOTIMPL). Every wait has a deadline.
#pragma once
#ifndef CINTERFACE
#define CINTERFACE
#endif
#include <windows.h>
#include <objbase.h>
#include <vss.h>
#include <vswriter.h>
#include <vsbackup.h>
#include <vsserror.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace emu {

using Clock = std::chrono::steady_clock;

// ---- COM objects through their C vtables ---------------------------------------------------
HRESULT STDMETHODCALLTYPE NotImplemented();

// Every slot answers E_NOTIMPL until set: on x64 the callee ignores arguments it does not
// read, whatever the method's signature.
template <typename Vtbl>
void FillNotImplemented(Vtbl* v) {
  void** slots = reinterpret_cast<void**>(v);
  for (size_t i = 0; i < sizeof(Vtbl) / sizeof(void*); i++) slots[i] = reinterpret_cast<void*>(&NotImplemented);
}

// IUnknown for the emulator's COM objects: Self derives from Counted<Iface, Self>.
template <typename Iface, typename Self>
struct Counted : Iface {
  std::atomic<LONG> refs{1};
  static HRESULT STDMETHODCALLTYPE QueryInterface(Iface* p, REFIID, void** out) {
    static_cast<Self*>(p)->refs++;
    *out = p;
    return S_OK;
  }
  static ULONG STDMETHODCALLTYPE AddRef(Iface* p) { return ++static_cast<Self*>(p)->refs; }
  static ULONG STDMETHODCALLTYPE Release(Iface* p) {
    const LONG n = --static_cast<Self*>(p)->refs;
    if (n == 0) delete static_cast<Self*>(p);
    return n;
  }
  template <typename Vtbl>
  static void Base(Vtbl* v) {
    FillNotImplemented(v);
    v->QueryInterface = &QueryInterface;
    v->AddRef = &AddRef;
    v->Release = &Release;
  }
};

// ---- text -------------------------------------------------------------------------------
std::string Narrow(const wchar_t* w);
std::wstring Widen(const std::string& s);
std::string GuidText(const GUID& g);
bool ParseGuidText(const std::string& s, GUID* out);
GUID NewGuid();
std::string Hex(HRESULT hr);
HRESULT ParseHr(const std::string& s);
std::vector<std::string> Split(const std::string& s, char sep);
std::string Lower(std::string s);
BSTR Bstr(const std::string& s);           // NULL for ""
wchar_t* CoTaskString(const std::string& s);  // CoTaskMemAlloc'd, freed by VssFreeSnapshotProperties

// ---- the emulator's folder ---------------------------------------------------------------
// %VSSEMU_DIR%, else C:\vssemu. Tests give each run its own folder, so parallel tests are
// separate "machines" sharing one Wine prefix.
std::wstring EmulatorDir();
std::wstring EmulatorPath(const std::wstring& name);
// Appends one line to calls.log: "<pid> <what>".
void Record(const std::string& what);
// An exclusively opened file in the folder, or INVALID_HANDLE_VALUE once `wait_ms` passed.
HANDLE LockFile(const std::wstring& name, DWORD wait_ms);
std::string ReadText(const std::wstring& path);
bool WriteText(const std::wstring& path, const std::string& text);

// ---- faults (the file "faults" in the folder, one a line, read by each new requester) -----
struct PhantomComponent {
  std::string logical, name, path;  // path "": no files
  bool selectable = true;
};
struct PhantomWriter {  // a third-party writer the service answers for itself
  std::string name;
  std::string instance_id;
  std::string writer_id;
  std::string fail_event;  // fails this event with fail_hr
  HRESULT fail_hr = S_OK;
  std::string hang_event;  // never answers this event
  int stuck_state = 0;     // nonzero: stays in this state, takes part in nothing
  HRESULT stuck_error = S_OK;
  int state = VSS_WS_STABLE;
  HRESULT last_error = S_OK;
  std::vector<PhantomComponent> components;  // empty: one component "<name>\data"
};
struct Faults {
  bool provider_veto = false;      // the provider's commit fails: VSS_E_PROVIDER_VETO
  DWORD commit_delay_ms = 0;       // the provider's commit takes this long
  std::string commit_waits_for;    // ... or until calls.log has a record starting with this
  HRESULT after_commit = S_OK;     // DoSnapshotSet fails with this after the copies exist
  HRESULT backup_complete = S_OK;  // BackupComplete fails with this
  bool cancel_finishes = false;    // IVssAsync::Cancel completes the operation instead
  DWORD writer_timeout_ms = 60000;  // how long the service waits for a writer's answer
  std::vector<std::string> unsupported_volumes;
  std::vector<PhantomWriter> phantoms;
};
Faults ReadFaults();

// ---- the writer side's pipe protocol ------------------------------------------------------
// A request and its answer are each one pipe message of lines; fields are tab-separated.
std::wstring PipeName(DWORD pid);
// Sends `request` to process `pid`'s writers and waits until `deadline` for the answer.
// False when the process is gone or did not answer in time.
bool CallWriterProcess(DWORD pid, const std::string& request, Clock::time_point deadline,
                       std::string* answer);
std::vector<DWORD> WriterProcesses();  // registered in the folder's "writers" subfolder

// Writer states after each backup event: the simulator's table (native/vss_rules.h).
int StateAfterEvent(const std::string& event, bool ok, int current);
bool AbortsOnFailure(const std::string& event);

}  // namespace emu
