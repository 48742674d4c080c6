// The process-wide thread pool (see thread_pool.h for the policy).
#include "thread_pool.h"

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#if defined(_WIN32)
#define NNE_STD_THREADS 1
#else
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#endif

namespace nne {

namespace {

std::atomic<int> requested_threads{0};  // 0: the default
std::atomic<int64_t> grain{kDefaultGrain};
std::atomic<uint64_t> split_calls{0};
std::atomic<uint64_t> inline_calls{0};
std::atomic<bool> reverse_inline{false};

int available_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
#endif
  const unsigned count = std::thread::hardware_concurrency();
  return count > 0 ? static_cast<int>(count) : 1;
}

int clamp_threads(long n) { return n < 1 ? 1 : n > kMaxThreads ? kMaxThreads : static_cast<int>(n); }

// NN_EMBEDDING_THREADS when it is a whole number in [1, kMaxThreads] (surrounding whitespace allowed);
// the JavaScript layer (src/loader.ts) rejects any other value before the addon is used.
int from_environment() {
  const char* value = std::getenv("NN_EMBEDDING_THREADS");
  if (value == nullptr) return 0;
  while (std::isspace(static_cast<unsigned char>(*value))) ++value;
  if (*value < '0' || *value > '9') return 0;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  while (std::isspace(static_cast<unsigned char>(*end))) ++end;
  return *end == '\0' && n >= 1 && n <= kMaxThreads ? static_cast<int>(n) : 0;
}

class Pool {
 public:
  // Runs the job, on the workers too unless another job holds the pool.
  void run(int64_t tasks, TaskFn fn, void* context, int threads) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (busy.owns_lock() && !shut_down_) resize(threads - 1);
    if (!busy.owns_lock() || workers_.empty()) {
      if (!busy.owns_lock()) inline_calls.fetch_add(1, std::memory_order_relaxed);
      for (int64_t t = 0; t < tasks; ++t) fn(context, t);
      return;
    }
    Job job;
    job.fn = fn;
    job.context = context;
    job.tasks = tasks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      ++generation_;
    }
    // Wake as many workers as there are tasks besides the caller's first.
    const int64_t helpers = tasks - 1;
    if (helpers >= static_cast<int64_t>(workers_.size())) {
      wake_.notify_all();
    } else {
      for (int64_t k = 0; k < helpers; ++k) wake_.notify_one();
    }
    work(job);
    std::unique_lock<std::mutex> lock(mutex_);
    job_ = nullptr;  // no worker joins after this
    done_.wait(lock, [&] { return job.joined == 0; });
  }

  // Joins the idle workers at process exit; later calls run inline.
  void shut_down() {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return;  // a job is running on another thread: leave the workers be
#if !defined(_WIN32)
    // On Windows, joining threads from a DLL's static destructor can deadlock on the loader lock.
    resize(0);
#endif
    shut_down_ = true;
  }

  int workers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_workers_;
  }

 private:
  struct Job {
    TaskFn fn = nullptr;
    void* context = nullptr;
    int64_t tasks = 0;
    std::atomic<int64_t> next{0};
    int joined = 0;  // workers inside this job; guarded by mutex_
  };

  static void work(Job& job) {
    for (int64_t t = job.next.fetch_add(1, std::memory_order_relaxed); t < job.tasks;
         t = job.next.fetch_add(1, std::memory_order_relaxed)) {
      job.fn(job.context, t);
    }
  }

  void worker_loop(uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
      if (stop_) break;
      seen = generation_;
      Job* job = job_;
      ++job->joined;
      lock.unlock();
      work(*job);
      lock.lock();
      if (--job->joined == 0) done_.notify_one();
    }
    --live_workers_;
  }

  struct Start {
    Pool* pool;
    uint64_t generation;
  };

#if defined(NNE_STD_THREADS)
  using Thread = std::thread;
  bool start_thread(Thread* thread, uint64_t generation) {
    *thread = std::thread([this, generation] { worker_loop(generation); });
    return true;
  }
  static void join_thread(Thread& thread) { thread.join(); }
