// File: server/pipeline/csv_factory.h
//
// The CSVIter kind (pipeline_kind.h): checks a CSVConfig and wires CsvSource
// (data_csv and label_csv, files or folders, through the data-root policy)
// -> Batcher (round_batch or zero-filled) -> Prefetcher. CSVIter has no
// shuffle, seed or parts: only the batch_size override applies.
//
// Stateless functions; thread-safe. The opened pipeline borrows
// environment.pool, which must outlive it.

#ifndef ITERD_SERVER_PIPELINE_CSV_FACTORY_H_
#define ITERD_SERVER_PIPELINE_CSV_FACTORY_H_

#include "server/pipeline/pipeline_kind.h"

namespace iterd::pipeline {

const PipelineKind& CsvKind();

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_CSV_FACTORY_H_
