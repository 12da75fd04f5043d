// COM as VSS needs it: a multithreaded apartment per thread that talks to VSS, the process's
// one CoInitializeSecurity call, a minimal owning pointer, and IVssAsync waits that honour a
// deadline and a cancel request.
#pragma once
#include <windows.h>
#include <objbase.h>
#include <vss.h>

#include <condition_variable>
#include <mutex>
#include <string>

#include "../call.h"

namespace vssb {

// CoInitializeEx(COINIT_MULTITHREADED) for the life of the object.
class ComApartment {
 public:
  ComApartment();
  ~ComApartment();
  ComApartment(const ComApartment&) = delete;
  ComApartment& operator=(const ComApartment&) = delete;
  HRESULT hr() const { return hr_; }

 private:
  HRESULT hr_;
};

enum class ComRole { kWriter, kRequester };

struct SecurityResult {
  HRESULT hr = S_OK;
  std::string warning;  // set when COM security was already decided by someone else
};

// CoInitializeSecurity, once per process, with what VSS documents for the first role that asks
// (writer: identify-level impersonation so VSS can call in; requester: impersonate with static
// cloaking), then COM's exception handling off through IGlobalOptions, as VSS's security pages
// say. A later call returns the first result and no warning. RPC_E_TOO_LATE (another
// component of the process set it first) is not a failure: the warning says what it means.
SecurityResult InitializeComSecurity(ComRole role);

template <typename T>
class ComPtr {
 public:
  ComPtr() = default;
  ~ComPtr() { Reset(); }
  ComPtr(const ComPtr&) = delete;
  ComPtr& operator=(const ComPtr&) = delete;
  T* operator->() const { return p_; }
  T* Get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  T** Put() {
    Reset();
    return &p_;
  }
  void Reset() {
    if (p_ != nullptr) p_->Release();
    p_ = nullptr;
  }

 private:
  T* p_ = nullptr;
};

// Lets another thread stop an IVssAsync wait early.
class CancelToken {
 public:
  void Cancel();
  bool cancelled();
  // Sleeps up to `ms`, waking at once on Cancel.
  void SleepFor(int ms);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
};

// Polls `async` until it finishes. Past `deadline` or once `cancel` fires it calls
// IVssAsync::Cancel, waits (at most 10 s) until the operation has stopped or finished, and
// returns ERROR_TIMEOUT (as an HRESULT) or E_ABORT. Otherwise returns the operation's own
// result (S_OK when it finished).
HRESULT WaitForAsync(IVssAsync* async, Clock::time_point deadline, CancelToken* cancel);

// "<what> failed: <system text>" (the HRESULT itself is added by the TypeScript layer).
std::string DescribeFailure(const std::string& what, HRESULT hr);

}  // namespace vssb
