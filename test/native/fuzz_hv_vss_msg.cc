// libFuzzer target for the hv_vss message codec (native/linux/hv_vss_msg.cc): whatever bytes
// the kernel's channel hands over, decoding never reads outside them, refuses every size but
// 12 (4 for the version), and an answer keeps the request's bytes past the error field.
// Built with clang++-19 -fsanitize=fuzzer,address,undefined by scripts/native-checks.sh.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "hv_vss_msg.h"

using namespace vssb::hv_vss;

namespace {
void Require(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that got here
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Message message;
  const bool decoded = Decode(data, size, &message);
  Require(decoded == (size == kMessageSize));
  if (decoded) {
    const Bytes round_trip = Encode(message);
    Require(std::memcmp(round_trip.data(), data, kMessageSize) == 0);
    Require(OperationName(message.operation) != nullptr);
    int32_t error;
    std::memcpy(&error, data, sizeof error);  // any value, as a writer's failure may be
    const Bytes answer = EncodeAnswer(message, error);
    Require(std::memcmp(answer.data(), &error, sizeof error) == 0);
    Require(std::memcmp(answer.data() + 4, data + 4, kMessageSize - 4) == 0);
  }
  uint32_t version = 0;
  Require(DecodeVersion(data, size, &version) == (size == kVersionSize));
  return 0;
}
