#include "server/pipeline/iterator_state.h"

#include <openssl/evp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "server/pipeline/pipeline_kinds.h"

namespace iterd::pipeline {
namespace {

// Most cursor values a source writes (CSV: 3 per reader, data and label).
constexpr int kMaxCursorValues = 6;

// Largest epoch, pass, position, sequence or held_rows a state may carry:
// far beyond any run, and far from INT64_MAX, so that the stages can count
// on from a restored position (a reset, an epoch a roll_over tail spans)
// without overflowing.
constexpr int64_t kMaxStateCount = int64_t{1} << 53;

bool InRange(int64_t value) { return value >= 0 && value <= kMaxStateCount; }

absl::Status Differs(absl::string_view field, const std::string& in_state,
                     const std::string& in_config) {
  return absl::FailedPreconditionError(
      absl::StrCat("resume_from: the state belongs to another iterator: its ",
                   field, " is ", in_state, ", this config's is ", in_config));
}

SourcePosition FromProto(const v1::SourcePosition& proto) {
  SourcePosition position;
  position.epoch = proto.epoch();
  position.pass = proto.pass();
  position.position = proto.position();
  position.cursor.assign(proto.cursor().begin(), proto.cursor().end());
  return position;
}

void ToProto(const SourcePosition& position, v1::SourcePosition* proto) {
  proto->set_epoch(position.epoch);
  proto->set_pass(position.pass);
  proto->set_position(position.position);
  for (uint64_t value : position.cursor) proto->add_cursor(value);
}

absl::Status CheckSource(absl::string_view field,
                         const v1::SourcePosition& source) {
  if (!InRange(source.epoch()) || !InRange(source.pass()) ||
      !InRange(source.position()) || source.cursor_size() > kMaxCursorValues) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resume_from.", field, ": epoch ", source.epoch(), ", pass ",
        source.pass(), ", position ", source.position(), " and ",
        source.cursor_size(), " cursor values are not a position"));
  }
  return absl::OkStatus();
}

// The first 8 bytes of the SHA-256 of `message` serialized deterministically
// (stable across daemons of the same protocol), little-endian.
uint64_t Sha256Prefix(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream output(&bytes);
    google::protobuf::io::CodedOutputStream coded(&output);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &digest_size, EVP_sha256(),
             nullptr);
  uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) {
    prefix |= static_cast<uint64_t>(digest[i]) << (8 * i);
  }
  return prefix;
}

uint64_t StateChecksum(const v1::IteratorState& state) {
  if (state.checksum() == 0) return Sha256Prefix(state);
  v1::IteratorState unsummed = state;
  unsummed.clear_checksum();
  return Sha256Prefix(unsummed);
}

}  // namespace

uint64_t ConfigFingerprint(const v1::PipelineConfig& config) {
  v1::PipelineConfig normalized = config;
  normalized.clear_prefetch_buffer();
  normalized.clear_data_name();
  normalized.clear_label_name();
  if (const PipelineKind* kind = FindPipelineKind(config); kind != nullptr) {
    kind->clear_unfingerprinted(&normalized);
  }
  return Sha256Prefix(normalized);
}

v1::IteratorState StateIdentity(const v1::PipelineConfig& config,
                                uint64_t seed_in_use) {
  v1::IteratorState state;
  state.set_version(kIteratorStateVersion);
  state.set_config_fingerprint(ConfigFingerprint(config));
  const PipelineKind* kind = FindPipelineKind(config);
  if (kind == nullptr) return state;
  const KindIdentity identity = kind->identity(config);
  state.set_kind(std::string(kind->name));
  state.set_batch_size(identity.batch_size);
  state.set_num_parts(identity.num_parts);
  state.set_part_index(identity.part_index);
  state.set_seed(identity.seed_drawn_at_open ? seed_in_use : identity.seed);
  return state;
}

absl::StatusOr<StreamPosition> CheckResumeState(const v1::IteratorState& state,
                                                v1::PipelineConfig* config) {
  if (state.version() != kIteratorStateVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("resume_from.version: ", state.version(),
                     " is not a state format this daemon reads (",
                     kIteratorStateVersion, ")"));
  }
  if (state.checksum() != StateChecksum(state)) {
    return absl::InvalidArgumentError(
        "resume_from: the state is damaged or was edited (its checksum does "
        "not match)");
  }
  const PipelineKind* kind = FindPipelineKind(*config);
  const bool drawn =
      kind != nullptr && kind->identity(*config).seed_drawn_at_open;
  const v1::IteratorState own = StateIdentity(*config, state.seed());
  if (state.kind() != own.kind()) {
    return Differs(
        "kind",
        absl::StrCat("\"", absl::CHexEscape(state.kind().substr(0, 32)), "\""),
        absl::StrCat("\"", own.kind(), "\""));
  }
  if (state.batch_size() != own.batch_size()) {
    return Differs("batch_size", absl::StrCat(state.batch_size()),
                   absl::StrCat(own.batch_size()));
  }
  if (state.num_parts() != own.num_parts()) {
    return Differs("num_parts", absl::StrCat(state.num_parts()),
                   absl::StrCat(own.num_parts()));
  }
  if (state.part_index() != own.part_index()) {
    return Differs("part_index", absl::StrCat(state.part_index()),
                   absl::StrCat(own.part_index()));
  }
  if (state.seed() != own.seed()) {
    return Differs("seed", absl::StrCat(state.seed()),
                   absl::StrCat(own.seed()));
  }
  if (state.config_fingerprint() != own.config_fingerprint()) {
    return Differs("config fingerprint",
                   absl::StrCat(absl::Hex(state.config_fingerprint())),
                   absl::StrCat(absl::Hex(own.config_fingerprint()),
                                " (a field of the pipeline config differs)"));
  }
  ITERD_RETURN_IF_ERROR(CheckSource("source", state.source()));
  ITERD_RETURN_IF_ERROR(CheckSource("held_from", state.held_from()));
  if (!InRange(state.epoch()) || !InRange(state.sequence()) ||
      !InRange(state.held_rows())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resume_from: epoch ", state.epoch(), ", sequence ", state.sequence(),
        " and held_rows ", state.held_rows(), " must be in [0, 2^53]"));
  }
  if (drawn && kind->set_seed != nullptr) {
    // The saved iterator's seed, so that the order and the augmentations are
    // the ones it would have drawn.
    kind->set_seed(state.seed(), config);
  }
  StreamPosition position;
  position.epoch = state.epoch();
  position.sequence = state.sequence();
  position.epoch_over = state.epoch_over();
  position.epoch_started = state.epoch_started();
  position.source = FromProto(state.source());
  position.continue_after_wrap = state.continue_after_wrap();
  position.held_rows = state.held_rows();
  position.held_from = FromProto(state.held_from());
  return position;
}

v1::IteratorState WithPosition(const v1::IteratorState& identity,
                               const StreamPosition& position) {
  v1::IteratorState state = identity;
  state.set_epoch(position.epoch);
  state.set_sequence(position.sequence);
  state.set_epoch_over(position.epoch_over);
  state.set_epoch_started(position.epoch_started);
  ToProto(position.source, state.mutable_source());
  state.set_continue_after_wrap(position.continue_after_wrap);
  if (position.held_rows > 0) {
    state.set_held_rows(position.held_rows);
    ToProto(position.held_from, state.mutable_held_from());
  }
  state.set_checksum(StateChecksum(state));
  return state;
}

}  // namespace iterd::pipeline
