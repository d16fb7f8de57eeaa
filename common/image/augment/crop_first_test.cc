#include "common/image/augment/crop_first.h"

#include <turbojpeg.h>

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "common/image/augment/default_augmenter.h"
#include "common/image/augment/sample_writer.h"
#include "common/image/jpeg_decoder.h"
#include "common/image/reference_images.h"
#include "common/image/test_jpeg.h"
#include "common/random/engine.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

std::string Encode(const cv::Mat& bgr, int subsampling) {
  std::string bytes = testing::EncodeTestJpeg(bgr, subsampling);
  EXPECT_FALSE(bytes.empty());
  return bytes;
}

struct Variant {
  std::string jpeg;
  std::string name;
  bool gray = false;
};

class CropFirstTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto decoder = JpegDecoder::Create();
    ASSERT_TRUE(decoder.ok());
    decoder_ = *std::move(decoder);
    auto images = testing::LoadReferenceImages("f_images");
    ASSERT_TRUE(images.ok()) << images.status();
    for (const testing::ReferenceImage& reference : *images) {
      if (reference.encoding != "jpeg") continue;
      variants_.push_back({reference.content, "reference " + reference.note,
                           reference.channels == 1});
    }
    // ImageNet-like: a photo at 500x375 / 375x500 and 1000x750 (DCT 1/2),
    // quality 94, 4:4:4, 4:2:0 and gray.
    const std::string& first = (*images)[0].content;
    const cv::Mat photo =
        cv::imdecode(cv::Mat(1, static_cast<int>(first.size()), CV_8UC1,
                             const_cast<char*>(first.data())),
                     cv::IMREAD_COLOR);
    ASSERT_FALSE(photo.empty());
    for (const cv::Size size :
         {cv::Size(500, 375), cv::Size(375, 500), cv::Size(1000, 750)}) {
      cv::Mat resized;
      cv::resize(photo, resized, size, 0, 0, cv::INTER_CUBIC);
      for (const int sampling : {TJSAMP_444, TJSAMP_420, TJSAMP_GRAY}) {
        variants_.push_back({Encode(resized, sampling),
                             "generated " + std::to_string(size.width) + "x" +
                                 std::to_string(size.height) + " sampling " +
                                 std::to_string(sampling),
                             sampling == TJSAMP_GRAY});
      }
    }
  }

  // Today's path: full decode at the covering DCT scale, Apply.
  cv::Mat FullPath(const Variant& variant, const DefaultAugmenter& augmenter,
                   int scale, random::Engine* rng) {
    auto header = decoder_->ReadHeader(variant.jpeg);
    EXPECT_TRUE(header.ok());
    const PixelOrder order = Order(variant);
    cv::Mat image(JpegDecoder::ScaledDimension(header->height, scale),
                  JpegDecoder::ScaledDimension(header->width, scale),
                  CV_8UC(ChannelCount(order)));
    EXPECT_TRUE(decoder_
                    ->Decode(variant.jpeg, order, scale,
                             absl::MakeSpan(image.data,
                                            image.total() * image.elemSize()),
                             image.step[0])
                    .ok());
    EXPECT_TRUE(augmenter.Apply(&image, rng).ok());
    return image;
  }

  static PixelOrder Order(const Variant& variant) {
    return variant.gray ? PixelOrder::kGray : PixelOrder::kBgr;
  }

  std::unique_ptr<JpegDecoder> decoder_;
  std::vector<Variant> variants_;
};

