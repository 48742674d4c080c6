// The N-API binding: unpacks typed arrays and numbers, checks that every pointer and length
// it hands a kernel is memory-safe (the .node file can be loaded and called directly, and no
// call from JavaScript may crash the process), and calls one kernel. The public API in
// src/ has already produced friendly errors for anything a user can get wrong; the checks
// here are O(1) except the index range check, which is the kernels' precondition and is
// done only here for the native backend.
//
// Kernel functions return -1 on success, or the position of the first index outside the
// table, in which case nothing was written.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels.h"
#include "malloc_tuning.h"
#include "map_file.h"
#include "simd.h"
#include "thread_pool.h"

namespace {

using nne::Kernels;
using nne::Tier;

constexpr double kMaxSafeInteger = 9007199254740991.0;

// What a kernel function was created for (see KernelsForTier below): a tier's table, and whether
// it runs now (returning its result) or on a background thread (returning a Promise of it).
struct Bound {
  const Kernels* kernels;
  bool async;
};

const Kernels& bound_kernels(const Napi::CallbackInfo& info) { return *static_cast<const Bound*>(info.Data())->kernels; }

// Per environment (the main thread and each worker load the addon anew), handed over once by
// setTransferGuard, since N-API cannot reach Node's modules or a built-in getter itself: the
// function that pins an ArrayBuffer for async calls (worker_threads.markAsUntransferable) and the
// built-in getter ArrayBuffer.prototype.resizable (asked of the buffer itself, an own property
// could lie).
struct EnvData {
  Napi::FunctionReference transfer_guard;
  Napi::FunctionReference resizable_getter;  // empty where the runtime has no resizable buffers
};

// Async kernel calls not yet completed, in the whole process. While there are any, a pool thread
// may be writing memory that a synchronous call is handed as indices (a view of an array an async
// call writes): synchronous calls then copy their index-like arrays too.
std::atomic<int64_t> jobs_in_flight{0};

// ---------------------------------------------------------------------------------------------
// Memory safety whatever JavaScript does (README, "No crash, whatever JavaScript does").
//
// A kernel runs on raw pointers into its arrays, now on the JavaScript thread or later on libuv's
// pool. Three things could make those pointers lie; each has one guard, applied by CallArrays to
// every array argument of every call:
//
// 1. Two arguments share bytes and the kernel writes one of them: it would write through what it
//    reads, indices included. Refused before anything runs: a RangeError naming both.
// 2. An index-like array (indices, offsets, rows: what addresses memory) changes after it was
//    validated. In an async call JavaScript runs while the kernel does; in any call another thread
//    may write a SharedArrayBuffer, or a pool thread the memory an unfinished async call writes.
//    Such arrays are copied first, and validation and kernel both read the copy: in async calls
//    always (the job owns the copy: 4 bytes per index against the kernel's 4 * dim), in
//    synchronous calls when shared or while async calls are in flight (into a per-thread buffer,
//    so the ordinary call copies and allocates nothing).
// 3. In an async call, an array's memory is freed or shrunk under the kernel: its ArrayBuffer is
//    transferred (postMessage, structuredClone, ArrayBuffer.prototype.transfer) and its new owner
//    collected, or a resizable ArrayBuffer is resized. Every other array's ArrayBuffer is marked
//    untransferable as it is taken (worker_threads.markAsUntransferable: a transfer then copies
//    on Node 20 and throws on Node >= 21, and never detaches), and resizable ArrayBuffers are
//    refused with a TypeError (asked through the built-in getter, which an own property cannot
//    fake). None of the caller's JavaScript runs between taking an array and pinning it. A
//    SharedArrayBuffer is never detached and only grows. The array objects stay referenced until
//    the job completes (KernelWork), so collecting them frees nothing either.
// A kernel that writes an array JavaScript can also write meanwhile (coalesce's slots and rows)
// bounds what it reads back from it.
// ---------------------------------------------------------------------------------------------

enum class Access { read, write };

constexpr uint32_t type_bit(napi_typedarray_type type) { return 1u << static_cast<unsigned>(type); }

size_t element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8;  // float64, bigint64, biguint64
  }
}

// Copies of index-like arrays that an async job reads after its call has returned.
struct JobCopies {
  std::vector<std::unique_ptr<uint8_t[]>> blocks;
};

class CallArrays {
  // What check() compares: the argument's own bytes, even when the kernel reads a copy.
  struct Entry {
    const char* name;
    uintptr_t begin;
    size_t bytes;
  };

 public:
  explicit CallArrays(const Napi::CallbackInfo& info)
      : info_(info), async_(info.Data() != nullptr && static_cast<const Bound*>(info.Data())->async) {}

  const Napi::CallbackInfo& info() const { return info_; }
  bool async() const { return async_; }
  const std::shared_ptr<JobCopies>& copies() const { return copies_; }

  // Argument `position` if it is a typed array whose type is in `types` (a mask of type_bit):
  // recorded for check(), and for an index-like array the pointer is to the copy that both the
  // validation and the kernel read (guard 2). Returns false, throwing nothing, for anything else.
  bool take(size_t position, const char* name, Access access, bool index_like, uint32_t types,
            napi_typedarray_type* type, void** data, int64_t* length) {
    napi_env env = info_.Env();
    size_t element_length = 0;
    napi_value buffer;
    void* raw = nullptr;
    if (napi_get_typedarray_info(env, info_[position], type, &element_length, &raw, &buffer, nullptr) != napi_ok ||
        (types & type_bit(*type)) == 0 || count_ == kMaxArrays) {
      *data = nullptr;
      *length = 0;
      return false;
    }
    const size_t bytes = element_length * element_size(*type);
    entries_[count_] = Entry{name, reinterpret_cast<uintptr_t>(raw), bytes};
    if (access == Access::write) written_ |= 1u << count_;
    ++count_;
    // Whether the memory is shared matters to index-like arrays (copied if so) and, in async
    // calls, to the others (nothing to pin); a synchronous call need not ask for the rest.
    if (index_like || async_) {
      bool not_shared = true;
      napi_is_arraybuffer(env, buffer, &not_shared);  // false for a SharedArrayBuffer
      if (index_like && bytes > 0 && (async_ || !not_shared || jobs_in_flight.load(std::memory_order_acquire) > 0)) {
        raw = copy(raw, bytes);
      } else if (async_ && not_shared && bytes > 0 && !pin(name, buffer)) {
        *data = nullptr;
        *length = 0;
        return false;
      }
    }
    *data = raw;
    *length = static_cast<int64_t>(element_length);
    return true;
  }

