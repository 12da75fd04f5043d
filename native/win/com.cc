#include "com.h"

#include <vsserror.h>

#include <cstdio>

#include "wide.h"

namespace vssb {

ComApartment::ComApartment() : hr_(CoInitializeEx(nullptr, COINIT_MULTITHREADED)) {}

ComApartment::~ComApartment() {
  if (SUCCEEDED(hr_)) CoUninitialize();
}

namespace {

// CLSID_GlobalOptions and IID_IGlobalOptions, without linking uuid.lib.
constexpr CLSID kClsidGlobalOptions = {0x0000034B, 0x0000, 0x0000, {0xC0, 0, 0, 0, 0, 0, 0, 0x46}};
constexpr IID kIidGlobalOptions = {0x0000015B, 0x0000, 0x0000, {0xC0, 0, 0, 0, 0, 0, 0, 0x46}};

// "Security Considerations for Writers" and "... for Requesters": COM must not swallow a fatal
// exception in a call into this process and carry on in a corrupt state.
void DisableComExceptionHandling() {
  IGlobalOptions* options = nullptr;
  if (FAILED(CoCreateInstance(kClsidGlobalOptions, nullptr, CLSCTX_INPROC_SERVER, kIidGlobalOptions,
                              reinterpret_cast<void**>(&options))) ||
      options == nullptr) {
    return;
  }
  options->Set(COMGLB_EXCEPTION_HANDLING, COMGLB_EXCEPTION_DONOT_HANDLE);
  options->Release();
}

}  // namespace

SecurityResult InitializeComSecurity(ComRole role) {
  static std::mutex mu;
  static bool done = false;
  static SecurityResult first;
  std::lock_guard<std::mutex> lock(mu);
  if (done) return SecurityResult{first.hr, std::string()};
  const bool writer = role == ComRole::kWriter;
  HRESULT hr = CoInitializeSecurity(
      nullptr, -1, nullptr, nullptr, RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
      writer ? RPC_C_IMP_LEVEL_IDENTIFY : RPC_C_IMP_LEVEL_IMPERSONATE, nullptr,
      writer ? EOAC_NONE : EOAC_STATIC_CLOAKING, nullptr);
  first = SecurityResult{hr, std::string()};
  DisableComExceptionHandling();
  if (hr == RPC_E_TOO_LATE) {
    first.hr = S_OK;
    first.warning =
        "CoInitializeSecurity returned RPC_E_TOO_LATE: another component of this process already "
        "set COM security, so its settings decide whether the VSS service may call this process. "
        "If VSS events never arrive or the event log shows error 8194 (\"IVssWriterCallback ... "
        "Access is denied\"), load vss-bridge before that component or set COM security as VSS "
        "documents (RPC_C_AUTHN_LEVEL_PKT_PRIVACY, RPC_C_IMP_LEVEL_IDENTIFY).";
  }
  done = true;
  return first;
}

void CancelToken::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

bool CancelToken::cancelled() {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

void CancelToken::SleepFor(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return cancelled_; });
}

namespace {

// How long a cancelled operation may take to wind down (VSS sends Abort to the writers first).
constexpr auto kCancelGrace = std::chrono::seconds(10);

// IVssAsync::Cancel only asks: the operation may still be running (S_OK), or may have finished
// first (VSS_S_ASYNC_FINISHED). Until it has stopped, every other call on the backup components
// would meet it in flight, so wait for its end, within kCancelGrace.
void CancelAndWait(IVssAsync* async) {
  const HRESULT hr = async->Cancel();
  if (hr != S_OK) return;  // finished, cancelled already, or failed: nothing is running
  const auto until = Clock::now() + kCancelGrace;
  for (;;) {
    HRESULT status = S_OK;
    if (FAILED(async->QueryStatus(&status, nullptr)) || status != VSS_S_ASYNC_PENDING || Clock::now() >= until) return;
    Sleep(20);
  }
}

}  // namespace

HRESULT WaitForAsync(IVssAsync* async, Clock::time_point deadline, CancelToken* cancel) {
  for (;;) {
    HRESULT result = S_OK;
    const HRESULT hr = async->QueryStatus(&result, nullptr);
    if (FAILED(hr)) return hr;
    if (result == VSS_S_ASYNC_FINISHED) return S_OK;
    if (result == VSS_S_ASYNC_CANCELLED) return E_ABORT;
    if (result != VSS_S_ASYNC_PENDING) return result;
    const bool cancelled = cancel != nullptr && cancel->cancelled();
    if (cancelled || Clock::now() >= deadline) {
      CancelAndWait(async);
      return cancelled ? E_ABORT : HRESULT_FROM_WIN32(ERROR_TIMEOUT);
    }
    // VSS has no completion callback for requesters; a short poll keeps every COM call on
    // this thread, and Cancel wakes it at once.
    if (cancel != nullptr) {
      cancel->SleepFor(50);
    } else {
      Sleep(50);
    }
  }
}

std::string DescribeFailure(const std::string& what, HRESULT hr) {
  wchar_t* text = nullptr;
  const DWORD n = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, static_cast<DWORD>(hr), 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
  std::string system = n > 0 ? Narrow(text) : std::string();
  if (text != nullptr) LocalFree(text);
  while (!system.empty() && (system.back() == '\n' || system.back() == '\r' || system.back() == ' ' ||
                             system.back() == '.')) {
    system.pop_back();
  }
  return system.empty() ? what + " failed" : what + " failed: " + system;
}

}  // namespace vssb
