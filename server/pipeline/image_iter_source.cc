#include "server/pipeline/image_iter_source.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "common/concurrency/parallel_for.h"
#include "common/image/image_codec.h"
#include "common/io/held_file.h"
#include "common/io/mapped_file.h"
#include "common/logging.h"
#include "common/random/engine.h"
#include "common/recordio/index.h"
#include "common/recordio/irheader.h"
#include "common/status/status_macros.h"
#include "server/pipeline/image_record_order.h"

namespace iterd::pipeline {
namespace {

// The shuffle's engine stream. Augmentation uses Engine(seed, pass, position),
// so the shuffle takes a stream no pass number reaches.
constexpr uint64_t kShuffleStream = std::numeric_limits<uint64_t>::max();
// Skipped images listed in SourceStats.skipped_examples.

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("image_iter.", field, ": ", problem));
}

// os.path.join(path_root, path), as ImageIter.read_image does.
std::string JoinPath(const std::string& root, const std::string& path) {
  if (root.empty() || (!path.empty() && path[0] == '/')) return path;
  if (root.back() == '/') return root + path;
  return absl::StrCat(root, "/", path);
}

struct ListLine {
  int64_t key = 0;
  std::vector<float> labels;
  std::string path;
};

// ImageIter's .lst reading: each line stripped and split on TAB, key =
// int(col 0), labels = cols[1:-1], path = the last column. Blank lines are
// skipped (MXNet fails on them).
absl::StatusOr<std::vector<ListLine>> ParseImageList(const std::string& path,
                                                     int label_width) {
  ITERD_ASSIGN_OR_RETURN(std::shared_ptr<const io::MappedFile> file,
                         io::MappedFile::Open(path));
  std::vector<ListLine> lines;
  int line_number = 0;
  for (absl::string_view text : absl::StrSplit(file->contents(), '\n')) {
    ++line_number;
    text = absl::StripAsciiWhitespace(text);
    if (text.empty()) continue;
    std::vector<absl::string_view> columns = absl::StrSplit(text, '\t');
    const std::string where = absl::StrCat(path, ":", line_number, ": ");
    if (columns.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "expected key, labels and path separated by TAB"));
    }
    ListLine line;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(columns[0]), &line.key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "key '", columns[0], "' is not an integer"));
    }
    for (size_t i = 1; i + 1 < columns.size(); ++i) {
      float label = 0;
      if (!absl::SimpleAtof(absl::StripAsciiWhitespace(columns[i]), &label)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "label '", columns[i], "' is not a number"));
      }
      line.labels.push_back(label);
    }
    if (static_cast<int>(line.labels.size()) != label_width) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, line.labels.size(),
                       " labels, but label_width is ", label_width));
    }
    line.path = std::string(absl::StripAsciiWhitespace(columns.back()));
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

struct ImageIterSource::Job {
  int64_t position = 0;  // In the epoch's order: the augmentation stream.
  int64_t row = 0;
  const Sample* sample = nullptr;  // Null when reading the .rec sequentially.
  std::string record;              // Sequential reading: the record's bytes.
  uint64_t record_offset = 0;      // Sequential reading: where it was.
  absl::Status status;
  bool fatal = false;       // An error no policy skips (label_width mismatch).
  int64_t nanoseconds = 0;  // Decode and augmentation time.
};

// Damage the sequential reader skips (SKIP policy) counts as skipped images.
class ImageIterSource::SkipReporter final : public recordio::Reporter {
 public:
  explicit SkipReporter(ImageIterSource* source) : source_(source) {}
  void Corruption(uint64_t offset, uint64_t bytes,
                  const absl::Status& reason) override {
    source_->recorder_.Skipped(
        absl::StrCat(source_->options_.path_imgrec, ":", offset, " (", bytes,
                     " bytes of damaged RecordIO framing)"),
        reason.message());
  }

 private:
  ImageIterSource* const source_;
};

absl::StatusOr<std::unique_ptr<ImageIterSource>> ImageIterSource::Create(
    ImageIterSourceOptions options) {
  if (options.height <= 0 || options.width <= 0) {
    return FieldError("data_shape", "height and width must be positive");
  }
  if (options.label_width < 1) {
    return FieldError("label_width", "must be at least 1");
  }
  if (options.path_imgrec.empty() && options.path_imglist.empty() &&
      options.imglist.empty()) {
    return FieldError("path_imgrec",
                      "one of path_imgrec, path_imglist or imglist is needed");
  }
  if (options.num_parts < 1 || options.part_index < 0 ||
      options.part_index >= options.num_parts) {
    return FieldError(
        "part_index",
        absl::StrCat("must be in [0, num_parts), got ", options.part_index,
                     " of ", options.num_parts));
  }
  if (options.parallelism < 1) options.parallelism = 1;
  options.augmenter.out_height = static_cast<int>(options.height);
  options.augmenter.out_width = static_cast<int>(options.width);
  ITERD_ASSIGN_OR_RETURN(image::ImageIterAugmenter augmenter,
                         image::ImageIterAugmenter::Create(options.augmenter));
  std::unique_ptr<ImageIterSource> source(
      new ImageIterSource(std::move(options), std::move(augmenter)));
  ITERD_RETURN_IF_ERROR(source->BuildSamples());
  ITERD_RETURN_IF_ERROR(source->StartEpoch(0));
  return source;
}