  // Guard 3 for one array of an async call, as soon as it is taken (so that nothing can detach it
  // between being taken and being pinned): refuses a resizable buffer, marks it untransferable.
  // Returns false after throwing.
  bool pin(const char* name, napi_value buffer) {
    Napi::Env env = info_.Env();
    EnvData* data = env.GetInstanceData<EnvData>();
    if (data == nullptr || data->transfer_guard.IsEmpty()) {
      Napi::Error::New(env, "async kernels need setTransferGuard(worker_threads.markAsUntransferable, resizableGetter) first")
          .ThrowAsJavaScriptException();
      return false;
    }
    napi_value result;
    bool is_resizable = false;
    if (!data->resizable_getter.IsEmpty()) {
      if (napi_call_function(env, buffer, data->resizable_getter.Value(), 0, nullptr, &result) != napi_ok ||
          napi_get_value_bool(env, result, &is_resizable) != napi_ok) {
        return throw_pending_or(env, "cannot tell whether an ArrayBuffer is resizable");
      }
    }
    if (is_resizable) {
      Napi::TypeError::New(env, std::string(name) +
                                    " is backed by a resizable ArrayBuffer, which could shrink under an async call; "
                                    "pass an array over a fixed-length buffer")
          .ThrowAsJavaScriptException();
      return false;
    }
    napi_value argument = buffer;
    if (napi_call_function(env, env.Undefined(), data->transfer_guard.Value(), 1, &argument, &result) != napi_ok) {
      return throw_pending_or(env, "the transfer guard failed");
    }
    return true;
  }

  static bool throw_pending_or(Napi::Env env, const char* message) {
    if (!env.IsExceptionPending()) Napi::Error::New(env, message).ThrowAsJavaScriptException();
    return false;
  }

  // Argument `position` of an async call may be a plain object (a holder) instead of the
  // Float32Array the kernel writes: the binding then allocates that array itself (`length` zeroed
  // floats) and, when the call succeeds, hands it over as holder.out. Until then no JavaScript can
  // reach it, so it needs no pin and stays transferable for its user. Returns 1 when it did, 0
  // when the argument is something else (to be taken as a Float32Array), -1 after throwing.
  int fresh_output(size_t position, int64_t length, float** data) {
    const Napi::Value holder = info_[position];
    if (!async_ || !holder.IsObject() || holder.IsTypedArray() || holder.IsFunction() || holder.IsArray()) return 0;
    Napi::Env env = info_.Env();
    if (length < 0 || length > (int64_t{1} << 50)) {
      Napi::RangeError::New(env, "the output is too large").ThrowAsJavaScriptException();
      return -1;
    }
    napi_value buffer, array;
    void* raw = nullptr;
    if (napi_create_arraybuffer(env, static_cast<size_t>(length) * sizeof(float), &raw, &buffer) != napi_ok ||
        napi_create_typedarray(env, napi_float32_array, static_cast<size_t>(length), buffer, 0, &array) != napi_ok) {
      throw_pending_or(env, "cannot allocate the output");
      return -1;
    }
    fresh_holder_ = holder;
    fresh_array_ = Napi::Value(env, array);
    *data = static_cast<float*>(raw);
    return 1;
  }
  Napi::Value fresh_holder() const { return fresh_holder_; }
  Napi::Value fresh_array() const { return fresh_array_; }

  // Guard 1 (see above), once every argument is taken. Returns false after throwing.
  bool check() {
    Napi::Env env = info_.Env();
    // Pairs with a written array; begin - other.begin < other.bytes (unsigned) means "inside".
    for (int i = 0; i < count_; ++i) {
      for (int j = i + 1; j < count_; ++j) {
        if (((written_ >> i) & 1) == 0 && ((written_ >> j) & 1) == 0) continue;
        const Entry& a = entries_[i];
        const Entry& b = entries_[j];
        if (a.bytes != 0 && b.bytes != 0 && (a.begin - b.begin < b.bytes || b.begin - a.begin < a.bytes)) {
          Napi::RangeError::New(env, std::string(a.name) + " and " + b.name +
                                         " share memory (a kernel would write what it reads); pass separate arrays")
              .ThrowAsJavaScriptException();
          return false;
        }
      }
    }
    return true;
  }

 private:
  static constexpr int kMaxArrays = 12;
  static constexpr int kSyncCopies = 4;


  void* copy(const void* source, size_t bytes) {
    void* target;
    if (async_ || sync_copies_ == kSyncCopies) {
      if (copies_ == nullptr) copies_ = std::make_shared<JobCopies>();
      copies_->blocks.emplace_back(new uint8_t[bytes]);
      target = copies_->blocks.back().get();
    } else {
      // Synchronous calls do not nest, and each thread (main, workers) has its own buffers.
      thread_local std::vector<uint8_t> buffers[kSyncCopies];
      std::vector<uint8_t>& buffer = buffers[sync_copies_++];
      if (buffer.size() < bytes) buffer.resize(bytes);
      target = buffer.data();
    }
    std::memcpy(target, source, bytes);
    return target;
  }

  const Napi::CallbackInfo& info_;
  const bool async_;
  Entry entries_[kMaxArrays];
  int count_ = 0;
  uint32_t written_ = 0;  // bit i: entries_[i] is written by the kernel
  int sync_copies_ = 0;
  std::shared_ptr<JobCopies> copies_;
  Napi::Value fresh_holder_;
  Napi::Value fresh_array_;
};

// The TypeError for an argument of the wrong kind, unless take() already threw (a guard's error).
bool refuse_type(Napi::Env env, const std::string& message) {
  if (!env.IsExceptionPending()) Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return false;
}

struct IndexArray {
  napi_typedarray_type type;
  const void* data;
  int64_t length;
};

// Each getter returns false after throwing a JavaScript exception.
bool get_float_array(CallArrays& call, size_t position, const char* name, Access access, float** data,
                     int64_t* length) {
  napi_typedarray_type type;
  void* raw;
  *data = nullptr;
  if (!call.take(position, name, access, false, type_bit(napi_float32_array), &type, &raw, length)) {
    return refuse_type(call.info().Env(), std::string(name) + " must be a Float32Array");
  }
  *data = static_cast<float*>(raw);
  return true;
}

bool get_index_array(CallArrays& call, size_t position, IndexArray* out) {
  void* raw;
  constexpr uint32_t kTypes = type_bit(napi_int32_array) | type_bit(napi_uint32_array) | type_bit(napi_bigint64_array);
  if (call.take(position, "indices", Access::read, true, kTypes, &out->type, &raw, &out->length)) {
    out->data = raw;
    return true;
  }
  return refuse_type(call.info().Env(), "indices must be an Int32Array, Uint32Array or BigInt64Array");
}

