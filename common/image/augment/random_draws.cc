#include "common/image/augment/random_draws.h"

#include <cmath>
#include <cstdint>

namespace iterd::image {
namespace {

// A double in [0, 1) from the top 53 bits of one draw: every value is a
// multiple of 2^-53, so the mapping is exact and unbiased.
double UnitDouble(random::Engine* rng) {
  return static_cast<double>(rng->Next() >> 11) * 0x1.0p-53;
}

}  // namespace

float UniformFloat(random::Engine* rng, float low, float high) {
  const double unit = UnitDouble(rng);
  if (!(high > low)) return low;
  const float value = static_cast<float>(low + unit * (high - low));
  // Rounding to float can land on `high` itself; keep the interval half-open.
  return value < high ? value : std::nextafter(high, low);
}

float Normal(random::Engine* rng, float mean, float stddev) {
  // 1 - u lies in (0, 1], so the logarithm is finite.
  const double u1 = 1.0 - UnitDouble(rng);
  const double u2 = UnitDouble(rng);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double z = radius * std::cos(2.0 * M_PI * u2);
  return static_cast<float>(mean + z * stddev);
}

int UniformIntInclusive(random::Engine* rng, int low, int high) {
  if (high <= low) {
    rng->Next();
    return low;
  }
  const uint64_t span =
      static_cast<uint64_t>(static_cast<int64_t>(high) - low) + 1;
  return static_cast<int>(low + static_cast<int64_t>(rng->UniformInt(span)));
}

}  // namespace iterd::image
