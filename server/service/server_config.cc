#include "server/service/server_config.h"

#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/image/image_header.h"
#include "common/status/status_macros.h"
#include "common/tensor/npy.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/pipeline/pipeline_factory.h"
#include "server/security/access_policy.h"

namespace iterd::service {
namespace {

class ErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string path) : path_(std::move(path)) {}
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(
        absl::StrCat(path_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }
  std::string text() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::string path_;
  std::vector<std::string> errors_;
};

bool IsValidName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.')
      return false;
  }
  return true;
}

}  // namespace

void ApplyLimitDefaults(v1::Limits* limits) {
  if (limits->max_iterators() == 0) limits->set_max_iterators(64);
  if (limits->idle_timeout_seconds() == 0)
    limits->set_idle_timeout_seconds(300);
  if (limits->default_prefetch_buffer() == 0)
    limits->set_default_prefetch_buffer(4);
  if (limits->max_batch_bytes() == 0) limits->set_max_batch_bytes(2ull << 30);
  if (limits->max_inline_bytes() == 0) limits->set_max_inline_bytes(8ull << 30);
  if (limits->chunk_bytes() == 0) limits->set_chunk_bytes(4u << 20);
  if (limits->max_image_pixels() == 0) {
    limits->set_max_image_pixels(image::kDefaultMaxImagePixels);
  }
  if (limits->max_npz_member_bytes() == 0) {
    limits->set_max_npz_member_bytes(kDefaultMaxNpzMemberBytes);
  }
  if (limits->open_timeout_seconds() == 0) {
    limits->set_open_timeout_seconds(60);
  }
  if (limits->max_concurrent_opens() == 0) limits->set_max_concurrent_opens(16);
}

int RpcThreadLimit(const v1::Limits& limits) {
  if (limits.max_rpc_threads() > 0) return limits.max_rpc_threads();
  return limits.max_iterators() + limits.max_concurrent_opens() + 32;
}

absl::Status ValidateServerConfig(const v1::ServerConfig& config) {
  const v1::Limits& limits = config.limits();
  for (const auto& [field, value] :
       std::initializer_list<std::pair<absl::string_view, int32_t>>{
           {"max_iterators", limits.max_iterators()},
           {"idle_timeout_seconds", limits.idle_timeout_seconds()},
           {"worker_threads", limits.worker_threads()},
           {"open_timeout_seconds", limits.open_timeout_seconds()},
           {"max_concurrent_opens", limits.max_concurrent_opens()},
       }) {
    if (value < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("limits.", field, ": must not be negative"));
    }
  }
  if (limits.default_prefetch_buffer() < 0 ||
      limits.default_prefetch_buffer() > pipeline::kMaxPrefetchBuffer) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.default_prefetch_buffer: must be between 0 and ",
                     pipeline::kMaxPrefetchBuffer));
  }
  if (limits.max_rpc_threads() != 0 && limits.max_rpc_threads() < 8) {
    return absl::InvalidArgumentError(
        "limits.max_rpc_threads: must be 0 (derived) or at least 8");
  }
  if (limits.chunk_bytes() != 0 &&
      (limits.chunk_bytes() < 4096 || limits.chunk_bytes() > (32u << 20))) {
    return absl::InvalidArgumentError(
        "limits.chunk_bytes: must be between 4096 and 33554432");
  }
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < config.pipelines_size(); ++i) {
    const v1::NamedPipeline& pipeline = config.pipelines(i);
    const std::string where =
        absl::StrCat("pipelines[", i, "] '", pipeline.name(), "'");
    if (!IsValidName(pipeline.name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": name must be non-empty letters, digits, '_', '-' or '.'"));
    }
    if (!names.insert(pipeline.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": name is used by an earlier pipeline"));
    }
    absl::Status status = pipeline::ValidatePipelineConfig(pipeline.config());
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": config.", status.message()));
    }
  }
  return security::AccessPolicy::Validate(config);
}

absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file)
    return absl::NotFoundError(absl::StrCat("cannot open config ", path));
  std::stringstream text;
  text << file.rdbuf();
  v1::ServerConfig config;
  ErrorCollector errors(path);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(errors.text());
  }
  ITERD_RETURN_IF_ERROR(ValidateServerConfig(config));
  ApplyLimitDefaults(config.mutable_limits());
  return config;
}

}  // namespace iterd::service
