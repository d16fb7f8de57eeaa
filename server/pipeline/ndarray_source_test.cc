#include "server/pipeline/ndarray_source.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
NamedArray MakeArray(std::string name, DType dtype, std::vector<int64_t> shape,
                     std::vector<T> values) {
  auto owned = std::make_shared<std::vector<T>>(std::move(values));
  const void* data = owned->data();
  return {std::move(name), FromBuffer(dtype, std::move(shape), owned, data)};
}

// Sample i of data holds i * 10 and i * 10 + 1; label i holds i.
NDArraySourceOptions CountingOptions(int64_t n) {
  std::vector<float> data(2 * n);
  std::vector<int32_t> label(n);
  for (int64_t i = 0; i < n; ++i) {
    data[2 * i] = i * 10;
    data[2 * i + 1] = i * 10 + 1;
    label[i] = static_cast<int32_t>(i);
  }
  NDArraySourceOptions options;
  options.data.push_back(
      MakeArray("data", DType::kFloat32, {n, 2}, std::move(data)));
  options.label.push_back(
      MakeArray("softmax_label", DType::kInt32, {n}, std::move(label)));
  return options;
}

std::unique_ptr<Batch> MakeBatch(const SampleSource& source, int64_t rows) {
  std::vector<TensorSpec> data = source.sample_data_specs();
  std::vector<TensorSpec> label = source.sample_label_specs();
  for (TensorSpec& spec : data) spec.shape.insert(spec.shape.begin(), rows);
  for (TensorSpec& spec : label) spec.shape.insert(spec.shape.begin(), rows);
  return std::make_unique<Batch>(std::move(data), std::move(label));
}

// Reads one pass one sample at a time into row 0; returns the sample ids and
// checks that data and label rows belong to the same sample.
std::vector<uint64_t> ReadPass(NDArraySource* source) {
  std::unique_ptr<Batch> batch = MakeBatch(*source, 1);
  std::vector<uint64_t> ids;
  while (true) {
    uint64_t id = 0;
    bool end = false;
    const absl::Status status = source->ReadSample(batch.get(), 0, &id, &end);
    EXPECT_TRUE(status.ok()) << status;
    if (!status.ok() || end) break;
    EXPECT_EQ(batch->data(0).data_as<float>()[0], id * 10.0f);
    EXPECT_EQ(batch->data(0).data_as<float>()[1], id * 10.0f + 1);
    EXPECT_EQ(batch->label(0).data_as<float>()[0], static_cast<float>(id));
    ids.push_back(id);
  }
  return ids;
}

std::unique_ptr<NDArraySource> CreateOrDie(NDArraySourceOptions options) {
  absl::StatusOr<std::unique_ptr<NDArraySource>> source =
      NDArraySource::Create(std::move(options));
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

std::vector<uint64_t> Iota(uint64_t n) {
  std::vector<uint64_t> values(n);
  std::iota(values.begin(), values.end(), 0);
  return values;
}

TEST(NDArraySourceTest, InputsAreSortedByteWiseByName) {
  NDArraySourceOptions options;
  for (const char* name : {"_2_data", "_10_data", "_1_data"}) {
    const float tag = name[1] == '2' ? 2 : name[2] == '0' ? 10 : 1;
    options.data.push_back(MakeArray<float>(name, DType::kFloat32, {1}, {tag}));
  }
  options.label.push_back(MakeArray<float>("b", DType::kFloat32, {1}, {0}));
  options.label.push_back(MakeArray<float>("a", DType::kFloat32, {1}, {0}));
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->data_names(),
              ElementsAre("_10_data", "_1_data", "_2_data"));
  EXPECT_THAT(source->label_names(), ElementsAre("a", "b"));
  ASSERT_TRUE(source->StartEpoch(0).ok());
  std::unique_ptr<Batch> batch = MakeBatch(*source, 1);
  uint64_t id = 0;
  bool end = false;
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  EXPECT_EQ(batch->data(0).data_as<float>()[0], 10);
  EXPECT_EQ(batch->data(1).data_as<float>()[0], 1);
  EXPECT_EQ(batch->data(2).data_as<float>()[0], 2);
}

