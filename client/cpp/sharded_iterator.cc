#include "client/cpp/sharded_iterator.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace iterd::client {
namespace {

// Refuses what the Python client refuses before any network traffic.
absl::Status CheckShardable(const iterd::v1::PipelineConfig& config) {
  int32_t num_parts = 0;
  int32_t part_index = 0;
  if (config.has_image_record()) {
    num_parts = config.image_record().num_parts();
    part_index = config.image_record().part_index();
  } else if (config.has_image_iter() || config.has_ndarray()) {
    const bool image_iter = config.has_image_iter();
    num_parts = image_iter ? config.image_iter().num_parts()
                           : config.ndarray().num_parts();
    part_index = image_iter ? config.image_iter().part_index()
                            : config.ndarray().part_index();
    const iterd::v1::LastBatchHandle handle =
        image_iter ? config.image_iter().last_batch_handle()
                   : config.ndarray().last_batch_handle();
    if (handle == iterd::v1::ROLL_OVER) {
      return absl::InvalidArgumentError(
          "last_batch_handle ROLL_OVER carries samples into the next epoch, "
          "which breaks once-per-epoch coverage over several daemons: use PAD "
          "or DISCARD");
    }
  } else {
    return absl::InvalidArgumentError(
        "PipelineConfig: a sharded iterator needs image_record, image_iter or "
        "ndarray (CSVIter has no parts)");
  }
  if (num_parts > 1 || part_index != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_parts / part_index are set by the many-daemon iterator from "
        "rank, world_size and the daemons; leave them unset (got num_parts=",
        num_parts, ", part_index=", part_index, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

ClientOptions ShardedIterator::OptionsFor(
    const ClientOptions& options,
    const std::map<std::string, std::string>& host_names,
    const std::string& address) {
  ClientOptions for_daemon = options;
  const auto name = host_names.find(address);
  if (for_daemon.security.server_name.empty() && name != host_names.end()) {
    for_daemon.security.server_name = name->second;
  }
  return for_daemon;
}

ShardedIterator::ShardedIterator(std::vector<std::string> addresses,
                                 std::map<std::string, std::string> host_names,
                                 int rank, int world_size,
                                 iterd::v1::PipelineConfig config,
                                 ShardedIteratorOptions options)
    : addresses_(std::move(addresses)),
      host_names_(std::move(host_names)),
      rank_(rank),
      world_size_(world_size),
      config_(std::move(config)),
      options_(std::move(options)),
      pool_(PayloadPool::Create()),
      daemon_batches_(addresses_.size(), 0) {
  if (config_.has_image_record()) {
    // Parts open with round_batch=false; the user's round_batch (MXNet
    // default true) fills a part's short batch on this side.
    const iterd::v1::ImageRecordConfig& record = config_.image_record();
    fill_short_ = !record.has_round_batch() || record.round_batch();
  } else if (config_.has_image_iter()) {
    discard_short_ =
        config_.image_iter().last_batch_handle() == iterd::v1::DISCARD;
  } else if (config_.has_ndarray()) {
    discard_short_ =
        config_.ndarray().last_batch_handle() == iterd::v1::DISCARD;
  }
  balance_ = options_.balance.value_or(discard_short_ ? BalanceMode::kDiscard
                                                      : BalanceMode::kPad);
}

ShardedIterator::~ShardedIterator() {
  // Not Close(): each part's destructor frees its lease without waiting long
  // on a daemon that does not answer.
  if (!closed_) StopThreads();
}

absl::StatusOr<std::unique_ptr<ShardedIterator>> ShardedIterator::Create(
    absl::Span<const std::string> addresses, int rank, int world_size,
    const iterd::v1::PipelineConfig& config, ShardedIteratorOptions options) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank must be in [0, world_size), got rank=", rank,
                     " world_size=", world_size));
  }
  if (options.num_batches.has_value() && *options.num_batches < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_batches must be non-negative, got ", *options.num_batches));
  }
  ITERD_RETURN_IF_ERROR(CheckShardable(config));
  std::map<std::string, std::string> host_names;
  ITERD_ASSIGN_OR_RETURN(std::vector<std::string> daemons,
                         ResolveDaemons(addresses, &host_names));
  std::unique_ptr<ShardedIterator> iterator(
      new ShardedIterator(std::move(daemons), std::move(host_names), rank,
                          world_size, config, std::move(options)));
  iterator->ConnectAll();
  absl::Status status = iterator->OpenAll();
  if (status.ok()) status = iterator->Plan();
  if (!status.ok()) {
    iterator->Close().IgnoreError();
    return status;
  }
  iterator->StartThreads();
  return iterator;
}

