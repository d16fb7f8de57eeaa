#include "common/tensor/zip_archive.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string TestdataPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"),
                      "/iterd/common/tensor/testdata/", name);
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), bytes.size());
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `bytes` little-endian bytes of `value`; past its 8 bytes, zeros (several
// zero fields are written at once).
void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out->push_back(i < 8 ? static_cast<char>((value >> (8 * i)) & 0xFF) : 0);
  }
}

// One member of a hand-built archive; the fields let tests damage it.
struct Entry {
  std::string name;
  std::string data;
  uint16_t flags = 0;
  uint16_t method = 0;  // STORED.
  // Written to the central directory instead of the real value when set.
  int64_t uncompressed_size = -1;
  int64_t local_header_offset = -1;
};

// A zip of `entries` (data written as given). With `zip64`, sizes and offsets
// go through the zip64 extra field and zip64 end records, as for members over
// 4 GiB.
std::string BuildZip(const std::vector<Entry>& entries, bool zip64) {
  std::string file;
  std::string directory;
  for (const Entry& entry : entries) {
    const uint64_t offset = file.size();
    PutLe(&file, 0x04034b50, 4);
    PutLe(&file, 20, 2);  // Version needed.
    PutLe(&file, entry.flags, 2);
    PutLe(&file, entry.method, 2);
    PutLe(&file, 0, 8);  // Time, date and CRC-32 (unchecked when stored).
    PutLe(&file, entry.data.size(), 4);
    PutLe(&file, entry.data.size(), 4);
    PutLe(&file, entry.name.size(), 2);
    PutLe(&file, 0, 2);
    file += entry.name + entry.data;

    const uint64_t uncompressed = entry.uncompressed_size >= 0
                                      ? entry.uncompressed_size
                                      : entry.data.size();
    const uint64_t local =
        entry.local_header_offset >= 0 ? entry.local_header_offset : offset;
    PutLe(&directory, 0x02014b50, 4);
    PutLe(&directory, 45, 2);
    PutLe(&directory, 45, 2);
    PutLe(&directory, entry.flags, 2);
    PutLe(&directory, entry.method, 2);
    PutLe(&directory, 0, 8);  // Time, date and CRC-32.
    PutLe(&directory, zip64 ? 0xFFFFFFFF : entry.data.size(), 4);
    PutLe(&directory, zip64 ? 0xFFFFFFFF : uncompressed, 4);
    PutLe(&directory, entry.name.size(), 2);
    PutLe(&directory, zip64 ? 28 : 0, 2);  // Extra length.
    // Comment length, disk, internal and external attributes.
    PutLe(&directory, 0, 10);
    PutLe(&directory, zip64 ? 0xFFFFFFFF : local, 4);
    directory += entry.name;
    if (zip64) {
      PutLe(&directory, 0x0001, 2);
      PutLe(&directory, 24, 2);
      PutLe(&directory, uncompressed, 8);
      PutLe(&directory, entry.data.size(), 8);  // Compressed.
      PutLe(&directory, local, 8);
    }
  }
  const uint64_t directory_offset = file.size();
  file += directory;
  if (zip64) {
    const uint64_t record = file.size();
    PutLe(&file, 0x06064b50, 4);
    PutLe(&file, 44, 8);
    PutLe(&file, 45, 2);
    PutLe(&file, 45, 2);
    PutLe(&file, 0, 8);  // Disk numbers.
    PutLe(&file, entries.size(), 8);
    PutLe(&file, entries.size(), 8);
    PutLe(&file, directory.size(), 8);
    PutLe(&file, directory_offset, 8);
    PutLe(&file, 0x07064b50, 4);
    PutLe(&file, 0, 4);
    PutLe(&file, record, 8);
    PutLe(&file, 1, 4);
  }
  PutLe(&file, 0x06054b50, 4);
  PutLe(&file, 0, 4);
  PutLe(&file, zip64 ? 0xFFFF : entries.size(), 2);
  PutLe(&file, zip64 ? 0xFFFF : entries.size(), 2);
  PutLe(&file, zip64 ? 0xFFFFFFFF : directory.size(), 4);
  PutLe(&file, zip64 ? 0xFFFFFFFF : directory_offset, 4);
  PutLe(&file, 0, 2);
  return file;
}

