// The N-API binding: unpacks typed arrays and numbers, checks that every pointer and length
// it hands a kernel is memory-safe (the .node file can be loaded and called directly, and no
// call from JavaScript may crash the process), and calls one kernel. The public API in
// src/ has already produced friendly errors for anything a user can get wrong; the checks
// here are O(1) except the index range check, which is the kernels' precondition and is
// done only here for the native backend.
//
// Kernel functions return -1 on success, or the position of the first index outside the
// table, in which case nothing was written.
//
// Each kernel entry point reads its arguments through Args (a declarative reader: argument k as
// a given kind, the first error thrown and the rest skipped), then runs its kernel. The entry
// points are listed once, in kKernelEntries, and the addon reports that list (kernelNames) and
// the optimizer scalars' slots (optimizerScalarSlots, optimizer_slots.h) for the TypeScript side
// to check its own against (test/kernel-lists.test.ts).
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <functional>
#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

#include "add_words.h"
#include "kernels.h"
#include "malloc_tuning.h"
#include "map_file.h"
#include "parse_text.h"
#include "optimizer_slots.h"
#include "simd.h"
#include "thread_pool.h"
#include "word2vec_binary.h"

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

// How a kernel uses an array argument (as src/async-guard.ts KERNEL_ARRAYS says too): reads it,
// writes it, or reads it as index-like (what addresses memory: copied under guard 2).
enum class Use { read, write, index };

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
  bool take(size_t position, const char* name, Use use, uint32_t types, napi_typedarray_type* type, void** data,
            int64_t* length) {
    const bool index_like = use == Use::index;
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
    if (use == Use::write) written_ |= 1u << count_;
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

// count rows of dim floats, or -1 when that does not fit in 64 bits (dim >= 1).
int64_t rows_length(int64_t count, int64_t dim) {
  return count > INT64_MAX / dim ? -1 : count * dim;
}

// Whether v is an integer in [low, high].
bool integer_in(double v, double low, double high) { return v >= low && v <= high && std::floor(v) == v; }

// A typed-array argument. Whether it was given is told by the argument, not by the pointer: an
// empty typed array may report a null data pointer.
template <class T>
struct Array {
  T* data = nullptr;
  int64_t length = 0;
  bool present = false;
};

// The typed array that holds elements of T (the element types the kernels take), and its name.
template <class T>
constexpr napi_typedarray_type kArrayType =
    std::is_same_v<T, float>      ? napi_float32_array
    : std::is_same_v<T, double>   ? napi_float64_array
    : std::is_same_v<T, int32_t>  ? napi_int32_array
    : std::is_same_v<T, uint32_t> ? napi_uint32_array
    : std::is_same_v<T, uint16_t> ? napi_uint16_array
                                  : napi_uint8_array;

const char* array_name(napi_typedarray_type type) {
  switch (type) {
    case napi_float32_array: return "a Float32Array";
    case napi_float64_array: return "a Float64Array";
    case napi_int32_array: return "an Int32Array";
    case napi_uint32_array: return "a Uint32Array";
    case napi_uint16_array: return "a Uint16Array";
    default: return "a Uint8Array";
  }
}

// Indices of any of the three types the kernels take (see with_index_type).
struct IndexArray {
  napi_typedarray_type type = napi_int32_array;
  const void* data = nullptr;
  int64_t length = 0;
};

// The indices of a bag kernel and the bags that group them: indices, offsets, numBags.
struct BagIndices {
  IndexArray indices;
  nne::Bags bags{};
};

// Reads a call's arguments, each as a given kind, into the entry point's variables, in the manner
// of sodium-native's argument macros: argument k as an array, indices, bags, an integer or a
// number, then checks of what was read. The first argument that is wrong throws its error (a
// TypeError for the wrong kind, a RangeError for a wrong value or length) and ends the reading:
// every later read and check does nothing, so an entry point reads and checks in one chain and
// tests ok() once. Checks take their operands by reference and read them only when everything
// before was right (a failed read leaves its variable as it was). Arrays are taken through
// CallArrays (the guards above) in the order they are read, which is argument order. Nothing here
// allocates unless it throws.
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : call_(info) {}

  bool ok() const { return ok_; }
  CallArrays& call() { return call_; }
  const Napi::CallbackInfo& info() const { return call_.info(); }

  // A typed array of T.
  template <class T>
  Args& array(size_t k, const char* name, Use use, Array<T>* out) {
    return typed(k, name, use, false, out);
  }

  // The same, or absent (out->present false) when the argument is null or undefined.
  template <class T>
  Args& optional(size_t k, const char* name, Use use, Array<T>* out) {
    return typed(k, name, use, true, out);
  }

  // The same, and when present of `length` elements.
  template <class T>
  Args& optional(size_t k, const char* name, Use use, Array<T>* out, const int64_t& length) {
    typed(k, name, use, true, out);
    if (ok_ && out->present && out->length != length) return refuse_range(std::string(name) + " has the wrong length");
    return *this;
  }

  // A Float64Array of exactly N values, copied into `out` (read once: it may be shared with
  // another thread); `message` is the RangeError for another length.
  template <size_t N>
  Args& values(size_t k, const char* name, double (&out)[N], const char* message) {
    Array<double> array;
    typed(k, name, Use::read, false, &array);
    if (!ok_) return *this;
    if (array.length != static_cast<int64_t>(N)) return refuse_range(message);
    std::memcpy(out, array.data, sizeof out);
    return *this;
  }

  // An Int32Array, Uint32Array or BigInt64Array of indices.
  Args& indices(size_t k, IndexArray* out) {
    constexpr uint32_t kTypes = type_bit(napi_int32_array) | type_bit(napi_uint32_array) | type_bit(napi_bigint64_array);
    void* data = nullptr;
    if (!ok_) return *this;
    if (!call_.take(k, "indices", Use::index, kTypes, &out->type, &data, &out->length)) {
      return refuse_type("indices must be an Int32Array, Uint32Array or BigInt64Array");
    }
    out->data = data;
    return *this;
  }

  // An integer in [min, 2^53).
  Args& integer(size_t k, const char* name, int64_t min, int64_t* out) {
    if (!ok_) return *this;
    double number;  // napi_get_value_double refuses non-numbers itself: no separate typeof
    if (napi_get_value_double(info().Env(), info()[k], &number) == napi_ok && std::floor(number) == number &&
        number >= static_cast<double>(min) && number <= kMaxSafeInteger) {
      *out = static_cast<int64_t>(number);
      return *this;
    }
    return refuse_range(std::string(name) + " must be an integer >= " + std::to_string(min));
  }

  Args& number(size_t k, const char* name, double* out) {
    if (!ok_) return *this;
    const Napi::Value value = info()[k];
    if (!value.IsNumber()) return refuse_type(std::string(name) + " must be a number");
    *out = value.As<Napi::Number>().DoubleValue();
    return *this;
  }

  // indices (argument k), offsets (k + 1) and numBags (k + 2), as bags() reads them.
  Args& bag_indices(size_t k, BagIndices* out) {
    return indices(k, &out->indices).bags(k + 1, out->indices.length, &out->bags);
  }

  // offsets (a Uint32Array, argument k) and numBags (k + 1) over `count` entries: numBags or
  // numBags + 1 offsets that pass first_invalid_offset. With `present`, offsets may be null or
  // undefined (then *present is false and numBags is not read).
  Args& bags(size_t k, const int64_t& count, nne::Bags* out, bool* present = nullptr) {
    if (!ok_) return *this;
    if (present != nullptr && !(*present = !absent(k))) return *this;
    Array<uint32_t> offsets;
    int64_t num_bags = 0;
    if (!array(k, "offsets", Use::index, &offsets).integer(k + 1, "numBags", 0, &num_bags).ok()) return *this;
    if (offsets.length != num_bags && offsets.length != num_bags + 1) {
      return refuse_range("offsets must have numBags or numBags + 1 entries");
    }
    if (nne::first_invalid_offset(offsets.data, offsets.length, count) >= 0) return refuse_range("invalid offsets");
    *out = nne::Bags{offsets.data, offsets.length, num_bags, count};
    return *this;
  }

  // The output, argument k: in an async call a holder object may stand for it, and then `count`
  // rows of dim floats are allocated (CallArrays::fresh_output); else a Float32Array (check its
  // length with rows()).
  Args& output(size_t k, const int64_t& count, const int64_t& dim, Array<float>* out) {
    if (!ok_) return *this;
    const int64_t length = rows_length(count, dim);
    const int fresh = call_.fresh_output(k, length, &out->data);
    if (fresh < 0) return stop();
    if (fresh == 0) return array(k, "out", Use::write, out);
    out->length = length;
    out->present = true;
    return *this;
  }

  // A table (argument k, a Float32Array) of rows of dim floats, and dim (k + 1, an integer >= 1).
  Args& table(size_t k, const char* name, Use use, Array<float>* table, int64_t* dim) {
    return array(k, name, use, table).integer(k + 1, "dim", 1, dim).whole_rows(name, *table, *dim);
  }

  // A narrow table (argument k: a Uint16Array of float16 or bfloat16 bits, or a Uint8Array of
  // int8 or int4 rows), its dtype (k + 1: 1 float16, 2 bfloat16, 3 int8, 4 int4) and dim (k + 2),
  // of whole rows; *rows is how many.
  Args& packed(size_t k, nne::PackedTable* table, int64_t* rows, Use use = Use::read) {
    int64_t dtype = 0;
    if (!integer(k + 1, "dtype", 1, &dtype).require([&] { return dtype <= 4; }, "dtype must be 1 (float16), 2 (bfloat16), 3 (int8) or 4 (int4)").ok()) {
      return *this;
    }
    table->dtype = static_cast<nne::Dtype>(dtype);
    const bool halves = table->dtype == nne::Dtype::float16 || table->dtype == nne::Dtype::bfloat16;
    void* data = nullptr;
    int64_t bytes = 0;
    if (halves) {
      Array<uint16_t> bits;
      if (!array(k, "data", use, &bits).ok()) return *this;
      data = bits.data;
      bytes = 2 * bits.length;
    } else {
      Array<uint8_t> rows_bytes;
      if (!array(k, "data", use, &rows_bytes).ok()) return *this;
      data = rows_bytes.data;
      bytes = rows_bytes.length;
    }
    int64_t dim = 0;
    if (!integer(k + 2, "dim", 1, &dim).ok()) return *this;
    if (dim > (INT64_MAX - 8) / 4) return refuse_range("dim is too large");
    const int64_t row_bytes = nne::dtype_row_bytes(table->dtype, dim);
    if (row_bytes < 0) return refuse_range("an int4 table needs an even dim");
    if (bytes % row_bytes != 0) return refuse_range("data length is not a whole number of rows");
    table->data = data;
    table->dim = dim;
    *rows = bytes / row_bytes;
    return *this;
  }

  // A table of any dtype: argument k a Float32Array for dtype 0 (float32), else as packed() reads
  // it; the dtype (k + 1: 0..4) and dim (k + 2). *rows is how many rows it has.
  Args& any_table(size_t k, nne::PackedTable* table, int64_t* rows) {
    int64_t dtype = 0;
    if (!integer(k + 1, "dtype", 0, &dtype).ok()) return *this;
    if (dtype != 0) return packed(k, table, rows);
    Array<float> weight;
    int64_t dim = 0;
    if (!array(k, "data", Use::read, &weight).integer(k + 2, "dim", 1, &dim).whole_rows("data", weight, dim).ok()) return *this;
    *table = nne::PackedTable{weight.data, nne::Dtype::float32, dim};
    *rows = weight.length / dim;
    return *this;
  }

  // Checks. A table's length is a multiple of dim (dim read already, so >= 1).
  Args& whole_rows(const char* name, const Array<float>& table, const int64_t& dim) {
    if (ok_ && table.length % dim != 0) return refuse_range(std::string(name) + " length is not a multiple of dim");
    return *this;
  }

  // An array of `count` rows of dim floats.
  Args& rows(const Array<float>& array, const int64_t& count, const int64_t& dim, const char* message) {
    if (ok_ && array.length != rows_length(count, dim)) return refuse_range(message);
    return *this;
  }

  // Anything else: condition() must hold.
  template <class Condition>
  Args& require(Condition condition, const char* message) {
    if (ok_ && !condition()) return refuse_range(message);
    return *this;
  }

  // For checks that need what the reads produced: throws the RangeError, returns undefined.
  Napi::Value fail(const std::string& message) {
    refuse_range(message);
    return undefined();
  }

  // What an entry point returns after an error.
  Napi::Value undefined() const { return info().Env().Undefined(); }

 private:
  template <class T>
  Args& typed(size_t k, const char* name, Use use, bool optional, Array<T>* out) {
    if (!ok_ || (optional && absent(k))) return *this;
    napi_typedarray_type type;
    void* data = nullptr;
    static_assert(std::is_same_v<T, uint8_t> || kArrayType<T> != napi_uint8_array, "no typed array holds T");
    if (!call_.take(k, name, use, type_bit(kArrayType<T>), &type, &data, &out->length)) {
      return refuse_type(std::string(name) + " must be " + array_name(kArrayType<T>));
    }
    out->data = static_cast<T*>(data);
    out->present = true;
    return *this;
  }

  bool absent(size_t k) const { return info()[k].IsNull() || info()[k].IsUndefined(); }


  Args& stop() {
    ok_ = false;
    return *this;
  }

  // The TypeError for an argument of the wrong kind, unless take() already threw (a guard's error).
  Args& refuse_type(const std::string& message) {
    if (!info().Env().IsExceptionPending()) Napi::TypeError::New(info().Env(), message).ThrowAsJavaScriptException();
    return stop();
  }

  Args& refuse_range(const std::string& message) {
    Napi::RangeError::New(info().Env(), message).ThrowAsJavaScriptException();
    return stop();
  }

  CallArrays call_;
  bool ok_ = true;
};

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
Napi::Value finish(Args& args, Job job) {
  CallArrays& call = args.call();
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
Napi::Value run_checked(Args& args, IndexArray indices, int64_t rows, Kernel kernel) {
  const Kernels& kernels = bound_kernels(args.info());
  return finish(args, [=]() -> int64_t {
    return with_index_type(indices, [&](auto data) -> int64_t {
      using Index = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
      const int64_t position = nne::first_invalid_index(data, indices.length, rows);
      if (position < 0) kernel(data, kernels.of<Index>());
      return position;
    });
  });
}

// The kernel entry points: each reads its arguments from the Args it is given (entry() makes it),
// then runs its kernel (run_checked or finish). Their signatures are the Backend's (src/backend.ts).

// firstInvalidIndex(indices, rows)
Napi::Value FirstInvalidIndex(Args& args) {
  IndexArray indices;
  int64_t rows = 0;
  if (!args.indices(0, &indices).integer(1, "rows", 0, &rows).ok()) return args.undefined();
  return finish(args, [=]() -> int64_t {
    return with_index_type(indices, [&](auto data) { return nne::first_invalid_index(data, indices.length, rows); });
  });
}

// gather(weight, dim, indices, out)
Napi::Value Gather(Args& args) {
  Array<float> weight, out;
  int64_t dim = 0;
  IndexArray indices;
  args.table(0, "weight", Use::read, &weight, &dim).indices(2, &indices);
  args.output(3, indices.length, dim, &out);
  args.rows(out, indices.length, dim, "out length must be indices.length * dim");
  if (!args.ok()) return args.undefined();
  return run_checked(args, indices, weight.length / dim, [=](auto data, const auto& k) {
    k.gather(weight.data, dim, data, indices.length, out.data);
  });
}

// gatherPacked(data, dtype, dim, indices, out)
Napi::Value GatherPacked(Args& args) {
  nne::PackedTable table{};
  int64_t rows = 0;
  Array<float> out;
  IndexArray indices;
  args.packed(0, &table, &rows).indices(3, &indices);
  args.output(4, indices.length, table.dim, &out);
  args.rows(out, indices.length, table.dim, "out length must be indices.length * dim");
  if (!args.ok()) return args.undefined();
  return run_checked(args, indices, rows, [=](auto data, const auto& k) {
    k.gather_packed(table, data, indices.length, out.data);
  });
}

// scatterAdd(grad, dim, indices, gradOutput, scale | null, skipRow)
Napi::Value ScatterAdd(Args& args) {
  Array<float> grad, grad_output, scale;
  int64_t dim = 0, skip_row = 0;
  IndexArray indices;
  args.table(0, "grad", Use::write, &grad, &dim).indices(2, &indices);
  args.array(3, "gradOutput", Use::read, &grad_output);
  args.optional(4, "scale", Use::read, &scale).integer(5, "skipRow", -1, &skip_row);
  args.rows(grad_output, indices.length, dim, "gradOutput length must be indices.length * dim");
  args.require([&] { return !scale.present || scale.length == indices.length; }, "scale length must be indices.length");
  if (!args.ok()) return args.undefined();
  return run_checked(args, indices, grad.length / dim, [=](auto data, const auto& k) {
    k.scatter_add(grad.data, dim, data, indices.length, grad_output.data, scale.data, skip_row);
  });
}

// renorm(weight, dim, indices, maxNorm, normType, seen)
Napi::Value Renorm(Args& args) {
  Array<float> weight;
  Array<uint8_t> seen;
  int64_t dim = 0;
  double max_norm = 0, norm_type = 0;
  IndexArray indices;
  args.table(0, "weight", Use::write, &weight, &dim).indices(2, &indices);
  args.number(3, "maxNorm", &max_norm).number(4, "normType", &norm_type);
  args.array(5, "seen", Use::write, &seen);
  args.require([&] { return seen.length >= (weight.length / dim + 7) / 8; }, "seen must hold one bit per row");
  if (!args.ok()) return args.undefined();
  return run_checked(args, indices, weight.length / dim, [=](auto data, const auto& k) {
    k.renorm(weight.data, dim, data, indices.length, max_norm, norm_type, seen.data);
  });
}

// bagForward(weight, dim, indices, offsets, numBags, perSampleWeights | null, mode, skipRow, out)
Napi::Value BagForward(Args& args) {
  Array<float> weight, per_sample_weights, out;
  int64_t dim = 0, mode = 0, skip_row = 0;
  BagIndices in;
  args.table(0, "weight", Use::read, &weight, &dim).bag_indices(2, &in);
  args.optional(5, "perSampleWeights", Use::read, &per_sample_weights, in.indices.length);
  args.integer(6, "mode", 0, &mode).integer(7, "skipRow", -1, &skip_row).output(8, in.bags.num_bags, dim, &out);
  args.require([&] { return mode <= 2; }, "mode must be 0 (sum), 1 (mean) or 2 (max)");
  args.rows(out, in.bags.num_bags, dim, "out length must be numBags * dim");
  if (!args.ok()) return args.undefined();
  return run_checked(args, in.indices, weight.length / dim, [=](auto data, const auto& k) {
    k.bag.forward(weight.data, dim, data, in.bags, per_sample_weights.data, static_cast<nne::BagMode>(mode), skip_row,
                  out.data);
  });
}

// bagForwardPacked(data, dtype, dim, indices, offsets, numBags, perSampleWeights | null, mode, skipRow, out)
Napi::Value BagForwardPacked(Args& args) {
  nne::PackedTable table{};
  int64_t rows = 0, mode = 0, skip_row = 0;
  Array<float> per_sample_weights, out;
  BagIndices in;
  args.packed(0, &table, &rows).bag_indices(3, &in);
  args.optional(6, "perSampleWeights", Use::read, &per_sample_weights, in.indices.length);
  args.integer(7, "mode", 0, &mode).integer(8, "skipRow", -1, &skip_row).output(9, in.bags.num_bags, table.dim, &out);
  args.require([&] { return mode <= 2; }, "mode must be 0 (sum), 1 (mean) or 2 (max)");
  args.rows(out, in.bags.num_bags, table.dim, "out length must be numBags * dim");
  if (!args.ok()) return args.undefined();
  return run_checked(args, in.indices, rows, [=](auto data, const auto& k) {
    k.bag_forward_packed(table, data, in.bags, per_sample_weights.data, static_cast<nne::BagMode>(mode), skip_row,
                         out.data);
  });
}

// bagScatterAdd(grad, dim, indices, offsets, numBags, gradOutput, scale | null, skipRow)
Napi::Value BagScatterAdd(Args& args) {
  Array<float> grad, grad_output, scale;
  int64_t dim = 0, skip_row = 0;
  BagIndices in;
  args.table(0, "grad", Use::write, &grad, &dim).bag_indices(2, &in);
  args.array(5, "gradOutput", Use::read, &grad_output).optional(6, "scale", Use::read, &scale, in.indices.length);
  args.integer(7, "skipRow", -1, &skip_row);
  args.rows(grad_output, in.bags.num_bags, dim, "gradOutput length must be numBags * dim");
  if (!args.ok()) return args.undefined();
  return run_checked(args, in.indices, grad.length / dim, [=](auto data, const auto& k) {
    k.bag.scatter_add(grad.data, dim, data, in.bags, grad_output.data, scale.data, skip_row);
  });
}

// bagMaxBackward(weight, grad, dim, indices, offsets, numBags, gradOutput, skipRow)
Napi::Value BagMaxBackward(Args& args) {
  Array<float> weight, grad, grad_output;
  int64_t dim = 0, skip_row = 0;
  BagIndices in;
  args.array(0, "weight", Use::read, &weight).array(1, "grad", Use::write, &grad).integer(2, "dim", 1, &dim);
  args.bag_indices(3, &in).array(6, "gradOutput", Use::read, &grad_output).integer(7, "skipRow", -1, &skip_row);
  args.whole_rows("weight", weight, dim).require([&] { return grad.length == weight.length; }, "grad length must equal weight length");
  args.rows(grad_output, in.bags.num_bags, dim, "gradOutput length must be numBags * dim");
  if (!args.ok()) return args.undefined();
  return run_checked(args, in.indices, weight.length / dim, [=](auto data, const auto& k) {
    k.bag.max_backward(weight.data, grad.data, dim, data, in.bags, grad_output.data, skip_row);
  });
}

// bagWeightGrad(weight, dim, indices, offsets, numBags, gradOutput, skipRow, out)
Napi::Value BagWeightGrad(Args& args) {
  Array<float> weight, grad_output, out;
  int64_t dim = 0, skip_row = 0;
  BagIndices in;
  args.table(0, "weight", Use::read, &weight, &dim).bag_indices(2, &in);
  args.array(5, "gradOutput", Use::read, &grad_output).integer(6, "skipRow", -1, &skip_row);
  args.array(7, "out", Use::write, &out);
  args.require([&] { return grad_output.length == rows_length(in.bags.num_bags, dim) && out.length == in.indices.length; },
               "gradOutput must have numBags * dim and out indices.length elements");
  if (!args.ok()) return args.undefined();
  return run_checked(args, in.indices, weight.length / dim, [=](auto data, const auto& k) {
    k.bag.weight_grad(weight.data, dim, data, in.bags, grad_output.data, skip_row, out.data);
  });
}

constexpr const char* kScalarsError = "scalars must be a Float64Array of 12 values starting with a rule 0..4";
static_assert(nne::kOptimizerSlotCount == 12, "kScalarsError counts the slots");

// An optimizer update's scalars as the kernels take them, from the slots optimizer_slots.h names
// (the rule already checked to be 0..4).
nne::OptimizerScalars optimizer_scalars(const double (&scalars)[nne::kOptimizerSlotCount]) {
  using Slot = nne::OptimizerSlot;
  const auto at = [&](Slot slot) { return scalars[static_cast<int>(slot)]; };
  nne::OptimizerScalars s{};
  s.rule = static_cast<nne::OptimizerRule>(static_cast<int>(at(Slot::rule)));
  s.lr = static_cast<float>(at(Slot::lr));
  s.a = static_cast<float>(at(Slot::a));
  s.b = static_cast<float>(at(Slot::b));
  s.c = static_cast<float>(at(Slot::c));
  s.one_minus_a = static_cast<float>(at(Slot::oneMinusA));
  s.one_minus_b = static_cast<float>(at(Slot::oneMinusB));
  s.eps = static_cast<float>(at(Slot::eps));
  s.weight_decay = static_cast<float>(at(Slot::weightDecay));
  s.decay = static_cast<float>(at(Slot::decay));
  s.first_step = at(Slot::firstStep) != 0;
  s.nesterov = at(Slot::nesterov) != 0;
  s.lr_double = at(Slot::lr);
  s.eps_double = at(Slot::eps);
  return s;
}

bool valid_rule(const double (&scalars)[nne::kOptimizerSlotCount]) {
  return integer_in(scalars[static_cast<int>(nne::OptimizerSlot::rule)], 0, 4);
}

// Throws unless each state the rule reads and writes is present, of its length (table-shaped, or
// one per row for row-wise Adagrad), and no other is; returns whether they are.
bool check_states(Args& args, nne::OptimizerRule rule, const Array<float> (&state)[3], int64_t table_rows, int64_t dim) {
  // Which states each rule reads and writes: 2 = required, 1 = optional, 0 = must be absent.
  static const int kStates[5][3] = {{1, 0, 0}, {2, 0, 0}, {2, 2, 1}, {2, 2, 0}, {2, 0, 0}};
  const int64_t state_size = rule == nne::OptimizerRule::rowwise_adagrad ? table_rows : rows_length(table_rows, dim);
  for (int k = 0; k < 3; ++k) {
    const int need = kStates[static_cast<int>(rule)][k];
    if ((!state[k].present && need == 2) || (state[k].present && (need == 0 || state[k].length != state_size))) {
      args.fail("state" + std::to_string(k) + " is missing, unexpected or of the wrong length for this rule");
      return false;
    }
  }
  return true;
}

// optimizerUpdate(scalars, weight, grad, state0, state1, state2, rows | null, dim)
// scalars: a Float64Array of the values optimizer_slots.h names, in its order. rows: a Uint32Array
// (a table may have up to 2^32 rows). Returns -1, or the position of the first entry of rows
// outside the table (nothing written).
Napi::Value OptimizerUpdate(Args& args) {
  double scalars[nne::kOptimizerSlotCount];
  Array<float> weight, grad, state[3];
  Array<uint32_t> rows;
  int64_t dim = 0;
  args.values(0, "scalars", scalars, kScalarsError).array(1, "weight", Use::write, &weight);
  args.array(2, "grad", Use::read, &grad).optional(3, "state0", Use::write, &state[0]);
  args.optional(4, "state1", Use::write, &state[1]).optional(5, "state2", Use::write, &state[2]);
  args.optional(6, "rows", Use::index, &rows).integer(7, "dim", 1, &dim).whole_rows("weight", weight, dim);
  args.require([&] { return valid_rule(scalars); }, kScalarsError);
  if (!args.ok()) return args.undefined();
  const nne::OptimizerScalars s = optimizer_scalars(scalars);
  const int64_t table_rows = weight.length / dim;
  const int64_t num_rows = rows.present ? rows.length : table_rows;
  if (!args.rows(grad, num_rows, dim, "grad must hold one row per updated row").ok()) return args.undefined();
  if (!check_states(args, s.rule, state, table_rows, dim)) return args.undefined();
  if (rows.present) {
    const int64_t bad = nne::first_invalid_index(rows.data, num_rows, table_rows);
    if (bad >= 0) return finish(args, [bad]() -> int64_t { return bad; });  // a Promise when async
  }
  // A state of zero length (an empty table) is present but has a null pointer: the kernel never
  // dereferences it, since there are no rows.
  const Kernels& kernels = bound_kernels(args.info());
  return finish(args, [=]() -> int64_t {
    kernels.optimizer_update(s, weight.data, grad.data, state[0].data, state[1].data, state[2].data, rows.data, num_rows,
                             dim);
    return -1;
  });
}

// A double rounded to float. Beyond float's range the cast is undefined: clamp to +-infinity as IEEE
// rounding would (NaN stays NaN).
float to_float(double v) {
  return v > 3.4028234663852886e38 ? INFINITY : v < -3.4028234663852886e38 ? -INFINITY : static_cast<float>(v);
}

// The rounding argument of the 16-bit table kernels: -1 (nearest even) or a uint32 key.
Args& rounding_argument(Args& args, size_t k, int64_t* rounding) {
  double value = 0;
  args.number(k, "rounding", &value);
  args.require([&] { return value == -1 || integer_in(value, 0, 0xffffffffLL); }, "rounding must be -1 or an integer in [0, 2^32)");
  if (args.ok()) *rounding = static_cast<int64_t>(value);
  return args;
}

// A trained 16-bit table: data (argument k, a Uint16Array, written), dtype (k + 1: 1 float16 or 2
// bfloat16) and dim (k + 2); *rows is how many rows it has.
Args& half_table_argument(Args& args, size_t k, nne::HalfTable* table, int64_t* rows) {
  nne::PackedTable packed{};
  args.packed(k, &packed, rows, Use::write);
  args.require([&] { return packed.dtype == nne::Dtype::float16 || packed.dtype == nne::Dtype::bfloat16; },
               "dtype must be 1 (float16) or 2 (bfloat16)");
  if (args.ok()) *table = nne::HalfTable{static_cast<uint16_t*>(const_cast<void*>(packed.data)), packed.dtype == nne::Dtype::bfloat16, packed.dim};
  return args;
}

// optimizerUpdatePacked(scalars, data, dtype, dim, grad, state0, state1, state2, rows, rounding, work)
// optimizerUpdate's sparse step on a float16/bfloat16 table (kernels.h OptimizerUpdatePackedFn);
// work: rows.length * dim floats. Returns -1, or the position of the first row outside the table.
Napi::Value OptimizerUpdatePacked(Args& args) {
  double scalars[nne::kOptimizerSlotCount];
  nne::HalfTable table{};
  int64_t table_rows = 0, rounding = -1;
  Array<float> grad, state[3], work;
  Array<uint32_t> rows;
  args.values(0, "scalars", scalars, kScalarsError);
  half_table_argument(args, 1, &table, &table_rows);
  args.array(4, "grad", Use::read, &grad).optional(5, "state0", Use::write, &state[0]);
  args.optional(6, "state1", Use::write, &state[1]).optional(7, "state2", Use::write, &state[2]);
  args.array(8, "rows", Use::index, &rows);
  rounding_argument(args, 9, &rounding).array(10, "work", Use::write, &work);
  args.require([&] { return valid_rule(scalars); }, kScalarsError);
  args.rows(grad, rows.length, table.dim, "grad must hold one row per updated row");
  args.rows(work, rows.length, table.dim, "work must hold one row per updated row");
  if (!args.ok()) return args.undefined();
  const nne::OptimizerScalars s = optimizer_scalars(scalars);
  if (!check_states(args, s.rule, state, table_rows, table.dim)) return args.undefined();
  const int64_t bad = nne::first_invalid_index(rows.data, rows.length, table_rows);
  if (bad >= 0) return finish(args, [bad]() -> int64_t { return bad; });
  const Kernels& kernels = bound_kernels(args.info());
  return finish(args, [=]() -> int64_t {
    kernels.optimizer_update_packed(s, table, grad.data, state[0].data, state[1].data, state[2].data, rows.data,
                                    rows.length, rounding, work.data);
    return -1;
  });
}

// narrowRows(data, dtype, dim, rows, values, rounding): row rows[k] of a float16/bfloat16 table =
// values row k rounded (kernels.h NarrowRowsFn). Returns -1, or the first bad row's position.
Napi::Value NarrowRows(Args& args) {
  nne::HalfTable table{};
  int64_t table_rows = 0, rounding = -1;
  Array<uint32_t> rows;
  Array<float> values;
  half_table_argument(args, 0, &table, &table_rows).array(3, "rows", Use::index, &rows);
  args.array(4, "values", Use::read, &values);
  rounding_argument(args, 5, &rounding);
  args.rows(values, rows.length, table.dim, "values must hold one row per row of rows");
  if (!args.ok()) return args.undefined();
  const int64_t bad = nne::first_invalid_index(rows.data, rows.length, table_rows);
  if (bad >= 0) return finish(args, [bad]() -> int64_t { return bad; });
  const Kernels& kernels = bound_kernels(args.info());
  return finish(args, [=]() -> int64_t {
    kernels.narrow_rows(table, rows.data, rows.length, values.data, rounding);
    return -1;
  });
}

// initFill(out, params: Float64Array(9), start): out[j] = element start + j of the seeded stream
// (kernels.h InitParams). params: kind (0 normal, 1 uniform, 2 truncNormal), k0, k1 (uint32 keys),
// then six float parameters (rounded to float32 here). start: an integer in [0, 2^53).
Napi::Value InitFill(Args& args) {
  Array<float> out;
  double params[9];
  int64_t start = 0;
  const char* const kParamsError = "params must be a Float64Array of 9 values starting with a kind 0..2";
  args.array(0, "out", Use::write, &out).values(1, "params", params, kParamsError).integer(2, "start", 0, &start);
  args.require([&] { return integer_in(params[0], 0, 2); }, kParamsError);
  args.require([&] { return integer_in(params[1], 0, 4294967295.0) && integer_in(params[2], 0, 4294967295.0); },
               "params[1] and params[2] (the keys) must be integers in [0, 2^32)");
  args.require([&] { return static_cast<uint64_t>(start) + static_cast<uint64_t>(out.length) <= (uint64_t{1} << 53); },
               "start + out.length must be at most 2^53");
  if (!args.ok()) return args.undefined();
  nne::InitParams p{};
  p.kind = static_cast<nne::InitKind>(static_cast<int>(params[0]));
  p.k0 = static_cast<uint32_t>(params[1]);
  p.k1 = static_cast<uint32_t>(params[2]);
  for (int k = 0; k < 6; ++k) p.p[k] = to_float(params[3 + k]);
  const Kernels& kernels = bound_kernels(args.info());
  const uint64_t first = static_cast<uint64_t>(start);
  return finish(args, [=]() -> int64_t {
    kernels.init_fill(p, out.data, first, out.length);
    return -1;
  });
}

// norm(values, normType, out: Float64Array): out[0] = the normType-norm of values (normType > 0 or
// Infinity; see ClipKernels).
Napi::Value Norm(Args& args) {
  Array<float> values;
  Array<double> out;
  double norm_type = 0;
  args.array(0, "values", Use::read, &values).number(1, "normType", &norm_type).array(2, "out", Use::write, &out);
  args.require([&] { return norm_type > 0; }, "normType must be > 0 or Infinity");
  args.require([&] { return out.length >= 1; }, "out must hold at least one value");
  if (!args.ok()) return args.undefined();
  const Kernels& kernels = bound_kernels(args.info());
  return finish(args, [=]() -> int64_t {
    out.data[0] = kernels.clip.norm(values.data, values.length, norm_type);
    return -1;
  });
}

// scaleValues(values, factor): values[j] *= float(factor).
Napi::Value ScaleValues(Args& args) {
  Array<float> values;
  double factor = 0;
  args.array(0, "values", Use::write, &values).number(1, "factor", &factor);
  if (!args.ok()) return args.undefined();
  const Kernels& kernels = bound_kernels(args.info());
  const float f = to_float(factor);
  return finish(args, [=]() -> int64_t {
    kernels.clip.scale(values.data, values.length, f);
    return -1;
  });
}

// clampValues(values, low, high): values[j] = clamp(values[j], float(low), float(high)), NaN kept.
Napi::Value ClampValues(Args& args) {
  Array<float> values;
  double low = 0, high = 0;
  args.array(0, "values", Use::write, &values).number(1, "low", &low).number(2, "high", &high);
  args.require([&] { return low <= high; }, "low must be at most high");
  if (!args.ok()) return args.undefined();
  const Kernels& kernels = bound_kernels(args.info());
  const float lo = to_float(low), hi = to_float(high);
  return finish(args, [=]() -> int64_t {
    kernels.clip.clamp(values.data, values.length, lo, hi);
    return -1;
  });
}

// coalesce(indices, dim, source, offsets | null, numBags, scale | null, skipRow, slots, outRows, outValues)
// Returns the number of distinct rows. Indices must lie in [0, slots.length); outRows is a
// Uint32Array (rows up to 2^32).
Napi::Value Coalesce(Args& args) {
  IndexArray indices;
  Array<float> source, scale, out_values;
  Array<int32_t> slots;
  Array<uint32_t> out_rows;
  int64_t dim = 0, skip_row = 0;
  nne::Bags bags{};
  bool by_bag = false;
  args.indices(0, &indices).integer(1, "dim", 1, &dim).array(2, "source", Use::read, &source);
  args.bags(3, indices.length, &bags, &by_bag).optional(5, "scale", Use::read, &scale, indices.length);
  args.integer(6, "skipRow", -1, &skip_row).array(7, "slots", Use::write, &slots);
  args.array(8, "outRows", Use::write, &out_rows).array(9, "outValues", Use::write, &out_values);
  // Slots are int32 positions among at most indices.length distinct rows; rows fit outRows' uint32.
  args.require(
      [&] {
        return source.length == rows_length(by_bag ? bags.num_bags : indices.length, dim) &&
               out_rows.length >= indices.length && out_values.length >= rows_length(indices.length, dim) &&
               indices.length <= INT32_MAX && slots.length <= static_cast<int64_t>(UINT32_MAX) + 1;
      },
      "coalesce: slots, source, outRows or outValues has the wrong length");
  args.require(
      [&] {
        return with_index_type(indices, [&](auto data) {
          return nne::first_invalid_index(data, indices.length, slots.length) < 0;
        });
      },
      "coalesce: an index is outside slots");
  if (!args.ok()) return args.undefined();
  const Kernels& kernels = bound_kernels(args.info());
  // The job owns copies of everything it reads (it may run after this frame is gone).
  return finish(args, [=]() -> int64_t {
    return with_index_type(indices, [&](auto data) -> int64_t {
      using Index = std::remove_const_t<std::remove_pointer_t<decltype(data)>>;
      return kernels.of<Index>().coalesce(data, indices.length, dim, source.data, by_bag ? &bags : nullptr,
                                          scale.data, skip_row, slots.data, slots.length, out_rows.data,
                                          out_values.data);
    });
  });
}

// nearestRows(data, dtype, dim, rows, queries, k, metric, invNorms | null, queryRows | null,
// exclude | null, outIndices, outScores): kernels.h NearestRowsFn. Rows are searched below `rows`
// (at most the table's, below 2^31); queries is a whole number of rows of dim; outIndices and
// outScores hold (queries.length / dim) * k values; invNorms (required for metric 1, cosine) one
// per searched row; queryRows one per query. queryRows and exclude are only compared with row
// numbers, so their values need no check. Returns -1.
Napi::Value NearestRows(Args& args) {
  nne::PackedTable table{};
  int64_t table_rows = 0, rows = 0, k = 0, metric = 0;
  Array<float> queries, out_scores;
  Array<double> inv_norms;
  Array<int32_t> query_rows, exclude, out_indices;
  args.any_table(0, &table, &table_rows).integer(3, "rows", 0, &rows).array(4, "queries", Use::read, &queries);
  args.integer(5, "k", 0, &k).integer(6, "metric", 0, &metric).optional(7, "invNorms", Use::read, &inv_norms);
  args.optional(8, "queryRows", Use::read, &query_rows).optional(9, "exclude", Use::read, &exclude);
  args.array(10, "outIndices", Use::write, &out_indices).array(11, "outScores", Use::write, &out_scores);
  args.require([&] { return rows <= table_rows && rows <= INT32_MAX; }, "rows must be at most the table's rows and below 2^31");
  args.require([&] { return metric <= 2; }, "metric must be 0 (dot), 1 (cosine) or 2 (l2)");
  args.require([&] { return queries.length % table.dim == 0; }, "queries length must be a multiple of dim");
  const int64_t num_queries = args.ok() ? queries.length / table.dim : 0;
  args.require([&] { return out_indices.length == rows_length(num_queries, std::max<int64_t>(k, 1)) || (k == 0 && out_indices.length == 0); },
               "outIndices length must be (queries.length / dim) * k");
  args.require([&] { return out_scores.length == out_indices.length; }, "outScores length must be (queries.length / dim) * k");
  args.require([&] { return metric != 1 || (inv_norms.present && inv_norms.length >= rows); }, "cosine needs invNorms with one value per row");
  args.require([&] { return !query_rows.present || query_rows.length == num_queries; }, "queryRows must hold one row per query");
  if (!args.ok()) return args.undefined();
  const Kernels& kernels = bound_kernels(args.info());
  const auto kind = static_cast<nne::NearestMetric>(metric);
  return finish(args, [=]() -> int64_t {
    kernels.nearest_rows(table, rows, queries.data, num_queries, k, kind, inv_norms.data, query_rows.data, exclude.data,
                         exclude.length, out_indices.data, out_scores.data);
    return -1;
  });
}

// rowInverseNorms(data, dtype, dim, first, out: Float64Array): out[i] = 1 / the 2-norm of row
// first + i (0 for a zero row), kernels.h RowInverseNormsFn; first + out.length at most the
// table's rows. Returns -1.
Napi::Value RowInverseNorms(Args& args) {
  nne::PackedTable table{};
  int64_t table_rows = 0, first = 0;
  Array<double> out;
  args.any_table(0, &table, &table_rows).integer(3, "first", 0, &first).array(4, "out", Use::write, &out);
  args.require([&] { return first <= table_rows && out.length <= table_rows - first; }, "first + out.length must be at most the table's rows");
  if (!args.ok()) return args.undefined();
  const Kernels& kernels = bound_kernels(args.info());
  return finish(args, [=]() -> int64_t {
    kernels.row_inverse_norms(table, first, out.length, out.data);
    return -1;
  });
}

// word2vecBinaryRecords(bytes: Uint8Array, start, maxWordBytes, dim, table: Float32Array, rowOffset,
// maxRecords, wordStarts: Int32Array, wordEnds: Int32Array, out: Float64Array): word2vec binary
// records parsed from bytes[start..] into the table's rows from element rowOffset on
// (word2vec_binary.h); returns how many. out[0] = where it stopped, out[1] = the status
// (BinaryRecordStatus), out[2] = the first non-finite value's position in its row (else -1),
// out[3] = the OR of the words' bytes. bytes shorter than 2^31 (offsets are int32); maxRecords rows
// from rowOffset inside the table; wordStarts and wordEnds of at least maxRecords entries; out of at least 4.
Napi::Value Word2VecBinaryRecords(Args& args) {
  Array<uint8_t> bytes;
  Array<float> table;
  Array<int32_t> word_starts, word_ends;
  Array<double> out;
  int64_t start = 0, max_word_bytes = 0, dim = 0, row_offset = 0, max_records = 0;
  args.array(0, "bytes", Use::read, &bytes).integer(1, "start", 0, &start).integer(2, "maxWordBytes", 0, &max_word_bytes);
  args.integer(3, "dim", 1, &dim).array(4, "table", Use::write, &table).integer(5, "rowOffset", 0, &row_offset);
  args.integer(6, "maxRecords", 0, &max_records).array(7, "wordStarts", Use::write, &word_starts);
  args.array(8, "wordEnds", Use::write, &word_ends).array(9, "out", Use::write, &out);
  args.require([&] { return bytes.length <= INT32_MAX && start <= bytes.length; }, "bytes must be shorter than 2^31 and start at most its length");
  args.require([&] { return max_word_bytes <= INT32_MAX; }, "maxWordBytes must be below 2^31");
  args.require([&] { return row_offset <= table.length && max_records <= (table.length - row_offset) / dim; },
               "maxRecords rows of dim from rowOffset must fit in the table");
  args.require([&] { return word_starts.length >= max_records && word_ends.length >= max_records; },
               "wordStarts and wordEnds must hold maxRecords entries");
  args.require([&] { return out.length >= 4; }, "out must hold 4 values");
  if (!args.ok()) return args.undefined();
  return finish(args, [=]() -> int64_t {
    const nne::BinaryRecordsResult result = nne::word2vec_binary_records(
        bytes.data, bytes.length, start, max_word_bytes, dim, table.data + row_offset, max_records, word_starts.data, word_ends.data);
    out.data[0] = static_cast<double>(result.position);
    out.data[1] = static_cast<double>(static_cast<int>(result.status));
    out.data[2] = static_cast<double>(result.bad_value);
    out.data[3] = static_cast<double>(result.high);
    return result.records;
  });
}

// parseTextLines(text: Uint8Array, start, end, weight, firstRow, dim, maxLines, maxWordBytes,
// maxLineBytes, lineEnds: Int32Array, wordEnds: Int32Array): parse_text.h. Lines are read from
// text[start, end) (end at most 2^31 - 1: positions are int32), rows firstRow .. firstRow +
// maxLines - 1 of weight (rows of dim) may be written, lineEnds and wordEnds hold maxLines
// values. Returns the number of clean lines parsed.
Napi::Value ParseTextLines(Args& args) {
  Array<uint8_t> text;
  Array<float> weight;
  Array<int32_t> line_ends, word_ends;
  int64_t start = 0, end = 0, first_row = 0, dim = 0, max_lines = 0, max_word_bytes = 0, max_line_bytes = 0;
  args.array(0, "text", Use::read, &text).integer(1, "start", 0, &start).integer(2, "end", 0, &end);
  args.array(3, "weight", Use::write, &weight).integer(4, "firstRow", 0, &first_row).integer(5, "dim", 1, &dim);
  args.integer(6, "maxLines", 0, &max_lines).integer(7, "maxWordBytes", 0, &max_word_bytes);
  args.integer(8, "maxLineBytes", 0, &max_line_bytes);
  args.array(9, "lineEnds", Use::write, &line_ends).array(10, "wordEnds", Use::write, &word_ends);
  args.require([&] { return start <= end && end <= text.length && end <= INT32_MAX; },
               "start and end must satisfy start <= end <= text.length, end below 2^31");
  args.require([&] { return line_ends.length >= max_lines && word_ends.length >= max_lines; },
               "lineEnds and wordEnds must hold maxLines values");
  args.require(
      [&] {
        const int64_t rows = first_row + max_lines;  // both below 2^53
        return rows_length(rows, dim) >= 0 && rows_length(rows, dim) <= weight.length;
      },
      "weight must hold rows firstRow + maxLines of dim values");
  if (!args.ok()) return args.undefined();
  const nne::TextLines lines{text.data, start, end, weight.data, first_row, dim, max_lines,
                             max_word_bytes, max_line_bytes, line_ends.data, word_ends.data};
  return finish(args, [=]() -> int64_t { return nne::parse_text_lines(lines); });
}

// countRecords(text: Uint8Array, start, end, atLineStart (0 or 1), limit): parse_text.h
// count_records over text[start, end).
Napi::Value CountRecords(Args& args) {
  Array<uint8_t> text;
  int64_t start = 0, end = 0, at_line_start = 0, limit = 0;
  args.array(0, "text", Use::read, &text).integer(1, "start", 0, &start).integer(2, "end", 0, &end);
  args.integer(3, "atLineStart", 0, &at_line_start).integer(4, "limit", 0, &limit);
  args.require([&] { return start <= end && end <= text.length; }, "start and end must satisfy start <= end <= text.length");
  args.require([&] { return at_line_start <= 1; }, "atLineStart must be 0 or 1");
  if (!args.ok()) return args.undefined();
  return finish(args, [=]() -> int64_t { return nne::count_records(text.data, start, end, at_line_start == 1, limit); });
}

// addDistinctWords(chunk: Uint8Array, starts: Int32Array, ends: Int32Array, count, wordBytes:
// Uint8Array, used, wordEnds: Int32Array, words, slots: Int32Array, separator, out: Float64Array):
// words chunk[starts[i], ends[i]) (i < count) added in order to the word table (add_words.h) of
// the bytes wordBytes[0, used), the word ends wordEnds[0, words) and the slots, until one is a
// duplicate or does not fit; returns how many were added. out[0] = the status (AddWordsStatus),
// out[1] = the earlier record of a duplicate (else -1), out[2] = the bytes used after, out[3] =
// the slot of the last word added (-1: none), out[4] = the OR of the added words' bytes. Every
// offset is checked here: 0 <= starts[i] <= ends[i] <= chunk.length; used <= wordBytes.length <
// 2^31; words + count <= wordEnds.length < 2^31; slots twice a power of two (at most 2^31 slots).
// The slots' and word ends' contents are JavaScript's to change (during an async call too): the
// kernel checks every value it reads back from them.
Napi::Value AddDistinctWords(Args& args) {
  Array<uint8_t> chunk, word_bytes;
  Array<int32_t> starts, ends, word_ends, slots;
  Array<double> out;
  int64_t count = 0, used = 0, words = 0, separator = 0;
  args.array(0, "chunk", Use::read, &chunk).array(1, "starts", Use::index, &starts).array(2, "ends", Use::index, &ends);
  args.integer(3, "count", 0, &count).array(4, "wordBytes", Use::write, &word_bytes).integer(5, "used", 0, &used);
  args.array(6, "wordEnds", Use::write, &word_ends).integer(7, "words", 0, &words).array(8, "slots", Use::write, &slots);
  args.integer(9, "separator", 0, &separator).array(10, "out", Use::write, &out);
  args.require([&] { return count <= starts.length && count <= ends.length; }, "starts and ends must hold count entries");
  args.require(
      [&] {
        for (int64_t i = 0; i < count; ++i) {
          if (!(starts.data[i] >= 0 && starts.data[i] <= ends.data[i] && ends.data[i] <= chunk.length)) return false;
        }
        return true;
      },
      "every word must satisfy 0 <= starts[i] <= ends[i] <= chunk.length");
  args.require([&] { return word_bytes.length <= INT32_MAX && used <= word_bytes.length; },
               "wordBytes must be shorter than 2^31 and used at most its length");
  args.require([&] { return word_ends.length <= INT32_MAX && words <= word_ends.length && count <= word_ends.length - words; },
               "wordEnds must be shorter than 2^31 and hold words + count entries");
  args.require(
      [&] { return slots.length >= 2 && slots.length <= (int64_t{1} << 32) && (slots.length & (slots.length - 1)) == 0; },
      "slots length must be twice a power of two, at most 2^32");
  args.require([&] { return separator <= 255; }, "separator must be a byte (0 to 255)");
  args.require([&] { return out.length >= 5; }, "out must hold 5 values");
  if (!args.ok()) return args.undefined();
  const nne::WordTable table{word_bytes.data, word_bytes.length, used, word_ends.data, words,
                             slots.data, slots.length / 2, static_cast<uint8_t>(separator)};
  return finish(args, [=]() -> int64_t {
    const nne::AddWordsResult result = nne::add_distinct_words(chunk.data, starts.data, ends.data, count, table);
    out.data[0] = static_cast<double>(static_cast<int>(result.status));
    out.data[1] = static_cast<double>(result.earlier);
    out.data[2] = static_cast<double>(result.used);
    out.data[3] = static_cast<double>(result.last_slot);
    out.data[4] = static_cast<double>(result.high);
    return result.added;
  });
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

// Every kernel entry point, in the order of src/backend.ts KERNEL_NAMES. kernels(tier) hands out
// these, and the addon reports their names (kernelNames), which test/kernel-lists.test.ts compares
// with that list: a kernel added on one side only fails it.
template <Napi::Value (*Kernel)(Args&)>
Napi::Value entry(const Napi::CallbackInfo& info) {
  Args args(info);
  return Kernel(args);
}

struct KernelEntry {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};
constexpr KernelEntry kKernelEntries[] = {
    {"firstInvalidIndex", entry<FirstInvalidIndex>}, {"gather", entry<Gather>},
    {"scatterAdd", entry<ScatterAdd>},               {"renorm", entry<Renorm>},
    {"bagForward", entry<BagForward>},               {"bagScatterAdd", entry<BagScatterAdd>},
    {"bagMaxBackward", entry<BagMaxBackward>},       {"bagWeightGrad", entry<BagWeightGrad>},
    {"optimizerUpdate", entry<OptimizerUpdate>},     {"initFill", entry<InitFill>},
    {"coalesce", entry<Coalesce>},                   {"gatherPacked", entry<GatherPacked>},
    {"bagForwardPacked", entry<BagForwardPacked>},   {"optimizerUpdatePacked", entry<OptimizerUpdatePacked>},
    {"narrowRows", entry<NarrowRows>},               {"norm", entry<Norm>},
    {"scaleValues", entry<ScaleValues>},             {"clampValues", entry<ClampValues>},
    {"nearestRows", entry<NearestRows>},             {"rowInverseNorms", entry<RowInverseNorms>},
    {"word2vecBinaryRecords", entry<Word2VecBinaryRecords>},
    {"parseTextLines", entry<ParseTextLines>},
    {"countRecords", entry<CountRecords>},
    {"addDistinctWords", entry<AddDistinctWords>},
};

// kernels(tier): { tier, async, and every kernel of kKernelEntries } running the named tier (''
// for the widest this CPU runs); async holds the same kernels returning Promises. The functions
// carry a pointer to the tier's static table, so several tiers can be used side by side and
// nothing is mutable.
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
  for (const KernelEntry& entry : kKernelEntries) {
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
  Args args(info);
  int64_t n = 0;
  if (!args.integer(0, "n", 1, &n).ok()) return info.Env().Undefined();
  if (n > nne::kMaxThreads) return args.fail("n must be an integer from 1 to " + std::to_string(nne::kMaxThreads));
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
// The file mappings (mapFile) not yet unmapped, by address: releaseMappedPages acts on these only
// (never on memory of other kinds, which MADV_DONTNEED would zero). Workers share the set.
std::mutex file_mappings_mutex;
std::set<const void*> file_mappings;

void forget_file_mapping(const void* data) {
  std::lock_guard<std::mutex> lock(file_mappings_mutex);
  file_mappings.erase(data);
}

Napi::Value mapping_buffer(Napi::Env env, const nne::MappedFile& mapped, bool file = false) {
  if (mapped.data == nullptr) return Napi::ArrayBuffer::New(env, 0);
  if (env.IsExceptionPending()) {  // nothing was handed to the runtime yet: the mapping is ours
    nne::unmap_file(mapped);
    return env.Undefined();
  }
  auto* owned = new nne::MappedFile(mapped);
  if (file) {
    std::lock_guard<std::mutex> lock(file_mappings_mutex);
    file_mappings.insert(mapped.data);
  }
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(
      env, mapped.data, mapped.size,
      [](napi_env, void*, void* hint) {
        auto* region = static_cast<nne::MappedFile*>(hint);
        forget_file_mapping(region->data);  // before the address can be mapped again
        nne::unmap_file(*region);
        delete region;
      },
      owned, &buffer);
  if (status == napi_ok) return Napi::Value(env, buffer);
  const bool refused_before_taking = status == napi_no_external_buffers_allowed;
  if (refused_before_taking) {
    forget_file_mapping(owned->data);
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
  return mapping_buffer(env, mapped, true);
}

// The memory of info[0], an ArrayBuffer (not shared): false, with a TypeError thrown, for anything else.
bool array_buffer_argument(const Napi::CallbackInfo& info, void** data, size_t* length) {
  Napi::Env env = info.Env();
  bool is_buffer = false;
  if (info.Length() < 1 || napi_is_arraybuffer(env, info[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_arraybuffer_info(env, info[0], data, length) != napi_ok) {
    Napi::TypeError::New(env, "buffer must be an ArrayBuffer").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// releaseMappedPages(buffer: ArrayBuffer, begin, end): the whole pages inside bytes [begin, end) of a
// buffer mapFile returned are released (map_file.h release_pages: the resident size falls, a later
// read maps them again; bytes written to them are lost). For a reader done with part of a mapped
// file. Returns whether they were; false for any other ArrayBuffer. Throws a TypeError for
// anything but an ArrayBuffer, a RangeError unless 0 <= begin <= end <= its length.
Napi::Value ReleaseMappedPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* data = nullptr;
  size_t length = 0;
  if (!array_buffer_argument(info, &data, &length)) return env.Undefined();
  Args args(info);
  int64_t begin = 0, end = 0;
  if (!args.integer(1, "begin", 0, &begin).integer(2, "end", 0, &end).ok()) return env.Undefined();
  if (begin > end || static_cast<uint64_t>(end) > length) return args.fail("begin and end must satisfy 0 <= begin <= end <= the buffer's length");
  std::lock_guard<std::mutex> lock(file_mappings_mutex);  // the mapping stays while it is released
  if (data == nullptr || file_mappings.count(data) == 0) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, nne::release_pages(static_cast<uint8_t*>(data) + begin, static_cast<size_t>(end - begin)));
}

// adviseHugePages(buffer: ArrayBuffer): huge pages requested for the whole 2 MiB blocks of the
// buffer's memory (map_file.h advise_huge_pages), before a table is first written. Returns whether
// the kernel took the advice; throws a TypeError for anything but a (non-shared) ArrayBuffer.
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* data = nullptr;
  size_t length = 0;
  if (!array_buffer_argument(info, &data, &length)) return env.Undefined();
  return Napi::Boolean::New(env, nne::advise_huge_pages(data, length));
}

// allocateZeroed(bytes): `bytes` zeroed bytes in huge pages where the kernel offers them (see
// map_file.h), as an external ArrayBuffer unmapped by its finalizer. bytes: an integer in
// [0, 2^53); a mapping the system refuses throws an Error.
Napi::Value AllocateZeroed(const Napi::CallbackInfo& info) {
  Args args(info);
  int64_t bytes = 0;
  if (!args.integer(0, "bytes", 0, &bytes).ok()) return info.Env().Undefined();
  if (static_cast<uint64_t>(bytes) > static_cast<uint64_t>(SIZE_MAX / 2)) return args.fail("bytes is too large");
  nne::MappedFile mapped;
  std::string error;
  if (!nne::map_zeroed(static_cast<size_t>(bytes), &mapped, &error)) {
    Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return mapping_buffer(info.Env(), mapped);
}

// The fault-in of a fresh table on libuv's thread pool (map_file.h populate_backward), the buffer
// referenced until it ends. Counted among the jobs in flight, as kernel calls are.
class PopulateWork : public Napi::AsyncWorker {
 public:
  PopulateWork(Napi::Env env, Napi::Object buffer, void* data, size_t size, std::shared_ptr<int32_t> stop)
      : Napi::AsyncWorker(env), data_(data), size_(size), stop_(std::move(stop)) {
    jobs_in_flight.fetch_add(1, std::memory_order_acq_rel);
    napi_create_promise(env, &deferred_, &promise_);
    buffer_ = Napi::Persistent(buffer);
  }
  ~PopulateWork() override { jobs_in_flight.fetch_sub(1, std::memory_order_acq_rel); }
  Napi::Value Promise() const { return Napi::Value(Env(), promise_); }

 protected:
  void Execute() override { result_ = nne::populate_backward(data_, size_, stop_.get()); }
  void OnOK() override {
    napi_value result;
    if (napi_create_double(Env(), static_cast<double>(result_), &result) == napi_ok) napi_resolve_deferred(Env(), deferred_, result);
  }
  void OnError(const Napi::Error& error) override { napi_reject_deferred(Env(), deferred_, error.Value()); }

 private:
  void* data_;
  size_t size_;
  std::shared_ptr<int32_t> stop_;  // also held by the stop function
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
  Napi::ObjectReference buffer_;
  int64_t result_ = -1;
};

// populateBackward(buffer: ArrayBuffer): { done, stop }: the whole pages of the buffer faulted in
// for writing on libuv's thread pool, from its end back (map_file.h populate_backward: no byte of
// the buffer changes), until stop() is called; done: a Promise of the bytes gone over (-1: not
// available here). For a loader's fresh table (allocateZeroed), filled from its start meanwhile:
// the loader calls stop() and awaits done before it hands the table out. Throws a TypeError for
// anything but an ArrayBuffer.
Napi::Value PopulateBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* data = nullptr;
  size_t length = 0;
  if (!array_buffer_argument(info, &data, &length)) return env.Undefined();
  auto stop = std::make_shared<int32_t>(0);
  auto* work = new PopulateWork(env, info[0].As<Napi::Object>(), data, length, stop);
  Napi::Object result = Napi::Object::New(env);
  result.Set("done", work->Promise());
  result.Set("stop", Napi::Function::New(
                         env, [stop](const Napi::CallbackInfo&) { __atomic_store_n(stop.get(), 1, __ATOMIC_RELAXED); }, "stop"));
  work->Queue();
  return result;
}

// mallocTuning(): what malloc_tuning.h did when the addon loaded ('tuned', or 'default (why)').
Napi::Value MallocTuning(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), nne::tune_malloc_once());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nne::tune_malloc_once();
  exports.Set("mallocTuning", Napi::Function::New(env, MallocTuning, "mallocTuning"));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures, "cpuFeatures"));
  exports.Set("kernels", Napi::Function::New(env, KernelsForTier, "kernels"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("mapFile", Napi::Function::New(env, MapFile, "mapFile"));
  exports.Set("allocateZeroed", Napi::Function::New(env, AllocateZeroed, "allocateZeroed"));
  exports.Set("populateBackward", Napi::Function::New(env, PopulateBackward, "populateBackward"));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("releaseMappedPages", Napi::Function::New(env, ReleaseMappedPages, "releaseMappedPages"));
  exports.Set("setTransferGuard", Napi::Function::New(env, SetTransferGuard, "setTransferGuard"));
  // What the TypeScript side must agree with (test/kernel-lists.test.ts): the kernel entry points,
  // and the optimizer scalars' slots (optimizer_slots.h).
  Napi::Array kernel_names = Napi::Array::New(env);
  for (uint32_t k = 0; k < std::size(kKernelEntries); ++k) kernel_names.Set(k, kKernelEntries[k].name);
  Napi::Object slots = Napi::Object::New(env);
  for (int k = 0; k < nne::kOptimizerSlotCount; ++k) slots.Set(nne::kOptimizerSlotNames[k], k);
  kernel_names.Freeze();
  slots.Freeze();
  exports.Set("kernelNames", kernel_names);
  exports.Set("optimizerScalarSlots", slots);
  return exports;
}

}  // namespace

NODE_API_MODULE(nn_embedding, Init)
