// File: bench/raw_tcp.h
//
// MeasureLoopbackTcp: the transport ceiling that iterd's wire figures are
// compared with. A sender thread writes length-prefixed messages over a
// 127.0.0.1 TCP connection and the calling thread reads each one into a
// reused buffer, as a client would read a batch; no protocol, no parsing.
//
// Thread-safe (each call uses its own sockets and thread).

#ifndef ITERD_BENCH_RAW_TCP_H_
#define ITERD_BENCH_RAW_TCP_H_

#include <cstddef>

#include "absl/status/statusor.h"

namespace iterd::bench {

struct TcpResult {
  double gigabytes_per_second = 0;  // 1e9 bytes per second of payload.
  double seconds = 0;
  size_t bytes = 0;
};

// Sends `warmup_messages` untimed, then `messages` timed messages of
// `message_bytes` each. Errors name the failing socket call.
absl::StatusOr<TcpResult> MeasureLoopbackTcp(size_t message_bytes, int messages,
                                             int warmup_messages = 1);

}  // namespace iterd::bench

#endif  // ITERD_BENCH_RAW_TCP_H_