ImageIterSource::ImageIterSource(ImageIterSourceOptions options,
                                 image::ImageIterAugmenter augmenter)
    : options_(std::move(options)), augmenter_(std::move(augmenter)) {
  data_specs_.push_back(
      {DType::kFloat32, {3, options_.height, options_.width}});
  TensorSpec label{DType::kFloat32, {}};
  if (options_.label_width > 1) label.shape.push_back(options_.label_width);
  label_specs_.push_back(std::move(label));
}

ImageIterSource::~ImageIterSource() = default;

absl::Status ImageIterSource::BuildSamples() {
  const ImageIterSourceOptions& o = options_;
  const bool has_list = !o.path_imglist.empty() || !o.imglist.empty();
  if (!o.path_imgrec.empty()) {
    ITERD_ASSIGN_OR_RETURN(records_,
                           recordio::OpenMappedByteSource(o.path_imgrec));
  }
  if (!o.path_imgrec.empty() && o.path_imgidx.empty()) {
    // MXNet reads sequentially and ignores a list for labels here; its shuffle
    // and parts would call read_idx on a reader without an index.
    if (o.shuffle || o.num_parts > 1) {
      return FieldError("path_imgidx",
                        "shuffle and num_parts > 1 over path_imgrec need the "
                        "record index");
    }
    sequential_ = true;
    reporter_ = std::make_unique<SkipReporter>(this);
    recordio::ReaderOptions reader_options;
    reader_options.policy = o.fail_on_bad_image
                                ? recordio::CorruptionPolicy::kStrict
                                : recordio::CorruptionPolicy::kSkip;
    reader_options.reporter = reporter_.get();
    reader_ =
        std::make_unique<recordio::RecordReader>(records_, reader_options);
    return absl::OkStatus();
  }
  std::unique_ptr<recordio::RecordIndex> index;
  if (!o.path_imgidx.empty()) {
    ITERD_ASSIGN_OR_RETURN(recordio::RecordIndex loaded,
                           recordio::RecordIndex::Load(o.path_imgidx));
    ITERD_RETURN_IF_ERROR(CheckIndexOffsets(
        loaded, o.imgidx_name.empty() ? o.path_imgidx : o.imgidx_name,
        records_->size()));
    index = std::make_unique<recordio::RecordIndex>(std::move(loaded));
  }
  std::vector<Sample> all;
  if (has_list) {
    std::vector<ListLine> lines;
    if (!o.path_imglist.empty()) {
      ITERD_ASSIGN_OR_RETURN(lines,
                             ParseImageList(o.path_imglist, o.label_width));
    } else {
      for (size_t i = 0; i < o.imglist.size(); ++i) {
        const ImageIterListEntry& entry = o.imglist[i];
        if (static_cast<int>(entry.labels.size()) != o.label_width) {
          return FieldError(
              absl::StrCat("imglist[", i, "]"),
              absl::StrCat(entry.labels.size(), " labels, but label_width is ",
                           o.label_width));
        }
        // MXNet's keys for an inline list: '1', '2', ...
        lines.push_back(
            {static_cast<int64_t>(i + 1), entry.labels, entry.path});
      }
    }
    for (ListLine& line : lines) {
      Sample sample;
      sample.key = absl::StrCat(line.key);
      sample.labels = std::move(line.labels);
      if (index != nullptr) {
        absl::StatusOr<uint64_t> offset = index->Find(line.key);
        if (!offset.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(o.path_imglist.empty() ? "imglist" : o.path_imglist,
                           ": key ", line.key, " is not in ", o.path_imgidx));
        }
        sample.record_offset = static_cast<int64_t>(*offset);
      } else {
        const std::string joined = JoinPath(o.path_root, line.path);
        if (o.resolve_path) {
          ITERD_ASSIGN_OR_RETURN(sample.file, o.resolve_path(joined));
        } else {
          sample.file = joined;
        }
      }
      all.push_back(std::move(sample));
    }
  } else {
    for (const recordio::IndexEntry& entry : index->entries()) {
      Sample sample;
      sample.key = entry.key;
      sample.record_offset = static_cast<int64_t>(entry.offset);
      all.push_back(std::move(sample));
    }
  }
  if (o.num_parts > 1) {
    // ImageIter's split: Cp = N // num_parts, the remainder never used.
    const size_t per_part = all.size() / o.num_parts;
    if (per_part == 0) {
      return FieldError("num_parts",
                        absl::StrCat(o.num_parts, " parts of ", all.size(),
                                     " images leave every part empty"));
    }
    const size_t begin = per_part * o.part_index;
    all = std::vector<Sample>(
        std::make_move_iterator(all.begin() + begin),
        std::make_move_iterator(all.begin() + begin + per_part));
  }
  samples_ = std::move(all);
  return absl::OkStatus();
}