TEST(NDArraySourceTest, SpecsDropTheSampleAxisAndUseOutputDType) {
  NDArraySourceOptions options;
  options.data.push_back(
      MakeArray<uint8_t>("data", DType::kUInt8, {2, 3, 1}, {0, 1, 2, 3, 4, 5}));
  options.label.push_back(
      MakeArray<int64_t>("label", DType::kInt64, {2, 1}, {0, 1}));
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(source->sample_data_specs().size(), 1u);
  EXPECT_EQ(source->sample_data_specs()[0].dtype, DType::kFloat32);
  EXPECT_THAT(source->sample_data_specs()[0].shape, ElementsAre(3, 1));
  EXPECT_THAT(source->sample_label_specs()[0].shape, ElementsAre(1));
  EXPECT_EQ(source->num_samples(), 2);
  EXPECT_FALSE(source->has_sample_ids());
}

TEST(NDArraySourceTest, ConvertsInt64ToFloat32Values) {
  NDArraySourceOptions options;
  options.data.push_back(
      MakeArray<int64_t>("data", DType::kInt64, {2, 3},
                         {0, -1, 16777217, 3, 4, int64_t{1} << 40}));
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->StartEpoch(0).ok());
  std::unique_ptr<Batch> batch = MakeBatch(*source, 2);
  uint64_t id = 0;
  bool end = false;
  ASSERT_TRUE(source->ReadSample(batch.get(), 1, &id, &end).ok());
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  const float* values = batch->data(0).data_as<float>();
  EXPECT_THAT(std::vector<float>(values, values + 6),
              ElementsAre(3, 4, 1099511627776.0f, 0, -1, 16777216.0f));
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  EXPECT_TRUE(end);
}

