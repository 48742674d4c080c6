// The native thread pool: one per process, shared by every kernel and by every thread that calls
// one (the main thread and any number of worker_threads). Nothing here knows about Node.
//
// - Created lazily, by the first call that splits its work: loading the addon starts no thread.
// - Sized by set_num_threads(n) (n threads in all: n - 1 workers plus the calling thread, which
//   always works too). The default is NN_EMBEDDING_THREADS when it holds an integer in
//   [1, kMaxThreads], else the number of CPUs the process may run on (sched_getaffinity on
//   Linux, std::thread::hardware_concurrency elsewhere). A new size takes effect at the next
//   parallel call: the idle workers are joined and the new ones started then.
// - One job at a time. A caller that finds the pool busy (with a job of another JavaScript thread
//   or of an async call on libuv's threads, or because it is itself inside a task) runs all of its
//   tasks itself, on its own thread, at once: no caller ever waits for another caller's job, so
//   there is no deadlock and no queue.
//   Kernels are written so that their results do not depend on how their tasks are spread over
//   threads, so the inline run gives the same bits.
// - Workers take tasks dynamically (an atomic counter); the caller waits only for workers that
//   actually joined its job, never for a sleeping one to wake.
// - At process exit the idle workers are joined (skipped when a job is still running on some
//   other thread, and on Windows); the pool's memory is never freed, so a late caller can never
//   touch a destroyed mutex. A worker_thread's environment teardown does not involve the pool.
#pragma once

#include <algorithm>
#include <cstdint>

namespace nne {

constexpr int kMaxThreads = 256;

using TaskFn = void (*)(void* context, int64_t task);

// Runs fn(context, t) for every t in [0, tasks), on the pool and the calling thread; returns
// when all have finished. Tasks must not depend on which thread runs them, or in what order.
void parallel_for(int64_t tasks, TaskFn fn, void* context);

// The same for any callable f(int64_t task), without allocating.
template <class F>
void parallel_for(int64_t tasks, const F& f) {
  parallel_for(
      tasks, [](void* context, int64_t task) { (*static_cast<const F*>(context))(task); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

// The number of threads parallel work is split over (>= 1).
int num_threads();
// n in [1, kMaxThreads] (clamped); 0 restores the default.
void set_num_threads(int n);
// NN_EMBEDDING_THREADS, or the CPUs available to the process; read once.
int default_num_threads();

// How work is split. A kernel estimates the bytes of rows it reads and writes; each task gets at
// least `grain` of them, so work below 2 * grain (1 MiB by default) is never split and never
// wakes the pool. Measured on a 2-vCPU KVM guest (Xeon, AVX-512): 2 threads start to win at about
// 0.5-1 MiB of random-row traffic (some 30-70 us on one thread); below that, waking a worker
// (several microseconds there) costs more than it saves.
constexpr int64_t kDefaultGrain = int64_t{512} << 10;
int64_t parallel_grain();
void set_parallel_grain(int64_t bytes);  // for the tests: a small grain splits small inputs

// The number of tasks for work_bytes of work: 1 (run inline) unless it is at least 2 grains and
// there are 2 threads or more; else at most work_bytes / grain, max_tasks, and per_thread tasks
// per thread. Chunks that cost nothing to add (per_thread > 1) let the threads that start first
// take over the work of a worker that wakes late.
inline int64_t plan_tasks(int64_t work_bytes, int64_t max_tasks, int64_t per_thread = 1) {
  const int64_t grain = parallel_grain();
  if (work_bytes < 2 * grain || max_tasks < 2) return 1;
  const int64_t threads = num_threads();
  if (threads < 2) return 1;
  return std::min({threads * per_thread, work_bytes / grain, max_tasks});
}

// For the tests: when on, every split call runs its tasks on the calling thread, last task first.
// Results must not change, which shows without depending on timing that no kernel's result
// depends on the order or the thread its tasks run in.
void set_reverse_inline_for_tests(bool on);

// Statistics for the tests: calls that split their work (wherever the tasks ran), and those
// whose tasks the busy pool made run inline.
struct PoolStats {
  uint64_t split_calls;
  uint64_t inline_calls;
  int workers;  // started and not yet joined
};
PoolStats pool_stats();

}  // namespace nne
