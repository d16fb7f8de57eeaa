#include "common/tensor/npy.h"

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
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

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out->push_back(char((value >> (8 * i)) & 0xFF));
}

// A .npy image as NumPy writes it: header padded with spaces to a multiple of
// 64 bytes and ended by '\n'.
std::string NpyBytes(const std::string& descr, const std::string& shape,
                     const std::string& data, bool fortran = false,
                     int major = 1) {
  std::string dict = absl::StrCat(
      "{'descr': '", descr, "', 'fortran_order': ", fortran ? "True" : "False",
      ", 'shape': ", shape, ", }");
  const size_t preamble = major == 1 ? 10 : 12;
  while ((preamble + dict.size() + 1) % 64 != 0) dict.push_back(' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(char(major));
  out.push_back(0);
  PutLe(&out, dict.size(), major == 1 ? 2 : 4);
  return out + dict + data;
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(T));
}

template <typename T>
std::vector<T> Values(const Array& array) {
  std::vector<T> values(array.num_elements());
  std::memcpy(values.data(), array.data, array.byte_size());
  return values;
}

// Raw deflate of `data` (as zip members hold it).
std::string Deflate(const std::string& data) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  deflateInit2(&stream, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = data.size();
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = out.size();
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// A zip of STORED members (DEFLATED with `deflate`). With `zip64`, sizes and
// offsets go through the zip64 extra field and the zip64 end records, as for
// members over 4 GiB. `declared_size` >= 0 replaces every member's
// uncompressed size in the central directory (a lying archive).
std::string StoredZip(
    const std::vector<std::pair<std::string, std::string>>& members, bool zip64,
    bool deflate = false, int64_t declared_size = -1) {
  std::string file;
  std::string directory;
  for (const auto& [name, raw] : members) {
    const std::string data = deflate ? Deflate(raw) : raw;
    const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(raw.data()),
                               static_cast<uInt>(raw.size()));
    const uint64_t uncompressed =
        declared_size >= 0 ? static_cast<uint64_t>(declared_size) : raw.size();
    const uint64_t offset = file.size();
    PutLe(&file, 0x04034b50, 4);
    PutLe(&file, 20, 2);               // Version needed.
    PutLe(&file, 0, 2);                // Flags.
    PutLe(&file, deflate ? 8 : 0, 2);  // Method.
    PutLe(&file, 0, 4);                // Time and date.
    PutLe(&file, crc, 4);
    PutLe(&file, data.size(), 4);
    PutLe(&file, uncompressed, 4);
    PutLe(&file, name.size(), 2);
    PutLe(&file, 0, 2);
    file += name + data;

    PutLe(&directory, 0x02014b50, 4);
    PutLe(&directory, 45, 2);
    PutLe(&directory, 45, 2);
    PutLe(&directory, 0, 2);
    PutLe(&directory, deflate ? 8 : 0, 2);
    PutLe(&directory, 0, 4);
    PutLe(&directory, crc, 4);
    PutLe(&directory, zip64 ? 0xFFFFFFFF : data.size(), 4);
    PutLe(&directory, zip64 ? 0xFFFFFFFF : uncompressed, 4);
    PutLe(&directory, name.size(), 2);
    PutLe(&directory, zip64 ? 28 : 0, 2);  // Extra length.
    PutLe(&directory, 0, 2);               // Comment.
    PutLe(&directory, 0, 2);               // Disk.
    PutLe(&directory, 0, 2);
    PutLe(&directory, 0, 4);
    PutLe(&directory, zip64 ? 0xFFFFFFFF : offset, 4);
    directory += name;
    if (zip64) {
      PutLe(&directory, 0x0001, 2);
      PutLe(&directory, 24, 2);
      PutLe(&directory, uncompressed, 8);
      PutLe(&directory, data.size(), 8);  // Compressed.
      PutLe(&directory, offset, 8);
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
    PutLe(&file, members.size(), 8);
    PutLe(&file, members.size(), 8);
    PutLe(&file, directory.size(), 8);
    PutLe(&file, directory_offset, 8);
    PutLe(&file, 0x07064b50, 4);
    PutLe(&file, 0, 4);
    PutLe(&file, record, 8);
    PutLe(&file, 1, 4);
  }
  PutLe(&file, 0x06054b50, 4);
  PutLe(&file, 0, 4);
  PutLe(&file, zip64 ? 0xFFFF : members.size(), 2);
  PutLe(&file, zip64 ? 0xFFFF : members.size(), 2);
  PutLe(&file, zip64 ? 0xFFFFFFFF : directory.size(), 4);
  PutLe(&file, zip64 ? 0xFFFFFFFF : directory_offset, 4);
  PutLe(&file, 0, 2);
  return file;
}

absl::StatusOr<Array> LoadNpyBytes(const std::string& name,
                                   const std::string& bytes) {
  const std::string path = TempPath(name);
  WriteFile(path, bytes);
  return LoadNpy(path);
}

TEST(LoadNpyTest, ReadsEveryDType) {
  struct Case {
    std::string descr;
    DType dtype;
    std::string data;
  };
  const std::vector<Case> cases = {
      {"<f4", DType::kFloat32, Bytes<float>({1.5f, -2})},
      {"<f8", DType::kFloat64, Bytes<double>({1.5, -2})},
      {"<f2", DType::kFloat16, Bytes<uint16_t>({0x3E00, 0xC000})},
      {"|u1", DType::kUInt8, Bytes<uint8_t>({1, 255})},
      {"|i1", DType::kInt8, Bytes<int8_t>({1, -2})},
      {"<i4", DType::kInt32, Bytes<int32_t>({1, -2})},
      {"<i8", DType::kInt64, Bytes<int64_t>({1, -2})},
      {"|b1", DType::kUInt8, Bytes<uint8_t>({1, 0})},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Array> array =
        LoadNpyBytes("dtype.npy", NpyBytes(c.descr, "(2,)", c.data));
    ASSERT_TRUE(array.ok()) << c.descr << ": " << array.status();
    EXPECT_EQ(array->dtype, c.dtype) << c.descr;
    EXPECT_THAT(array->shape, ElementsAre(2)) << c.descr;
    EXPECT_EQ(
        std::string(static_cast<const char*>(array->data), array->byte_size()),
        c.data)
        << c.descr;
  }
}

TEST(LoadNpyTest, ReadsVersions2And3) {
  for (int major : {2, 3}) {
    absl::StatusOr<Array> array = LoadNpyBytes(
        "v.npy", NpyBytes("<i4", "(2, 2)", Bytes<int32_t>({1, 2, 3, 4}),
                          /*fortran=*/false, major));
    ASSERT_TRUE(array.ok()) << array.status();
    EXPECT_THAT(array->shape, ElementsAre(2, 2));
    EXPECT_THAT(Values<int32_t>(*array), ElementsAre(1, 2, 3, 4));
  }
}

TEST(LoadNpyTest, ReadsScalarEmptyAndPython2Shapes) {
  absl::StatusOr<Array> scalar =
      LoadNpyBytes("s.npy", NpyBytes("<f8", "()", Bytes<double>({7})));
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->num_elements(), 1);

  absl::StatusOr<Array> empty =
      LoadNpyBytes("e.npy", NpyBytes("<f4", "(0, 3)", ""));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(empty->shape, ElementsAre(0, 3));

  absl::StatusOr<Array> longs = LoadNpyBytes(
      "l.npy", NpyBytes("|u1", "(1L, 2L)", Bytes<uint8_t>({4, 5})));
  ASSERT_TRUE(longs.ok()) << longs.status();
  EXPECT_THAT(longs->shape, ElementsAre(1, 2));
}

