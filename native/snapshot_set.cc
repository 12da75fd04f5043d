#include "snapshot_set.h"

#include <algorithm>

namespace vssb {

namespace {

// Identify, the backup's six events, Abort and BackupShutdown: room for all a writer can be
// sent in one set, so that recording an event never moves the others.
constexpr size_t kMaxEventsPerWriter = 9;

Clock::time_point After(Clock::time_point t, uint32_t ms) {
  return t + std::chrono::milliseconds(ms);
}

}  // namespace

SnapshotSet::SnapshotSet(SnapshotSetConfig config, ProgressSink progress, Deliver deliver)
    : config_(std::move(config)), progress_(std::move(progress)), deliver_(std::move(deliver)) {}

void SnapshotSet::Cancel() {
  cancelled_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  if (current_) current_->Notify();
}

void SnapshotSet::Abandon() {
  abandoned_ = true;
  Cancel();
}

std::shared_ptr<Notifier> SnapshotSet::CurrentNotifier(std::shared_ptr<Notifier> notifier) {
  std::lock_guard<std::mutex> lock(mu_);
  current_ = notifier;
  return notifier;
}

double SnapshotSet::Since(Clock::time_point t) const {
  return std::chrono::duration<double, std::milli>(t - start_).count();
}

std::shared_ptr<const EventContext> SnapshotSet::MakeContext(const std::string& event) const {
  auto ctx = std::make_shared<EventContext>();
  ctx->event = event;
  ctx->snapshot_set_id = result_.snapshot_set_id;
  ctx->backup_type = config_.backup_type;
  ctx->volumes = config_.volumes;
  ctx->components = config_.components;
  return ctx;
}

Progress SnapshotSet::MakeProgress(const std::string& phase, const std::string& status,
                                   const SimulatedWriter* writer, const std::string& outcome) const {
  Progress p;
  p.phase = phase;
  p.status = status;
  if (writer != nullptr) {
    p.writer_instance_id = writer->instance_id;
    p.writer_name = writer->meta.name;
  }
  p.outcome = outcome;
  p.elapsed_ms = Since(Clock::now());
  return p;
}

void SnapshotSet::EmitProgress(const std::string& phase, const std::string& status,
                               const std::string& outcome) {
  if (progress_) unsent_progress_.push_back(MakeProgress(phase, status, nullptr, outcome));
}

void SnapshotSet::FlushProgress() {
  if (unsent_progress_.empty()) return;
  std::vector<Progress> batch;
  batch.swap(unsent_progress_);
  progress_(std::move(batch));
}

bool SnapshotSet::Begin() {
  start_ = Clock::now();
  deadline_ = After(start_, config_.timeout_ms);
  result_.snapshot_set_id = NewGuid();
  if (!Simulator::Get().TryBeginSnapshotSet()) {
    result_.hr = kVSS_E_SNAPSHOT_SET_IN_PROGRESS;
    result_.message = "another snapshot set is in progress";
    DeliverOnce();
    return false;
  }
  begun_ = true;
  return true;
}

void SnapshotSet::Run() {
  if (!begun_ && (delivered_ || !Begin())) return;  // refused: already answered
  Simulator& sim = Simulator::Get();
  // Writers that subscribe from here on take no part, as in VSS.
  writers_ = sim.Subscribed();
  for (const auto& w : writers_) {
    WriterReport report;
    report.events.reserve(kMaxEventsPerWriter);
    sim.Status(w.get(), &report.status);
    result_.writers.push_back(std::move(report));
    sim.SetState(w.get(), kWsStable);
  }
  // Identify is answered from metadata registered at subscribe: no JS involved.
  const auto identify_started = Clock::now();
  EmitProgress("identify", "start");
  for (size_t i = 0; i < writers_.size(); i++) {
    result_.writers[i].events.push_back(
        EventRecord{"identify", Since(identify_started), 0, "succeeded", kS_OK, ""});
  }
  RecordPhase("identify", identify_started, Outcome::Success());

  // The outcome is in result_; BackupShutdown follows either way.
  if (config_.restore) {
    RunRestore();
  } else {
    RunBackup();
  }
  Cleanup("backupShutdown", kWsFailedAtBackupShutdown);
  // The set ends before the caller hears of it, so a set started as soon as this one resolves
  // is not refused with VSS_E_SNAPSHOT_SET_IN_PROGRESS.
  sim.EndSnapshotSet();
  FlushProgress();  // also when the result went out early: the last reports still follow it
  DeliverOnce();
}

bool SnapshotSet::RunBackup() {
  auto f = PostWithHandlerTimeout("prepareBackup");
  if (!Finish(f)) return false;

  f = PostWithHandlerTimeout("prepareSnapshot");
  if (!Finish(f)) return false;

  // The freeze window (dwTimeoutFreeze) runs from Freeze to Thaw, per writer.
  const auto freeze_start = Clock::now();
  window_end_.clear();
  for (size_t i = 0; i < writers_.size(); i++) window_end_.push_back(After(freeze_start, FreezeWindowMs(i)));
  f = Post("freeze", [&](size_t i, Clock::time_point now) {
    return std::min({After(now, writers_[i]->meta.handler_timeout_ms), window_end_[i], deadline_});
  });
  if (!Finish(f)) return false;

  if (!Commit()) return false;

  f = PostWithHandlerTimeout("thaw");
  if (!Finish(f)) return false;

  post_snapshot_sent_ = true;
  f = PostWithHandlerTimeout("postSnapshot");
  if (!Finish(f)) return false;

  f = PostWithHandlerTimeout("backupComplete");
  return Finish(f);
}

bool SnapshotSet::RunRestore() {
  auto f = PostWithHandlerTimeout("preRestore");
  if (!Finish(f)) return false;
  f = PostWithHandlerTimeout("postRestore");
  return Finish(f);
}

// The provider's commit: flush and hold every write on the set's volumes, take the
// snapshots, release. Bounded by the hold limit (unless the commit is external), every
// writer's freeze window and the set's own deadline, whichever comes first.
bool SnapshotSet::Commit() {
  const auto started = Clock::now();
  EmitProgress("commit", "start");
  FlushProgress();
  const auto hold_end = config_.external_commit ? Clock::time_point::max()
                                                : After(started, config_.provider.hold_limit_ms);
  const auto window_end = window_end_.empty()
                              ? Clock::time_point::max()
                              : *std::min_element(window_end_.begin(), window_end_.end());
  const auto commit_end = std::min({hold_end, window_end, deadline_});

  auto notifier = CurrentNotifier(std::make_shared<Notifier>());
  Outcome outcome = Outcome::Success();
  // No wait at all without a delay: a timed wait for an instant already past still sleeps for
  // the thread's timer slack (50 us on Linux), longer than the rest of the commit.
  if (config_.provider.commit_delay_ms > 0) {
    const auto delay_end = std::min(After(started, config_.provider.commit_delay_ms), commit_end);
    std::unique_lock<std::mutex> lock(notifier->mu);
    notifier->cv.wait_until(lock, delay_end, [&] { return cancelled_.load(); });
  }
  if (Clock::now() >= commit_end) outcome = Outcome::Timeout("the commit took too long");
  if (outcome.ok() && !cancelled_ && config_.provider.fail_with != kS_OK) {
    outcome = Outcome::Failure(config_.provider.fail_with, "the provider was told to fail");
  }
  if (outcome.ok() && !cancelled_ && config_.on_commit) {
    auto call = config_.on_commit->Post(MakeContext("commit"), commit_end, notifier);
    WaitAll({call}, notifier, [&] { return cancelled_.load(); });
    outcome = call->IsSettled() ? call->GetOutcome() : Outcome::Closed("cancelled");
    if (outcome.result == CallResult::kFailed || outcome.result == CallResult::kClosed) {
      outcome = Outcome::Failure(kVSS_E_UNEXPECTED_PROVIDER_ERROR,
                                 "the commit callback failed: " + outcome.message);
    }
  }
  RecordPhase("commit", started, outcome);
  if (cancelled_) {
    Interrupt(kE_ABORT, "the snapshot set was cancelled");
    return false;
  }
  if (outcome.result == CallResult::kTimedOut) {
    const auto now = Clock::now();
    if (now >= deadline_) {
      Interrupt(kERROR_TIMEOUT, "the snapshot set did not finish within its timeout");
      return false;
    }
    if (window_end <= hold_end) {
      // A writer's own freeze timer ran out before Thaw: it aborts and reports a timeout.
      bool first = true;
      for (size_t i = 0; i < writers_.size(); i++) {
        if (window_end_[i] > now) continue;
        const Outcome timeout = Outcome::Timeout(
            "the freeze window of " + std::to_string(FreezeWindowMs(i)) +
            " ms ran out before thaw");
        Simulator::Get().SetState(writers_[i].get(), kWsFailedAtFreeze, timeout.hr,
                                  timeout.message);
        // Its freeze was reported as succeeded: progress must not leave it at that.
        if (progress_) unsent_progress_.push_back(MakeProgress("freeze", "writer", writers_[i].get(), "timedOut"));
        if (first) FailByWriter(i, "freeze", timeout);
        first = false;
      }
    } else {
      result_.hr = kVSS_E_HOLD_WRITES_TIMEOUT;
      result_.message = "the provider could not hold writes for the commit within " +
                        std::to_string(config_.provider.hold_limit_ms) + " ms";
    }
    Cleanup("abort", -1);
    return false;
  }
  if (!outcome.ok()) {
    result_.hr = outcome.hr;
    result_.message = "the provider failed the commit: " + outcome.message;
    Cleanup("abort", -1);
    return false;
  }
  for (const auto& volume : config_.volumes) {
    result_.snapshots.push_back(SnapshotRecord{NewGuid(), volume, {}});
  }
  return true;
}

SnapshotSet::Fanout SnapshotSet::Post(
    const std::string& event,
    const std::function<Clock::time_point(size_t, Clock::time_point)>& deadline_for) {
  Fanout f{event, Clock::now(), CurrentNotifier(std::make_shared<Notifier>()), {}, {}, {}};
  EmitProgress(event, "start");
  FlushProgress();
  // Every writer is told the same. The first Post wakes the JS thread; the others are queued
  // before it is up, and reach JS with the first in one batch (EventQueue).
  // They are told at once, as one instant: one reading of the clock for the whole phase.
  const auto ctx = MakeContext(event);
  f.calls.reserve(writers_.size());
  const auto now = Clock::now();
  for (size_t i = 0; i < writers_.size(); i++) {
    f.calls.push_back(writers_[i]->dispatcher->Post(ctx, deadline_for(i, now), f.notifier, now));
  }
  return f;
}

SnapshotSet::Fanout SnapshotSet::PostWithHandlerTimeout(const std::string& event) {
  return Post(event, [&](size_t i, Clock::time_point now) {
    return std::min(After(now, writers_[i]->meta.handler_timeout_ms), deadline_);
  });
}

bool SnapshotSet::Finish(Fanout& f) {
  const EventRule& rule = *RuleFor(f.event.c_str());
  WaitAll(f.calls, f.notifier, [&] { return cancelled_.load(); }, deadline_);
  Record(f);
  Simulator& sim = Simulator::Get();
  bool failed = false;
  for (size_t i = 0; i < f.calls.size(); i++) {
    if (!f.settled[i]) continue;  // abandoned by a cancel: state unknown
    const Outcome& o = f.outcomes[i];
    if (o.ok()) {
      sim.SetState(writers_[i].get(), rule.ok_state);
      continue;
    }
    sim.SetState(writers_[i].get(), rule.failed_state, o.hr, o.message);
    if (!failed) FailByWriter(i, f.event, o);
    failed = true;
  }
  if (cancelled_) {
    Interrupt(kE_ABORT, "the snapshot set was cancelled");
    return false;
  }
  // A handler whose deadline was the set's own ran out of the set's time, not its own: the
  // JS-side timer may expire it a hair before this thread's clock reaches deadline_.
  // (Record took each call's outcome: a call it found unsettled settles later only when the
  // set's deadline passed, which the clock shows.)
  bool out_of_time = Clock::now() >= deadline_;
  for (size_t i = 0; i < f.calls.size() && !out_of_time; i++) {
    out_of_time = f.calls[i]->deadline >= deadline_ && f.settled[i] &&
                  f.outcomes[i].result == CallResult::kTimedOut;
  }
  if (out_of_time) {
    Interrupt(kERROR_TIMEOUT, "the snapshot set did not finish within its timeout");
    return false;
  }
  if (failed && rule.abort_on_failure) Cleanup("abort", -1);
  return !failed;
}

void SnapshotSet::FailByWriter(size_t index, const std::string& event, const Outcome& outcome) {
  result_.hr = outcome.hr;
  result_.failed_writer = writers_[index]->instance_id;
  result_.failed_event = event;
  result_.message = "writer '" + writers_[index]->meta.name + "' failed at " + event + ": " +
                    outcome.message;
}

// The requester gives up (cancel or its own deadline): the caller learns at once, then
// the requester's AbortBackup sends Abort, as after any failure past PrepareForBackup.
// VSS never sends Abort once PostSnapshot went out (OnAbort's documentation), nor during a
// restore (aborts are not supported there): those writers get BackupShutdown only.
void SnapshotSet::Interrupt(hresult_t hr, const std::string& message) {
  result_.hr = hr;
  result_.message = message;
  result_.failed_writer.clear();
  result_.failed_event.clear();
  DeliverOnce();
  if (!config_.restore && !post_snapshot_sent_) Cleanup("abort", -1);
}

// Abort and BackupShutdown: each writer gets its own handler timeout, not bounded by the
// set's deadline; the caller is answered at that deadline if they are still running.
void SnapshotSet::Cleanup(const std::string& event, int failed_state) {
  auto f = Post(event, [&](size_t i, Clock::time_point now) {
    return After(now, writers_[i]->meta.handler_timeout_ms);
  });
  auto abandoned = [&] { return abandoned_.load(); };
  if (!delivered_ && !WaitAll(f.calls, f.notifier, abandoned, deadline_)) DeliverOnce();
  WaitAll(f.calls, f.notifier, abandoned);
  Record(f);
  Simulator& sim = Simulator::Get();
  for (size_t i = 0; i < f.calls.size(); i++) {
    const Outcome& o = f.outcomes[i];
    const int state = sim.State(writers_[i].get());
    const bool writer_failed = state >= kWsFailedAtIdentify;
    if (!o.ok() && failed_state >= 0) {
      sim.SetState(writers_[i].get(), failed_state, o.hr, o.message);
    } else if (!writer_failed) {
      // Aborted, or the backup is over: a writer that did not fail is stable again, not left
      // waiting for an event that will never come. A failed one keeps its state and error.
      sim.SetState(writers_[i].get(), kWsStable);
    }
  }
}

void SnapshotSet::Record(Fanout& f) {
  // The phase is over when its waiting is: the simulator's own bookkeeping below, a cost per
  // writer that VSS does not have, is not part of it.
  const auto ended = Clock::now();
  // The phase ends as its first writer that did not succeed, if one did not.
  Outcome phase = Outcome::Success();
  f.settled.resize(f.calls.size());
  f.outcomes.resize(f.calls.size());
  const double start_ms = Since(f.started);
  for (size_t i = 0; i < f.calls.size(); i++) {
    auto& call = f.calls[i];
    EventRecord r;
    r.event = f.event;
    r.start_ms = start_ms;
    Outcome outcome;
    Clock::time_point end;
    const bool settled = f.settled[i] = call->Settled(&outcome, &end);
    if (settled) {
      const Outcome& o = f.outcomes[i] = OutcomeOf(f.event, i, std::move(outcome));
      r.outcome = CallResultName(o.result);
      r.hr = o.hr;
      r.message = o.message;
    } else {
      r.outcome = "abandoned";  // the requester stopped waiting (cancel)
      end = Clock::now();
    }
    r.duration_ms = std::chrono::duration<double, std::milli>(end - call->posted).count();
    if (progress_) unsent_progress_.push_back(MakeProgress(f.event, "writer", writers_[i].get(), r.outcome));
    if (phase.ok() && settled && !f.outcomes[i].ok()) phase = f.outcomes[i];
    result_.writers[i].events.push_back(std::move(r));
  }
  RecordPhase(f.event, f.started, phase, ended);
}

Outcome SnapshotSet::OutcomeOf(const std::string& event, size_t index, Outcome settled) const {
  if (!settled.ok()) return settled;
  const WriterMetadata& meta = writers_[index]->meta;
  for (const auto& failure : config_.writer_failures) {
    if (failure.event == event && failure.writer_name == meta.name &&
        (!failure.match_instance || failure.instance_name == meta.instance_name)) {
      return Outcome::Failure(failure.hr, "failure injected at " + event);
    }
  }
  return settled;
}

uint32_t SnapshotSet::FreezeWindowMs(size_t index) const {
  return config_.freeze_window_ms != 0 ? config_.freeze_window_ms
                                       : writers_[index]->meta.freeze_timeout_ms;
}

void SnapshotSet::RecordPhase(const std::string& phase, Clock::time_point started,
                              const Outcome& outcome, Clock::time_point ended) {
  EventRecord r;
  r.event = phase;
  r.start_ms = Since(started);
  r.duration_ms = std::chrono::duration<double, std::milli>(ended - started).count();
  r.outcome = CallResultName(outcome.result);
  r.hr = outcome.hr;
  r.message = outcome.message;
  result_.phases.push_back(r);
  EmitProgress(phase, "end", r.outcome);
}

void SnapshotSet::DeliverOnce() {
  if (delivered_) return;
  delivered_ = true;
  FlushProgress();
  result_.duration_ms = Since(Clock::now());
  Simulator& sim = Simulator::Get();
  for (size_t i = 0; i < writers_.size(); i++) sim.Status(writers_[i].get(), &result_.writers[i].status);
  deliver_(result_);
}

}  // namespace vssb
