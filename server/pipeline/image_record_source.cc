#include "server/pipeline/image_record_source.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <opencv2/core.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/concurrency/parallel_for.h"
#include "common/image/augment/crop_first.h"
#include "common/image/exif_orientation.h"
#include "common/image/image_codec.h"
#include "common/image/jpeg_decoder.h"
#include "common/logging.h"
#include "common/random/engine.h"
#include "common/recordio/index.h"
#include "common/recordio/irheader.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

// One TurboJPEG handle per thread (pool threads and the producer), reused for
// every image that thread decodes: a handle costs a few KB of allocations.
absl::StatusOr<image::JpegDecoder*> ThreadJpegDecoder() {
  thread_local std::unique_ptr<image::JpegDecoder> decoder;
  if (decoder == nullptr) {
    ITERD_ASSIGN_OR_RETURN(decoder, image::JpegDecoder::Create());
  }
  return decoder.get();
}

}  // namespace

// Counts the stretches a kSkip listing reader drops as skipped records.
class ImageRecordSource::SkipReporter final : public recordio::Reporter {
 public:
  explicit SkipReporter(const ImageRecordSource* source) : source_(source) {}
  void Corruption(uint64_t offset, uint64_t bytes,
                  const absl::Status& reason) override {
    source_->recorder_.Skipped(
        absl::StrCat(source_->Where(offset), " (listing epoch ",
                     source_->epoch_, ")"),
        absl::StrCat("damaged RecordIO framing, ", bytes,
                     " bytes skipped: ", reason.message()));
  }

 private:
  const ImageRecordSource* const source_;
};

struct ImageRecordSource::RawRecord {
  absl::string_view bytes;  // Into the mapping, or into `owned`.
  std::string owned;        // A split record, reassembled by the reader.
  uint64_t offset = 0;
  int64_t position = 0;
  absl::Status read_error;  // A damaged record at an .idx offset.
};

ImageRecordSource::ImageRecordSource(ThreadPool* pool) : pool_(pool) {}
ImageRecordSource::~ImageRecordSource() = default;

absl::StatusOr<std::unique_ptr<ImageRecordSource>> ImageRecordSource::Create(
    ImageRecordSourceOptions options, ThreadPool* pool) {
  if (pool == nullptr) {
    return absl::InvalidArgumentError("ImageRecordSource needs a thread pool");
  }
  if (options.channels != 1 && options.channels != 3 && options.channels != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data_shape: channels must be 1, 3 or 4, got ", options.channels));
  }
  if (options.height <= 0 || options.width <= 0) {
    return absl::InvalidArgumentError("data_shape: H and W must be positive");
  }
  if (options.label_width < 1 || options.preprocess_threads < 1) {
    return absl::InvalidArgumentError(
        "label_width and preprocess_threads must be >= 1");
  }
  const size_t image_elements =
      static_cast<size_t>(options.channels) * options.height * options.width;
  if (!options.mean_image.empty() &&
      options.mean_image.size() != image_elements) {
    return absl::InvalidArgumentError(
        absl::StrCat("mean_img: has ", options.mean_image.size(),
                     " values, data_shape needs ", image_elements));
  }
  std::unique_ptr<ImageRecordSource> source(new ImageRecordSource(pool));
  source->options_ = std::move(options);
  ImageRecordSourceOptions& opts = source->options_;

  const bool indexed = !opts.path_imgidx.empty();
  ITERD_ASSIGN_OR_RETURN(
      source->file_,
      recordio::OpenMappedByteSource(opts.path_imgrec,
                                     indexed && opts.shuffle
                                         ? io::AccessPattern::kRandom
                                         : io::AccessPattern::kSequential));
  std::string scratch;
  ITERD_RETURN_IF_ERROR(source->file_->Read(0, source->file_->size(), &scratch,
                                            &source->file_bytes_));
  if (!opts.path_imglist.empty()) {
    ITERD_ASSIGN_OR_RETURN(
        source->label_list_,
        LabelList::Load(opts.path_imglist, opts.label_width));
  }
  source->reporter_ = std::make_unique<SkipReporter>(source.get());
  ImageRecordOrderOptions order_options;
  order_options.num_parts = opts.num_parts;
  order_options.part_index = opts.part_index;
  order_options.shuffle = opts.shuffle;
  order_options.seed = opts.seed;
  order_options.shuffle_chunk_size_mb = opts.shuffle_chunk_size_mb;
  order_options.shuffle_chunk_seed = opts.shuffle_chunk_seed;
  order_options.listing.policy = opts.fail_on_bad_record
                                     ? recordio::CorruptionPolicy::kStrict
                                     : recordio::CorruptionPolicy::kSkip;
  order_options.listing.reporter = source->reporter_.get();
  if (indexed) {
    ITERD_ASSIGN_OR_RETURN(recordio::RecordIndex index,
                           recordio::RecordIndex::Load(opts.path_imgidx));
    ITERD_RETURN_IF_ERROR(CheckIndexOffsets(
        index, opts.imgidx_name.empty() ? opts.path_imgidx : opts.imgidx_name,
        source->file_->size()));
    order_options.indexed = true;
    order_options.sorted_offsets = index.SortedOffsets();
  }
  ITERD_ASSIGN_OR_RETURN(
      source->order_,
      ImageRecordOrder::Create(source->file_, std::move(order_options)));
  // Strict: it reads only record heads the order vouches for, and a damaged
  // record at an .idx offset must not resync onto another record.
  source->reader_ = std::make_unique<recordio::RecordReader>(
      source->file_, recordio::ReaderOptions{});

  opts.augmenter.out_height = opts.height;
  opts.augmenter.out_width = opts.width;
  ITERD_ASSIGN_OR_RETURN(source->augmenter_,
                         image::DefaultAugmenter::Create(opts.augmenter));
  opts.writer.channels = opts.channels;
  opts.writer.mean_image =
      opts.mean_image.empty() ? nullptr : opts.mean_image.data();
  ITERD_ASSIGN_OR_RETURN(source->writer_,
                         image::SampleWriter::Create(opts.writer));
  source->decode_flag_ = opts.channels == 1   ? image::kDecodeGray
                         : opts.channels == 3 ? image::kDecodeColor
                                              : image::kDecodeUnchanged;
  TensorSpec data;
  data.dtype = opts.writer.dtype;
  data.shape =
      opts.writer.nhwc
          ? std::vector<int64_t>{opts.height, opts.width, opts.channels}
          : std::vector<int64_t>{opts.channels, opts.height, opts.width};
  source->data_specs_.push_back(std::move(data));
  TensorSpec label;
  label.dtype = DType::kFloat32;
  if (opts.label_width > 1) label.shape = {opts.label_width};
  source->label_specs_.push_back(std::move(label));
  return source;
}

