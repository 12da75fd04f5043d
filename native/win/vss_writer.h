// One subscription of a VssWriter to the real VSS service: a CVssWriter (writer_shim.cc) that
// lives on its own MTA thread from Subscribe to Unsubscribe.
//
//   MTA thread (Run)                 RPC threads (VSS calls in)          JS thread
//   CoInitializeEx, security,        OnIdentify: answered here from
//   Initialize, Subscribe            the metadata, never waits for JS
//   ...waits for Stop()...           On<Event>: Dispatcher::Dispatch ──▶ handler
//   Close dispatcher, Unsubscribe    ◀── outcome; on failure SetWriterFailure
//                                    on this same thread, return false
//
// The dispatcher is closed before Unsubscribe: Unsubscribe waits for the event calls in
// flight, and closing first answers them at once instead of at their deadlines.
#pragma once
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../dispatcher.h"
#include "../writer_metadata.h"
#include "writer_shim.h"

namespace vssb {

struct WriterStepResult {
  hresult_t hr = kS_OK;
  std::string message;
  std::vector<std::string> warnings;
};

class WindowsWriter {
 public:
  WindowsWriter(WriterMetadata metadata, std::string instance_id,
                std::shared_ptr<Dispatcher> dispatcher);
  ~WindowsWriter();

  // The MTA thread's body. Reports Subscribe's outcome through `subscribed`; when it succeeded,
  // waits for Stop() and then reports Unsubscribe's outcome through `unsubscribed`.
  void Run(const std::function<void(const WriterStepResult&)>& subscribed,
           const std::function<void(const WriterStepResult&)>& unsubscribed);
  // Any thread, idempotent: ask Run to unsubscribe and return.
  void Stop();

  // The writer's own view of its state (VSS_WRITER_STATE), from the events it answered.
  WriterStatus Status();

 private:
  static int OnEvent(void* user, vssb_writer* writer, vssb_event event, void* iface,
                     const GUID* shutdown_set);
  bool Identify(void* metadata);
  bool Handle(vssb_writer* writer, vssb_event event, void* iface, const GUID* shutdown_set);
  EventContext ContextFor(vssb_writer* writer, vssb_event event, void* components,
                          const GUID* shutdown_set);
  Clock::time_point DeadlineFor(vssb_event event);
  void Record(vssb_event event, const Outcome& outcome);
  WriterStepResult Subscribe(vssb_writer* writer);

  const WriterMetadata metadata_;
  const std::string instance_id_;
  const std::shared_ptr<Dispatcher> dispatcher_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  WriterStatus status_;
  std::string selected_for_set_;  // snapshot set whose PrepareForBackup filled selected_
  std::vector<std::string> selected_;
  Clock::time_point freeze_started_;
};

}  // namespace vssb
