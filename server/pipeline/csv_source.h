// File: server/pipeline/csv_source.h
//
// CsvSource: the SampleSource of mx.io.CSVIter (docs/mxnet-semantics.md
// section 9). Rows of the data CSV (a file or a folder) are the samples, in
// file order, reshaped row-major to data_shape; row i of the optional label
// CSV labels data row i. Parsing runs ahead on the shared ThreadPool through
// csv::CsvReader, so the pass length is unknown until it ends
// (num_samples() == -1). round_batch is the Batcher's business, not this one.
//
// Deliberate deviation from MXNet: an empty or non-numeric field is an error
// naming file, line and field (MXNet drops it or reads `3x` as 3).
//
// Ownership: owns its readers (and so the file mappings); borrows the pool,
// which must outlive it. Thread-compatibility: one thread at a time, as every
// SampleSource.

#ifndef ITERD_SERVER_PIPELINE_CSV_SOURCE_H_
#define ITERD_SERVER_PIPELINE_CSV_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/concurrency/thread_pool.h"
#include "common/csv/csv_reader.h"
#include "common/tensor/batch.h"
#include "common/tensor/dtype.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

struct CsvSourceOptions {
  // Absolute path of a CSV file, or of a folder whose regular files are read
  // in name order as one stream. Required.
  std::string data_csv;
  // Shape of one sample; every row holds exactly prod(data_shape) values.
  std::vector<int64_t> data_shape;
  // Label CSV; empty means none (every label is a scalar 0).
  std::string label_csv;
  // Shape of one label row; empty means {1}. (1,) gives per-sample scalars,
  // i.e. a (B,) label batch, as MXNet.
  std::vector<int64_t> label_shape;
  // Type of both data and label output: kFloat32, kInt32 or kInt64.
  DType dtype = DType::kFloat32;
  // Parsed blocks (~2 MB each) kept ahead per file; 0 means 4.
  int max_blocks_in_flight = 4;
  char delimiter = ',';
  // How messages name data_csv and label_csv (relative to their data root);
  // empty: the path itself.
  std::string data_csv_name;
  std::string label_csv_name;
  // Applied to every file listed in a data_csv or label_csv folder (the
  // daemon's data-root policy); null: none.
  csv::EntryResolver resolve_entry;
  // data_csv, label_csv and listed entries are canonical (resolved by the
  // data-root policy): open them through io::HeldFile (see CsvReaderOptions).
  bool hold_files = false;
};

class CsvSource final : public SampleSource {
 public:
  // Validates and opens the files. NotFound naming the path for a missing
  // file; InvalidArgument naming the field for an empty data_shape, a
  // non-positive dimension, an unsupported dtype or a bad delimiter.
  // REQUIRES: pool != nullptr, outliving the source.
  static absl::StatusOr<std::unique_ptr<SampleSource>> Create(
      const CsvSourceOptions& options, ThreadPool* pool);

  CsvSource(const CsvSource&) = delete;
  CsvSource& operator=(const CsvSource&) = delete;

  // SampleSource.
  const std::vector<TensorSpec>& sample_data_specs() const override {
    return data_specs_;
  }
  const std::vector<TensorSpec>& sample_label_specs() const override {
    return label_specs_;
  }
  int64_t num_samples() const override { return -1; }
  // The id of a sample is its 0-based data row number (MXNet's CSVIter
  // index); it restarts at 0 on Rewind.
  bool has_sample_ids() const override { return true; }
  absl::Status ReadSample(Batch* batch, int64_t row, uint64_t* sample_id,
                          bool* end_of_pass) override;
  absl::Status Rewind() override;
  // CSV never shuffles: every epoch is the file order.
  absl::Status StartEpoch(int64_t epoch) override;
  // The cursor holds, per reader (data, then label), the file index, byte
  // offset and line of its next row (csv::CsvPosition): CSV rows are found by
  // their byte offset, so a Seek reads nothing before the position.
  SourcePosition Tell() const override;
  absl::Status Seek(const SourcePosition& position) override;

 private:
  CsvSource(std::unique_ptr<csv::CsvReader> data_reader,
            std::unique_ptr<csv::CsvReader> label_reader,
            std::vector<TensorSpec> data_specs,
            std::vector<TensorSpec> label_specs);

  const std::unique_ptr<csv::CsvReader> data_reader_;
  const std::unique_ptr<csv::CsvReader> label_reader_;  // nullptr: no labels.
  const std::vector<TensorSpec> data_specs_;
  const std::vector<TensorSpec> label_specs_;
  uint64_t next_sample_id_ = 0;
  int64_t epoch_ = 0;
  int64_t pass_ = 0;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_CSV_SOURCE_H_
