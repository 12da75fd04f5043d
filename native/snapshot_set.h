// One simulated snapshot set: the requester, the VSS service's event fan-out and the
// provider's commit, in the order VSS runs them (see docs/ARCHITECTURE.md):
//
//   Identify -> PrepareForBackup -> PrepareForSnapshot -> Freeze -> commit -> Thaw
//   -> PostSnapshot -> BackupComplete -> BackupShutdown
//
// Events go to every writer at once and a phase ends when all answered. A failure in
// PrepareForBackup, Freeze, Thaw or the commit sends Abort to every writer; one in
// PrepareForSnapshot, PostSnapshot or BackupComplete does not. BackupShutdown always ends it.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dispatcher.h"
#include "simulator.h"
#include "snapshot_set_result.h"
#include "vss_rules.h"

namespace vssb {

struct ProviderBehaviour {
  uint32_t commit_delay_ms = 0;  // time the flush-and-hold takes
  hresult_t fail_with = kS_OK;   // make the commit fail with this HRESULT
  uint32_t hold_limit_ms = 10000;  // the kernel cancels a hold after 10 s
};

// A handler failure the simulator injects to rehearse a veto: the writer's handler runs, then
// its event fails with `hr`, as if the handler had called SetWriterFailure.
struct InjectedFailure {
  std::string writer_name;
  bool match_instance = false;  // false: every instance of the writer
  std::string instance_name;
  std::string event;
  hresult_t hr = kVSS_E_WRITERERROR_RETRYABLE;
};

struct SnapshotSetConfig {
  bool restore = false;  // run PreRestore/PostRestore instead of a backup
  std::vector<std::string> volumes;
  std::string backup_type = "full";
  std::vector<std::string> components;
  uint32_t timeout_ms = 120000;
  ProviderBehaviour provider;
  std::vector<InjectedFailure> writer_failures;
  uint32_t freeze_window_ms = 0;  // 0: each writer's own dwTimeoutFreeze
  // The commit is held outside VSS (on_commit waits for it, e.g. a Linux guest agent's
  // file-system freeze): the provider's hold limit does not apply, only the writers' freeze
  // windows and the set's deadline bound it.
  bool external_commit = false;
  std::shared_ptr<Dispatcher> on_commit;  // optional: JS run inside the freeze window
};

class SnapshotSet {
 public:
  // Gets what happened since its last call, in order: a phase's per-writer reports come
  // together, so that 64 writers cost one hop to the JS thread, not 64.
  using ProgressSink = std::function<void(std::vector<Progress>)>;
  // Called exactly once. Early (before the writers' Abort/BackupShutdown answered) when the
  // set is cancelled or runs out of time, so no handler can hold the caller past its deadline.
  using Deliver = std::function<void(const SnapshotSetResult&)>;

  SnapshotSet(SnapshotSetConfig config, ProgressSink progress, Deliver deliver);
  // Any thread: claims the simulated VSS service for this set. False when another set holds
  // it: the refusal (VSS_E_SNAPSHOT_SET_IN_PROGRESS) is then delivered at once.
  bool Begin();
  // On the set's own thread, after Begin (which it calls if nobody did); returns when every
  // writer answered.
  void Run();
  void Cancel();  // any thread: the requester gives up; writers still get Abort
  void Abandon();  // any thread: the environment is going away; stop waiting for anyone

 private:
  struct Fanout {
    std::string event;
    Clock::time_point started;
    std::shared_ptr<Notifier> notifier;
    std::vector<std::shared_ptr<PendingCall>> calls;
    // Filled by Record, once: whether each call had settled and how (injected failures applied).
    std::vector<bool> settled;
    std::vector<Outcome> outcomes;
  };

  bool RunBackup();
  bool RunRestore();
  bool Commit();
  // `deadline_for(i, now)`: writer i's deadline, the phase being posted at `now`.
  Fanout Post(const std::string& event,
              const std::function<Clock::time_point(size_t, Clock::time_point)>& deadline_for);
  Fanout PostWithHandlerTimeout(const std::string& event);
  // Waits for a main-sequence phase, applies its outcomes to the writers' states as
  // vss_rules.h says and decides what follows. False when the set ends here.
  bool Finish(Fanout& f);
  void Cleanup(const std::string& event, int failed_state);
  void Interrupt(hresult_t hr, const std::string& message);
  void FailByWriter(size_t index, const std::string& event, const Outcome& outcome);
  // Takes each writer's outcome into f and the result, once the phase's waiting is over.
  void Record(Fanout& f);
  // Writer `index`'s outcome of `event`, as its call settled, with any injected failure applied.
  Outcome OutcomeOf(const std::string& event, size_t index, Outcome settled) const;
  uint32_t FreezeWindowMs(size_t index) const;
  // A phase's record, from `started` to `ended`: its last answer, or now.
  void RecordPhase(const std::string& phase, Clock::time_point started, const Outcome& outcome,
                   Clock::time_point ended = Clock::now());
  Progress MakeProgress(const std::string& phase, const std::string& status,
                        const SimulatedWriter* writer = nullptr, const std::string& outcome = "") const;
  // Progress is buffered and sent by FlushProgress: before each wait and before the result,
  // so one phase's writer reports, its end and the next phase's start make one hop to JS.
  void EmitProgress(const std::string& phase, const std::string& status,
                    const std::string& outcome = "");
  void FlushProgress();
  std::shared_ptr<Notifier> CurrentNotifier(std::shared_ptr<Notifier> notifier);
  std::shared_ptr<const EventContext> MakeContext(const std::string& event) const;
  double Since(Clock::time_point t) const;
  void DeliverOnce();

  const SnapshotSetConfig config_;
  const ProgressSink progress_;
  const Deliver deliver_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  std::vector<std::shared_ptr<SimulatedWriter>> writers_;
  std::vector<Clock::time_point> window_end_;
  SnapshotSetResult result_;
  std::vector<Progress> unsent_progress_;
  bool begun_ = false;
  bool delivered_ = false;
  bool post_snapshot_sent_ = false;  // from here on VSS sends no Abort
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> abandoned_{false};
  std::mutex mu_;
  std::shared_ptr<Notifier> current_;
};

}  // namespace vssb