bool get_integer(const Napi::CallbackInfo& info, size_t position, const char* name, int64_t min,
                 int64_t* out) {
  double number;  // napi_get_value_double refuses non-numbers itself: no separate typeof
  if (napi_get_value_double(info.Env(), info[position], &number) == napi_ok && std::floor(number) == number &&
      number >= static_cast<double>(min) && number <= kMaxSafeInteger) {
    *out = static_cast<int64_t>(number);
    return true;
  }
  Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer >= " + std::to_string(min))
      .ThrowAsJavaScriptException();
  return false;
}

bool get_number(const Napi::CallbackInfo& info, size_t position, const char* name, double* out) {
  const Napi::Value value = info[position];
  if (!value.IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *out = value.As<Napi::Number>().DoubleValue();
  return true;
}

bool throw_range(const Napi::CallbackInfo& info, const std::string& message) {
  Napi::RangeError::New(info.Env(), message).ThrowAsJavaScriptException();
  return false;
}

// A table of `length` floats with rows of `dim`: returns false unless it divides evenly.
bool check_table(const Napi::CallbackInfo& info, const char* name, int64_t length, int64_t dim) {
  if (length % dim != 0) return throw_range(info, std::string(name) + " length is not a multiple of dim");
  return true;
}

// count rows of dim floats, or -1 when that does not fit in 64 bits (dim >= 1).
int64_t rows_length(int64_t count, int64_t dim) {
  return count > INT64_MAX / dim ? -1 : count * dim;
}

template <class Fn>
auto with_index_type(const IndexArray& indices, Fn&& fn) {
  switch (indices.type) {
    case napi_int32_array: return fn(static_cast<const int32_t*>(indices.data));
    case napi_uint32_array: return fn(static_cast<const uint32_t*>(indices.data));
    default: return fn(static_cast<const int64_t*>(indices.data));
  }
}

// A kernel call on libuv's thread pool. Every object argument of the call (the typed arrays) is
// referenced until it completes, and the copies of its index-like arrays are owned by it.
class KernelWork : public Napi::AsyncWorker {
 public:
  KernelWork(const CallArrays& call, std::function<int64_t()> job)
      : Napi::AsyncWorker(call.info().Env()), job_(std::move(job)), copies_(call.copies()) {
    jobs_in_flight.fetch_add(1, std::memory_order_acq_rel);
    const Napi::CallbackInfo& info = call.info();
    napi_create_promise(info.Env(), &deferred_, &promise_);
    for (size_t i = 0; i < info.Length(); ++i) {
      if (info[i].IsObject()) keep_alive_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    }
    if (!call.fresh_array().IsEmpty()) {
      fresh_holder_ = Napi::Persistent(call.fresh_holder().As<Napi::Object>());
      fresh_array_ = Napi::Persistent(call.fresh_array().As<Napi::Object>());
    }
  }

  ~KernelWork() override { jobs_in_flight.fetch_sub(1, std::memory_order_acq_rel); }

  Napi::Value Promise() const { return Napi::Value(Env(), promise_); }

 protected:
  void Execute() override { result_ = job_(); }
  // Settling can fail only while the environment is being torn down (a worker that ended, or
  // exited, with this call pending): then nothing can observe the promise, and the failure is
  // ignored instead of thrown (which would abort the process).
  void OnOK() override {
    napi_value result;
    if (result_ == -1 && !fresh_array_.IsEmpty() &&
        napi_set_named_property(Env(), fresh_holder_.Value(), "out", fresh_array_.Value()) != napi_ok) {
      // The holder refused the output (a setter or a proxy of the caller's threw): the promise
      // rejects with that error, which would otherwise escape this callback uncaught.
      napi_value error = nullptr;
      bool pending = false;
      if (napi_is_exception_pending(Env(), &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(Env(), &error) == napi_ok) {
        napi_reject_deferred(Env(), deferred_, error);
        return;
      }
    }
    if (napi_create_double(Env(), static_cast<double>(result_), &result) == napi_ok) {
      napi_resolve_deferred(Env(), deferred_, result);
    }
  }
  void OnError(const Napi::Error& error) override { napi_reject_deferred(Env(), deferred_, error.Value()); }

 private:
  std::function<int64_t()> job_;
  std::shared_ptr<JobCopies> copies_;
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
  std::vector<Napi::ObjectReference> keep_alive_;
  Napi::ObjectReference fresh_holder_;  // see CallArrays::fresh_output
  Napi::ObjectReference fresh_array_;
  int64_t result_ = -1;
};

// Applies the guards to the call's arrays, then runs the validated kernel job now, or queues it
// and returns a Promise, as the function was bound.
template <class Job>
Napi::Value finish(CallArrays& call, Job job) {
  Napi::Env env = call.info().Env();
  if (!call.check()) return env.Undefined();
  if (!call.async()) return Napi::Number::New(env, static_cast<double>(job()));
  auto* work = new KernelWork(call, std::function<int64_t()>(std::move(job)));
  Napi::Value promise = work->Promise();
  work->Queue();
  return promise;
}

// Runs kernel(data, that index type's kernels) now or in the background (as the function was
// bound), after checking every index against [0, rows): returns -1, or the position of the first
// bad index without running the kernel.
template <class Kernel>
Napi::Value run_checked(CallArrays& call, IndexArray indices, int64_t rows, Kernel kernel) {
  const Kernels& kernels = bound_kernels(call.info());
  return finish(call, [=]() -> int64_t {
    return with_index_type(indices, [&](auto data) -> int64_t {
      using Index = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
      const int64_t position = nne::first_invalid_index(data, indices.length, rows);
      if (position < 0) kernel(data, kernels.of<Index>());
      return position;
    });
  });
}

// gather(weight, dim, indices, out)
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* weight;
  float* out;
  int64_t weight_length, out_length, dim;
  IndexArray indices;
  if (!get_float_array(call, 0, "weight", Access::read, &weight, &weight_length) ||
      !get_integer(info, 1, "dim", 1, &dim) || !get_index_array(call, 2, &indices)) {
    return env.Undefined();
  }
  const int fresh = call.fresh_output(3, rows_length(indices.length, dim), &out);
  out_length = rows_length(indices.length, dim);
  if (fresh < 0 || (fresh == 0 && !get_float_array(call, 3, "out", Access::write, &out, &out_length)) ||
      !check_table(info, "weight", weight_length, dim)) {
    return env.Undefined();
  }
  if (out_length != rows_length(indices.length, dim)) {
    throw_range(info, "out length must be indices.length * dim");
    return env.Undefined();
  }
  return run_checked(call, indices, weight_length / dim, [=](auto data, const auto& k) {
    k.gather(weight, dim, data, indices.length, out);
  });
}

// scatterAdd(grad, dim, indices, gradOutput, scale | null, skipRow)
Napi::Value ScatterAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* grad;
  float* grad_output;
  float* scale = nullptr;
  int64_t grad_length, grad_output_length, scale_length = 0, dim, skip_row;
  IndexArray indices;
  if (!get_float_array(call, 0, "grad", Access::write, &grad, &grad_length) || !get_integer(info, 1, "dim", 1, &dim) ||
      !get_index_array(call, 2, &indices) ||
      !get_float_array(call, 3, "gradOutput", Access::read, &grad_output, &grad_output_length) ||
      !check_table(info, "grad", grad_length, dim)) {
    return env.Undefined();
  }
  // An empty Float32Array may report a null data pointer: whether there is a scale is decided by
  // the argument, not by the pointer.
  const bool scaled = !info[4].IsNull() && !info[4].IsUndefined();
  if (scaled && !get_float_array(call, 4, "scale", Access::read, &scale, &scale_length)) return env.Undefined();
  if (!get_integer(info, 5, "skipRow", -1, &skip_row)) return env.Undefined();
  if (grad_output_length != rows_length(indices.length, dim)) {
    throw_range(info, "gradOutput length must be indices.length * dim");
    return env.Undefined();
  }
  if (scaled && scale_length != indices.length) {
    throw_range(info, "scale length must be indices.length");
    return env.Undefined();
  }
  return run_checked(call, indices, grad_length / dim, [=](auto data, const auto& k) {
    k.scatter_add(grad, dim, data, indices.length, grad_output, scale, skip_row);
  });
}