#else
  // pthreads directly: a failure to start a thread (a process at its thread limit) is a return
  // value, not an exception, and the pool simply runs with fewer workers. Workers block every
  // signal, so signals keep going to the threads Node expects.
  using Thread = pthread_t;
  static void* thread_main(void* argument) {
    Start start = *static_cast<Start*>(argument);
    delete static_cast<Start*>(argument);
    start.pool->worker_loop(start.generation);
    return nullptr;
  }
  bool start_thread(Thread* thread, uint64_t generation) {
    Start* start = new (std::nothrow) Start{this, generation};
    if (start == nullptr) return false;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    const int error = pthread_create(thread, nullptr, thread_main, start);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (error != 0) delete start;
    return error == 0;
  }
  static void join_thread(Thread& thread) { pthread_join(thread, nullptr); }
#endif

  // With busy_ held (no job running): joins the workers and starts `count` new ones when the
  // count differs. Starting fewer is not an error.
  void resize(int count) {
    if (count == static_cast<int>(workers_.size()) || count < 0) return;
    if (!workers_.empty()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
      }
      wake_.notify_all();
      for (Thread& thread : workers_) join_thread(thread);
      workers_.clear();
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = false;
    }
    workers_.reserve(static_cast<size_t>(count));
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation = generation_;
    }
    for (int k = 0; k < count; ++k) {
      Thread thread;
      if (!start_thread(&thread, generation)) break;
      workers_.push_back(std::move(thread));
      std::lock_guard<std::mutex> lock(mutex_);
      ++live_workers_;
    }
  }

  std::mutex busy_;  // held by the caller whose job the workers run
  bool shut_down_ = false;          // guarded by busy_
  std::vector<Thread> workers_;     // guarded by busy_

  std::mutex mutex_;
  std::condition_variable wake_;  // a new job, or stop
  std::condition_variable done_;  // the last worker left a job
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int live_workers_ = 0;
};

// Created on first use and never destroyed (see shut_down).
std::atomic<Pool*> pool_instance{nullptr};

Pool& pool() {
  static Pool* const instance = [] {
    Pool* created = new Pool();
    pool_instance.store(created, std::memory_order_release);
    return created;
  }();
  return *instance;
}

struct ShutDownAtExit {
  ~ShutDownAtExit() {
    if (Pool* instance = pool_instance.load(std::memory_order_acquire)) instance->shut_down();
  }
} shut_down_at_exit;

}  // namespace

int default_num_threads() {
  static const int value = [] {
    const int environment = from_environment();
    return environment > 0 ? environment : clamp_threads(available_cpus());
  }();
  return value;
}

int num_threads() {
  const int requested = requested_threads.load(std::memory_order_relaxed);
  return requested > 0 ? requested : default_num_threads();
}

void set_num_threads(int n) { requested_threads.store(n <= 0 ? 0 : clamp_threads(n), std::memory_order_relaxed); }

int64_t parallel_grain() { return grain.load(std::memory_order_relaxed); }

void set_parallel_grain(int64_t bytes) { grain.store(bytes < 1 ? 1 : bytes, std::memory_order_relaxed); }

void parallel_for(int64_t tasks, TaskFn fn, void* context) {
  if (tasks <= 0) return;
  const int threads = num_threads();
  if (tasks == 1 || threads <= 1) {
    for (int64_t t = 0; t < tasks; ++t) fn(context, t);
    return;
  }
  split_calls.fetch_add(1, std::memory_order_relaxed);
  if (reverse_inline.load(std::memory_order_relaxed)) {
    for (int64_t t = tasks - 1; t >= 0; --t) fn(context, t);
    return;
  }
  pool().run(tasks, fn, context, threads);
}

void set_reverse_inline_for_tests(bool on) { reverse_inline.store(on, std::memory_order_relaxed); }

PoolStats pool_stats() {
  Pool* instance = pool_instance.load(std::memory_order_acquire);
  return PoolStats{split_calls.load(std::memory_order_relaxed), inline_calls.load(std::memory_order_relaxed),
                   instance != nullptr ? instance->workers() : 0};
}

}  // namespace nne