TEST(LoadNpyTest, FortranOrderIsRejectedWithAdvice) {
  absl::StatusOr<Array> array =
      LoadNpyBytes("fortran.npy",
                   NpyBytes("<f4", "(2, 2)", Bytes<float>({1, 2, 3, 4}), true));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(array.status().message(), HasSubstr("fortran.npy"));
  EXPECT_THAT(array.status().message(), HasSubstr("np.ascontiguousarray"));
}

TEST(LoadNpyTest, TruncatedDataIsDataLossNamingTheFile) {
  absl::StatusOr<Array> array = LoadNpyBytes(
      "short.npy", NpyBytes("<f4", "(3, 2)", Bytes<float>({1, 2, 3, 4, 5})));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(array.status().message(), HasSubstr("short.npy"));
}

TEST(LoadNpyTest, HugeShapeDoesNotOverflow) {
  absl::StatusOr<Array> array = LoadNpyBytes(
      "huge.npy", NpyBytes("<f8", "(4294967296, 4294967296, 16)", "abcd"));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kDataLoss);
}

TEST(LoadNpyTest, CutHeaderIsDataLoss) {
  const std::string bytes = NpyBytes("<f4", "(1,)", Bytes<float>({1}));
  absl::StatusOr<Array> array = LoadNpyBytes("cut.npy", bytes.substr(0, 40));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kDataLoss);
}