// renorm(weight, dim, indices, maxNorm, normType, seen)
Napi::Value Renorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* weight;
  int64_t weight_length, dim;
  double max_norm, norm_type;
  IndexArray indices;
  if (!get_float_array(call, 0, "weight", Access::write, &weight, &weight_length) ||
      !get_integer(info, 1, "dim", 1, &dim) || !get_index_array(call, 2, &indices) ||
      !get_number(info, 3, "maxNorm", &max_norm) || !get_number(info, 4, "normType", &norm_type) ||
      !check_table(info, "weight", weight_length, dim)) {
    return env.Undefined();
  }
  napi_typedarray_type seen_type;
  void* seen_data;
  int64_t seen_length;
  if (!call.take(5, "seen", Access::write, false, type_bit(napi_uint8_array), &seen_type, &seen_data, &seen_length)) {
    refuse_type(env, "seen must be a Uint8Array");
    return env.Undefined();
  }
  const int64_t rows = weight_length / dim;
  if (seen_length < (rows + 7) / 8) {
    throw_range(info, "seen must hold one bit per row");
    return env.Undefined();
  }
  return run_checked(call, indices, rows, [=](auto data, const auto& k) {
    k.renorm(weight, dim, data, indices.length, max_norm, norm_type, static_cast<uint8_t*>(seen_data));
  });
}

// offsets (Uint32Array) and numBags: offsets.length must be numBags or numBags + 1, and the
// offsets must pass first_invalid_offset against `count` entries.
bool get_bags(CallArrays& call, size_t position, int64_t count, nne::Bags* bags) {
  const Napi::CallbackInfo& info = call.info();
  napi_typedarray_type type;
  void* data;
  int64_t length, num_bags;
  if (!call.take(position, "offsets", Access::read, true, type_bit(napi_uint32_array), &type, &data, &length)) {
    return refuse_type(info.Env(), "offsets must be a Uint32Array");
  }
  if (!get_integer(info, position + 1, "numBags", 0, &num_bags)) return false;
  if (length != num_bags && length != num_bags + 1) return throw_range(info, "offsets must have numBags or numBags + 1 entries");
  const uint32_t* offsets = static_cast<const uint32_t*>(data);
  if (nne::first_invalid_offset(offsets, length, count) >= 0) return throw_range(info, "invalid offsets");
  *bags = nne::Bags{offsets, length, num_bags, count};
  return true;
}

bool get_optional_float_array(CallArrays& call, size_t position, const char* name, Access access, float** data,
                              int64_t expected_length) {
  *data = nullptr;
  if (call.info()[position].IsNull() || call.info()[position].IsUndefined()) return true;
  int64_t length;
  if (!get_float_array(call, position, name, access, data, &length)) return false;
  if (length != expected_length) return throw_range(call.info(), std::string(name) + " has the wrong length");
  return true;
}

// bagForward(weight, dim, indices, offsets, numBags, perSampleWeights | null, mode, skipRow, out)
Napi::Value BagForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* weight;
  float* out;
  float* per_sample_weights;
  int64_t weight_length, out_length, dim, mode, skip_row;
  IndexArray indices;
  nne::Bags bags;
  if (!get_float_array(call, 0, "weight", Access::read, &weight, &weight_length) ||
      !get_integer(info, 1, "dim", 1, &dim) || !get_index_array(call, 2, &indices) ||
      !get_bags(call, 3, indices.length, &bags) ||
      !get_optional_float_array(call, 5, "perSampleWeights", Access::read, &per_sample_weights, indices.length) ||
      !get_integer(info, 6, "mode", 0, &mode) || !get_integer(info, 7, "skipRow", -1, &skip_row)) {
    return env.Undefined();
  }
  const int fresh = call.fresh_output(8, rows_length(bags.num_bags, dim), &out);
  out_length = rows_length(bags.num_bags, dim);
  if (fresh < 0 || (fresh == 0 && !get_float_array(call, 8, "out", Access::write, &out, &out_length)) ||
      !check_table(info, "weight", weight_length, dim)) {
    return env.Undefined();
  }
  if (mode > 2) {
    throw_range(info, "mode must be 0 (sum), 1 (mean) or 2 (max)");
    return env.Undefined();
  }
  if (out_length != rows_length(bags.num_bags, dim)) {
    throw_range(info, "out length must be numBags * dim");
    return env.Undefined();
  }
  return run_checked(call, indices, weight_length / dim, [=](auto data, const auto& k) {
    k.bag.forward(weight, dim, data, bags, per_sample_weights, static_cast<nne::BagMode>(mode), skip_row, out);
  });
}

// bagScatterAdd(grad, dim, indices, offsets, numBags, gradOutput, scale | null, skipRow)
Napi::Value BagScatterAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* grad;
  float* grad_output;
  float* scale;
  int64_t grad_length, grad_output_length, dim, skip_row;
  IndexArray indices;
  nne::Bags bags;
  if (!get_float_array(call, 0, "grad", Access::write, &grad, &grad_length) || !get_integer(info, 1, "dim", 1, &dim) ||
      !get_index_array(call, 2, &indices) || !get_bags(call, 3, indices.length, &bags) ||
      !get_float_array(call, 5, "gradOutput", Access::read, &grad_output, &grad_output_length) ||
      !get_optional_float_array(call, 6, "scale", Access::read, &scale, indices.length) ||
      !get_integer(info, 7, "skipRow", -1, &skip_row) || !check_table(info, "grad", grad_length, dim)) {
    return env.Undefined();
  }
  if (grad_output_length != rows_length(bags.num_bags, dim)) {
    throw_range(info, "gradOutput length must be numBags * dim");
    return env.Undefined();
  }
  return run_checked(call, indices, grad_length / dim, [=](auto data, const auto& k) {
    k.bag.scatter_add(grad, dim, data, bags, grad_output, scale, skip_row);
  });
}

