// The one shape of every promise the addon returns (trainEpoch, predict, trainHead, knnSearch).
//
// - Keep-alive: the JS values a job reads or writes (input TypedArrays, the wrapper object) stay referenced
//   until the promise settles, so the garbage collector cannot free a buffer under a running kernel.
// - Stop: the optional stop flag (an Int32Array [1] that lib/stop-flag.ts sets from an AbortSignal) is read
//   with a relaxed atomic load from the worker thread between batches.
// - One abort convention: a job stopped by its flag rejects with an Error named "AbortError" ("<what> was
//   aborted", as DOM AbortSignal users expect); when the job has a partial result (an epoch's progress so
//   far), the error carries it as `partial`. Nothing resolves with a "stopped" marker.
// - Errors: a RangeFailure thrown by the job rejects with a RangeError, any other std::exception with an
//   Error; both carry the exception's message.
// - Progress: the job may report values of type P; the last one queued is passed to onProgress (if given)
//   on the main thread.
// - Settle hook: runs on the main thread once the promise settles (e.g. to clear an owner's busy flag).
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "addon/args.h"

namespace eos::addon {

// Thrown by a job for a bad value it found while running (e.g. a non-finite input it scanned).
struct RangeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct NoProgress {};

// The optional stopFlag argument at position i: nullptr when absent (undefined or null); otherwise its data,
// and the array joins `keep`.
inline const int32_t* stop_flag_arg(const Napi::CallbackInfo& info, size_t i,
                                    std::vector<Napi::Value>& keep) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return nullptr;
  auto flag = typed_array_arg<int32_t>(info[i], "stopFlag", 1);
  keep.push_back(info[i]);
  return flag.Data();
}

template <typename P = NoProgress>
class PromiseWorker : public Napi::AsyncProgressQueueWorker<P> {
 public:
  using Report = std::function<void(const P&)>;
  using Stop = std::function<bool()>;
  struct Job {
    std::string what;                                     // names the operation in AbortError messages
    std::vector<Napi::Value> keep;                        // objects held until the promise settles
    const int32_t* stop_flag = nullptr;                   // may be null
    std::function<bool(const Report&, const Stop&)> run;  // worker thread; false: stopped by the flag
    std::function<Napi::Value(Napi::Env)> result;         // main thread: the resolved value (or partial)
    bool partial_on_abort = false;                        // attach result() to the AbortError
    std::function<Napi::Value(Napi::Env, const P&)> progress_value;  // main thread, with on_progress
    Napi::Function on_progress;                                      // may be empty
    std::function<void()> on_settle;                                 // main thread, may be empty
  };

  static Napi::Promise start(Napi::Env env, Job job) {
    auto* worker = new PromiseWorker(env, std::move(job));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 private:
  PromiseWorker(Napi::Env env, Job job)
      : Napi::AsyncProgressQueueWorker<P>(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        job_(std::move(job)) {
    for (const Napi::Value& v : job_.keep) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    if (!job_.on_progress.IsEmpty()) on_progress_ = Napi::Persistent(job_.on_progress);
  }

  using typename Napi::AsyncProgressQueueWorker<P>::ExecutionProgress;

  void Execute(const ExecutionProgress& progress) override {
    const int32_t* flag = job_.stop_flag;
    const Stop stop = [flag] { return flag != nullptr && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0; };
    try {
      completed_ = job_.run([&progress](const P& p) { progress.Send(&p, 1); }, stop);
    } catch (const RangeFailure& e) {
      range_failure_ = e.what();
    } catch (const std::exception& e) {
      this->SetError(e.what());
    }
  }

  void OnProgress(const P* p, size_t count) override {
    if (on_progress_.IsEmpty() || count == 0 || !job_.progress_value) return;
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    on_progress_.Call({job_.progress_value(env, p[count - 1])});
  }

  void OnOK() override {
    Napi::Env env = this->Env();
    if (!range_failure_.empty()) {
      settle(false, Napi::RangeError::New(env, range_failure_).Value());
    } else if (!completed_) {
      Napi::Error err = Napi::Error::New(env, job_.what + " was aborted");
      err.Set("name", "AbortError");
      if (job_.partial_on_abort) err.Set("partial", job_.result(env));
      settle(false, err.Value());
    } else {
      settle(true, job_.result(env));
    }
  }

  void OnError(const Napi::Error& e) override { settle(false, e.Value()); }

  void settle(bool ok, Napi::Value value) {
    if (job_.on_settle) job_.on_settle();
    if (ok) {
      deferred_.Resolve(value);
    } else {
      deferred_.Reject(value);
    }
  }

  Napi::Promise::Deferred deferred_;
  Job job_;
  std::vector<Napi::ObjectReference> refs_;
  Napi::FunctionReference on_progress_;
  bool completed_ = false;
  std::string range_failure_;
};

}  // namespace eos::addon