TEST(LoadNpyTest, NonNpyFilesAreRejectedNamingTheFile) {
  for (const std::string& bytes :
       {std::string(""), std::string("hello, world, not numpy")}) {
    absl::StatusOr<Array> array = LoadNpyBytes("text.npy", bytes);
    EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(array.status().message(), HasSubstr("text.npy"));
    EXPECT_THAT(array.status().message(), HasSubstr("not a .npy"));
  }
}

TEST(LoadNpyTest, UnsupportedDescrsAreRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {">f4", "big-endian"},
      {"|O", "unsupported"},
      {"<U3", "unsupported"},
      {"<u2", "unsupported"},
      {"<c8", "unsupported"}};
  for (const auto& [descr, message] : cases) {
    absl::StatusOr<Array> array =
        LoadNpyBytes("descr.npy", NpyBytes(descr, "(1,)", "12345678"));
    EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument)
        << descr;
    EXPECT_THAT(array.status().message(), HasSubstr(message)) << descr;
  }
  // Structured dtypes have a list descr.
  std::string structured = NpyBytes("<f4", "(1,)", "1234");
  const size_t at = structured.find("'<f4'");
  structured.replace(at, 5, "[('a', '<f4')]");
  absl::StatusOr<Array> array = LoadNpyBytes("structured.npy", structured);
  EXPECT_THAT(array.status().message(), HasSubstr("structured"));
}

TEST(LoadNpyTest, MissingFileIsNotFound) {
  absl::StatusOr<Array> array = LoadNpy(TempPath("does_not_exist.npy"));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(array.status().message(), HasSubstr("does_not_exist.npy"));
}

TEST(LoadNpyTest, DataOutlivesTheFileName) {
  const std::string path = TempPath("unlinked.npy");
  WriteFile(path, NpyBytes("<i8", "(3,)", Bytes<int64_t>({7, 8, 9})));
  absl::StatusOr<Array> array = LoadNpy(path);
  ASSERT_TRUE(array.ok()) << array.status();
  ASSERT_EQ(std::remove(path.c_str()), 0);
  const Array copy = *array;
  array = absl::UnknownError("dropped");
  EXPECT_THAT(Values<int64_t>(copy), ElementsAre(7, 8, 9));
}

TEST(LoadNpzTest, ReadsStoredMembersInPlace) {
  const std::string path = TempPath("stored.npz");
  WriteFile(
      path,
      StoredZip({{"x.npy", NpyBytes("<i4", "(2,)", Bytes<int32_t>({1, 2}))},
                 {"y.npy", NpyBytes("<f8", "(1,)", Bytes<double>({3}))}},
                /*zip64=*/false));
  absl::StatusOr<Array> y = LoadNpz(path, "y");
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(Values<double>(*y), ElementsAre(3));
  absl::StatusOr<Array> x = LoadNpz(path, "x");
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(Values<int32_t>(*x), ElementsAre(1, 2));
  // In place: the element bytes sit at their offset in the file.
  const std::string file = ReadFile(path);
  const std::string member = NpyBytes("<i4", "(2,)", Bytes<int32_t>({1, 2}));
  EXPECT_NE(file.find(member), std::string::npos);
}

