#include "com.h"

#include <vsserror.h>

#include <cstdio>

#include "wide.h"

namespace vssb {

ComApartment::ComApartment() : hr_(CoInitializeEx(nullptr, COINIT_MULTITHREADED)) {}

ComApartment::~ComApartment() {
  if (SUCCEEDED(hr_)) CoUninitialize();
}

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
      async->Cancel();
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
