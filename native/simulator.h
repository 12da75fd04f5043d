// The simulated VSS service: which writers are subscribed in this process and what state
// each is in. One per process, shared by every Node environment (worker threads included),
// as the real VSS service is shared by every writer on the machine.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "dispatcher.h"
#include "writer_metadata.h"

namespace vssb {

class SimulatedWriter {
 public:
  SimulatedWriter(WriterMetadata meta, std::string instance_id,
                  std::shared_ptr<Dispatcher> dispatcher)
      : meta(std::move(meta)),
        instance_id(std::move(instance_id)),
        dispatcher(std::move(dispatcher)) {}
  const WriterMetadata meta;
  const std::string instance_id;
  const std::shared_ptr<Dispatcher> dispatcher;

 private:
  friend class Simulator;
  // Under the Simulator's mutex. Kept here rather than in a table the Simulator searches:
  // a phase updates every writer's state, which a search would make quadratic.
  bool subscribed_ = false;
  WriterStatus status_;
};

class Simulator {
 public:
  static Simulator& Get();

  // Refuses a second writer with the same class id and instance name, as VSS does
  // (VSS_E_WRITER_ALREADY_SUBSCRIBED).
  hresult_t Subscribe(const std::shared_ptr<SimulatedWriter>& writer, std::string* message);
  void Unsubscribe(const SimulatedWriter* writer);

  std::vector<std::shared_ptr<SimulatedWriter>> Subscribed();
  std::vector<WriterStatus> ListWriters();
  // Status and metadata of every subscribed writer, taken together (GatherWriterMetadata
  // plus GatherWriterStatus), so the two never describe different sets of writers.
  std::vector<std::pair<WriterStatus, WriterMetadata>> ListWritersWithMetadata();
  // False when the writer is not subscribed.
  bool Status(const SimulatedWriter* writer, WriterStatus* out);
  void SetState(SimulatedWriter* writer, int state, hresult_t error = kS_OK,
                const std::string& message = std::string());
  int State(const SimulatedWriter* writer);

  // One snapshot set at a time, machine-wide (VSS_E_SNAPSHOT_SET_IN_PROGRESS).
  bool TryBeginSnapshotSet();
  void EndSnapshotSet();

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<SimulatedWriter>> writers_;  // in subscription order
  bool set_in_progress_ = false;
};

std::string NewGuid();

}  // namespace vssb