std::vector<std::string> Names(const ZipArchive& archive) {
  std::vector<std::string> names;
  for (const ZipMember& member : archive.members()) {
    names.push_back(member.name);
  }
  return names;
}

std::string Text(const ZipBytes& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size);
}

// Reads the only member of the archive written from `bytes`.
absl::StatusOr<ZipBytes> ReadOnlyMember(const std::string& name,
                                        const std::string& bytes) {
  const std::string path = TempPath(name);
  WriteFile(path, bytes);
  absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
  if (!archive.ok()) return archive.status();
  EXPECT_EQ(archive->members().size(), 1u);
  return archive->Read(archive->members().front());
}

TEST(ZipArchiveTest, ListsMembersInDirectoryOrder) {
  absl::StatusOr<ZipArchive> archive =
      ZipArchive::Open(TestdataPath("compressed.npz"));
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_THAT(Names(*archive),
              ElementsAre("grid.npy", "ramp.npy", "flags.npy"));
  EXPECT_EQ(archive->members()[0].method, 8);
}

TEST(ZipArchiveTest, StoredBytesOutliveTheArchiveAndTheFileName) {
  const std::string path = TempPath("stored.zip");
  WriteFile(path, BuildZip({{"a", "first"}, {"b", "second"}}, false));
  absl::StatusOr<ZipBytes> bytes;
  {
    absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
    ASSERT_TRUE(archive.ok()) << archive.status();
    EXPECT_THAT(Names(*archive), ElementsAre("a", "b"));
    bytes = archive->Read(archive->members()[1]);
  }
  ASSERT_EQ(std::remove(path.c_str()), 0);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Text(*bytes), "second");
}

TEST(ZipArchiveTest, ReadsZip64ExtraFieldsAndEndRecords) {
  const std::string path = TempPath("zip64.zip");
  WriteFile(path, BuildZip({{"a", "xyz"}, {"bb", "0123456789"}}, true));
  absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
  ASSERT_TRUE(archive.ok()) << archive.status();
  ASSERT_THAT(Names(*archive), ElementsAre("a", "bb"));
  const ZipMember& second = archive->members()[1];
  EXPECT_EQ(second.uncompressed_size, 10u);
  EXPECT_EQ(second.local_header_offset, 30u + 1 + 3);
  absl::StatusOr<ZipBytes> bytes = archive->Read(second);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Text(*bytes), "0123456789");
}

TEST(ZipArchiveTest, InflatesDeflatedMembers) {
  absl::StatusOr<ZipArchive> archive =
      ZipArchive::Open(TestdataPath("compressed.npz"));
  ASSERT_TRUE(archive.ok()) << archive.status();
  const ZipMember& grid = archive->members()[0];
  absl::StatusOr<ZipBytes> bytes = archive->Read(grid);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_EQ(bytes->size, grid.uncompressed_size);
  EXPECT_EQ(Text(*bytes).substr(0, 6), "\x93NUMPY");
  // The 12 int64 elements 0..11 end the inflated .npy image.
  int64_t last = 0;
  std::memcpy(&last, bytes->data + bytes->size - 8, 8);
  EXPECT_EQ(last, 11);
}

TEST(ZipArchiveTest, CrcMismatchIsDataLossNamingTheMember) {
  std::string bytes = ReadFile(TestdataPath("compressed.npz"));
  const size_t central = bytes.find("PK\x01\x02");
  ASSERT_NE(central, std::string::npos);
  bytes[central + 16] = static_cast<char>(~bytes[central + 16]);
  const std::string path = TempPath("bad_crc.npz");
  WriteFile(path, bytes);
  absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
  ASSERT_TRUE(archive.ok()) << archive.status();
  absl::StatusOr<ZipBytes> grid = archive->Read(archive->members()[0]);
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(grid.status().message(), HasSubstr("CRC-32"));
  EXPECT_THAT(grid.status().message(),
              HasSubstr(absl::StrCat(path, " member 'grid.npy'")));
}