// bagMaxBackward(weight, grad, dim, indices, offsets, numBags, gradOutput, skipRow)
Napi::Value BagMaxBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* weight;
  float* grad;
  float* grad_output;
  int64_t weight_length, grad_length, grad_output_length, dim, skip_row;
  IndexArray indices;
  nne::Bags bags;
  if (!get_float_array(call, 0, "weight", Access::read, &weight, &weight_length) ||
      !get_float_array(call, 1, "grad", Access::write, &grad, &grad_length) || !get_integer(info, 2, "dim", 1, &dim) ||
      !get_index_array(call, 3, &indices) || !get_bags(call, 4, indices.length, &bags) ||
      !get_float_array(call, 6, "gradOutput", Access::read, &grad_output, &grad_output_length) ||
      !get_integer(info, 7, "skipRow", -1, &skip_row) || !check_table(info, "weight", weight_length, dim)) {
    return env.Undefined();
  }
  if (grad_length != weight_length) {
    throw_range(info, "grad length must equal weight length");
    return env.Undefined();
  }
  if (grad_output_length != rows_length(bags.num_bags, dim)) {
    throw_range(info, "gradOutput length must be numBags * dim");
    return env.Undefined();
  }
  return run_checked(call, indices, weight_length / dim, [=](auto data, const auto& k) {
    k.bag.max_backward(weight, grad, dim, data, bags, grad_output, skip_row);
  });
}

// bagWeightGrad(weight, dim, indices, offsets, numBags, gradOutput, skipRow, out)
Napi::Value BagWeightGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* weight;
  float* grad_output;
  float* out;
  int64_t weight_length, grad_output_length, out_length, dim, skip_row;
  IndexArray indices;
  nne::Bags bags;
  if (!get_float_array(call, 0, "weight", Access::read, &weight, &weight_length) ||
      !get_integer(info, 1, "dim", 1, &dim) || !get_index_array(call, 2, &indices) ||
      !get_bags(call, 3, indices.length, &bags) ||
      !get_float_array(call, 5, "gradOutput", Access::read, &grad_output, &grad_output_length) ||
      !get_integer(info, 6, "skipRow", -1, &skip_row) ||
      !get_float_array(call, 7, "out", Access::write, &out, &out_length) ||
      !check_table(info, "weight", weight_length, dim)) {
    return env.Undefined();
  }
  if (grad_output_length != rows_length(bags.num_bags, dim) || out_length != indices.length) {
    throw_range(info, "gradOutput must have numBags * dim and out indices.length elements");
    return env.Undefined();
  }
  return run_checked(call, indices, weight_length / dim, [=](auto data, const auto& k) {
    k.bag.weight_grad(weight, dim, data, bags, grad_output, skip_row, out);
  });
}

// A typed array of one type, or (when optional) null/undefined. Presence is told by the argument,
// not by the pointer: an empty typed array may report a null data pointer. Returns false after
// throwing.
struct Typed {
  bool present = false;
  int64_t length = 0;
};

template <class T>
bool get_typed(CallArrays& call, size_t position, const char* name, napi_typedarray_type want, bool optional,
               Access access, bool index_like, T** data, Typed* typed) {
  *data = nullptr;
  *typed = Typed{};
  const Napi::CallbackInfo& info = call.info();
  if (optional && (info[position].IsNull() || info[position].IsUndefined())) return true;
  napi_typedarray_type type;
  void* raw;
  if (!call.take(position, name, access, index_like, type_bit(want), &type, &raw, &typed->length)) {
    return refuse_type(info.Env(), std::string(name) + " has the wrong type");
  }
  typed->present = true;
  *data = static_cast<T*>(raw);
  return true;
}

// optimizerUpdate(scalars: Float64Array(12), weight, grad, state0, state1, state2, rows | null, dim, scratch)
// scalars: rule, lr, a, b, c, 1 - a, 1 - b, eps, weightDecay, decay, firstStep, nesterov.
// rows: a Uint32Array (a table may have up to 2^32 rows).
// Returns -1, or the position of the first entry of rows outside the table (nothing written).
Napi::Value OptimizerUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  double* scalars;
  float *weight, *grad, *state[3], *scratch;
  uint32_t* rows;
  Typed scalars_info, state_info[3], rows_info, scratch_info;
  int64_t weight_length, grad_length, dim;
  if (!get_typed(call, 0, "scalars", napi_float64_array, false, Access::read, false, &scalars, &scalars_info) ||
      !get_float_array(call, 1, "weight", Access::write, &weight, &weight_length) ||
      !get_float_array(call, 2, "grad", Access::read, &grad, &grad_length) ||
      !get_typed(call, 3, "state0", napi_float32_array, true, Access::write, false, &state[0], &state_info[0]) ||
      !get_typed(call, 4, "state1", napi_float32_array, true, Access::write, false, &state[1], &state_info[1]) ||
      !get_typed(call, 5, "state2", napi_float32_array, true, Access::write, false, &state[2], &state_info[2]) ||
      !get_typed(call, 6, "rows", napi_uint32_array, true, Access::read, true, &rows, &rows_info) ||
      !get_integer(info, 7, "dim", 1, &dim) ||
      !get_typed(call, 8, "scratch", napi_float32_array, true, Access::write, false, &scratch, &scratch_info) ||
      !check_table(info, "weight", weight_length, dim)) {
    return env.Undefined();
  }
  if (scalars_info.length != 12 || !(scalars[0] >= 0 && scalars[0] <= 4) || std::floor(scalars[0]) != scalars[0]) {
    throw_range(info, "scalars must be a Float64Array of 12 values starting with a rule 0..4");
    return env.Undefined();
  }
  const auto rule = static_cast<nne::OptimizerRule>(static_cast<int>(scalars[0]));
  const int64_t table_rows = weight_length / dim;
  const int64_t num_rows = rows_info.present ? rows_info.length : table_rows;
  if (grad_length != rows_length(num_rows, dim)) {
    throw_range(info, "grad must hold one row per updated row");
    return env.Undefined();
  }
  // Which states each rule reads and writes: 2 = required, 1 = optional, 0 = must be absent.
  static const int kStates[5][3] = {{1, 0, 0}, {2, 0, 0}, {2, 2, 1}, {2, 2, 0}, {2, 0, 0}};
  const int64_t state_size = rule == nne::OptimizerRule::rowwise_adagrad ? table_rows : weight_length;
  for (int k = 0; k < 3; ++k) {
    const int need = kStates[static_cast<int>(rule)][k];
    const Typed& typed = state_info[k];
    if ((!typed.present && need == 2) || (typed.present && (need == 0 || typed.length != state_size))) {
      throw_range(info, "state" + std::to_string(k) + " is missing, unexpected or of the wrong length for this rule");
      return env.Undefined();
    }
  }
  if (rule == nne::OptimizerRule::rowwise_adagrad && scratch_info.length < dim) {
    throw_range(info, "scratch must hold dim floats");
    return env.Undefined();
  }
  if (rows_info.present) {
    const int64_t bad = nne::first_invalid_index(rows, num_rows, table_rows);
    if (bad >= 0) return finish(call, [bad]() -> int64_t { return bad; });  // a Promise when async
  }
  nne::OptimizerScalars s{};
  s.rule = rule;
  s.lr = static_cast<float>(scalars[1]);
  s.a = static_cast<float>(scalars[2]);
  s.b = static_cast<float>(scalars[3]);
  s.c = static_cast<float>(scalars[4]);
  s.one_minus_a = static_cast<float>(scalars[5]);
  s.one_minus_b = static_cast<float>(scalars[6]);
  s.eps = static_cast<float>(scalars[7]);
  s.weight_decay = static_cast<float>(scalars[8]);
  s.decay = static_cast<float>(scalars[9]);
  s.first_step = scalars[10] != 0;
  s.nesterov = scalars[11] != 0;
  s.lr_double = scalars[1];
  s.eps_double = scalars[7];
  // A state of zero length (an empty table) is present but has a null pointer: the kernel never
  // dereferences it, since there are no rows.
  const Kernels& kernels = bound_kernels(info);
  float* s0 = state_info[0].present ? state[0] : nullptr;
  float* s1 = state_info[1].present ? state[1] : nullptr;
  float* s2 = state_info[2].present ? state[2] : nullptr;
  const uint32_t* row_list = rows_info.present ? rows : nullptr;
  return finish(call, [=]() -> int64_t {
    kernels.optimizer_update(s, weight, grad, s0, s1, s2, row_list, num_rows, dim, scratch);
    return -1;
  });
}

