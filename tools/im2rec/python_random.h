// File: tools/im2rec/python_random.h
//
// PythonRandom: CPython's `random` module generator (MT19937 seeded through
// init_by_array), reduced to what im2rec needs to reproduce
// `random.seed(100); random.shuffle(items)` bit for bit, so that a .lst made
// here lists the images in the same order as MXNet's tools/im2rec.py.
//
// Not thread-safe (one generator per caller); copyable value type.

#ifndef ITERD_TOOLS_IM2REC_PYTHON_RANDOM_H_
#define ITERD_TOOLS_IM2REC_PYTHON_RANDOM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace iterd::im2rec {

class PythonRandom final {
 public:
  // random.seed(seed) for a non-negative int: init_by_array with the 32-bit
  // words of `seed`, least significant first (at least one word).
  explicit PythonRandom(uint64_t seed);

  // genrand_uint32: the next 32 raw bits.
  uint32_t NextUint32();

  // random.getrandbits(bits), 1 <= bits <= 64.
  uint64_t GetRandBits(int bits);

  // random._randbelow(n) (rejection sampling on bit_length(n) bits), n >= 1.
  uint64_t RandBelow(uint64_t n);

  // random.shuffle(items): Fisher-Yates from the last element down to 1.
  template <typename T>
  void Shuffle(std::vector<T>* items) {
    for (size_t i = items->size(); i-- > 1;) {
      const size_t j = static_cast<size_t>(RandBelow(i + 1));
      std::swap((*items)[i], (*items)[j]);
    }
  }

 private:
  static constexpr int kStateWords = 624;

  void InitGenrand(uint32_t seed);
  void InitByArray(const std::vector<uint32_t>& key);
  void Twist();

  std::array<uint32_t, kStateWords> state_{};
  int next_ = kStateWords;
};

}  // namespace iterd::im2rec

#endif  // ITERD_TOOLS_IM2REC_PYTHON_RANDOM_H_
