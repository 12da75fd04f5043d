#include "simulator.h"

#include <cstdio>
#include <random>

namespace vssb {

Simulator& Simulator::Get() {
  // Never destroyed: threads of a snapshot set may still touch it while the process exits.
  static Simulator* instance = new Simulator();
  return *instance;
}

hresult_t Simulator::Subscribe(const std::shared_ptr<SimulatedWriter>& writer,
                               std::string* message) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& other : writers_) {
    if (other->meta.id == writer->meta.id &&
        other->meta.instance_name == writer->meta.instance_name) {
      *message = "a writer with id " + writer->meta.id + " and instance name '" +
                 writer->meta.instance_name + "' is already subscribed";
      return kVSS_E_WRITER_ALREADY_SUBSCRIBED;
    }
  }
  writer->subscribed_ = true;
  writer->status_ = WriterStatus{};
  writer->status_.id = writer->meta.id;
  writer->status_.instance_id = writer->instance_id;
  writer->status_.name = writer->meta.name;
  writer->status_.instance_name = writer->meta.instance_name;
  writers_.push_back(writer);
  return kS_OK;
}

void Simulator::Unsubscribe(const SimulatedWriter* writer) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = writers_.begin(); it != writers_.end(); ++it) {
    if (it->get() == writer) {
      (*it)->subscribed_ = false;
      writers_.erase(it);
      return;
    }
  }
}

std::vector<std::shared_ptr<SimulatedWriter>> Simulator::Subscribed() {
  std::lock_guard<std::mutex> lock(mu_);
  return writers_;
}

std::vector<WriterStatus> Simulator::ListWriters() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WriterStatus> out;
  for (const auto& writer : writers_) out.push_back(writer->status_);
  return out;
}

std::vector<std::pair<WriterStatus, WriterMetadata>> Simulator::ListWritersWithMetadata() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<WriterStatus, WriterMetadata>> out;
  for (const auto& writer : writers_) out.emplace_back(writer->status_, writer->meta);
  return out;
}

bool Simulator::Status(const SimulatedWriter* writer, WriterStatus* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writer->subscribed_) return false;
  *out = writer->status_;
  return true;
}

void Simulator::SetState(SimulatedWriter* writer, int state, hresult_t error,
                         const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writer->subscribed_) return;  // unsubscribed meanwhile
  writer->status_.state = state;
  writer->status_.last_error = error;
  writer->status_.last_error_message = message;
}

int Simulator::State(const SimulatedWriter* writer) {
  std::lock_guard<std::mutex> lock(mu_);
  return writer->subscribed_ ? writer->status_.state : kWsUnknown;
}

bool Simulator::TryBeginSnapshotSet() {
  std::lock_guard<std::mutex> lock(mu_);
  if (set_in_progress_) return false;
  set_in_progress_ = true;
  return true;
}

void Simulator::EndSnapshotSet() {
  std::lock_guard<std::mutex> lock(mu_);
  set_in_progress_ = false;
}

std::string NewGuid() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi, lo;
  {
    std::lock_guard<std::mutex> lock(mu);
    hi = rng();
    lo = rng();
  }
  hi = (hi & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xFFFF),
                static_cast<unsigned>(hi & 0xFFFF), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

}  // namespace vssb
