// File: common/image/augment/random_draws.h
//
// The distributions the augmenters draw from, all over iterd's own
// random::Engine (house rule 13): uniform floats, normals and inclusive
// integer ranges. Each maps Engine bits to a value with code iterd owns (no
// std:: distributions, whose results differ between standard libraries), so a
// seed gives the same augmentation on every machine.
//
// Thread-compatibility: free functions; the Engine is the caller's and must
// not be shared between threads.

#ifndef ITERD_COMMON_IMAGE_AUGMENT_RANDOM_DRAWS_H_
#define ITERD_COMMON_IMAGE_AUGMENT_RANDOM_DRAWS_H_

#include "common/random/engine.h"

namespace iterd::image {

// A uniform float in [low, high) (one Engine draw). Returns `low` when
// high <= low, still consuming the draw so the stream's position does not
// depend on parameter values.
float UniformFloat(random::Engine* rng, float low, float high);

// A normal deviate with the given mean and standard deviation (Box-Muller;
// two Engine draws). stddev 0 gives `mean`.
float Normal(random::Engine* rng, float mean, float stddev);

// A uniform integer in [low, high], both inclusive (MXNet's and Python's
// randint). Returns `low` when high <= low (consuming one draw).
int UniformIntInclusive(random::Engine* rng, int low, int high);

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_AUGMENT_RANDOM_DRAWS_H_