TEST_F(CropFirstTest, SameDrawsAndPixelsWithinRoundingOfTheFullDecode) {
  double worst_mean = 0, worst_max = 0;
  int compared = 0;
  for (const bool rand_crop : {true, false}) {
    for (const int inter_method : {1, 2}) {
      for (const bool rand_mirror : {true, false}) {
        DefaultAugmenterParams params;
        params.out_height = params.out_width = 224;
        params.resize = 256;
        params.rand_crop = rand_crop;
        params.inter_method = inter_method;
        params.brightness = 0.2f;  // A colour step after the crop draws too.
        auto augmenter = DefaultAugmenter::Create(params);
        ASSERT_TRUE(augmenter.ok());
        for (const Variant& variant : variants_) {
          SampleWriterParams writer_params;
          writer_params.dtype = DType::kUInt8;
          writer_params.nhwc = true;
          writer_params.channels = variant.gray ? 1 : 3;
          writer_params.rand_mirror = rand_mirror;
          writer_params.mirror = !rand_mirror;
          auto writer = SampleWriter::Create(writer_params);
          ASSERT_TRUE(writer.ok());
          auto header = decoder_->ReadHeader(variant.jpeg);
          ASSERT_TRUE(header.ok());
          const int scale = CoveringDctScale(*header, 256);
          for (uint64_t position = 0; position < 4; ++position) {
            random::Engine full_rng(11, 1, position), crop_rng(11, 1, position);
            const cv::Mat full =
                FullPath(variant, *augmenter, scale, &full_rng);
            cv::Mat crop;
            auto took = DecodeAugmentCropFirst(variant.jpeg, *header, scale,
                                               Order(variant), *augmenter,
                                               &crop_rng, &crop);
            ASSERT_TRUE(took.ok()) << took.status();
            ASSERT_TRUE(*took) << variant.name;
            std::vector<uint8_t> full_row(224 * 224 * writer_params.channels),
                crop_row(full_row.size());
            ASSERT_TRUE(
                writer->Write(full, &full_rng, absl::MakeSpan(full_row)).ok());
            ASSERT_TRUE(
                writer->Write(crop, &crop_rng, absl::MakeSpan(crop_row)).ok());
            // Same number of draws: the streams are still in step.
            EXPECT_EQ(full_rng.Next(), crop_rng.Next()) << variant.name;
            const cv::Mat a(1, static_cast<int>(full_row.size()), CV_8U,
                            full_row.data());
            const cv::Mat b(1, static_cast<int>(crop_row.size()), CV_8U,
                            crop_row.data());
            const double mean = cv::norm(a, b, cv::NORM_L1) / a.total();
            const double max = cv::norm(a, b, cv::NORM_INF);
            EXPECT_LT(mean, 1.0) << variant.name;
            EXPECT_LE(max, 16) << variant.name;
            worst_mean = std::max(worst_mean, mean);
            worst_max = std::max(worst_max, max);
            ++compared;
          }
        }
      }
    }
  }
  std::printf("compared %d crops: worst mean abs diff %.3f, worst max %.0f\n",
              compared, worst_mean, worst_max);
}

TEST_F(CropFirstTest, ChainsItCannotReproduceKeepTheFullPathAndDrawNothing) {
  const Variant& variant = variants_.back();
  auto header = decoder_->ReadHeader(variant.jpeg);
  ASSERT_TRUE(header.ok());
  std::vector<DefaultAugmenterParams> chains(6);
  for (DefaultAugmenterParams& params : chains) {
    params.out_height = params.out_width = 224;
    params.resize = 256;
    params.rand_crop = true;
  }
  chains[0].max_rotate_angle = 10;
  chains[1].pad = 4;
  chains[2].inter_method = 10;  // Random kernel: a draw it cannot replay.
  chains[3].inter_method = 3;   // Area.
  chains[4].resize = -1;
  // 320x250 of a 341x256 resize: the window is most of the image.
  chains[5].out_width = 320;
  chains[5].out_height = 250;
  for (size_t k = 0; k < chains.size(); ++k) {
    auto augmenter = DefaultAugmenter::Create(chains[k]);
    ASSERT_TRUE(augmenter.ok()) << augmenter.status();
    random::Engine rng(3, 0, 0), untouched(3, 0, 0);
    cv::Mat image;
    auto took = DecodeAugmentCropFirst(variant.jpeg, *header, 1, Order(variant),
                                       *augmenter, &rng, &image);
    ASSERT_TRUE(took.ok());
    EXPECT_FALSE(*took) << "chain " << k;
    EXPECT_TRUE(image.empty());
    EXPECT_EQ(rng.Next(), untouched.Next()) << "chain " << k;
  }
}

TEST_F(CropFirstTest, CorruptJpegIsAnErrorNotACrash) {
  DefaultAugmenterParams params;
  params.out_height = params.out_width = 224;
  params.resize = 256;
  params.rand_crop = true;
  auto augmenter = DefaultAugmenter::Create(params);
  ASSERT_TRUE(augmenter.ok());
  const std::string& jpeg = variants_.back().jpeg;
  auto header = decoder_->ReadHeader(jpeg);
  ASSERT_TRUE(header.ok());
  cv::RNG random(5);
  int failures = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = jpeg;
    if (trial % 2 == 0) {
      bytes.resize(random.uniform(2, static_cast<int>(jpeg.size())));
    } else {
      for (int k = 0; k < 16; ++k) {
        bytes[random.uniform(2, static_cast<int>(bytes.size()))] =
            static_cast<char>(random.uniform(0, 256));
      }
    }
    random::Engine rng(1, 0, static_cast<uint64_t>(trial));
    cv::Mat image;
    auto took = DecodeAugmentCropFirst(
        bytes, *header, 1, Order(variants_.back()), *augmenter, &rng, &image);
    if (!took.ok()) {
      ++failures;
      EXPECT_NE(took.status().message().find("JPEG"), std::string::npos);
    } else {
      ASSERT_TRUE(*took);
      EXPECT_EQ(image.size(), cv::Size(224, 224));
    }
  }
  EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace iterd::image
