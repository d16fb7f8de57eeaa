#include "common/image/exif_orientation.h"

#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>

namespace iterd::image {
namespace {

constexpr int kUpright = 1;
constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kTypeShort = 3;

uint8_t Byte(absl::string_view bytes, size_t offset) {
  return static_cast<uint8_t>(bytes[offset]);
}

// TIFF integers are in the byte order the header names ("II" or "MM").
struct TiffReader {
  absl::string_view tiff;
  bool little_endian;

  bool Has(size_t offset, size_t count) const {
    return offset <= tiff.size() && count <= tiff.size() - offset;
  }
  uint16_t U16(size_t offset) const {
    return little_endian ? Byte(tiff, offset) | Byte(tiff, offset + 1) << 8
                         : Byte(tiff, offset) << 8 | Byte(tiff, offset + 1);
  }
  uint32_t U32(size_t offset) const {
    return little_endian
               ? uint32_t{U16(offset)} | uint32_t{U16(offset + 2)} << 16
               : uint32_t{U16(offset)} << 16 | U16(offset + 2);
  }
};

// `tiff` is the APP1 payload after "Exif\0\0": a TIFF header, then IFD0.
int OrientationFromTiff(absl::string_view tiff) {
  if (tiff.size() < 8) return kUpright;
  TiffReader reader{tiff, tiff[0] == 'I'};
  if (!(tiff.substr(0, 2) == "II" || tiff.substr(0, 2) == "MM") ||
      reader.U16(2) != 42) {
    return kUpright;
  }
  const size_t ifd = reader.U32(4);
  if (!reader.Has(ifd, 2)) return kUpright;
  const size_t entries = reader.U16(ifd);
  for (size_t i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    if (!reader.Has(entry, 12)) return kUpright;
    if (reader.U16(entry) != kOrientationTag) continue;
    if (reader.U16(entry + 2) != kTypeShort) return kUpright;
    const int orientation = reader.U16(entry + 8);
    return orientation >= 1 && orientation <= 8 ? orientation : kUpright;
  }
  return kUpright;
}

}  // namespace

int JpegExifOrientation(absl::string_view jpeg) {
  if (jpeg.size() < 4 || Byte(jpeg, 0) != 0xFF || Byte(jpeg, 1) != 0xD8) {
    return kUpright;
  }
  size_t pos = 2;
  while (pos + 1 < jpeg.size()) {
    if (Byte(jpeg, pos) != 0xFF) return kUpright;  // Not at a marker.
    const uint8_t marker = Byte(jpeg, pos + 1);
    if (marker == 0xFF) {  // Fill byte before a marker.
      ++pos;
      continue;
    }
    pos += 2;
    if (marker == 0xD9 || marker == 0xDA) return kUpright;  // EOI, SOS.
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (pos + 2 > jpeg.size()) return kUpright;
    const size_t length = Byte(jpeg, pos) << 8 | Byte(jpeg, pos + 1);
    if (length < 2 || length > jpeg.size() - pos) return kUpright;
    const absl::string_view segment = jpeg.substr(pos + 2, length - 2);
    if (marker == 0xE1 && segment.size() >= 6 &&
        segment.substr(0, 6) == absl::string_view("Exif\0\0", 6)) {
      return OrientationFromTiff(segment.substr(6));
    }
    pos += length;
  }
  return kUpright;
}

void ApplyExifOrientation(int orientation, cv::Mat* image) {
  // Same cases as OpenCV 4.6 imgcodecs/src/loadsave.cpp ExifTransform.
  switch (orientation) {
    case 2:
      cv::flip(*image, *image, 1);
      break;
    case 3:
      cv::flip(*image, *image, -1);
      break;
    case 4:
      cv::flip(*image, *image, 0);
      break;
    case 5:
      cv::transpose(*image, *image);
      break;
    case 6:
      cv::transpose(*image, *image);
      cv::flip(*image, *image, 1);
      break;
    case 7:
      cv::transpose(*image, *image);
      cv::flip(*image, *image, -1);
      break;
    case 8:
      cv::transpose(*image, *image);
      cv::flip(*image, *image, 0);
      break;
    default:
      break;
  }
}

}  // namespace iterd::image
