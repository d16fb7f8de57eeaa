// File: server/pipeline/image_record_source.h
//
// ImageRecordSource: the SampleSource of mx.io.ImageRecordIter (reference
// §10). It reads the records of one part of a .rec (order: ImageRecordOrder),
// and for a batch's rows decodes, labels, augments and normalises them in
// parallel on the daemon's shared pool, each straight into its batch row:
//
//   record (a view into the mapped .rec, no copy) -> IRHeader -> label
//   (.lst entry > header label array > scalar label) -> decode (C = 1 gray,
//   3 colour, 4 unchanged with 4 channels) -> DefaultAugmenter -> SampleWriter
//   (mirror, RGB, CHW/HWC, normalise) -> the row.
//
// JPEG fast path: when the augmenter's first step is a resize to a shorter
// edge known in advance, JPEGs are decoded at the largest DCT scale (1/2, 1/4,
// 1/8) whose shorter edge still covers it, so the resize that follows loses
// nothing. Deviation: the scaled size rounds up (libjpeg), so the resized long
// edge can differ from a full-size decode's by a pixel.
//
// Crop-first: for the plain resize -> crop chain
// (image::DecodeAugmentCropFirst) a JPEG with no EXIF rotation is decoded only
// where the crop lands (same draws, same crop rectangle; pixels differ by
// rounding, mean < 1 level).
//
// Determinism: the sample at position p of pass k of epoch e draws all its
// randomness from (seed_aug, e, k, p); the rows come out in order. So batches
// do not depend on preprocess_threads, timing or history, and Seek() restores
// any position exactly.
//
// Bad records (BadRecordPolicy): with SKIP a record that fails to unpack or
// decode (or whose framing is damaged) is skipped, counted in stats() with a
// "file:offset: reason" example, logged with its position, and replaced by
// the next one, so batches stay full. With FAIL it is DataLoss naming file,
// offset and reason. Label errors (§10.2 step 3: id missing from the .lst,
// label array length != label_width, scalar label with label_width > 1) are
// configuration errors and always InvalidArgument.
//
// has_sample_ids() is false: MXNet's ImageRecordIter reports an all-zero
// index, and iterd reports none rather than invent one.
//
// Thread-compatibility: one thread at a time, as every SampleSource, except
// stats(), which is thread-safe. Ownership: owns its mapping of the .rec; the
// ThreadPool is borrowed and must outlive the source.

#ifndef ITERD_SERVER_PIPELINE_IMAGE_RECORD_SOURCE_H_
#define ITERD_SERVER_PIPELINE_IMAGE_RECORD_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/concurrency/thread_pool.h"
#include "common/image/augment/default_augmenter.h"
#include "common/image/augment/sample_writer.h"
#include "common/image/image_header.h"
#include "common/recordio/byte_source.h"
#include "common/recordio/irheader.h"
#include "common/recordio/reader.h"
#include "common/tensor/batch.h"
#include "server/pipeline/decode_loop.h"
#include "server/pipeline/image_record_order.h"
#include "server/pipeline/label_list.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

struct ImageRecordSourceOptions {
  // Resolved local paths. path_imglist / path_imgidx may be empty.
  std::string path_imgrec;
  std::string path_imglist;
  std::string path_imgidx;
  // The .idx as the client named it, for messages (empty: path_imgidx).
  std::string imgidx_name;
  int label_width = 1;
  // Largest pixel count an image's header may declare (limits.
  // max_image_pixels); larger images are bad records, refused before
  // decoding.
  uint64_t max_image_pixels = image::kDefaultMaxImagePixels;
  // data_shape (C, H, W); C in {1, 3, 4}.
  int channels = 3;
  int height = 0;
  int width = 0;
  // Items of a batch processed at once (the caller takes part; the rest are
  // tasks on the shared pool). >= 1.
  int preprocess_threads = 1;
  int num_parts = 1;
  int part_index = 0;
  bool shuffle = false;
  uint64_t seed = 0;
  int shuffle_chunk_size_mb = 0;
  uint64_t shuffle_chunk_seed = 0;
  uint64_t seed_aug = 0;
  bool fail_on_bad_record = false;  // BadRecordPolicy FAIL.
  // The JPEG fast path (DCT-domain downscaling before a planned resize). Off
  // only to compare pixels with a plain full-size decode.
  bool jpeg_dct_scaling = true;
  // Crop-first JPEG decoding (DefaultAugmenter::CropPlanResizedSize's chain):
  // decode only the rows and columns the crop needs. Off only to compare
  // with the full decode.
  bool jpeg_crop_first = true;
  image::DefaultAugmenterParams augmenter;
  // mean_image is ignored here: pass the mean image in `mean_image`.
  image::SampleWriterParams writer;
  std::vector<float> mean_image;  // C*H*W (RGB, CHW) or empty.
};

