#include "hv_vss_msg.h"

#include <cstring>

namespace vssb {
namespace hv_vss {

bool Decode(const uint8_t* data, size_t size, Message* out) {
  if (data == nullptr || size != kMessageSize) return false;
  out->operation = data[0];
  std::memcpy(out->reserved, data + 1, sizeof out->reserved);
  std::memcpy(&out->flags, data + 8, sizeof out->flags);
  return true;
}

Bytes Encode(const Message& message) {
  Bytes bytes{};
  bytes[0] = message.operation;
  std::memcpy(bytes.data() + 1, message.reserved, sizeof message.reserved);
  std::memcpy(bytes.data() + 8, &message.flags, sizeof message.flags);
  return bytes;
}

Bytes EncodeAnswer(const Message& request, int32_t error) {
  Bytes bytes = Encode(request);
  std::memcpy(bytes.data(), &error, sizeof error);
  return bytes;
}

bool DecodeVersion(const uint8_t* data, size_t size, uint32_t* version) {
  if (data == nullptr || size != kVersionSize) return false;
  std::memcpy(version, data, sizeof *version);
  return true;
}

const char* OperationName(uint8_t operation) {
  switch (operation) {
    case kCreate: return "CREATE";
    case kDelete: return "DELETE";
    case kHotBackup: return "HOT_BACKUP";
    case kGetDmInfo: return "GET_DM_INFO";
    case kBuComplete: return "BU_COMPLETE";
    case kFreeze: return "FREEZE";
    case kThaw: return "THAW";
    case kAutoRecover: return "AUTO_RECOVER";
    case kRegister: return "REGISTER";
    case kRegister1: return "REGISTER1";
    default: return "UNKNOWN";
  }
}

}  // namespace hv_vss
}  // namespace vssb