absl::StatusOr<std::unique_ptr<ShardedIterator>> ShardedIterator::CreateNamed(
    absl::Span<const std::string> addresses, int rank, int world_size,
    absl::string_view pipeline_name, ShardedIteratorOptions options) {
  std::map<std::string, std::string> host_names;
  ITERD_ASSIGN_OR_RETURN(std::vector<std::string> daemons,
                         ResolveDaemons(addresses, &host_names));
  absl::Status last_error = absl::UnavailableError("no daemon");
  for (const std::string& address : daemons) {
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(
        address, OptionsFor(options.client_options, host_names, address));
    absl::StatusOr<std::vector<iterd::v1::PipelineInfo>> pipelines =
        client.ok() ? (*client)->ListPipelines()
                    : absl::StatusOr<std::vector<iterd::v1::PipelineInfo>>(
                          client.status());
    if (!pipelines.ok()) {
      if (!IsDaemonFailure(pipelines.status())) return pipelines.status();
      last_error = pipelines.status();
      continue;
    }
    for (const iterd::v1::PipelineInfo& info : *pipelines) {
      if (info.name() == pipeline_name) {
        // The entries as given: Create resolves them again and keeps the
        // names the addresses came from.
        return Create(addresses, rank, world_size, info.config(),
                      std::move(options));
      }
    }
    return absl::NotFoundError(absl::StrCat("pipeline '", pipeline_name,
                                            "' is not configured on iterd at ",
                                            address));
  }
  return absl::UnavailableError(
      absl::StrCat("no iterd daemon answered ListPipelines for pipeline '",
                   pipeline_name, "': ", last_error.ToString()));
}

