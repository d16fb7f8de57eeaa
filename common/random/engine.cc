#include "common/random/engine.h"

namespace iterd::random {
namespace {

// 2^64 / golden ratio: SplitMix64's increment ("Weyl sequence" step).
constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

}  // namespace

Engine::Engine(uint64_t seed, uint64_t stream, uint64_t index) {
  // Each argument is offset by a distinct multiple of the gamma before mixing,
  // so that (seed, stream, index) = (a, b, c) and (b, a, c) differ.
  uint64_t state = Mix(seed + kGoldenGamma);
  state = Mix(state ^ Mix(stream + 2 * kGoldenGamma));
  state = Mix(state ^ Mix(index + 3 * kGoldenGamma));
  state_ = state;
}

uint64_t PassSeed(uint64_t seed, int64_t epoch, int64_t pass) {
  return Engine(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(pass))
      .Next();
}

uint64_t Engine::Mix(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

uint64_t Engine::Next() {
  state_ += kGoldenGamma;
  return Mix(state_);
}

uint64_t Engine::UniformInt(uint64_t n) {
  // 2^64 mod n, computed without 128-bit arithmetic: (-n) mod n. Values below
  // it are rejected so that every residue has the same number of preimages.
  const uint64_t threshold = (0 - n) % n;
  while (true) {
    const uint64_t bits = Next();
    if (bits >= threshold) return bits % n;
  }
}

}  // namespace iterd::random