// initFill(out, params: Float64Array(9), start): out[j] = element start + j of the seeded stream
// (kernels.h InitParams). params: kind (0 normal, 1 uniform, 2 truncNormal), k0, k1 (uint32 keys),
// then six float parameters (rounded to float32 here). start: an integer in [0, 2^53).
Napi::Value InitFill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  float* out;
  double* params;
  int64_t out_length, start;
  Typed params_info;
  if (!get_float_array(call, 0, "out", Access::write, &out, &out_length) ||
      !get_typed(call, 1, "params", napi_float64_array, false, Access::read, false, &params, &params_info) ||
      !get_integer(info, 2, "start", 0, &start)) {
    return env.Undefined();
  }
  if (params_info.length != 9) {
    throw_range(info, "params must be a Float64Array of 9 values starting with a kind 0..2");
    return env.Undefined();
  }
  double values[9];  // read once: params may be shared with another thread
  std::memcpy(values, params, sizeof values);
  if (!(values[0] >= 0 && values[0] <= 2) || std::floor(values[0]) != values[0]) {
    throw_range(info, "params must be a Float64Array of 9 values starting with a kind 0..2");
    return env.Undefined();
  }
  for (int k = 1; k <= 2; ++k) {
    if (!(values[k] >= 0 && values[k] <= 4294967295.0) || std::floor(values[k]) != values[k]) {
      throw_range(info, "params[1] and params[2] (the keys) must be integers in [0, 2^32)");
      return env.Undefined();
    }
  }
  if (static_cast<uint64_t>(start) + static_cast<uint64_t>(out_length) > (uint64_t{1} << 53)) {
    throw_range(info, "start + out.length must be at most 2^53");
    return env.Undefined();
  }
  nne::InitParams p{};
  p.kind = static_cast<nne::InitKind>(static_cast<int>(values[0]));
  p.k0 = static_cast<uint32_t>(values[1]);
  p.k1 = static_cast<uint32_t>(values[2]);
  for (int k = 0; k < 6; ++k) {
    // Beyond float's range the cast is undefined: clamp to +-infinity as IEEE rounding would (NaN stays NaN).
    const double v = values[3 + k];
    p.p[k] = v > 3.4028234663852886e38 ? INFINITY : v < -3.4028234663852886e38 ? -INFINITY : static_cast<float>(v);
  }
  const Kernels& kernels = bound_kernels(info);
  const uint64_t first = static_cast<uint64_t>(start);
  return finish(call, [=]() -> int64_t {
    kernels.init_fill(p, out, first, out_length);
    return -1;
  });
}

// coalesce(indices, dim, source, offsets | null, numBags, scale | null, skipRow, slots, outRows, outValues)
// Returns the number of distinct rows. Indices must lie in [0, slots.length); outRows is a
// Uint32Array (rows up to 2^32).
Napi::Value Coalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  IndexArray indices;
  float *source, *scale, *out_values;
  int32_t* slots;
  uint32_t* out_rows;
  Typed slots_info, out_rows_info;
  int64_t dim, source_length, skip_row, out_values_length;
  if (!get_index_array(call, 0, &indices) || !get_integer(info, 1, "dim", 1, &dim) ||
      !get_float_array(call, 2, "source", Access::read, &source, &source_length) ||
      !get_optional_float_array(call, 5, "scale", Access::read, &scale, indices.length) ||
      !get_integer(info, 6, "skipRow", -1, &skip_row) ||
      !get_typed(call, 7, "slots", napi_int32_array, false, Access::write, false, &slots, &slots_info) ||
      !get_typed(call, 8, "outRows", napi_uint32_array, false, Access::write, false, &out_rows, &out_rows_info) ||
      !get_float_array(call, 9, "outValues", Access::write, &out_values, &out_values_length)) {
    return env.Undefined();
  }
  const int64_t slots_length = slots_info.length;
  nne::Bags bags;
  const bool by_bag = !(info[3].IsNull() || info[3].IsUndefined());
  if (by_bag && !get_bags(call, 3, indices.length, &bags)) return env.Undefined();
  const int64_t source_rows = by_bag ? bags.num_bags : indices.length;
  // Slots are int32 positions among at most indices.length distinct rows; rows fit outRows' uint32.
  if (source_length != rows_length(source_rows, dim) || out_rows_info.length < indices.length ||
      out_values_length < rows_length(indices.length, dim) || indices.length > INT32_MAX ||
      slots_length > static_cast<int64_t>(UINT32_MAX) + 1) {
    throw_range(info, "coalesce: slots, source, outRows or outValues has the wrong length");
    return env.Undefined();
  }
  const bool invalid = with_index_type(indices, [&](auto data) {
    return nne::first_invalid_index(data, indices.length, slots_length) >= 0;
  });
  if (invalid) {
    throw_range(info, "coalesce: an index is outside slots");
    return env.Undefined();
  }
  const Kernels& kernels = bound_kernels(info);
  // The job owns copies of everything it reads (it may run after this frame is gone).
  return finish(call, [=]() -> int64_t {
    return with_index_type(indices, [&](auto data) -> int64_t {
      using Index = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
      return kernels.of<Index>().coalesce(data, indices.length, dim, source, by_bag ? &bags : nullptr, scale, skip_row,
                                          slots, slots_length, out_rows, out_values);
    });
  });
}

