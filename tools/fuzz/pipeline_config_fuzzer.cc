// libFuzzer target: what a hostile client can put in an OpenIterator message.
//
// Each input is a serialized iterd.v1.OpenIterator. Its overrides are applied
// to its inline config, inline arrays are made as the upload would (zeros, when
// small), and the pipeline is opened over the bundled sample data
// (examples/sample: .npy, CSV, .rec/.idx/.lst, an image folder) with the
// daemon's own path policy and small limits; then a few batches are taken and
// the iterator is reset and dropped. A crash, a sanitizer report, a leak, a
// hang or an out-of-memory is a finding; a refused config is not.
//
// The custom mutator edits the message through protobuf reflection: it picks a
// field anywhere in the tree and gives it a value from a list of the ones that
// break code (0, -1, 2^31-1, 2^62, NaN, 1e30, "../", a NUL byte, huge repeated
// fields, enum numbers out of range), so that almost every execution reaches
// validation and the pipelines instead of dying in the parser.
//
// Built and run by tools/fuzz/run_fuzz.sh (ITERD_FUZZ_DATA_ROOT names the data
// root; the script passes examples/sample).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/concurrency/thread_pool.h"
#include "common/tensor/npy.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "iterd/v1/service.pb.h"
#include "server/pipeline/pipeline_factory.h"
#include "server/service/path_policy.h"

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Larger inline uploads are not made: the upload itself is the service's
// concern (array_upload), not this target's.
constexpr uint64_t kMaxInlineBytes = 1 << 20;
constexpr uint64_t kMaxBatchBytes = 8 << 20;
constexpr int kBatchesPerInput = 3;

struct Fixture {
  std::unique_ptr<iterd::service::PathPolicy> paths;
  std::unique_ptr<iterd::ThreadPool> pool;
};

Fixture* fixture = nullptr;

const int64_t kInterestingIntegers[] = {
    0,         1,         -1,        2,        3,         4,         7,
    8,         28,        56,        224,      255,       256,       65535,
    65536,     1 << 20,   1 << 24,   1 << 30,  INT32_MAX, INT32_MIN, 1LL << 31,
    1LL << 40, 1LL << 62, INT64_MAX, INT64_MIN};

const double kInterestingReals[] = {0.0,
                                    -0.0,
                                    1.0,
                                    -1.0,
                                    0.5,
                                    2.0,
                                    1e-30,
                                    1e30,
                                    -1e30,
                                    255.0,
                                    224.0,
                                    1e9,
                                    3.4e38,
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    std::numeric_limits<double>::quiet_NaN()};

const char* const kInterestingStrings[] = {"train.csv",
                                           "train_labels.csv",
                                           "digits.npy",
                                           "digits_labels.npy",
                                           "shapes.rec",
                                           "shapes.idx",
                                           "shapes.lst",
                                           "images",
                                           "images/circle",
                                           "images/",
                                           "iterd.pbtxt",
                                           "",
                                           ".",
                                           "..",
                                           "../",
                                           "/",
                                           "/etc/passwd",
                                           "../../etc/passwd",
                                           "shapes.rec/",
                                           "missing.npy",
                                           "data",
                                           "softmax_label",
                                           "mean.bin",
                                           "NCHW",
                                           "NHWC",
                                           "uint8",
                                           "float32",
                                           "bilinear"};

int64_t PickInteger(std::mt19937_64& random) {
  if (random() % 4 == 0) return static_cast<int64_t>(random() % 64);
  return kInterestingIntegers[random() % std::size(kInterestingIntegers)];
}

double PickReal(std::mt19937_64& random) {
  if (random() % 4 == 0) return static_cast<double>(random() % 512) / 4.0;
  return kInterestingReals[random() % std::size(kInterestingReals)];
}

std::string PickString(std::mt19937_64& random) {
  switch (random() % 8) {
    case 0:
      return std::string(1 + random() % 5000, 'a');
    case 1:
      return std::string("shapes.rec\0x", 12);
    case 2:
      return "images/circle/" + std::to_string(random() % 8) + ".jpg";
    default:
      return kInterestingStrings[random() % std::size(kInterestingStrings)];
  }
}

