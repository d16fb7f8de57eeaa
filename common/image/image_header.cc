#include "common/image/image_header.h"

#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace iterd::image {
namespace {

uint8_t At(absl::string_view bytes, size_t i) {
  return static_cast<uint8_t>(bytes[i]);
}
uint32_t Big16(absl::string_view b, size_t i) {
  return (uint32_t{At(b, i)} << 8) | At(b, i + 1);
}
uint32_t Big32(absl::string_view b, size_t i) {
  return (Big16(b, i) << 16) | Big16(b, i + 2);
}
uint32_t Little16(absl::string_view b, size_t i) {
  return uint32_t{At(b, i)} | (uint32_t{At(b, i + 1)} << 8);
}
uint32_t Little32(absl::string_view b, size_t i) {
  return Little16(b, i) | (Little16(b, i + 2) << 16);
}

// Markers FF xx after SOI; the frame header (SOF0..SOF15 but DHT C4, JPG C8,
// DAC CC) holds height and width at +5 and +7 of its FF. Bytes between
// segments are skipped up to the next FF, as libjpeg does (with a warning).
std::optional<DeclaredSize> JpegSize(absl::string_view b) {
  size_t i = 2;
  while (i + 1 < b.size()) {
    if (At(b, i) != 0xFF) {
      ++i;
      continue;
    }
    const uint8_t marker = At(b, i + 1);
    if (marker == 0xFF) {  // Fill byte.
      ++i;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
      i += 2;  // Standalone markers.
      continue;
    }
    if (marker == 0xDA || marker == 0xD9 || i + 3 >= b.size()) {
      return std::nullopt;  // Scan or end before any frame header.
    }
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
        marker != 0xCC) {
      if (i + 8 >= b.size()) return std::nullopt;
      return DeclaredSize{Big16(b, i + 7), Big16(b, i + 5)};
    }
    i += 2 + Big16(b, i + 2);
  }
  return std::nullopt;
}

std::optional<DeclaredSize> PngSize(absl::string_view b) {
  // Signature (8), IHDR length (4) and type (4), then width, height.
  if (b.size() < 24 || b.substr(12, 4) != "IHDR") return std::nullopt;
  return DeclaredSize{Big32(b, 16), Big32(b, 20)};
}

std::optional<DeclaredSize> BmpSize(absl::string_view b) {
  if (b.size() < 26) return std::nullopt;
  if (Little32(b, 14) == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes.
    return DeclaredSize{Little16(b, 18), Little16(b, 20)};
  }
  // Signed 32-bit; a negative height means top-down rows.
  const int64_t width = static_cast<int32_t>(Little32(b, 18));
  const int64_t height = static_cast<int32_t>(Little32(b, 22));
  return DeclaredSize{static_cast<uint64_t>(width < 0 ? -width : width),
                      static_cast<uint64_t>(height < 0 ? -height : height)};
}

