// File: common/concurrency/parallel_for.h
//
// ParallelFor: runs fn(i) for every i in [0, n) on up to `parallelism` threads:
// the calling thread plus parallelism - 1 tasks on the shared pool. Items are
// claimed one at a time from a shared counter, so the work balances itself.
//
// Why the caller takes part: the daemon's pool is shared and bounded, and the
// caller may itself be a pool task (a Prefetcher producing a batch). If it only
// waited, every pool thread could end up waiting for tasks queued behind it.
// Here the caller claims items too and waits only for items another thread has
// already started, which are running and will finish: no deadlock whatever the
// pool is doing, and no more threads than the pool has.
//
// Thread-safe. Returns when every fn(i) has returned. If an fn(i) throws, the
// items nobody has started are skipped and ParallelFor rethrows the first
// exception in its caller after the started ones returned (never on a pool
// thread).

#ifndef ITERD_COMMON_CONCURRENCY_PARALLEL_FOR_H_
#define ITERD_COMMON_CONCURRENCY_PARALLEL_FOR_H_

#include <cstdint>
#include <functional>

#include "common/concurrency/thread_pool.h"

namespace iterd {

// REQUIRES: parallelism >= 1; fn is safe to call concurrently for different i.
void ParallelFor(ThreadPool* pool, int parallelism, int64_t n,
                 const std::function<void(int64_t)>& fn);

}  // namespace iterd

#endif  // ITERD_COMMON_CONCURRENCY_PARALLEL_FOR_H_