void SetScalar(Message* message, const FieldDescriptor* field,
               std::mt19937_64& random) {
  const Reflection* reflection = message->GetReflection();
  const bool repeated = field->is_repeated();
#define ITERD_SET(Type, value)                    \
  if (repeated) {                                 \
    reflection->Add##Type(message, field, value); \
  } else {                                        \
    reflection->Set##Type(message, field, value); \
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      ITERD_SET(Int32, static_cast<int32_t>(PickInteger(random)));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      ITERD_SET(Int64, PickInteger(random));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      ITERD_SET(UInt32, static_cast<uint32_t>(PickInteger(random)));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      ITERD_SET(UInt64, static_cast<uint64_t>(PickInteger(random)));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      ITERD_SET(Float, static_cast<float>(PickReal(random)));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      ITERD_SET(Double, PickReal(random));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      ITERD_SET(Bool, random() % 2 == 0);
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      // Open (proto3) enums keep unknown numbers: out-of-range values arrive.
      const int count = field->enum_type()->value_count();
      const int value = static_cast<int>(random() % (count + 3)) - 1;
      ITERD_SET(EnumValue, value);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      ITERD_SET(String, PickString(random));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
#undef ITERD_SET
}

// Changes one field somewhere under `message`.
void Mutate(Message* message, std::mt19937_64& random, int depth) {
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  const Reflection* reflection = message->GetReflection();
  if (descriptor->field_count() == 0) return;
  const FieldDescriptor* field =
      descriptor->field(static_cast<int>(random() % descriptor->field_count()));
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (field->is_repeated()) {
      const int size = reflection->FieldSize(*message, field);
      if (size > 0 && random() % 3 == 0) {
        reflection->RemoveLast(message, field);
      } else if (size > 0 && depth < 6 && random() % 2 == 0) {
        Mutate(reflection->MutableRepeatedMessage(
                   message, field, static_cast<int>(random() % size)),
               random, depth + 1);
      } else if (size < 8) {
        Mutate(reflection->AddMessage(message, field), random, depth + 1);
      }
    } else if (depth < 6) {
      Mutate(reflection->MutableMessage(message, field), random, depth + 1);
    }
    return;
  }
  if (field->is_repeated()) {
    const int size = reflection->FieldSize(*message, field);
    if (size > 0 && random() % 3 == 0) {
      reflection->RemoveLast(message, field);
    } else if (size < 16) {
      SetScalar(message, field, random);
    }
    return;
  }
  if (random() % 6 == 0) {
    reflection->ClearField(message, field);
  } else {
    SetScalar(message, field, random);
  }
}

// Zero-filled arrays for the config's inline declarations, as the upload makes
// them; false when they would be too large to bother.
bool MakeUploads(const iterd::v1::PipelineConfig& config,
                 std::vector<iterd::Array>* arrays) {
  auto specs = iterd::pipeline::DeclaredInlineArrays(config);
  if (!specs.ok()) return false;
  uint64_t total = 0;
  for (const iterd::pipeline::InlineArraySpec& spec : *specs) {
    if (spec.byte_size > kMaxInlineBytes - total) return false;
    total += spec.byte_size;
    auto buffer = std::shared_ptr<uint8_t>(new uint8_t[spec.byte_size + 1](),
                                           std::default_delete<uint8_t[]>());
    iterd::Array array;
    array.dtype = spec.dtype;
    array.shape = spec.shape;
    array.data = buffer.get();
    array.keep_alive = buffer;
    arrays->push_back(std::move(array));
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* root = std::getenv("ITERD_FUZZ_DATA_ROOT");
  if (root == nullptr) {
    std::fprintf(stderr, "set ITERD_FUZZ_DATA_ROOT to examples/sample\n");
    std::abort();
  }
  auto paths = iterd::service::PathPolicy::Create({root});
  if (!paths.ok()) {
    std::fprintf(stderr, "%s\n", paths.status().ToString().c_str());
    std::abort();
  }
  fixture = new Fixture;
  fixture->paths =
      std::make_unique<iterd::service::PathPolicy>(*std::move(paths));
  fixture->pool = std::make_unique<iterd::ThreadPool>(2);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size,
                                          size_t max_size, unsigned int seed) {
  iterd::v1::OpenIterator message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) message.Clear();
  std::mt19937_64 random(seed);
  const int edits = 1 + static_cast<int>(random() % 3);
  for (int i = 0; i < edits; ++i) Mutate(&message, random, 0);
  std::string bytes;
  if (!message.SerializeToString(&bytes) || bytes.size() > max_size) {
    return size;
  }
  std::memcpy(data, bytes.data(), bytes.size());
  return bytes.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iterd::v1::OpenIterator open;
  if (!open.ParseFromArray(data, static_cast<int>(size)) ||
      !open.has_config()) {
    return 0;
  }
  iterd::v1::PipelineConfig config = open.config();
  if (!iterd::pipeline::ApplyOverrides(open.overrides(), &config).ok()) {
    return 0;
  }
  std::vector<iterd::Array> uploads;
  if (!MakeUploads(config, &uploads)) return 0;

  iterd::pipeline::PipelineEnvironment environment;
  environment.resolve_path = [](absl::string_view path) {
    return fixture->paths->Resolve(path);
  };
  environment.pool = fixture->pool.get();
  environment.default_prefetch_buffer = 2;
  environment.max_batch_bytes = kMaxBatchBytes;
  auto opened =
      iterd::pipeline::OpenPipeline(config, std::move(uploads), environment);
  if (!opened.ok()) return 0;
  iterd::pipeline::Pipeline& pipeline = **opened;
  if (!pipeline.WaitForFirst(nullptr).ok()) return 0;
  for (int i = 0; i < kBatchesPerInput; ++i) {
    std::shared_ptr<const iterd::Batch> batch;
    bool end_of_epoch = false;
    if (!pipeline.Next(&batch, &end_of_epoch).ok()) break;
    if (end_of_epoch && !pipeline.Reset(std::nullopt).ok()) break;
  }
  pipeline.Cancel();
  return 0;
}
