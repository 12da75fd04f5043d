// What a snapshot set reports, whichever backend ran it (the simulator's SnapshotSet or
// native/win/'s requester): its result, each phase's and writer's event records, and its
// progress as it runs. convert.h turns them into the JS shapes src/backends/native.ts names.
#pragma once
#include <string>
#include <vector>

#include "hresult.h"
#include "writer_metadata.h"

namespace vssb {

struct EventRecord {
  std::string event;
  double start_ms = 0;  // since the set started
  double duration_ms = 0;
  std::string outcome;  // succeeded | failed | timedOut | closed | abandoned
  hresult_t hr = kS_OK;
  std::string message;
};

struct WriterReport {
  WriterStatus status;
  std::vector<EventRecord> events;
};

struct SnapshotRecord {
  std::string id;
  std::string volume;
  // Real VSS's. The simulator leaves it empty: its JS half numbers simulated copies above the
  // ones kept by earlier runs (src/backends/simulated-shadow-copies.ts).
  std::string device_object;
};

struct SnapshotSetResult {
  std::string snapshot_set_id;
  hresult_t hr = kS_OK;
  std::string message;
  std::string failed_writer;  // instance id of the writer whose failure decided hr
  std::string failed_event;
  std::vector<SnapshotRecord> snapshots;
  // A set that failed once its shadow copies existed (native/win/'s requester): the ids of
  // the copies it had made that its clean-up deleted, and of those it could not delete.
  std::vector<std::string> deleted_copies;
  std::vector<std::string> undeleted_copies;
  std::vector<EventRecord> phases;  // one record a phase, `event` naming it
  std::vector<WriterReport> writers;
  double duration_ms = 0;
};

struct Progress {
  std::string phase;
  std::string status;  // start | end | writer
  std::string writer_instance_id;
  std::string writer_name;
  std::string outcome;
  double elapsed_ms = 0;
};

}  // namespace vssb
