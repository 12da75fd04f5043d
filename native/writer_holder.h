// What the JS object of a writer holds, for both backends (the simulator's SimulatedWriter and
// native/win/'s WindowsWriter): the metadata it registers, its instance id, and, while it is
// subscribed, the native writer, which the environment's teardown stops if JS has not let go
// of it by then.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <utility>

#include "addon_data.h"
#include "convert.h"
#include "writer_metadata.h"

namespace vssb {

template <typename Writer>
class WriterHolder {
 public:
  using Stop = void (*)(Writer& writer);

  WriterHolder(const Napi::Value& metadata, std::string instance_id, Stop stop)
      : metadata(ParseMetadata(Obj(metadata, "metadata"))),
        instance_id(std::move(instance_id)),
        data(AddonData::Get(metadata.Env())),
        stop_(stop) {}
  ~WriterHolder() { Release(); }
  WriterHolder(const WriterHolder&) = delete;
  WriterHolder& operator=(const WriterHolder&) = delete;

  const WriterMetadata metadata;
  const std::string instance_id;
  const std::shared_ptr<AddonData> data;

  Writer* get() const { return writer_.get(); }

  // Holds a subscribed writer until Release, or until teardown stops it.
  void Hold(std::shared_ptr<Writer> writer) {
    std::weak_ptr<Writer> weak = writer;
    const Stop stop = stop_;
    teardown_key_ = data->OnTeardown([weak, stop] {
      if (auto w = weak.lock()) stop(*w);
    });
    writer_ = std::move(writer);
  }

  // Stops the writer and lets go of it; false when none was held.
  bool Release() {
    if (!writer_) return false;
    data->Forget(teardown_key_);
    stop_(*writer_);
    writer_.reset();
    return true;
  }

 private:
  const Stop stop_;
  std::shared_ptr<Writer> writer_;
  uint64_t teardown_key_ = 0;
};

}  // namespace vssb
