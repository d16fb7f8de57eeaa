#include "server/pipeline/csv_source.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/input_text.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

// MXNet's CSVIter default prefetch depth, reused as the parse-ahead depth.
constexpr int kDefaultBlocksInFlight = 4;

// Product of the dimensions; InvalidArgument naming `field` for an empty shape
// or a non-positive dimension.
absl::StatusOr<int64_t> ShapeProduct(absl::string_view field,
                                     const std::vector<int64_t>& shape) {
  if (shape.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  // A row is parsed into memory before any batch exists: bound it here too
  // (the factory also checks it against the daemon's max_batch_bytes).
  constexpr int64_t kMaxValues = int64_t{1} << 40;
  int64_t product = 1;
  for (const int64_t dim : shape) {
    if (dim <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " (", absl::StrJoin(shape, ","),
                       ") must have positive dimensions"));
    }
    if (product > kMaxValues / dim) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " (", absl::StrJoin(shape, ","),
                       ") has more than 2^40 values per row"));
    }
    product *= dim;
  }
  return product;
}

// Puts the option's name in front of a reader error ("data_csv: ...").
absl::Status WithField(absl::string_view field, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(field, ": ", status.message()));
}

absl::StatusOr<std::unique_ptr<csv::CsvReader>> OpenReader(
    absl::string_view field, const std::string& path, const std::string& name,
    csv::RowFormat format, const CsvSourceOptions& source_options,
    int max_blocks_in_flight, ThreadPool* pool) {
  csv::CsvReaderOptions options;
  options.format = format;
  options.max_blocks_in_flight = max_blocks_in_flight;
  options.name = name;
  options.resolve_entry = source_options.resolve_entry;
  options.hold_files = source_options.hold_files;
  auto reader = csv::CsvReader::Open(path, options, pool);
  if (!reader.ok()) return WithField(field, reader.status());
  return reader;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SampleSource>> CsvSource::Create(
    const CsvSourceOptions& options, ThreadPool* pool) {
  if (pool == nullptr) return absl::InvalidArgumentError("no thread pool");
  if (options.data_csv.empty()) {
    return absl::InvalidArgumentError("data_csv is required");
  }
  if (options.dtype != DType::kFloat32 && options.dtype != DType::kInt32 &&
      options.dtype != DType::kInt64) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype must be float32, int32 or int64, not ",
                     DTypeName(options.dtype)));
  }
  if (options.max_blocks_in_flight < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_blocks_in_flight must be >= 0, got ",
                     options.max_blocks_in_flight));
  }
  const int blocks_in_flight = options.max_blocks_in_flight == 0
                                   ? kDefaultBlocksInFlight
                                   : options.max_blocks_in_flight;
  ITERD_ASSIGN_OR_RETURN(const int64_t data_values,
                         ShapeProduct("data_shape", options.data_shape));
  csv::RowFormat data_format;
  data_format.delimiter = options.delimiter;
  data_format.dtype = options.dtype;
  data_format.values_per_row = data_values;
  ITERD_RETURN_IF_ERROR(csv::ValidateRowFormat(data_format));

  std::vector<TensorSpec> data_specs = {{options.dtype, options.data_shape}};
  // Without a label file every label is one scalar 0 per row, whatever
  // label_shape says (MXNet's dummy label).
  std::vector<TensorSpec> label_specs = {{options.dtype, {}}};
  std::unique_ptr<csv::CsvReader> label_reader;
  if (!options.label_csv.empty()) {
    const std::vector<int64_t> label_shape = options.label_shape.empty()
                                                 ? std::vector<int64_t>{1}
                                                 : options.label_shape;
    ITERD_ASSIGN_OR_RETURN(const int64_t label_values,
                           ShapeProduct("label_shape", label_shape));
    csv::RowFormat label_format = data_format;
    label_format.values_per_row = label_values;
    // (1,) labels are scalars per sample: a (B,) batch, not (B, 1).
    if (label_shape != std::vector<int64_t>{1}) {
      label_specs[0].shape = label_shape;
    }
    ITERD_ASSIGN_OR_RETURN(
        label_reader,
        OpenReader("label_csv", options.label_csv, options.label_csv_name,
                   label_format, options, blocks_in_flight, pool));
  }
  ITERD_ASSIGN_OR_RETURN(
      std::unique_ptr<csv::CsvReader> data_reader,
      OpenReader("data_csv", options.data_csv, options.data_csv_name,
                 data_format, options, blocks_in_flight, pool));
  return std::unique_ptr<SampleSource>(
      new CsvSource(std::move(data_reader), std::move(label_reader),
                    std::move(data_specs), std::move(label_specs)));
}