class ImageRecordSource final : public SampleSource {
 public:
  // Opens the .rec (NotFound naming the path when missing), the .idx and
  // .lst (errors name them), builds the augmenter and writer (InvalidArgument
  // naming the field). `pool` must outlive the source.
  static absl::StatusOr<std::unique_ptr<ImageRecordSource>> Create(
      ImageRecordSourceOptions options, ThreadPool* pool);

  ImageRecordSource(const ImageRecordSource&) = delete;
  ImageRecordSource& operator=(const ImageRecordSource&) = delete;
  ~ImageRecordSource() override;

  // SampleSource.
  const std::vector<TensorSpec>& sample_data_specs() const override {
    return data_specs_;
  }
  const std::vector<TensorSpec>& sample_label_specs() const override {
    return label_specs_;
  }
  int64_t num_samples() const override { return order_->num_records(); }
  bool has_sample_ids() const override { return false; }
  absl::Status ReadSample(Batch* batch, int64_t row, uint64_t* sample_id,
                          bool* end_of_pass) override;
  // ids[k] = the IRHeader id of row first_row + k.
  absl::Status ReadSamples(Batch* batch, int64_t first_row, int64_t count,
                           uint64_t* ids, int64_t* filled,
                           bool* end_of_pass) override;
  SourceStats stats() const override;
  absl::Status Rewind() override;
  absl::Status StartEpoch(int64_t epoch) override;
  SourcePosition Tell() const override;
  absl::Status Seek(const SourcePosition& position) override;

 private:
  class SkipReporter;
  struct RawRecord;

  explicit ImageRecordSource(ThreadPool* pool);

  // Takes up to `count` records of the order into raw_ (reading them).
  absl::Status GatherRecords(int64_t count, bool* end_of_pass);
  // Decodes, labels, augments and writes raw_[item] into `row`.
  // Never throws: an exception from a decoder or OpenCV is a bad record.
  DecodedItem ProcessRecord(const RawRecord& raw, Batch* batch,
                            int64_t row) const;
  DecodedItem ProcessRecordOrThrow(const RawRecord& raw, Batch* batch,
                                   int64_t row) const;
  absl::StatusOr<cv::Mat> Decode(absl::string_view bytes) const;
  // Crop-first decode and augmentation into *image; false (nothing drawn)
  // when the record or the chain does not qualify.
  absl::StatusOr<bool> DecodeCropFirst(absl::string_view bytes,
                                       random::Engine* rng,
                                       cv::Mat* image) const;
  absl::Status WriteLabel(const recordio::IRHeader& header, float* out) const;
  std::string Where(uint64_t offset) const;
  // Where raw_[item] is: file, offset, position and epoch.
  std::string WhereInPass(const RawRecord& raw) const;
  // Sets pass_ and the augmentation seed of (epoch_, pass_).
  void BeginPass(int64_t pass);

  ImageRecordSourceOptions options_;
  ThreadPool* const pool_;
  std::shared_ptr<const recordio::ByteSource> file_;
  absl::string_view file_bytes_;  // The whole mapping: views are inside it.
  std::unique_ptr<SkipReporter> reporter_;
  std::unique_ptr<ImageRecordOrder> order_;
  std::unique_ptr<recordio::RecordReader> reader_;  // Reads by offset.
  std::optional<LabelList> label_list_;
  std::optional<image::DefaultAugmenter> augmenter_;
  std::optional<image::SampleWriter> writer_;
  int decode_flag_ = 1;
  std::vector<TensorSpec> data_specs_;
  std::vector<TensorSpec> label_specs_;
  int64_t epoch_ = 0;
  // Rewinds since StartEpoch(epoch_). Augmentation draws are keyed by the
  // pass as well as the position: round_batch's filler samples are re-read
  // from position 0, and keying on (epoch, position) alone would repeat the
  // epoch's first augmentations exactly.
  int64_t pass_ = 0;
  uint64_t pass_seed_ = 0;      // random::PassSeed(seed_aug, epoch_, pass_).
  int64_t position_ = 0;        // Entries of the order consumed this pass.
  std::vector<RawRecord> raw_;  // This call's records, reused.
  // Decoded and skipped counts (thread-safe; the listing reporter's skips
  // too).
  mutable SkipRecorder recorder_{"ImageRecordIter"};
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_IMAGE_RECORD_SOURCE_H_
