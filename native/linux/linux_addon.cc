#include "linux_addon.h"

#include <memory>
#include <string>

#include "../addon_data.h"
#include "../js_queue.h"
#include "fs_freeze.h"
#include "hv_vss_channel.h"
#include "peer_credentials.h"

namespace vssb {
namespace {

Napi::Error ErrnoError(Napi::Env env, int error, const std::string& what) {
  auto e = Napi::Error::New(env, what + " failed (errno " + std::to_string(error) + ")");
  e.Set("errno", Napi::Number::New(env, error));
  return e;
}

std::string PathArg(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

// peerCredentials(fd) -> { pid, uid, gid }
Napi::Value PeerCredentialsJs(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "fd must be a number");
  PeerCredentials cred;
  const int error = GetPeerCredentials(info[0].As<Napi::Number>().Int32Value(), &cred);
  if (error != 0) throw ErrnoError(info.Env(), error, "getsockopt(SO_PEERCRED)");
  auto o = Napi::Object::New(info.Env());
  o.Set("pid", static_cast<double>(cred.pid));
  o.Set("uid", static_cast<double>(cred.uid));
  o.Set("gid", static_cast<double>(cred.gid));
  return o;
}

// freezeFileSystem(path, callback(errno)) / thawFileSystem(path, callback(errno)): on an
// environment-owned thread, never the libuv pool.
template <int (*Op)(const std::string&)>
Napi::Value FsIoctlJs(const Napi::CallbackInfo& info) {
  const std::string path = PathArg(info);
  if (!info[1].IsFunction()) throw Napi::TypeError::New(info.Env(), "callback must be a function");
  RunOnThread(info.Env(), info[1].As<Napi::Function>(), [path]() -> ToJs {
    const int error = Op(path);
    return [error](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, error); };
  });
  return info.Env().Undefined();
}

// openHvVssChannel(path, sink) -> { answer(error), close() }
// sink('version', n) once, then sink('message', { operation, name, flags }) for each request,
// each to be answered with answer(error) before the next; sink('closed', errno) last.
Napi::Value OpenHvVssChannelJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = PathArg(info);
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "sink must be a function");
  std::unique_ptr<hv_vss::Channel> opened;
  std::string what;
  const int error = hv_vss::Channel::Open(path, &opened, &what);
  if (error != 0) throw ErrnoError(env, error, what);
  std::shared_ptr<hv_vss::Channel> channel(std::move(opened));
  // The request being answered: the answer is its bytes with the error written over them.
  auto last = std::make_shared<std::pair<std::mutex, hv_vss::Message>>();

  auto data = AddonData::Get(env);
  auto queue = JsQueue::Create(env, info[1].As<Napi::Function>(), "vss-bridge:hv_vss");
  std::weak_ptr<hv_vss::Channel> weak = channel;
  const uint64_t teardown_key = data->OnTeardown([weak] {
    if (auto c = weak.lock()) c->Stop();
  });
  data->StartThread([data, queue, channel, last, teardown_key](uint64_t id) {
    bool handshake = true;
    int error = 0;
    for (;;) {
      hv_vss::Message message;
      uint32_t version = 0;
      const auto read = channel->Next(handshake, &message, &version, &error);
      if (read == hv_vss::Channel::Read::kVersion) {
        handshake = false;
        queue->Post([version](Napi::Env env, Napi::Function sink) {
          sink.Call({Napi::String::New(env, "version"), Napi::Number::New(env, version)});
        });
        continue;
      }
      if (read != hv_vss::Channel::Read::kMessage) break;
      {
        std::lock_guard<std::mutex> lock(last->first);
        last->second = message;
      }
      queue->Post([message](Napi::Env env, Napi::Function sink) {
        auto o = Napi::Object::New(env);
        o.Set("operation", message.operation);
        o.Set("name", hv_vss::OperationName(message.operation));
        o.Set("flags", static_cast<double>(message.flags));
        sink.Call({Napi::String::New(env, "message"), o});
      });
    }
    data->Forget(teardown_key);
    queue->Post([data, queue, id, error](Napi::Env env, Napi::Function sink) {
      data->JoinThread(id);
      queue->Close();
      sink.Call({Napi::String::New(env, "closed"), Napi::Number::New(env, error)});
    });
  });

  auto handle = Napi::Object::New(env);
  handle.Set("answer", Napi::Function::New(env, [channel, last](const Napi::CallbackInfo& info) {
               if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "error must be a number");
               hv_vss::Message request;
               {
                 std::lock_guard<std::mutex> lock(last->first);
                 request = last->second;
               }
               const int error = channel->Write(
                   hv_vss::EncodeAnswer(request, info[0].As<Napi::Number>().Int32Value()));
               if (error != 0) throw ErrnoError(info.Env(), error, "write to the hv_vss channel");
             }, "answer"));
  handle.Set("close", Napi::Function::New(env, [channel](const Napi::CallbackInfo&) {
               channel->Stop();
             }, "close"));
  return handle;
}

}  // namespace

void RegisterLinux(Napi::Env env, Napi::Object exports) {
  auto api = Napi::Object::New(env);
  api.Set("peerCredentials", Napi::Function::New(env, PeerCredentialsJs, "peerCredentials"));
  api.Set("freezeFileSystem", Napi::Function::New(env, FsIoctlJs<FreezeFileSystem>, "freezeFileSystem"));
  api.Set("thawFileSystem", Napi::Function::New(env, FsIoctlJs<ThawFileSystem>, "thawFileSystem"));
  api.Set("openHvVssChannel", Napi::Function::New(env, OpenHvVssChannelJs, "openHvVssChannel"));
  exports.Set("linux", api);
}

}  // namespace vssb
