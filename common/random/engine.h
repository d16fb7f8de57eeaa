// File: common/random/engine.h
//
// Engine: SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference code), the
// only source of randomness in iterd. Its output depends on nothing but its
// seed: no std::random_device, no std::uniform_int_distribution (whose results
// differ between standard libraries), so a shuffle replays bit for bit on every
// machine. Engine(seed, stream, index) derives independent engines for, say,
// the shuffle (stream) of epoch `index` of a run seeded `seed`.
//
// Also UniformInt (unbiased integer in [0, n)) and Shuffle (Fisher-Yates).
//
// Thread-compatibility: an Engine is a value; use one per thread.

#ifndef ITERD_COMMON_RANDOM_ENGINE_H_
#define ITERD_COMMON_RANDOM_ENGINE_H_

#include <cstdint>
#include <utility>

#include "absl/types/span.h"

namespace iterd::random {

class Engine final {
 public:
  // An engine whose state is `seed` itself (the reference SplitMix64 seeding,
  // so the known-answer outputs of the published code apply).
  explicit Engine(uint64_t seed) : state_(seed) {}

  // An engine for item `index` of stream `stream` of a run seeded `seed`.
  // Nearby arguments (epoch 1 vs 2, stream 0 vs 1) give unrelated sequences:
  // each argument goes through the SplitMix64 finaliser before being combined.
  Engine(uint64_t seed, uint64_t stream, uint64_t index);

  // The next 64 uniformly distributed bits.
  uint64_t Next();

  // A uniform integer in [0, n) without modulo bias (rejection of the top
  // 2^64 mod n values). REQUIRES: n > 0.
  uint64_t UniformInt(uint64_t n);

  // SplitMix64's output function: a bijective 64-bit mix.
  static uint64_t Mix(uint64_t value);

 private:
  uint64_t state_;
};

// Stream of the per-sample augmentation engines:
// Engine(PassSeed(seed, epoch, pass), kAugmentStream, position).
inline constexpr uint64_t kAugmentStream = 0x4155474D454E54;  // "AUGMENT"

// The seed of pass `pass` (restarts of the order) of epoch `epoch` of a run
// seeded `seed`: with the sample's position it keys every random draw of that
// sample, so a sample's augmentation is a pure function of where it is.
uint64_t PassSeed(uint64_t seed, int64_t epoch, int64_t pass);

// Fisher-Yates: permutes `items` uniformly at random. The result depends only
// on the engine's state and items.size().
template <typename T>
void Shuffle(absl::Span<T> items, Engine* engine) {
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(engine->UniformInt(i));
    using std::swap;
    swap(items[i - 1], items[j]);
  }
}

}  // namespace iterd::random

#endif  // ITERD_COMMON_RANDOM_ENGINE_H_