TEST(LoadNpzTest, ReadsZip64Records) {
  const std::string path = TempPath("zip64.npz");
  WriteFile(
      path,
      StoredZip({{"a.npy", NpyBytes("|u1", "(3,)", "\x01\x02\x03")},
                 {"b.npy", NpyBytes("<i8", "(1,)", Bytes<int64_t>({-5}))}},
                /*zip64=*/true));
  absl::StatusOr<Array> b = LoadNpz(path, "b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(Values<int64_t>(*b), ElementsAre(-5));
  absl::StatusOr<Array> a = LoadNpz(path, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(Values<uint8_t>(*a), ElementsAre(1, 2, 3));
}

TEST(LoadNpzTest, ReadsNumpySavez) {
  const std::string path = TestdataPath("stored.npz");
  absl::StatusOr<Array> positional = LoadNpz(path, "arr_0");
  ASSERT_TRUE(positional.ok()) << positional.status();
  EXPECT_EQ(positional->dtype, DType::kUInt8);
  EXPECT_THAT(positional->shape, ElementsAre(2, 3));
  EXPECT_THAT(Values<uint8_t>(*positional), ElementsAre(0, 1, 2, 3, 4, 5));
  absl::StatusOr<Array> halves = LoadNpz(path, "halves");
  ASSERT_TRUE(halves.ok()) << halves.status();
  EXPECT_EQ(halves->dtype, DType::kFloat16);
  EXPECT_THAT(Values<uint16_t>(*halves), ElementsAre(0x3800, 0xC000, 0x7BFF));
}

TEST(LoadNpzTest, InflatesNumpySavezCompressed) {
  const std::string path = TestdataPath("compressed.npz");
  absl::StatusOr<Array> grid = LoadNpz(path, "grid");
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->dtype, DType::kInt64);
  EXPECT_THAT(grid->shape, ElementsAre(3, 4));
  EXPECT_THAT(Values<int64_t>(*grid),
              ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  absl::StatusOr<Array> ramp = LoadNpz(path, "ramp");
  ASSERT_TRUE(ramp.ok()) << ramp.status();
  EXPECT_THAT(Values<float>(*ramp), ElementsAre(0, 0.5, 1, 1.5, 2));
  absl::StatusOr<Array> flags = LoadNpz(path, "flags");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->dtype, DType::kUInt8);
  EXPECT_THAT(Values<uint8_t>(*flags), ElementsAre(1, 0, 1));
}

TEST(LoadNpzTest, DamagedDeflateStreamIsDataLoss) {
  std::string bytes = ReadFile(TestdataPath("compressed.npz"));
  // The first member's data starts after its 30-byte header and its name
  // ("grid.npy", 8 bytes; numpy writes a 20-byte zip64 extra field too).
  for (size_t i = 60; i < 90; ++i) bytes[i] = static_cast<char>(~bytes[i]);
  const std::string path = TempPath("damaged.npz");
  WriteFile(path, bytes);
  absl::StatusOr<Array> grid = LoadNpz(path, "grid");
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(grid.status().message(), HasSubstr("grid.npy"));
}

TEST(LoadNpzTest, DeflateBombIsRefusedBeforeInflating) {
  // 4 MB of zeros deflate to about 4 KB (the 1000:1 of the 261 KB archive
  // that inflated to 768 MB).
  const std::string npy =
      NpyBytes("|u1", "(4000000,)", std::string(4000000, 0));
  const std::string path = TempPath("bomb.npz");
  WriteFile(path, StoredZip({{"a.npy", npy}}, false, /*deflate=*/true));
  ASSERT_LT(ReadFile(path).size(), 10000u);
  absl::StatusOr<Array> array =
      LoadNpz(path, "a", /*max_inflated_bytes=*/1000000);
  EXPECT_EQ(array.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(array.status().message(), HasSubstr(path + " member 'a.npy'"));
  EXPECT_THAT(array.status().message(),
              HasSubstr(absl::StrCat("declares ", npy.size(),
                                     " inflated bytes, more than the daemon's "
                                     "limit of 1000000")));
  // Within the limit it reads.
  array = LoadNpz(path, "a", npy.size());
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->num_elements(), 4000000);
  // Compressed members of numpy's own files are within the default.
  EXPECT_TRUE(LoadNpz(TestdataPath("compressed.npz"), "grid").ok());
}

TEST(LoadNpzTest, DeclaredSizeMustMatchTheNpyHeader) {
  const std::string npy = NpyBytes("<f4", "(4,)", std::string(16, 0));
  const std::string path = TempPath("lying.npz");
  // The directory claims 100 000 bytes for a 16-element array: no buffer of
  // that size is made.
  WriteFile(path, StoredZip({{"a.npy", npy}}, false, true, 100000));
  absl::StatusOr<Array> array = LoadNpz(path, "a");
  EXPECT_EQ(array.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(array.status().message(),
              HasSubstr("member 'a.npy': the zip directory declares 100000 "
                        "inflated bytes but its .npy header (shape (4) of "
                        "float32) needs"));
  // A shape whose byte count overflows says so instead of a wrapped number.
  const std::string huge =
      NpyBytes("<f8", "(4611686018427387904, 8)", std::string(16, 0));
  WriteFile(path, StoredZip({{"a.npy", huge}}, false, true, 64));
  array = LoadNpz(path, "a");
  EXPECT_EQ(array.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(array.status().message(), HasSubstr("needs more than 2^64"));
}

TEST(LoadNpzTest, MissingKeyIsNotFoundListingKeys) {
  absl::StatusOr<Array> array = LoadNpz(TestdataPath("compressed.npz"), "z");
  EXPECT_EQ(array.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(array.status().message(), HasSubstr("compressed.npz"));
  EXPECT_THAT(array.status().message(), HasSubstr("[grid, ramp, flags]"));
}

TEST(LoadNpzTest, EmptyKeyNeedsASingleMember) {
  absl::StatusOr<Array> several = LoadNpz(TestdataPath("compressed.npz"), "");
  EXPECT_EQ(several.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(several.status().message(), HasSubstr("grid, ramp, flags"));

  const std::string path = TempPath("single.npz");
  WriteFile(path, StoredZip({{"only.npy", NpyBytes("|i1", "(1,)", "\xff")}},
                            /*zip64=*/false));
  absl::StatusOr<Array> single = LoadNpz(path, "");
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_THAT(Values<int8_t>(*single), ElementsAre(-1));
}

TEST(LoadNpzTest, NonZipAndTruncatedArchivesAreErrors) {
  const std::string text = TempPath("text.npz");
  WriteFile(text, "definitely not a zip archive");
  absl::StatusOr<Array> array = LoadNpz(text, "a");
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(array.status().message(), HasSubstr("text.npz"));

  const std::string bytes = ReadFile(TestdataPath("stored.npz"));
  const std::string truncated = TempPath("truncated.npz");
  WriteFile(truncated, bytes.substr(0, bytes.size() / 2));
  EXPECT_FALSE(LoadNpz(truncated, "arr_0").ok());
}

TEST(FromBufferTest, WrapsCallerBytes) {
  auto values =
      std::make_shared<std::vector<int32_t>>(std::vector<int32_t>{4, 5, 6, 7});
  const Array array = FromBuffer(DType::kInt32, {2, 2}, values, values->data());
  values.reset();  // The Array keeps the vector alive.
  EXPECT_EQ(array.byte_size(), 16u);
  EXPECT_THAT(Values<int32_t>(array), ElementsAre(4, 5, 6, 7));
}

}  // namespace
}  // namespace iterd
