// File: server/pipeline/ndarray_factory.h
//
// The NDArrayIter kind (pipeline_kind.h): checks an NDArrayConfig, loads its
// arrays (.npy / .npz files through the data-root policy, or the client's
// inline uploads) and wires NDArraySource -> Batcher (pad, discard or
// roll_over) -> Prefetcher. OpenedPipeline.sample_order is NDArrayIter.idx.
//
// Stateless functions; thread-safe.

#ifndef ITERD_SERVER_PIPELINE_NDARRAY_FACTORY_H_
#define ITERD_SERVER_PIPELINE_NDARRAY_FACTORY_H_

#include "server/pipeline/pipeline_kind.h"

namespace iterd::pipeline {

const PipelineKind& NDArrayKind();

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_NDARRAY_FACTORY_H_
