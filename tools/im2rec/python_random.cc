#include "tools/im2rec/python_random.h"

namespace iterd::im2rec {
namespace {

constexpr int kShift = 397;  // MT19937's "M"
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpperMask = 0x80000000U;
constexpr uint32_t kLowerMask = 0x7fffffffU;

int BitLength(uint64_t n) {
  int bits = 0;
  while (n != 0) {
    ++bits;
    n >>= 1;
  }
  return bits;
}

}  // namespace

PythonRandom::PythonRandom(uint64_t seed) {
  // CPython splits abs(seed) into 32-bit words; 0 still gives one word.
  std::vector<uint32_t> key;
  do {
    key.push_back(static_cast<uint32_t>(seed & 0xffffffffU));
    seed >>= 32;
  } while (seed != 0);
  InitByArray(key);
}

void PythonRandom::InitGenrand(uint32_t seed) {
  state_[0] = seed;
  for (int i = 1; i < kStateWords; ++i) {
    state_[i] = 1812433253U * (state_[i - 1] ^ (state_[i - 1] >> 30)) +
                static_cast<uint32_t>(i);
  }
  next_ = kStateWords;
}

// Matsumoto and Nishimura's init_by_array, as in CPython's _randommodule.c.
void PythonRandom::InitByArray(const std::vector<uint32_t>& key) {
  InitGenrand(19650218U);
  const int key_length = static_cast<int>(key.size());
  int i = 1;
  int j = 0;
  for (int k = kStateWords > key_length ? kStateWords : key_length; k > 0;
       --k) {
    state_[i] =
        (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525U)) +
        key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kStateWords) {
      state_[0] = state_[kStateWords - 1];
      i = 1;
    }
    if (j >= key_length) j = 0;
  }
  for (int k = kStateWords - 1; k > 0; --k) {
    state_[i] =
        (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941U)) -
        static_cast<uint32_t>(i);
    ++i;
    if (i >= kStateWords) {
      state_[0] = state_[kStateWords - 1];
      i = 1;
    }
  }
  state_[0] = 0x80000000U;  // MSB is 1, assuring a non-zero initial state.
  next_ = kStateWords;
}

void PythonRandom::Twist() {
  for (int k = 0; k < kStateWords; ++k) {
    const uint32_t y =
        (state_[k] & kUpperMask) | (state_[(k + 1) % kStateWords] & kLowerMask);
    state_[k] = state_[(k + kShift) % kStateWords] ^ (y >> 1) ^
                ((y & 1U) != 0 ? kMatrixA : 0U);
  }
  next_ = 0;
}

uint32_t PythonRandom::NextUint32() {
  if (next_ >= kStateWords) Twist();
  uint32_t y = state_[next_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

uint64_t PythonRandom::GetRandBits(int bits) {
  if (bits <= 0) return 0;  // CPython 3.9+: getrandbits(0) == 0, no draw.
  if (bits <= 32) return NextUint32() >> (32 - bits);
  // CPython fills the result 32 bits at a time, least significant word first,
  // and drops the surplus low bits of the last word.
  const uint64_t low = NextUint32();
  const uint64_t high = NextUint32() >> (64 - bits);
  return (high << 32) | low;
}

uint64_t PythonRandom::RandBelow(uint64_t n) {
  if (n == 0) return 0;  // CPython raises; no caller here asks for it.
  const int bits = BitLength(n);
  uint64_t r = GetRandBits(bits);
  while (r >= n) r = GetRandBits(bits);
  return r;
}

}  // namespace iterd::im2rec