// RIFF size WEBP, then the first chunk: "VP8 " (frame tag, start code, 14-bit
// sizes), "VP8L" (signature 0x2F, 14-bit sizes - 1), "VP8X" (24-bit sizes - 1).
std::optional<DeclaredSize> WebpSize(absl::string_view b) {
  if (b.size() < 30) return std::nullopt;
  const absl::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    return DeclaredSize{Little16(b, 26) & 0x3FFF, Little16(b, 28) & 0x3FFF};
  }
  if (chunk == "VP8L") {
    const uint32_t bits = Little32(b, 21);
    return DeclaredSize{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (chunk == "VP8X") {
    const uint32_t width = Little16(b, 24) | (uint32_t{At(b, 26)} << 16);
    const uint32_t height = Little16(b, 27) | (uint32_t{At(b, 29)} << 16);
    return DeclaredSize{uint64_t{width} + 1, uint64_t{height} + 1};
  }
  return std::nullopt;
}

// The first IFD's ImageWidth (256) and ImageLength (257), SHORT or LONG.
std::optional<DeclaredSize> TiffSize(absl::string_view b) {
  const bool little = b[0] == 'I';
  auto u16 = [&](size_t i) { return little ? Little16(b, i) : Big16(b, i); };
  auto u32 = [&](size_t i) { return little ? Little32(b, i) : Big32(b, i); };
  if (b.size() < 8) return std::nullopt;
  const uint64_t ifd = u32(4);
  if (ifd + 2 > b.size()) return std::nullopt;
  const uint32_t entries = u16(ifd);
  uint64_t width = 0, height = 0;
  bool have_width = false, have_height = false;
  for (uint32_t k = 0; k < entries; ++k) {
    const uint64_t entry = ifd + 2 + 12 * uint64_t{k};
    if (entry + 12 > b.size()) break;
    const uint32_t tag = u16(entry);
    if (tag != 256 && tag != 257) continue;
    const uint32_t type = u16(entry + 2);
    const uint64_t value = type == 3 ? u16(entry + 8) : u32(entry + 8);
    if (type != 3 && type != 4) return std::nullopt;
    if (tag == 256) {
      width = value;
      have_width = true;
    } else {
      height = value;
      have_height = true;
    }
  }
  if (!have_width || !have_height) return std::nullopt;
  return DeclaredSize{width, height};
}

// "P1".."P6", whitespace and '#' comments, width, height in ASCII.
std::optional<DeclaredSize> PnmSize(absl::string_view b) {
  size_t i = 2;
  uint64_t values[2] = {0, 0};
  for (uint64_t& value : values) {
    while (i < b.size() && (absl::ascii_isspace(At(b, i)) || b[i] == '#')) {
      if (b[i] == '#') {
        while (i < b.size() && b[i] != '\n') ++i;
      } else {
        ++i;
      }
    }
    size_t digits = 0;
    while (i < b.size() && absl::ascii_isdigit(At(b, i))) {
      if (++digits > 10) return std::nullopt;  // Past any sane size.
      value = value * 10 + (b[i++] - '0');
    }
    if (digits == 0) return std::nullopt;
  }
  return DeclaredSize{values[0], values[1]};
}

}  // namespace

std::optional<DeclaredSize> ReadDeclaredSize(absl::string_view bytes) {
  if (bytes.size() >= 2 && At(bytes, 0) == 0xFF && At(bytes, 1) == 0xD8) {
    return JpegSize(bytes);
  }
  if (absl::StartsWith(bytes, "\x89PNG\r\n\x1a\n")) return PngSize(bytes);
  if (absl::StartsWith(bytes, "BM")) return BmpSize(bytes);
  if (absl::StartsWith(bytes, "RIFF") && bytes.size() >= 12 &&
      bytes.substr(8, 4) == "WEBP") {
    return WebpSize(bytes);
  }
  if (absl::StartsWith(bytes, absl::string_view("II*\0", 4)) ||
      absl::StartsWith(bytes, absl::string_view("MM\0*", 4))) {
    return TiffSize(bytes);
  }
  if (bytes.size() >= 3 && bytes[0] == 'P' && bytes[1] >= '1' &&
      bytes[1] <= '6' && absl::ascii_isspace(At(bytes, 2))) {
    return PnmSize(bytes);
  }
  return std::nullopt;
}

absl::Status CheckPixelCount(uint64_t width, uint64_t height,
                             uint64_t max_pixels) {
  // Each side is below 2^32, so the product fits in 64 bits.
  if (width <= UINT32_MAX && height <= UINT32_MAX &&
      width * height <= max_pixels) {
    return absl::OkStatus();
  }
  const std::string count = width <= UINT32_MAX && height <= UINT32_MAX
                                ? absl::StrCat(" = ", width * height, " pixels")
                                : std::string();
  return absl::InvalidArgumentError(
      absl::StrCat("the header declares ", width, "x", height, count,
                   ", more than the limit of ", max_pixels,
                   " pixels per image (limits.max_image_pixels)"));
}

absl::Status CheckDeclaredImageSize(absl::string_view bytes,
                                    uint64_t max_pixels) {
  const std::optional<DeclaredSize> size = ReadDeclaredSize(bytes);
  const bool jpeg =
      bytes.size() >= 2 && At(bytes, 0) == 0xFF && At(bytes, 1) == 0xD8;
  if (!size.has_value() && jpeg) return absl::OkStatus();
  if (!size.has_value()) {
    return absl::InvalidArgumentError(
        "unknown image format or unreadable header (iterd decodes JPEG, PNG, "
        "BMP, WebP, TIFF and PNM, whose size it can check before decoding)");
  }
  return CheckPixelCount(size->width, size->height, max_pixels);
}

}  // namespace iterd::image