TEST(ZipArchiveTest, DamagedDeflateStreamIsDataLoss) {
  std::string bytes = ReadFile(TestdataPath("compressed.npz"));
  for (size_t i = 60; i < 90; ++i) bytes[i] = static_cast<char>(~bytes[i]);
  const std::string path = TempPath("damaged.npz");
  WriteFile(path, bytes);
  absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
  ASSERT_TRUE(archive.ok()) << archive.status();
  absl::StatusOr<ZipBytes> grid = archive->Read(archive->members()[0]);
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(grid.status().message(), HasSubstr("grid.npy"));
}

TEST(ZipArchiveTest, NonZipAndEmptyFilesAreInvalidArgumentNamingThePath) {
  for (const std::string& contents :
       {std::string("not a zip at all, sorry"), std::string()}) {
    const std::string path = TempPath("not_zip.zip");
    WriteFile(path, contents);
    absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
    EXPECT_EQ(archive.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(archive.status().message(), HasSubstr(path));
  }
}

TEST(ZipArchiveTest, MissingFileIsNotFound) {
  absl::StatusOr<ZipArchive> archive =
      ZipArchive::Open(TempPath("does_not_exist.zip"));
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(archive.status().message(), HasSubstr("does_not_exist.zip"));
}

TEST(ZipArchiveTest, DirectoryBeyondTheEndIsDataLoss) {
  std::string bytes = BuildZip({{"a", "abc"}}, false);
  // The end record's directory offset: 6 bytes before the end.
  bytes[bytes.size() - 3] = '\x7F';
  const std::string path = TempPath("far_directory.zip");
  WriteFile(path, bytes);
  absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(archive.status().message(), HasSubstr("central directory"));
}

TEST(ZipArchiveTest, Zip64LocatorInATinyFileIsDataLoss) {
  // Locator and end record only (plus a 4-byte comment that looks like a zip64
  // end record): the zip64 record it points at cannot fit in the file.
  std::string bytes;
  PutLe(&bytes, 0x07064b50, 4);
  PutLe(&bytes, 0, 4);
  PutLe(&bytes, 42, 8);  // The comment below.
  PutLe(&bytes, 1, 4);
  PutLe(&bytes, 0x06054b50, 4);
  PutLe(&bytes, 0, 16);
  PutLe(&bytes, 4, 2);  // Comment length.
  PutLe(&bytes, 0x06064b50, 4);
  const std::string path = TempPath("tiny_zip64.zip");
  WriteFile(path, bytes);
  absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(archive.status().message(), HasSubstr("zip64"));
}

TEST(ZipArchiveTest, LocalHeaderOutsideTheFileIsDataLoss) {
  Entry entry{"a", "abc"};
  entry.local_header_offset = 1000;
  absl::StatusOr<ZipBytes> bytes =
      ReadOnlyMember("far_local.zip", BuildZip({entry}, false));
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bytes.status().message(), HasSubstr("local header"));
}

TEST(ZipArchiveTest, StoredMemberWithDifferingSizesIsDataLoss) {
  Entry entry{"a", "abc"};
  entry.uncompressed_size = 4;
  absl::StatusOr<ZipBytes> bytes =
      ReadOnlyMember("sizes.zip", BuildZip({entry}, false));
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bytes.status().message(), HasSubstr("member 'a'"));
}

TEST(ZipArchiveTest, EncryptedMembersAreInvalidArgument) {
  Entry entry{"a", "abc"};
  entry.flags = 1;
  absl::StatusOr<ZipBytes> bytes =
      ReadOnlyMember("encrypted.zip", BuildZip({entry}, false));
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(), HasSubstr("encrypted"));
}

TEST(ZipArchiveTest, OtherCompressionMethodsAreInvalidArgument) {
  Entry entry{"a", "abc"};
  entry.method = 12;  // bzip2.
  absl::StatusOr<ZipBytes> bytes =
      ReadOnlyMember("bzip2.zip", BuildZip({entry}, false));
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(), HasSubstr("compression method 12"));
}

}  // namespace
}  // namespace iterd