std::string ImageRecordSource::Where(uint64_t offset) const {
  return absl::StrCat(options_.path_imgrec, ":", offset);
}

std::string ImageRecordSource::WhereInPass(const RawRecord& raw) const {
  return absl::StrCat(Where(raw.offset), " (position ", raw.position,
                      " of epoch ", epoch_, ")");
}

SourceStats ImageRecordSource::stats() const { return recorder_.stats(); }

void ImageRecordSource::BeginPass(int64_t pass) {
  pass_ = pass;
  pass_seed_ = random::PassSeed(options_.seed_aug, epoch_, pass_);
}

absl::Status ImageRecordSource::Rewind() {
  BeginPass(pass_ + 1);
  position_ = 0;
  return order_->Rewind();
}

absl::Status ImageRecordSource::StartEpoch(int64_t epoch) {
  epoch_ = epoch;
  BeginPass(0);
  position_ = 0;
  return order_->StartEpoch(epoch);
}

SourcePosition ImageRecordSource::Tell() const {
  return SourcePosition{epoch_, pass_, position_, {}};
}

absl::Status ImageRecordSource::Seek(const SourcePosition& position) {
  ITERD_RETURN_IF_ERROR(
      CheckSourcePosition(position, order_->num_records(), 0));
  ITERD_RETURN_IF_ERROR(order_->Seek(position.epoch, position.position));
  epoch_ = position.epoch;
  BeginPass(position.pass);
  position_ = position.position;
  return absl::OkStatus();
}

absl::Status ImageRecordSource::GatherRecords(int64_t count,
                                              bool* end_of_pass) {
  raw_.resize(static_cast<size_t>(count));
  int64_t gathered = 0;
  while (gathered < count) {
    RawRecord& raw = raw_[gathered];
    ITERD_RETURN_IF_ERROR(
        order_->Next(&raw.offset, &raw.position, end_of_pass));
    if (*end_of_pass) break;
    position_ = raw.position + 1;
    raw.read_error = absl::OkStatus();
    raw.owned.clear();
    reader_->Seek(raw.offset);
    absl::string_view record;
    bool end_of_data = false;
    absl::Status read = reader_->Next(&record, &end_of_data);
    if (read.ok() && end_of_data) {
      read = absl::DataLossError(
          absl::StrCat(Where(raw.offset), ": no record at this .idx offset"));
    }
    if (!read.ok()) {
      // Only damage is a bad record; an I/O error fails the batch.
      if (!absl::IsDataLoss(read) || options_.fail_on_bad_record) return read;
      raw.read_error = read;
      raw.bytes = {};
    } else if (record.data() >= file_bytes_.data() &&
               record.data() + record.size() <=
                   file_bytes_.data() + file_bytes_.size()) {
      raw.bytes = record;  // A view into the mapping: no copy.
    } else {
      // A split record lives in the reader's buffer until its next read.
      raw.owned.assign(record.data(), record.size());
      raw.bytes = raw.owned;
    }
    ++gathered;
  }
  raw_.resize(static_cast<size_t>(gathered));
  return absl::OkStatus();
}