std::vector<std::string> ImageIterSource::current_keys() const {
  std::vector<std::string> keys;
  keys.reserve(order_.size());
  for (int64_t sample : order_) keys.push_back(samples_[sample].key);
  return keys;
}

int64_t ImageIterSource::num_samples() const {
  return sequential_ ? -1 : static_cast<int64_t>(samples_.size());
}

absl::Status ImageIterSource::StartEpoch(int64_t epoch) {
  epoch_ = epoch;
  if (!sequential_) {
    // A fresh permutation of the part's keys, a function of (seed, epoch) only
    // (MXNet's random.shuffle compounds; any one epoch replays here alone).
    order_.resize(samples_.size());
    std::iota(order_.begin(), order_.end(), 0);
    if (options_.shuffle) {
      random::Engine engine(options_.seed, kShuffleStream,
                            static_cast<uint64_t>(epoch));
      random::Shuffle(absl::MakeSpan(order_), &engine);
    }
  }
  BeginPass(0);
  position_ = 0;
  if (sequential_) reader_->Seek(0);
  return absl::OkStatus();
}

absl::Status ImageIterSource::Rewind() {
  BeginPass(pass_ + 1);
  position_ = 0;
  if (sequential_) reader_->Seek(0);
  return absl::OkStatus();
}

void ImageIterSource::BeginPass(int64_t pass) {
  pass_ = pass;
  pass_seed_ = random::PassSeed(options_.seed, epoch_, pass_);
}

SourcePosition ImageIterSource::Tell() const {
  SourcePosition position{epoch_, pass_, position_, {}};
  if (sequential_) position.cursor.push_back(reader_->Tell());
  return position;
}

absl::Status ImageIterSource::Seek(const SourcePosition& position) {
  ITERD_RETURN_IF_ERROR(
      CheckSourcePosition(position, num_samples(), sequential_ ? 1 : 0));
  ITERD_RETURN_IF_ERROR(StartEpoch(position.epoch));
  BeginPass(position.pass);
  position_ = position.position;
  if (sequential_) {
    // Any offset is safe: the reader resyncs (or reports damage) from there,
    // and an offset past the end is the end of the pass.
    if (position.cursor[0] % 4 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("source position: cursor ", position.cursor[0],
                       " is not a record head (a multiple of 4)"));
    }
    reader_->Seek(position.cursor[0]);
  }
  return absl::OkStatus();
}

SourceStats ImageIterSource::stats() const { return recorder_.stats(); }

absl::Status ImageIterSource::ClaimJobs(int64_t count, std::vector<Job>* jobs) {
  jobs->clear();
  if (sequential_) {
    while (static_cast<int64_t>(jobs->size()) < count) {
      absl::string_view record;
      bool end_of_data = false;
      ITERD_RETURN_IF_ERROR(reader_->Next(&record, &end_of_data));
      if (end_of_data) break;
      Job job;
      // Copied: a split record's view dies at the next Next().
      job.record.assign(record.data(), record.size());
      job.record_offset = reader_->record_offset();
      job.position = position_++;
      jobs->push_back(std::move(job));
    }
    return absl::OkStatus();
  }
  const int64_t available = static_cast<int64_t>(order_.size()) - position_;
  for (int64_t i = 0; i < std::min(count, available); ++i) {
    Job job;
    job.sample = &samples_[order_[position_]];
    job.position = position_++;
    jobs->push_back(std::move(job));
  }
  return absl::OkStatus();
}

void ImageIterSource::Decode(Job* job, Batch* batch) const {
  try {
    DecodeOrThrow(job, batch);
  } catch (const std::exception& error) {
    ITERD_LOG(WARNING) << "ImageIter: " << error.what();
    job->status = image::ExceptionStatus(error);
  }
}