TEST(NDArraySourceTest, ConvertsFloat16InputAndOutputExactly) {
  // 0.5, -2, 65504 (max), 2^-24 (smallest subnormal), -inf, 1/3 rounded.
  const std::vector<uint16_t> halves = {0x3800, 0xC000, 0x7BFF,
                                        0x0001, 0xFC00, 0x3555};
  NDArraySourceOptions options;
  options.data.push_back(
      MakeArray<uint16_t>("data", DType::kFloat16, {1, 6}, halves));
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  std::unique_ptr<Batch> batch = MakeBatch(*source, 1);
  uint64_t id = 0;
  bool end = false;
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  const float* values = batch->data(0).data_as<float>();
  EXPECT_EQ(values[0], 0.5f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(values[2], 65504.0f);
  EXPECT_EQ(values[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(values[4]) && values[4] < 0);
  EXPECT_EQ(values[5], 0.333251953125f);

  // And back: float32 -> float16 rounds to nearest even, overflows to inf.
  NDArraySourceOptions back;
  back.output_dtype = DType::kFloat16;
  back.data.push_back(
      MakeArray<float>("data", DType::kFloat32, {1, 6},
                       {1.0f, 1.0f / 3, 65519.0f, 65520.0f,
                        std::ldexp(1.0f, -25) * 3, std::nanf("")}));
  source = CreateOrDie(std::move(back));
  ASSERT_NE(source, nullptr);
  batch = MakeBatch(*source, 1);
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  const uint16_t* bits = batch->data(0).data_as<uint16_t>();
  EXPECT_THAT(std::vector<uint16_t>(bits, bits + 5),
              ElementsAre(0x3C00, 0x3555, 0x7BFF, 0x7C00, 0x0002));
  EXPECT_EQ(bits[5] & 0x7C00, 0x7C00);  // NaN stays NaN.
  EXPECT_NE(bits[5] & 0x03FF, 0);
}

TEST(NDArraySourceTest, FloatToIntegerSaturatesInsteadOfOverflowing) {
  NDArraySourceOptions options;
  options.output_dtype = DType::kUInt8;
  options.data.push_back(
      MakeArray<double>("data", DType::kFloat64, {1, 5},
                        {300.0, -5.0, 7.9, std::nan(""), 255.0}));
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  std::unique_ptr<Batch> batch = MakeBatch(*source, 1);
  uint64_t id = 0;
  bool end = false;
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  const uint8_t* values = batch->data(0).data_as<uint8_t>();
  EXPECT_THAT(std::vector<uint8_t>(values, values + 5),
              ElementsAre(255, 0, 7, 0, 255));
}

TEST(NDArraySourceTest, SameDTypeIsCopiedBitExact) {
  NDArraySourceOptions options;
  options.output_dtype = DType::kInt64;
  options.data.push_back(MakeArray<int64_t>(
      "data", DType::kInt64, {2}, {int64_t{1} << 62, -(int64_t{1} << 60)}));
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  std::unique_ptr<Batch> batch = MakeBatch(*source, 2);
  uint64_t id = 0;
  bool end = false;
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  ASSERT_TRUE(source->ReadSample(batch.get(), 1, &id, &end).ok());
  EXPECT_EQ(batch->data(0).data_as<int64_t>()[0], int64_t{1} << 62);
  EXPECT_EQ(batch->data(0).data_as<int64_t>()[1], -(int64_t{1} << 60));
}

TEST(NDArraySourceTest, WithoutShuffleSamplesComeInOrderEveryEpoch) {
  std::unique_ptr<NDArraySource> source = CreateOrDie(CountingOptions(5));
  ASSERT_NE(source, nullptr);
  for (int epoch = 0; epoch < 3; ++epoch) {
    ASSERT_TRUE(source->StartEpoch(epoch).ok());
    EXPECT_EQ(ReadPass(source.get()), Iota(5));
  }
}

TEST(NDArraySourceTest, ShuffleIsAReproduciblePermutationPerEpoch) {
  NDArraySourceOptions options = CountingOptions(50);
  options.shuffle = true;
  options.seed = 7;
  std::unique_ptr<NDArraySource> first = CreateOrDie(options);
  std::unique_ptr<NDArraySource> second = CreateOrDie(options);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::vector<std::vector<uint64_t>> epochs;
  for (int epoch = 0; epoch < 3; ++epoch) {
    ASSERT_TRUE(first->StartEpoch(epoch).ok());
    ASSERT_TRUE(second->StartEpoch(epoch).ok());
    std::vector<uint64_t> ids = ReadPass(first.get());
    EXPECT_EQ(ReadPass(second.get()), ids) << "epoch " << epoch;
    EXPECT_NE(ids, Iota(50));
    std::vector<uint64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, Iota(50));
    // current_order() is what NDArrayIter.idx reports.
    EXPECT_TRUE(
        std::equal(ids.begin(), ids.end(), first->current_order().begin()));
    epochs.push_back(std::move(ids));
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);

  options.seed = 8;
  std::unique_ptr<NDArraySource> other_seed = CreateOrDie(options);
  ASSERT_TRUE(other_seed->StartEpoch(0).ok());
  EXPECT_NE(ReadPass(other_seed.get()), epochs[0]);
}

TEST(NDArraySourceTest, RewindReplaysTheSameOrder) {
  NDArraySourceOptions options = CountingOptions(20);
  options.shuffle = true;
  options.seed = 3;
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->StartEpoch(0).ok());
  const std::vector<uint64_t> ids = ReadPass(source.get());
  ASSERT_TRUE(source->Rewind().ok());
  EXPECT_EQ(ReadPass(source.get()), ids);
}

TEST(NDArraySourceTest, PartsCoverEverySampleExactlyOnce) {
  for (int parts : {1, 3, 4, 7, 12}) {
    std::vector<uint64_t> seen;
    for (int part = 0; part < parts; ++part) {
      NDArraySourceOptions options = CountingOptions(10);
      options.num_parts = parts;
      options.part_index = part;
      options.shuffle = true;
      std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
      ASSERT_NE(source, nullptr);
      ASSERT_TRUE(source->StartEpoch(0).ok());
      const std::vector<uint64_t> ids = ReadPass(source.get());
      const int64_t per_part = (10 + parts - 1) / parts;
      EXPECT_EQ(source->num_samples(),
                std::max<int64_t>(
                    0, std::min<int64_t>(per_part, 10 - per_part * part)));
      EXPECT_EQ(static_cast<int64_t>(ids.size()), source->num_samples());
      for (uint64_t id : ids) {  // Contiguous range of this part.
        EXPECT_GE(id, static_cast<uint64_t>(per_part * part));
        EXPECT_LT(id, static_cast<uint64_t>(per_part * (part + 1)));
      }
      seen.insert(seen.end(), ids.begin(), ids.end());
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, Iota(10)) << parts << " parts";
  }
}