absl::StatusOr<cv::Mat> ImageRecordSource::Decode(
    absl::string_view bytes) const {
  const int planned = augmenter_->planned_short_edge();
  if (planned > 0 && options_.jpeg_dct_scaling && options_.channels != 4 &&
      image::LooksLikeJpeg(bytes)) {
    ITERD_ASSIGN_OR_RETURN(image::JpegDecoder * decoder, ThreadJpegDecoder());
    absl::StatusOr<image::JpegHeader> header = decoder->ReadHeader(bytes);
    if (header.ok() && !header->IsCmyk() &&
        image::CheckPixelCount(header->width, header->height,
                               options_.max_image_pixels)
            .ok()) {
      // The largest DCT scale whose shorter edge still covers the resize
      // target (EXIF rotation swaps the edges, not their minimum).
      const int scale = image::CoveringDctScale(*header, planned);
      const image::PixelOrder order = options_.channels == 1
                                          ? image::PixelOrder::kGray
                                          : image::PixelOrder::kBgr;
      cv::Mat image;
      try {
        image.create(image::JpegDecoder::ScaledDimension(header->height, scale),
                     image::JpegDecoder::ScaledDimension(header->width, scale),
                     CV_8UC(image::ChannelCount(order)));
      } catch (const std::exception&) {  // Out of memory.
        return absl::ResourceExhaustedError(
            absl::StrCat("cannot allocate a ", header->width / scale, "x",
                         header->height / scale, " image"));
      }
      const absl::Status decoded = decoder->Decode(
          bytes, order, scale,
          absl::MakeSpan(image.data, image.total() * image.elemSize()),
          image.step[0]);
      if (decoded.ok()) {
        image::ApplyExifOrientation(image::JpegExifOrientation(bytes), &image);
        return image;
      }
    }
    // Anything unusual: the general decoder, which also words the error.
  }
  ITERD_ASSIGN_OR_RETURN(
      cv::Mat image,
      image::DecodeImage(bytes, decode_flag_, options_.max_image_pixels));
  if (options_.channels == 4 && image.channels() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "decoded image has ", image.channels(),
        " channels; data_shape with C = 4 needs 4 (an image with alpha)"));
  }
  return image;
}

absl::StatusOr<bool> ImageRecordSource::DecodeCropFirst(absl::string_view bytes,
                                                        random::Engine* rng,
                                                        cv::Mat* image) const {
  const int planned = augmenter_->planned_short_edge();
  if (!options_.jpeg_crop_first || planned <= 0 ||
      (options_.channels != 1 && options_.channels != 3) ||
      !image::LooksLikeJpeg(bytes)) {
    return false;
  }
  ITERD_ASSIGN_OR_RETURN(image::JpegDecoder * decoder, ThreadJpegDecoder());
  absl::StatusOr<image::JpegHeader> header = decoder->ReadHeader(bytes);
  // Anything unusual (a bad header, CMYK, a rotation to undo): the full path,
  // which also words the error.
  if (!header.ok() || header->IsCmyk() ||
      !image::CheckPixelCount(header->width, header->height,
                              options_.max_image_pixels)
           .ok() ||
      image::JpegExifOrientation(bytes) != 1) {
    return false;
  }
  const int scale =
      options_.jpeg_dct_scaling ? image::CoveringDctScale(*header, planned) : 1;
  return image::DecodeAugmentCropFirst(bytes, *header, scale,
                                       options_.channels == 1
                                           ? image::PixelOrder::kGray
                                           : image::PixelOrder::kBgr,
                                       *augmenter_, rng, image);
}