void ShardedIterator::ConnectAll() {
  const int daemons = num_daemons();
  clients_.resize(daemons);
  connect_status_.assign(daemons, absl::OkStatus());
  std::vector<std::thread> threads;
  for (int d = 0; d < daemons; ++d) {
    threads.emplace_back([this, d] {
      absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(
          addresses_[d],
          OptionsFor(options_.client_options, host_names_, addresses_[d]));
      if (client.ok()) {
        clients_[d] = *std::move(client);
      } else {
        connect_status_[d] = client.status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

absl::StatusOr<std::unique_ptr<RemoteIterator>> ShardedIterator::OpenPart(
    int daemon, int part_index, std::optional<uint64_t> seed) {
  if (clients_[daemon] == nullptr) return connect_status_[daemon];
  iterd::v1::OpenIterator open;
  iterd::v1::PipelineConfig* part = open.mutable_config();
  *part = config_;
  std::vector<absl::Span<const uint8_t>> arrays;
  if (part->has_image_record()) {
    iterd::v1::ImageRecordConfig* record = part->mutable_image_record();
    record->set_num_parts(num_parts());
    record->set_part_index(part_index);
    // Every epoch of a part starts at its first record: an epoch covers each
    // record once (MXNet's round_batch would carry wrapped samples over).
    record->set_round_batch(false);
    if (seed.has_value()) record->set_seed_aug(*seed);
  } else if (part->has_image_iter()) {
    iterd::v1::ImageIterConfig* image_iter = part->mutable_image_iter();
    image_iter->set_num_parts(num_parts());
    image_iter->set_part_index(part_index);
    if (seed.has_value()) image_iter->set_seed(*seed);
  } else {
    iterd::v1::NDArrayConfig* ndarray = part->mutable_ndarray();
    ndarray->set_num_parts(num_parts());
    ndarray->set_part_index(part_index);
    if (seed.has_value()) ndarray->set_seed(*seed);
    arrays = options_.inline_arrays;
  }
  open.set_client(absl::StrCat("cpp sharded iterator rank ", rank_, " part ",
                               part_index, " of ", num_parts()));
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<RemoteIterator> iterator,
                         clients_[daemon]->Open(open, arrays));
  iterator->set_max_batches(options_.max_batches);
  return iterator;
}

absl::Status ShardedIterator::OpenAll() {
  const int daemons = num_daemons();
  for (int d = 0; d < daemons; ++d) {
    parts_.push_back(std::make_unique<Part>(rank_ * daemons + d, d));
  }
  std::vector<absl::Status> failures(daemons);
  std::vector<std::thread> threads;
  for (int d = 0; d < daemons; ++d) {
    threads.emplace_back([this, d, &failures] {
      Part& part = *parts_[d];
      absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
          OpenPart(d, part.part_index, std::nullopt);
      if (!iterator.ok()) {
        failures[d] = iterator.status();
        return;
      }
      part.iterator = *std::move(iterator);
      part.seed = part.iterator->seed();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int d = 0; d < daemons; ++d) {
    const absl::Status& error = failures[d];
    if (error.ok()) continue;
    if (!IsDaemonFailure(error)) return error;
    if (options_.on_daemon_failure == DaemonFailureMode::kFail) {
      return Failure(*parts_[d], error.ToString());
    }
    ITERD_RETURN_IF_ERROR(Reassign(parts_[d].get(), error, 0));
    parts_[d]->seed = parts_[d]->iterator->seed();
  }
  const RemoteIterator& first = *parts_[0]->iterator;
  batch_size_ = first.batch_size();
  provide_data_ = first.provide_data();
  provide_label_ = first.provide_label();
  return absl::OkStatus();
}

// A total sample count N from a daemon: `probe` opened on each daemon in
// turn until one answers (a dead daemon is skipped, as in the Python client).
// Unset when the daemon cannot know N before a pass.
absl::StatusOr<std::optional<int64_t>> ShardedIterator::ProbeTotal(
    const iterd::v1::PipelineConfig& probe) {
  absl::Status last_error = absl::UnavailableError("no daemon to probe");
  for (size_t d = 0; d < clients_.size(); ++d) {
    if (clients_[d] == nullptr) {
      last_error = connect_status_[d];
      continue;
    }
    absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
        clients_[d]->OpenConfig(probe);
    if (!iterator.ok()) {
      if (!IsDaemonFailure(iterator.status())) return iterator.status();
      last_error = iterator.status();
      continue;
    }
    const int64_t total = (*iterator)->num_samples();
    (*iterator)->Close().IgnoreError();
    if (total < 0) return std::optional<int64_t>();
    return std::optional<int64_t>(total);
  }
  return last_error;
}

// The samples of all num_parts() parts, by the daemon's part formula, or
// unset when unknown before a pass. Mirrors each Python entry point's
// part_samples.
absl::StatusOr<std::optional<std::vector<int64_t>>>
ShardedIterator::PartSamples() {
  using Result = std::optional<std::vector<int64_t>>;
  if (config_.has_image_iter()) {
    // MXNet's split: every part holds N // P keys, so this trainer's first
    // part tells the size of all.
    const int64_t samples = parts_[0]->iterator->num_samples();
    if (samples < 0) return Result();
    return Result(std::vector<int64_t>(num_parts(), samples));
  }
  std::optional<int64_t> total;
  if (config_.has_image_record()) {
    // Byte-range parts (no .idx) know their count only after a pass.
    if (config_.image_record().path_imgidx().empty()) return Result();
    iterd::v1::PipelineConfig probe = config_;
    iterd::v1::ImageRecordConfig* record = probe.mutable_image_record();
    record->set_batch_size(1);
    record->set_shuffle(false);
    record->set_round_batch(false);
    record->set_preprocess_threads(1);
    probe.set_prefetch_buffer(1);
    ITERD_ASSIGN_OR_RETURN(total, ProbeTotal(probe));
  } else {
    const iterd::v1::NDArrayConfig& ndarray = config_.ndarray();
    if (ndarray.data_size() > 0 && ndarray.data(0).has_inline_() &&
        ndarray.data(0).inline_().shape_size() > 0) {
      total = ndarray.data(0).inline_().shape(0);
    } else {
      // Arrays from files: the daemon's whole-data iterator knows N.
      ITERD_ASSIGN_OR_RETURN(total, ProbeTotal(config_));
    }
  }
  if (!total.has_value()) return Result();
  return Result(CeilSplitSizes(*total, num_parts()));
}

absl::Status ShardedIterator::Plan() {
  if (options_.num_batches.has_value()) {
    batches_per_epoch_ = *options_.num_batches;
    return absl::OkStatus();
  }
  ITERD_ASSIGN_OR_RETURN(std::optional<std::vector<int64_t>> samples,
                         PartSamples());
  if (!samples.has_value()) {
    if (world_size_ == 1) return absl::OkStatus();  // Its count is everyone's.
    return absl::InvalidArgumentError(absl::StrCat(
        world_size_,
        " trainers need equal batch counts, but the sample count of the data "
        "is not known before a pass (ImageRecordIter without path_imgidx): "
        "give path_imgidx, or ShardedIteratorOptions::num_batches (batches "
        "per trainer per epoch)"));
  }
  trainer_batches_ = TrainerBatchCounts(*samples, num_daemons(), world_size_,
                                        batch_size_, discard_short_);
  batches_per_epoch_ =
      balance_ == BalanceMode::kPad
          ? *std::max_element(trainer_batches_.begin(), trainer_batches_.end())
          : *std::min_element(trainer_batches_.begin(), trainer_batches_.end());
  return absl::OkStatus();
}

absl::StatusOr<bool> ShardedIterator::Next(Batch* batch) {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("sharded iterator (rank ", rank_, ") is closed"));
  }
  ITERD_RETURN_IF_ERROR(broken_);
  if (batches_per_epoch_.has_value() && delivered_ >= *batches_per_epoch_) {
    return false;
  }
  const int daemons = num_daemons();
  for (;;) {
    if (std::all_of(
            parts_.begin(), parts_.end(),
            [](const std::unique_ptr<Part>& p) { return p->exhausted; })) {
      break;
    }
    Part* part = parts_[cursor_ % daemons].get();
    if (part->exhausted) {
      ++cursor_;
      continue;
    }
    PartFetcher::Item item = part->fetcher.Get();
    if (item.kind == PartFetcher::Item::Kind::kEnd) {
      part->exhausted = true;
      ++cursor_;
      continue;
    }
    if (item.kind == PartFetcher::Item::Kind::kError) {
      ITERD_RETURN_IF_ERROR(HandleError(part, item.status));
      continue;
    }
    ++cursor_;
    *batch = Deliver(part, std::move(item.batch));
    return true;
  }
  if (batches_per_epoch_.has_value() && delivered_ < *batches_per_epoch_) {
    ++delivered_;
    *batch = FillerBatch(first_batch_, provide_data_, provide_label_,
                         batch_size_, epoch_, pool_.get());
    return true;
  }
  return false;
}

absl::Status ShardedIterator::Reset() {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("sharded iterator (rank ", rank_, ") is closed"));
  }
  StopThreads();
  broken_ = absl::OkStatus();
  ++epoch_;
  for (std::unique_ptr<Part>& part : parts_) {
    absl::Status status = part->iterator->Reset();
    if (!status.ok()) {
      if (IsDaemonFailure(status) &&
          options_.on_daemon_failure == DaemonFailureMode::kFail) {
        status = Failure(*part, status.ToString());
      } else if (IsDaemonFailure(status)) {
        status = Reassign(part.get(), status, 0);
      }
      if (!status.ok()) {
        broken_ = status;
        return status;
      }
    }
    part->delivered = 0;
    part->exhausted = false;
    part->first_batch.reset();
  }
  delivered_ = 0;
  cursor_ = 0;
  first_batch_.reset();
  StartThreads();
  return absl::OkStatus();
}

absl::Status ShardedIterator::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  StopThreads();
  for (std::unique_ptr<Part>& part : parts_) {
    // A dead daemon has nothing left to free.
    if (part->iterator != nullptr) part->iterator->Close().IgnoreError();
  }
  return absl::OkStatus();
}

std::vector<int> ShardedIterator::part_indices() const {
  std::vector<int> indices;
  for (const std::unique_ptr<Part>& part : parts_) {
    indices.push_back(part->part_index);
  }
  return indices;
}

std::vector<std::string> ShardedIterator::part_addresses() const {
  std::vector<std::string> addresses;
  for (const std::unique_ptr<Part>& part : parts_) {
    addresses.push_back(addresses_[part->daemon]);
  }
  return addresses;
}

Batch ShardedIterator::Deliver(Part* part, Batch batch) {
  if (!part->first_batch.has_value()) part->first_batch = batch;
  if (fill_short_ && batch.pad > 0)
    batch = WrapFill(batch, *part->first_batch, pool_.get());
  if (!first_batch_.has_value()) first_batch_ = batch;
  ++part->delivered;
  ++delivered_;
  ++daemon_batches_[part->daemon];
  return batch;
}

void ShardedIterator::StartThreads() {
  for (std::unique_ptr<Part>& part : parts_) {
    part->fetcher.Start(part->iterator.get());
  }
}

void ShardedIterator::StopThreads() {
  // All stop requests first, so parts blocked in a fetch finish together.
  for (std::unique_ptr<Part>& part : parts_) part->fetcher.RequestStop();
  for (std::unique_ptr<Part>& part : parts_) part->fetcher.Join();
}

}  // namespace iterd::client