// firstInvalidIndex(indices, rows)
Napi::Value FirstInvalidIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CallArrays call(info);
  IndexArray indices;
  int64_t rows;
  if (!get_index_array(call, 0, &indices) || !get_integer(info, 1, "rows", 0, &rows)) return env.Undefined();
  const int64_t bad =
      with_index_type(indices, [&](auto data) { return nne::first_invalid_index(data, indices.length, rows); });
  return Napi::Number::New(env, static_cast<double>(bad));
}

// setTransferGuard(markAsUntransferable): the function async calls apply to the ArrayBuffers they
// use (see CallArrays). The package passes worker_threads.markAsUntransferable when it loads.
Napi::Value SetTransferGuard(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction() || !(info[1].IsFunction() || info[1].IsUndefined())) {
    Napi::TypeError::New(env, "setTransferGuard: expected (markAsUntransferable, resizableGetter | undefined)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  EnvData* data = env.GetInstanceData<EnvData>();
  if (data != nullptr) {
    // Once per environment: a second copy of the package loading the same file passes the same
    // function; anything else would replace the guard every async call relies on.
    if (data->transfer_guard.Value().StrictEquals(info[0])) return env.Undefined();
    Napi::Error::New(env, "setTransferGuard: already set for this environment").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // The guard must pin: a probe it was applied to must survive structuredClone with transfer
  // (copied on Node 20, refused with a DataCloneError on Node >= 21, detached otherwise).
  Napi::ArrayBuffer probe = Napi::ArrayBuffer::New(env, 8);
  info[0].As<Napi::Function>().Call({probe});
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::Value clone = env.Global().Get("structuredClone");
  if (clone.IsFunction()) {
    Napi::Object options = Napi::Object::New(env);
    Napi::Array transfer = Napi::Array::New(env, 1);
    transfer.Set(0u, probe);
    options.Set("transfer", transfer);
    clone.As<Napi::Function>().Call({probe, options});
    if (env.IsExceptionPending()) env.GetAndClearPendingException();  // a DataCloneError: refused
    if (probe.ByteLength() != 8) {
      Napi::TypeError::New(env, "setTransferGuard: the function does not make a buffer untransferable")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  // The resizable getter: as given, else ArrayBuffer.prototype's own, looked up now (later
  // changes to the prototype do not reach it).
  Napi::Value getter = info[1];
  if (!getter.IsFunction()) {
    Napi::Value array_buffer = env.Global().Get("ArrayBuffer");
    Napi::Value object = env.Global().Get("Object");
    if (array_buffer.IsFunction() && object.IsFunction()) {
      Napi::Value describe = object.As<Napi::Object>().Get("getOwnPropertyDescriptor");
      if (describe.IsFunction()) {
        Napi::Value descriptor = describe.As<Napi::Function>().Call(
            {array_buffer.As<Napi::Object>().Get("prototype"), Napi::String::New(env, "resizable")});
        if (descriptor.IsObject()) getter = descriptor.As<Napi::Object>().Get("get");
      }
    }
    if (env.IsExceptionPending()) return env.Undefined();
  }
  data = new EnvData();
  data->transfer_guard = Napi::Persistent(info[0].As<Napi::Function>());
  if (getter.IsFunction()) data->resizable_getter = Napi::Persistent(getter.As<Napi::Function>());
  env.SetInstanceData<EnvData>(data);
  return env.Undefined();
}

// kernels(tier): { tier, gather, scatterAdd, renorm } running the named tier ('' for the widest
// this CPU runs). The functions carry a pointer to the tier's static table, so several tiers can
// be used side by side and nothing is mutable.
Napi::Value KernelsForTier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "tier must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Tier tier = nne::best_tier();
  if (!name.empty()) {
    if (!nne::parse_tier(name.c_str(), &tier)) {
      Napi::RangeError::New(env, "unknown SIMD tier '" + name + "' (expected scalar, avx2, avx512 or neon)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!nne::tier_supported(tier)) {
      Napi::Error::New(env, "SIMD tier '" + name + "' is not supported by this CPU (widest supported: " +
                                nne::tier_name(nne::best_tier()) + ")")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  // Built once, thread-safely (workers may ask concurrently), and never changed.
  static const std::vector<Bound> bound = [] {
    std::vector<Bound> all;
    for (int t = 0; t < nne::kTierCount; ++t) {
      all.push_back(Bound{&nne::kernels_for(static_cast<Tier>(t)), false});
      all.push_back(Bound{&nne::kernels_for(static_cast<Tier>(t)), true});
    }
    return all;
  }();
  void* now = const_cast<Bound*>(&bound[2 * static_cast<size_t>(tier)]);
  void* later = const_cast<Bound*>(&bound[2 * static_cast<size_t>(tier) + 1]);
  Napi::Object result = Napi::Object::New(env);
  Napi::Object async = Napi::Object::New(env);
  result.Set("tier", nne::tier_name(tier));
  result.Set("async", async);
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry entries[] = {{"gather", Gather},
                                  {"scatterAdd", ScatterAdd},
                                  {"renorm", Renorm},
                                  {"bagForward", BagForward},
                                  {"bagScatterAdd", BagScatterAdd},
                                  {"bagMaxBackward", BagMaxBackward},
                                  {"bagWeightGrad", BagWeightGrad},
                                  {"optimizerUpdate", OptimizerUpdate},
                                  {"initFill", InitFill},
                                  {"coalesce", Coalesce}};
  for (const Entry& entry : entries) {
    result.Set(entry.name, Napi::Function::New(env, entry.fn, entry.name, now));
    async.Set(entry.name, Napi::Function::New(env, entry.fn, entry.name, later));
  }
  return result;
}

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const nne::CpuFeatures& features = nne::cpu_features();
  Napi::Object result = Napi::Object::New(env);
  result.Set("avx2", features.avx2);
  result.Set("avx512", features.avx512);
  result.Set("neon", features.neon);
  Napi::Array tiers = Napi::Array::New(env);
  uint32_t count = 0;
  for (int i = 0; i < nne::kTierCount; ++i) {
    if (nne::tier_supported(static_cast<Tier>(i))) tiers.Set(count++, nne::tier_name(static_cast<Tier>(i)));
  }
  result.Set("tiers", tiers);
  result.Set("best", nne::tier_name(nne::best_tier()));
  return result;
}

// setNumThreads(n): how many threads the kernels split large calls over (thread_pool.h), n an
// integer in [1, 256]; the pool is process-wide, so this affects every worker_thread too.
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n;
  if (!get_integer(info, 0, "n", 1, &n)) return info.Env().Undefined();
  if (n > nne::kMaxThreads) {
    throw_range(info, "n must be an integer from 1 to " + std::to_string(nne::kMaxThreads));
    return info.Env().Undefined();
  }
  nne::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

// getNumThreads(): the number set, else NN_EMBEDDING_THREADS, else the CPUs available.
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), nne::num_threads()); }

// A mapping as an external ArrayBuffer that unmaps it when collected (an empty one for size 0).
//
// One owner of the memory at every moment. Until napi_create_external_arraybuffer is called the
// mapping is ours; once it is called, the finalizer below owns it whatever the call returns, with
// one exception. Node 20 builds the ArrayBuffer through node::Buffer::New, which, above
// buffer.constants.MAX_LENGTH (2^32 bytes there), runs (or schedules) the finalizer itself, throws
// ERR_BUFFER_TOO_LARGE and makes the call return napi_generic_failure or napi_pending_exception:
// unmapping here as well was a double free (SIGABRT, issue 17). The exception is
// napi_no_external_buffers_allowed (the V8 sandbox), returned before the finalizer is taken, so
// the mapping is still ours to unmap. Any other failure is taken to mean the runtime owns the
// mapping: if some runtime did not, the cost is a leaked mapping, never a double unmap. The
// TypeScript callers never ask for more than MAX_LENGTH (src/io/files.ts), so this is a backstop.
// No second exception is thrown over a pending one (that would be a fatal napi_throw).
Napi::Value mapping_buffer(Napi::Env env, const nne::MappedFile& mapped) {
  if (mapped.data == nullptr) return Napi::ArrayBuffer::New(env, 0);
  if (env.IsExceptionPending()) {  // nothing was handed to the runtime yet: the mapping is ours
    nne::unmap_file(mapped);
    return env.Undefined();
  }
  auto* owned = new nne::MappedFile(mapped);
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(
      env, mapped.data, mapped.size,
      [](napi_env, void*, void* hint) {
        auto* region = static_cast<nne::MappedFile*>(hint);
        nne::unmap_file(*region);
        delete region;
      },
      owned, &buffer);
  if (status == napi_ok) return Napi::Value(env, buffer);
  const bool refused_before_taking = status == napi_no_external_buffers_allowed;
  if (refused_before_taking) {
    nne::unmap_file(*owned);
    delete owned;
  }
  // `owned` must not be touched below: unless refused_before_taking, it belongs to the runtime.
  if (!env.IsExceptionPending()) {
    Napi::Error::New(env, refused_before_taking
                              ? std::string("external ArrayBuffers are not allowed in this runtime")
                              : "cannot wrap a mapping of " + std::to_string(mapped.size) +
                                    " bytes in an ArrayBuffer (napi_status " + std::to_string(status) + ")")
        .ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// mapFile(path): the file mapped copy-on-write as an external ArrayBuffer, unmapped by its
// finalizer. Throws an Error with the failing step's reason (open, fstat, mmap).
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "mapFile: path must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos) {
    Napi::TypeError::New(env, "mapFile: path must not contain NUL").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  nne::MappedFile mapped;
  std::string error;
  if (!nne::map_file(path.c_str(), &mapped, &error)) {
    Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return mapping_buffer(env, mapped);
}

// adviseHugePages(buffer: ArrayBuffer): huge pages requested for the whole 2 MiB blocks of the
// buffer's memory (map_file.h advise_huge_pages), before a table is first written. Returns whether
// the kernel took the advice; throws a TypeError for anything but a (non-shared) ArrayBuffer.
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool is_buffer = false;
  if (info.Length() < 1 || napi_is_arraybuffer(env, info[0], &is_buffer) != napi_ok || !is_buffer) {
    Napi::TypeError::New(env, "buffer must be an ArrayBuffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  void* data = nullptr;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, info[0], &data, &length) != napi_ok) {
    Napi::TypeError::New(env, "buffer must be an ArrayBuffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Boolean::New(env, nne::advise_huge_pages(data, length));
}

// allocateZeroed(bytes): `bytes` zeroed bytes in huge pages where the kernel offers them (see
// map_file.h), as an external ArrayBuffer unmapped by its finalizer. bytes: an integer in
// [0, 2^53); a mapping the system refuses throws an Error.
Napi::Value AllocateZeroed(const Napi::CallbackInfo& info) {
  int64_t bytes;
  if (!get_integer(info, 0, "bytes", 0, &bytes)) return info.Env().Undefined();
  if (static_cast<uint64_t>(bytes) > static_cast<uint64_t>(SIZE_MAX / 2)) {
    throw_range(info, "bytes is too large");
    return info.Env().Undefined();
  }
  nne::MappedFile mapped;
  std::string error;
  if (!nne::map_zeroed(static_cast<size_t>(bytes), &mapped, &error)) {
    Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return mapping_buffer(info.Env(), mapped);
}

// mallocTuning(): what malloc_tuning.h did when the addon loaded ('tuned', or 'default (why)').
Napi::Value MallocTuning(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), nne::tune_malloc_once());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nne::tune_malloc_once();
  exports.Set("mallocTuning", Napi::Function::New(env, MallocTuning, "mallocTuning"));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures, "cpuFeatures"));
  exports.Set("firstInvalidIndex", Napi::Function::New(env, FirstInvalidIndex, "firstInvalidIndex"));
  exports.Set("kernels", Napi::Function::New(env, KernelsForTier, "kernels"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("mapFile", Napi::Function::New(env, MapFile, "mapFile"));
  exports.Set("allocateZeroed", Napi::Function::New(env, AllocateZeroed, "allocateZeroed"));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("setTransferGuard", Napi::Function::New(env, SetTransferGuard, "setTransferGuard"));
  return exports;
}

}  // namespace

NODE_API_MODULE(nn_embedding, Init)
