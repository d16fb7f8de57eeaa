// File: common/tensor/npy.h
//
// Array: a read-only n-d array (dtype, shape, contiguous C-order little-endian
// element bytes) together with whatever keeps those bytes alive: a memory
// mapping of a .npy/.npz file, a heap buffer inflated from a compressed .npz
// member, or a client upload. Copying an Array shares the bytes.
//
// LoadNpy and LoadNpz read NumPy's formats:
//   .npy  "\x93NUMPY", major, minor (1.0, 2.0, 3.0), header length (uint16 in
//         1.0, uint32 after), an ASCII/UTF-8 Python dict literal
//         {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//         padded with spaces and '\n', then the elements.
//   .npz  a zip archive of .npy members (np.savez: STORED, np.savez_compressed:
//         DEFLATED), possibly with zip64 records.
// Uncompressed data is used in place from the mapping (no copy; pages are read
// when the pipeline touches them). Errors name the file (and member).
//
// Thread-safety: an Array is immutable; share it freely between threads.

#ifndef ITERD_COMMON_TENSOR_NPY_H_
#define ITERD_COMMON_TENSOR_NPY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tensor/dtype.h"

namespace iterd {

struct Array {
  DType dtype = DType::kFloat32;
  // Full shape; empty for a 0-d (scalar) array.
  std::vector<int64_t> shape;
  // num_elements() elements, C order, little-endian. Valid while `keep_alive`
  // (shared by every copy of this Array) lives.
  const void* data = nullptr;
  std::shared_ptr<const void> keep_alive;

  int64_t num_elements() const;
  size_t byte_size() const { return num_elements() * DTypeSize(dtype); }
};

// Maps `path` and parses its .npy header. Supported descr: '<f4', '<f8',
// '<f2', '|u1', '|i1', '<i4', '<i8' and '|b1' (bool, read as uint8).
// InvalidArgument for anything else (not a .npy, big-endian, object or
// structured dtypes, fortran_order True); DataLoss when the file holds fewer
// bytes than the shape needs; NotFound / PermissionDenied from open().
absl::StatusOr<Array> LoadNpy(const std::string& path);

// Default most bytes a DEFLATED .npz member may inflate to
// (limits.max_npz_member_bytes): 1 GiB. An inflated member is a heap copy per
// open iterator (a mapped, uncompressed one costs nothing), so a few of them
// must fit beside max_batch_bytes-sized batches; larger arrays belong in
// np.save / np.savez files, which are memory-mapped.
inline constexpr uint64_t kDefaultMaxNpzMemberBytes = uint64_t{1} << 30;

// Reads member `key` + ".npy" of the .npz archive at `path`. An empty key
// selects the only member (InvalidArgument listing the keys when there are
// several). NotFound, listing the available keys, when `key` is missing.
// STORED members are used in place; DEFLATED ones are inflated (and their
// CRC-32 checked) into a heap buffer, after two checks that need only the
// zip directory and the member's first bytes: its declared inflated size
// must equal what its .npy header's shape and dtype need (DataLoss
// otherwise, overflow-checked), and be at most `max_inflated_bytes`
// (ResourceExhausted). Inflating stops at the declared size. Every error
// names the file and member.
absl::StatusOr<Array> LoadNpz(
    const std::string& path, const std::string& key,
    uint64_t max_inflated_bytes = kDefaultMaxNpzMemberBytes);

// Wraps bytes the caller already holds (an uploaded array). `data` must hold
// the elements of `shape` in C order and stay valid while `keep_alive` lives.
Array FromBuffer(DType dtype, std::vector<int64_t> shape,
                 std::shared_ptr<const void> keep_alive, const void* data);

}  // namespace iterd

#endif  // ITERD_COMMON_TENSOR_NPY_H_
