#include "server/pipeline/mean_image_builder.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/tensor/batch.h"
#include "server/pipeline/mean_image.h"

namespace iterd::pipeline {
namespace {

// Rows decoded per ReadSamples call: enough to keep every decoder thread busy,
// small enough that the scratch batch stays a few MB.
constexpr int64_t kRowsPerRead = 32;

absl::Status PathError(int error_number, const std::string& path,
                       absl::string_view what) {
  return absl::ErrnoToStatus(error_number,
                             absl::StrCat("mean_img \"", path, "\": ", what));
}

// write(2) until done; EINTR-safe.
absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return PathError(errno, path, "write failed");
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<float>> ComputeMeanImage(
    ImageRecordSourceOptions options, ThreadPool* pool) {
  // The mean is of the images themselves: no shuffle (order does not change a
  // mean, but file order reads sequentially), no normalisation, no mirror.
  options.shuffle = false;
  options.mean_image.clear();
  image::SampleWriterParams neutral;
  neutral.dtype = DType::kFloat32;
  neutral.channels = options.writer.channels;
  options.writer = neutral;
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<ImageRecordSource> source,
                         ImageRecordSource::Create(options, pool));
  ITERD_RETURN_IF_ERROR(source->StartEpoch(0));

  std::vector<TensorSpec> data_specs = source->sample_data_specs();
  std::vector<TensorSpec> label_specs = source->sample_label_specs();
  for (std::vector<TensorSpec>* specs : {&data_specs, &label_specs}) {
    for (TensorSpec& spec : *specs) {
      spec.shape.insert(spec.shape.begin(), kRowsPerRead);
    }
  }
  Batch scratch(data_specs, label_specs);
  const int64_t pixels = data_specs[0].num_elements() / kRowsPerRead;
  // Double sums: a float accumulator loses the low bits after ~10^5 images.
  std::vector<double> sum(static_cast<size_t>(pixels), 0.0);
  std::vector<uint64_t> ids(kRowsPerRead);
  int64_t images = 0;
  for (bool end_of_pass = false; !end_of_pass;) {
    int64_t filled = 0;
    ITERD_RETURN_IF_ERROR(source->ReadSamples(
        &scratch, 0, kRowsPerRead, ids.data(), &filled, &end_of_pass));
    const float* rows = scratch.data(0).data_as<float>();
    for (int64_t row = 0; row < filled; ++row) {
      const float* values = rows + row * pixels;
      for (int64_t i = 0; i < pixels; ++i) sum[i] += values[i];
    }
    images += filled;
  }
  if (images == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("mean_img: no image of \"", options.path_imgrec,
                     "\" could be read to compute the mean image"));
  }
  std::vector<float> mean(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) {
    mean[i] = static_cast<float>(sum[i] / static_cast<double>(images));
  }
  return mean;
}

absl::Status SaveMeanImageIfAbsent(const std::string& path,
                                   absl::Span<const float> mean, int channels,
                                   int height, int width) {
  const std::string temporary =
      absl::StrCat(path, ".tmp.", ::getpid(), ".", ::gettid());
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return PathError(errno, temporary, "cannot create");
  absl::Status written =
      WriteAll(fd, EncodeMeanImage(mean, channels, height, width), temporary);
  if (written.ok() && ::fsync(fd) != 0) {
    written = PathError(errno, temporary, "fsync failed");
  }
  if (::close(fd) != 0 && written.ok()) {
    written = PathError(errno, temporary, "close failed");
  }
  // link(2) refuses an existing target (even a dangling symlink), so a file
  // created meanwhile by someone else is kept; rename(2) would replace it.
  if (written.ok() && ::link(temporary.c_str(), path.c_str()) != 0) {
    written = PathError(errno, path, "cannot create");
  }
  ::unlink(temporary.c_str());
  return written;
}

}  // namespace iterd::pipeline