absl::Status ImageRecordSource::WriteLabel(const recordio::IRHeader& header,
                                           float* out) const {
  const int width = options_.label_width;
  if (label_list_.has_value()) {
    const float* labels = label_list_->Find(header.id);
    if (labels == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("record id ", header.id,
                                                     " is not in path_imglist ",
                                                     label_list_->name()));
    }
    std::memcpy(out, labels, sizeof(float) * width);
  } else if (!header.labels.empty()) {
    if (header.labels.size() != static_cast<size_t>(width)) {
      return absl::InvalidArgumentError(
          absl::StrCat("record has ", header.labels.size(),
                       " labels in its header but label_width is ", width));
    }
    std::memcpy(out, header.labels.data(), sizeof(float) * width);
  } else {
    if (width != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("record has a scalar label but label_width is ", width,
                       " (give path_imglist or multi-label records)"));
    }
    out[0] = header.label;
  }
  return absl::OkStatus();
}

DecodedItem ImageRecordSource::ProcessRecord(const RawRecord& raw, Batch* batch,
                                             int64_t row) const {
  // Decoders and OpenCV throw (out of memory, an assertion on odd input):
  // the record is bad, the daemon goes on, and their texts stay in the log.
  try {
    return ProcessRecordOrThrow(raw, batch, row);
  } catch (const std::exception& error) {
    ITERD_LOG(WARNING) << Where(raw.offset) << ": " << error.what();
    DecodedItem result;
    result.status = image::ExceptionStatus(error);
    return result;
  }
}

DecodedItem ImageRecordSource::ProcessRecordOrThrow(const RawRecord& raw,
                                                    Batch* batch,
                                                    int64_t row) const {
  DecodedItem result;
  if (!raw.read_error.ok()) {
    result.status = raw.read_error;
    return result;
  }
  absl::string_view payload;
  absl::StatusOr<recordio::IRHeader> header =
      recordio::UnpackRecord(raw.bytes, &payload);
  if (!header.ok()) {
    result.status = header.status();
    return result;
  }
  result.id = header->id;
  const absl::Span<uint8_t> label_row = batch->label(0).row(row);
  float labels[64];
  std::vector<float> many;
  float* label_out = labels;
  if (options_.label_width > 64) {
    many.resize(options_.label_width);
    label_out = many.data();
  }
  result.status = WriteLabel(*header, label_out);
  if (!result.status.ok()) {
    result.fatal = true;
    return result;
  }
  std::memcpy(label_row.data(), label_out, label_row.size());
  random::Engine rng(pass_seed_, random::kAugmentStream,
                     static_cast<uint64_t>(raw.position));
  cv::Mat image;
  const absl::StatusOr<bool> cropped = DecodeCropFirst(payload, &rng, &image);
  if (!cropped.ok()) {
    result.status = cropped.status();
    return result;
  }
  if (!*cropped) {
    absl::StatusOr<cv::Mat> decoded = Decode(payload);
    if (!decoded.ok()) {
      result.status = decoded.status();
      return result;
    }
    image = *std::move(decoded);
    result.status = augmenter_->Apply(&image, &rng);
    if (!result.status.ok()) return result;
  }
  result.status = writer_->Write(image, &rng, batch->data(0).row(row));
  result.fatal = !result.status.ok();
  return result;
}

absl::Status ImageRecordSource::ReadSample(Batch* batch, int64_t row,
                                           uint64_t* sample_id,
                                           bool* end_of_pass) {
  int64_t filled = 0;
  return ReadSamples(batch, row, 1, sample_id, &filled, end_of_pass);
}

absl::Status ImageRecordSource::ReadSamples(Batch* batch, int64_t first_row,
                                            int64_t count, uint64_t* ids,
                                            int64_t* filled,
                                            bool* end_of_pass) {
  *filled = 0;
  *end_of_pass = false;
  if (batch->num_data() != 1 || batch->num_label() != 1 ||
      batch->data(0).spec().row_bytes() != data_specs_[0].byte_size() ||
      first_row < 0 || first_row + count > batch->batch_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ImageRecordSource::ReadSamples: rows [", first_row, ", ",
                     first_row + count, ") do not fit the batch's tensors"));
  }
  DecodeLoop loop;
  loop.pool = pool_;
  loop.parallelism = options_.preprocess_threads;
  loop.fail_on_bad_item = options_.fail_on_bad_record;
  loop.item_noun = "record";
  loop.claim = [this](int64_t count) -> absl::StatusOr<int64_t> {
    bool end_of_pass = false;
    ITERD_RETURN_IF_ERROR(GatherRecords(count, &end_of_pass));
    return static_cast<int64_t>(raw_.size());
  };
  loop.decode = [this, batch](int64_t item, int64_t row) {
    return ProcessRecord(raw_[item], batch, row);
  };
  loop.where = [this](int64_t item) { return WhereInPass(raw_[item]); };
  return FillDecodedRows(loop, &recorder_, batch, first_row, count, ids, filled,
                         end_of_pass);
}

}  // namespace iterd::pipeline
