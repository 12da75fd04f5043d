// HRESULT values the native code produces. The full table, with symbolic names and
// retryability, lives in src/hresult.ts; these are the ones C++ needs to return.
#pragma once
#include <cstdint>

namespace vssb {

using hresult_t = int32_t;

constexpr hresult_t Hr(uint32_t v) { return static_cast<hresult_t>(v); }

constexpr hresult_t kS_OK = 0;
constexpr hresult_t kE_ABORT = Hr(0x80004004);
constexpr hresult_t kE_UNEXPECTED = Hr(0x8000FFFF);
constexpr hresult_t kERROR_TIMEOUT = Hr(0x800705B4);  // HRESULT_FROM_WIN32(ERROR_TIMEOUT)

constexpr hresult_t kVSS_E_BAD_STATE = Hr(0x80042301);
constexpr hresult_t kVSS_E_PROVIDER_VETO = Hr(0x80042306);
constexpr hresult_t kVSS_E_UNEXPECTED_PROVIDER_ERROR = Hr(0x8004230F);
constexpr hresult_t kVSS_E_HOLD_WRITES_TIMEOUT = Hr(0x80042314);
constexpr hresult_t kVSS_E_SNAPSHOT_SET_IN_PROGRESS = Hr(0x80042316);
constexpr hresult_t kVSS_E_WRITER_ALREADY_SUBSCRIBED = Hr(0x8004231A);

constexpr hresult_t kVSS_E_WRITERERROR_INCONSISTENTSNAPSHOT = Hr(0x800423F0);
constexpr hresult_t kVSS_E_WRITERERROR_OUTOFRESOURCES = Hr(0x800423F1);
constexpr hresult_t kVSS_E_WRITERERROR_TIMEOUT = Hr(0x800423F2);
constexpr hresult_t kVSS_E_WRITERERROR_RETRYABLE = Hr(0x800423F3);
constexpr hresult_t kVSS_E_WRITERERROR_NONRETRYABLE = Hr(0x800423F4);

}  // namespace vssb
