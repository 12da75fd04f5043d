#include "simulator.h"

#include <cstdio>
#include <random>

namespace vssb {

Simulator& Simulator::Get() {
  // Never destroyed: threads of a snapshot set may still touch it while the process exits.
  static Simulator* instance = new Simulator();
  return *instance;
}

Simulator::Entry* Simulator::Find(const SimulatedWriter* writer) {
  for (auto& entry : writers_) {
    if (entry.writer.get() == writer) return &entry;
  }
  return nullptr;
}

hresult_t Simulator::Subscribe(const std::shared_ptr<SimulatedWriter>& writer,
                               std::string* message) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& entry : writers_) {
    if (entry.writer->meta.id == writer->meta.id &&
        entry.writer->meta.instance_name == writer->meta.instance_name) {
      *message = "a writer with id " + writer->meta.id + " and instance name '" +
                 writer->meta.instance_name + "' is already subscribed";
      return kVSS_E_WRITER_ALREADY_SUBSCRIBED;
    }
  }
  Entry entry;
  entry.writer = writer;
  entry.status.id = writer->meta.id;
  entry.status.instance_id = writer->instance_id;
  entry.status.name = writer->meta.name;
  entry.status.instance_name = writer->meta.instance_name;
  writers_.push_back(std::move(entry));
  return kS_OK;
}

void Simulator::Unsubscribe(const SimulatedWriter* writer) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = writers_.begin(); it != writers_.end(); ++it) {
    if (it->writer.get() == writer) {
      writers_.erase(it);
      return;
    }
  }
}

std::vector<std::shared_ptr<SimulatedWriter>> Simulator::Subscribed() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<SimulatedWriter>> out;
  for (const auto& entry : writers_) out.push_back(entry.writer);
  return out;
}

std::vector<WriterStatus> Simulator::ListWriters() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WriterStatus> out;
  for (const auto& entry : writers_) out.push_back(entry.status);
  return out;
}

std::vector<std::pair<WriterStatus, WriterMetadata>> Simulator::ListWritersWithMetadata() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<WriterStatus, WriterMetadata>> out;
  for (const auto& entry : writers_) out.emplace_back(entry.status, entry.writer->meta);
  return out;
}

bool Simulator::Status(const SimulatedWriter* writer, WriterStatus* out) {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* entry = Find(writer);
  if (entry == nullptr) return false;
  *out = entry->status;
  return true;
}

void Simulator::SetState(const SimulatedWriter* writer, int state, hresult_t error,
                         const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* entry = Find(writer);
  if (entry == nullptr) return;  // unsubscribed meanwhile
  entry->status.state = state;
  entry->status.last_error = error;
  entry->status.last_error_message = message;
}

int Simulator::State(const SimulatedWriter* writer) {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* entry = Find(writer);
  return entry == nullptr ? kWsUnknown : entry->status.state;
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
