// struct hv_vss_msg of the Linux kernel's Hyper-V VSS channel (include/uapi/linux/hyperv.h),
// as plain bytes: 12 bytes, packed, host byte order (the kernel and the daemon share it).
//
//   offset 0  union { struct { u8 operation; u8 reserved[7]; } vss_hdr; int error; }
//   offset 8  union { struct { u32 flags; } vss_cf; struct { u32 flags; } dm_info; }
//
// The answer overwrites `error`, which overlays `operation`: the daemon reads an operation
// and writes back the same bytes with error set. Pure C++ with no Node-API, so it can be
// fuzzed on its own.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace vssb {
namespace hv_vss {

constexpr size_t kMessageSize = 12;
constexpr size_t kVersionSize = 4;  // the kernel's answer to the registration

enum Operation : uint8_t {
  kCreate = 0,
  kDelete = 1,
  kHotBackup = 2,
  kGetDmInfo = 3,
  kBuComplete = 4,
  kFreeze = 5,
  kThaw = 6,
  kAutoRecover = 7,
  kCount = 8,
  kRegister = 128,
  kRegister1 = 129,
};

constexpr int32_t kHvSOk = 0;
constexpr int32_t kHvEFail = static_cast<int32_t>(0x80004005u);

using Bytes = std::array<uint8_t, kMessageSize>;

struct Message {
  uint8_t operation = 0;
  uint8_t reserved[7] = {0, 0, 0, 0, 0, 0, 0};
  uint32_t flags = 0;  // vss_cf.flags / dm_info.flags
};

// False unless `size` is exactly kMessageSize.
bool Decode(const uint8_t* data, size_t size, Message* out);
// The bytes of a request (operation and reserved in the first union).
Bytes Encode(const Message& message);
// The bytes of the answer to `request`: its bytes with `error` written over the first union.
Bytes EncodeAnswer(const Message& request, int32_t error);
// False unless `size` is exactly kVersionSize.
bool DecodeVersion(const uint8_t* data, size_t size, uint32_t* version);
const char* OperationName(uint8_t operation);

}  // namespace hv_vss
}  // namespace vssb