TEST(NDArraySourceTest, MismatchedLengthsNameTheArrayAndBothLengths) {
  NDArraySourceOptions options = CountingOptions(4);
  options.label.push_back(
      MakeArray<float>("weights", DType::kFloat32, {3}, {1, 2, 3}));
  absl::StatusOr<std::unique_ptr<NDArraySource>> source =
      NDArraySource::Create(std::move(options));
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(source.status().message(), HasSubstr("'weights' has 3 samples"));
  EXPECT_THAT(source.status().message(), HasSubstr("'data' has 4"));
}

TEST(NDArraySourceTest, BadOptionsAreInvalidArgumentNamingTheField) {
  struct Case {
    NDArraySourceOptions options;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({NDArraySourceOptions(), "ndarray.data"});
  {
    NDArraySourceOptions options;
    options.data.push_back(
        MakeArray<float>("scalar", DType::kFloat32, {}, {1}));
    cases.push_back({std::move(options), "'scalar' is 0-d"});
  }
  {
    NDArraySourceOptions options = CountingOptions(2);
    options.num_parts = 0;
    cases.push_back({std::move(options), "num_parts"});
  }
  {
    NDArraySourceOptions options = CountingOptions(2);
    options.num_parts = 2;
    options.part_index = 2;
    cases.push_back({std::move(options), "part_index"});
  }
  {
    NDArraySourceOptions options = CountingOptions(2);
    options.data.push_back(options.data.front());
    cases.push_back({std::move(options), "two arrays are named 'data'"});
  }
  for (Case& c : cases) {
    absl::StatusOr<std::unique_ptr<NDArraySource>> source =
        NDArraySource::Create(std::move(c.options));
    EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument)
        << c.message;
    EXPECT_THAT(source.status().message(), HasSubstr(c.message));
  }
}

TEST(NDArraySourceTest, MismatchedBatchIsAnErrorNotACrash) {
  std::unique_ptr<NDArraySource> source = CreateOrDie(CountingOptions(3));
  ASSERT_NE(source, nullptr);
  Batch wrong({TensorSpec{DType::kFloat32, {2, 5}}},
              {TensorSpec{DType::kFloat32, {2}}});
  uint64_t id = 0;
  bool end = false;
  EXPECT_EQ(source->ReadSample(&wrong, 0, &id, &end).code(),
            absl::StatusCode::kInvalidArgument);
  std::unique_ptr<Batch> batch = MakeBatch(*source, 2);
  EXPECT_EQ(source->ReadSample(batch.get(), 2, &id, &end).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NDArraySourceTest, ServesAMemoryMappedNpyFile) {
  // A .npy written byte by byte: int32 (3, 2), header padded to 64 bytes.
  std::string header =
      "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string file("\x93NUMPY\x01\x00", 8);
  file.push_back(static_cast<char>(header.size()));
  file.push_back(0);
  file += header;
  const std::vector<int32_t> values = {1, 2, 3, 4, 5, 6};
  file.append(reinterpret_cast<const char*>(values.data()), 24);
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/ndarray_source.npy");
  std::ofstream(path, std::ios::binary) << file;

  absl::StatusOr<Array> array = LoadNpy(path);
  ASSERT_TRUE(array.ok()) << array.status();
  NDArraySourceOptions options;
  options.data.push_back({"data", *std::move(array)});
  options.num_parts = 2;
  options.part_index = 1;  // Samples [2, 3).
  std::unique_ptr<NDArraySource> source = CreateOrDie(std::move(options));
  ASSERT_NE(source, nullptr);
  std::unique_ptr<Batch> batch = MakeBatch(*source, 1);
  uint64_t id = 0;
  bool end = false;
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  EXPECT_EQ(id, 2u);
  EXPECT_EQ(batch->data(0).data_as<float>()[0], 5.0f);
  EXPECT_EQ(batch->data(0).data_as<float>()[1], 6.0f);
  ASSERT_TRUE(source->ReadSample(batch.get(), 0, &id, &end).ok());
  EXPECT_TRUE(end);
}

}  // namespace
}  // namespace iterd::pipeline