CsvSource::CsvSource(std::unique_ptr<csv::CsvReader> data_reader,
                     std::unique_ptr<csv::CsvReader> label_reader,
                     std::vector<TensorSpec> data_specs,
                     std::vector<TensorSpec> label_specs)
    : data_reader_(std::move(data_reader)),
      label_reader_(std::move(label_reader)),
      data_specs_(std::move(data_specs)),
      label_specs_(std::move(label_specs)) {}

absl::Status CsvSource::ReadSample(Batch* batch, int64_t row,
                                   uint64_t* sample_id, bool* end_of_pass) {
  *end_of_pass = false;
  if (batch->num_data() != 1 || batch->num_label() != 1 || row < 0 ||
      row >= batch->batch_size()) {
    return absl::InternalError(
        absl::StrCat("CsvSource: batch has ", batch->num_data(), " data and ",
                     batch->num_label(), " label tensors, row ", row, " of ",
                     batch->batch_size(), "; expected 1 and 1"));
  }
  absl::Span<const uint8_t> values;
  bool data_end = false;
  ITERD_RETURN_IF_ERROR(data_reader_->Next(&values, &data_end));
  if (data_end) {
    *end_of_pass = true;
    return absl::OkStatus();
  }
  const absl::Span<uint8_t> data_row = batch->data(0).row(row);
  if (data_row.size() != values.size()) {
    return absl::InternalError(
        absl::StrCat("CsvSource: batch data rows are ", data_row.size(),
                     " bytes, CSV rows ", values.size()));
  }
  std::memcpy(data_row.data(), values.data(), values.size());

  const absl::Span<uint8_t> label_row = batch->label(0).row(row);
  if (label_reader_ == nullptr) {
    std::memset(label_row.data(), 0, label_row.size());  // 0 in every dtype.
  } else {
    bool label_end = false;
    ITERD_RETURN_IF_ERROR(label_reader_->Next(&values, &label_end));
    if (label_end) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label_csv ", ShownName(label_reader_->name()), " has only ",
          label_reader_->rows_read(), " rows: no label for row ",
          next_sample_id_, " of data_csv ", ShownName(data_reader_->name())));
    }
    if (label_row.size() != values.size()) {
      return absl::InternalError(
          absl::StrCat("CsvSource: batch label rows are ", label_row.size(),
                       " bytes, CSV rows ", values.size()));
    }
    std::memcpy(label_row.data(), values.data(), values.size());
  }
  *sample_id = next_sample_id_++;
  return absl::OkStatus();
}

absl::Status CsvSource::Rewind() {
  ITERD_RETURN_IF_ERROR(data_reader_->Rewind());
  if (label_reader_ != nullptr) ITERD_RETURN_IF_ERROR(label_reader_->Rewind());
  next_sample_id_ = 0;
  ++pass_;
  return absl::OkStatus();
}

absl::Status CsvSource::StartEpoch(int64_t epoch) {
  ITERD_RETURN_IF_ERROR(Rewind());
  epoch_ = epoch;
  pass_ = 0;
  return absl::OkStatus();
}

SourcePosition CsvSource::Tell() const {
  SourcePosition position{
      epoch_, pass_, static_cast<int64_t>(next_sample_id_), {}};
  for (const csv::CsvReader* reader :
       {data_reader_.get(), label_reader_.get()}) {
    if (reader == nullptr) continue;
    const csv::CsvPosition at = reader->Tell();
    position.cursor.push_back(static_cast<uint64_t>(at.file));
    position.cursor.push_back(at.byte_offset);
    position.cursor.push_back(static_cast<uint64_t>(at.line));
  }
  return position;
}

absl::Status CsvSource::Seek(const SourcePosition& position) {
  const size_t readers = label_reader_ == nullptr ? 1 : 2;
  // The number of rows is unknown before a pass: a position past the end is
  // refused by the readers (a byte offset past their file).
  ITERD_RETURN_IF_ERROR(CheckSourcePosition(position, -1, 3 * readers));
  for (size_t i = 0; i < readers; ++i) {
    csv::CsvPosition at;
    at.rows = position.position;
    at.file = static_cast<int64_t>(
        std::min<uint64_t>(position.cursor[3 * i], INT64_MAX));
    at.byte_offset = position.cursor[3 * i + 1];
    at.line = static_cast<int64_t>(
        std::min<uint64_t>(position.cursor[3 * i + 2], INT64_MAX));
    csv::CsvReader* reader = i == 0 ? data_reader_.get() : label_reader_.get();
    ITERD_RETURN_IF_ERROR(reader->Seek(at));
  }
  epoch_ = position.epoch;
  pass_ = position.pass;
  next_sample_id_ = static_cast<uint64_t>(position.position);
  return absl::OkStatus();
}

}  // namespace iterd::pipeline