void ImageIterSource::DecodeOrThrow(Job* job, Batch* batch) const {
  const Sample* sample = job->sample;
  absl::string_view record = job->record;
  absl::string_view image_bytes;
  std::shared_ptr<const io::MappedFile> file;
  std::vector<float> labels;
  if (sample != nullptr && sample->record_offset < 0) {
    // A resolved path is opened as the very file the policy checked
    // (common/io/held_file.h): a directory swapped for a symlink since the
    // list was read cannot redirect it. The service edge names the file
    // relative to its data root.
    absl::StatusOr<std::shared_ptr<const io::MappedFile>> opened =
        options_.resolve_path ? io::MapHeldFile(sample->file, sample->file)
                              : io::MappedFile::Open(sample->file);
    if (!opened.ok()) {
      job->status = opened.status();
      return;
    }
    file = *std::move(opened);
    image_bytes = file->contents();
    labels = sample->labels;
  } else {
    // A reader per image: readers are cheap, and the mapping they share is
    // safe to read from any thread.
    recordio::RecordReader reader(records_, recordio::ReaderOptions{});
    if (sample != nullptr) {
      bool end_of_data = false;
      reader.Seek(static_cast<uint64_t>(sample->record_offset));
      job->status = reader.Next(&record, &end_of_data);
      if (job->status.ok() && end_of_data) {
        job->status = absl::DataLossError("the .idx offset is past the end");
      }
      if (!job->status.ok()) return;
    }
    absl::StatusOr<recordio::IRHeader> header =
        recordio::UnpackRecord(record, &image_bytes);
    if (!header.ok()) {
      job->status = header.status();
      return;
    }
    if (sample != nullptr && !sample->labels.empty()) {
      labels = sample->labels;  // A list's labels win over the header's.
    } else if (header->flag > 0) {
      labels = header->labels;
    } else {
      labels = {header->label};
    }
  }
  if (static_cast<int>(labels.size()) != options_.label_width) {
    job->status = absl::InvalidArgumentError(
        absl::StrCat("the record has ", labels.size(),
                     " labels, but label_width is ", options_.label_width));
    job->fatal = true;
    return;
  }
  absl::StatusOr<cv::Mat> bgr = image::DecodeImage(
      image_bytes, image::kDecodeColor, options_.max_image_pixels);
  if (!bgr.ok()) {
    job->status = bgr.status();
    return;
  }
  cv::Mat rgb;
  cv::cvtColor(*bgr, rgb, cv::COLOR_BGR2RGB);
  random::Engine engine(pass_seed_, random::kAugmentStream,
                        static_cast<uint64_t>(job->position));
  float* pixels = reinterpret_cast<float*>(batch->data(0).row(job->row).data());
  job->status = augmenter_.Apply(
      rgb, &engine,
      absl::MakeSpan(pixels, 3 * options_.height * options_.width));
  if (!job->status.ok()) return;
  std::copy(labels.begin(), labels.end(),
            reinterpret_cast<float*>(batch->label(0).row(job->row).data()));
}

absl::Status ImageIterSource::ReadSample(Batch* batch, int64_t row,
                                         uint64_t* sample_id,
                                         bool* end_of_pass) {
  int64_t filled = 0;
  return ReadSamples(batch, row, 1, sample_id, &filled, end_of_pass);
}

absl::Status ImageIterSource::ReadSamples(Batch* batch, int64_t first_row,
                                          int64_t count, uint64_t* ids,
                                          int64_t* filled, bool* end_of_pass) {
  DecodeLoop loop;
  loop.pool = options_.pool;
  loop.parallelism = options_.parallelism;
  loop.fail_on_bad_item = options_.fail_on_bad_image;
  loop.item_noun = "image";
  loop.claim = [this](int64_t count) -> absl::StatusOr<int64_t> {
    ITERD_RETURN_IF_ERROR(ClaimJobs(count, &jobs_));
    return static_cast<int64_t>(jobs_.size());
  };
  loop.decode = [this, batch](int64_t item, int64_t row) {
    Job& job = jobs_[item];
    job.row = row;
    Decode(&job, batch);
    // DataBatch.index is the sample's position in the epoch's order.
    return DecodedItem{job.status, job.fatal,
                       static_cast<uint64_t>(job.position)};
  };
  loop.where = [this](int64_t item) { return Where(jobs_[item]); };
  return FillDecodedRows(loop, &recorder_, batch, first_row, count, ids, filled,
                         end_of_pass);
}

std::string ImageIterSource::Where(const Job& job) const {
  if (job.sample == nullptr) {
    return absl::StrCat(options_.path_imgrec, ":", job.record_offset,
                        " (position ", job.position, ")");
  }
  if (job.sample->record_offset >= 0) {
    return absl::StrCat(options_.path_imgrec, ": key ", job.sample->key,
                        " (offset ", job.sample->record_offset, ", position ",
                        job.position, ")");
  }
  return absl::StrCat(job.sample->file, " (key ", job.sample->key,
                      ", position ", job.position, ")");
}

}  // namespace iterd::pipeline
