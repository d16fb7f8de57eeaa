// iterd_cli: lists a daemon's pipelines or reads batches from one of them.
//
//   iterd_cli --server=127.0.0.1:7070 list
//   iterd_cli --server=127.0.0.1:7070 open mnist_train --batches=100 --epochs=2
//   iterd_cli --server=127.0.0.1:7070 open-config
//     'image_record { path_imgrec: "train.rec" data_shape: [3, 224, 224]
//                     batch_size: 32 resize: 256 rand_crop: true }'
//   iterd_cli --server=10.0.0.1:7070,10.0.0.2:7070 --rank=0 --world_size=2
//     open-sharded 'image_record { path_imgrec: "train.rec" ... }'
//
// open-sharded reads this trainer's parts from every daemon of --server (a
// comma list or a DNS name of several; sharded_iterator.h) and prints the
// batches delivered per daemon. Its argument is a PipelineConfig text or a
// pipeline name.
// The open commands print the iterator's counters (GetIteratorStats) at the
// end: records decoded and skipped, with the first skipped records.
//
// Stopping and going on later (open and open-config): --print_state ends the
// output with "state: <base64>", the iterator's position after the last batch
// read (iterd.v1.IteratorState, encoded as the Python client's
// state_dict()["state"]); --resume_state=<base64> opens the same pipeline
// there, so the run goes on with the batch that followed:
//   iterd_cli open mnist_train --batches=100 --print_state
//   iterd_cli open mnist_train --resume_state=CAES... --epochs=2

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cpp/client.h"
#include "client/cpp/sharded_iterator.h"
#include "common/io/small_file.h"
#include "google/protobuf/text_format.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7070", "Daemon address host:port.");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA certificates to check the daemon's TLS certificate with "
          "(default $ITERD_TLS_CA; set means TLS).");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM client certificate for mutual TLS (default $ITERD_TLS_CERT).");
ABSL_FLAG(std::string, tls_key_file, "",
          "PEM key of --tls_cert_file (default $ITERD_TLS_KEY).");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token (default $ITERD_TOKEN, then "
          "$ITERD_TOKEN_FILE).");
ABSL_FLAG(int64_t, batches, 0,
          "open: batches to read per epoch; 0 reads whole epochs.");
ABSL_FLAG(int64_t, epochs, 1, "open: epochs to read.");
ABSL_FLAG(int64_t, print_batches, 3, "open: batches described per epoch.");
ABSL_FLAG(uint32_t, max_batches, 2, "open: batches per Fetch call.");
ABSL_FLAG(int32_t, rank, 0, "open-sharded: this trainer's rank.");
ABSL_FLAG(int32_t, world_size, 1, "open-sharded: number of trainers.");
ABSL_FLAG(std::string, balance, "",
          "open-sharded: 'pad' or 'discard' (default: the config's).");
ABSL_FLAG(std::string, on_daemon_failure, "fail",
          "open-sharded: 'fail' or 'reassign'.");
ABSL_FLAG(std::string, transport, "raw",
          "open: 'raw' (generic stub) or 'proto' (generated stub).");
ABSL_FLAG(bool, print_state, false,
          "open: print the final iterator state as 'state: <base64>'.");
ABSL_FLAG(std::string, resume_state, "",
          "open: start at this state (base64, as --print_state prints it).");

namespace iterd::client {
namespace {

std::string Shape(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ","), ")");
}

std::string Describe(
    const google::protobuf::RepeatedPtrField<iterd::v1::DataDesc>& descs) {
  std::vector<std::string> parts;
  for (const iterd::v1::DataDesc& desc : descs) {
    parts.push_back(absl::StrCat(
        "DataDesc[", desc.name(), ",(", absl::StrJoin(desc.shape(), ","), "),",
        iterd::v1::DataType_Name(desc.dtype()), ",", desc.layout(), "]"));
  }
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

absl::Status List(Client& client) {
  absl::StatusOr<std::vector<iterd::v1::PipelineInfo>> pipelines =
      client.ListPipelines();
  if (!pipelines.ok()) return pipelines.status();
  for (const iterd::v1::PipelineInfo& info : *pipelines) {
    const char* kind = info.config().has_ndarray()        ? "ndarray"
                       : info.config().has_csv()          ? "csv"
                       : info.config().has_image_record() ? "image_record"
                       : info.config().has_image_iter()   ? "image_iter"
                                                          : "other";
    std::printf("%s\t%s\t%s\n", info.name().c_str(), kind,
                info.description().c_str());
  }
  if (pipelines->empty()) std::printf("(no pipelines configured)\n");
  return absl::OkStatus();
}

absl::Status PrintStats(RemoteIterator& iterator) {
  absl::StatusOr<iterd::v1::GetIteratorStatsResponse> stats = iterator.Stats();
  if (!stats.ok()) return stats.status();
  std::printf(
      "stats: batches_produced=%lld records_decoded=%lld "
      "records_skipped=%lld\n",
      static_cast<long long>(stats->batches_produced()),
      static_cast<long long>(stats->records_decoded()),
      static_cast<long long>(stats->records_skipped()));
  for (const std::string& example : stats->skipped_examples()) {
    std::printf("skipped: %s\n", example.c_str());
  }
  return absl::OkStatus();
}

// Reads the flags' batches and epochs from an opened iterator.
absl::Status Read(absl::StatusOr<std::unique_ptr<RemoteIterator>> opened) {
  if (!opened.ok()) return opened.status();
  RemoteIterator& iterator = **opened;
  iterator.set_max_batches(absl::GetFlag(FLAGS_max_batches));
  std::printf("iterator %s batch_size=%lld seed=%llu num_samples=%lld\n",
              iterator.display_id().c_str(),
              static_cast<long long>(iterator.batch_size()),
              static_cast<unsigned long long>(iterator.seed()),
              static_cast<long long>(iterator.num_samples()));
  std::printf("provide_data: %s\n", Describe(iterator.provide_data()).c_str());
  std::printf("provide_label: %s\n",
              Describe(iterator.provide_label()).c_str());

  const int64_t batches_per_epoch = absl::GetFlag(FLAGS_batches);
  const int64_t print_batches = absl::GetFlag(FLAGS_print_batches);
  int64_t total_batches = 0;
  uint64_t total_bytes = 0;
  const absl::Time start = absl::Now();
  for (int64_t epoch = 0; epoch < absl::GetFlag(FLAGS_epochs); ++epoch) {
    if (epoch > 0) {
      absl::Status status = iterator.Reset();
      if (!status.ok()) return status;
    }
    int64_t in_epoch = 0;
    while (batches_per_epoch == 0 || in_epoch < batches_per_epoch) {
      absl::StatusOr<std::optional<Batch>> batch = iterator.Next();
      if (!batch.ok()) return batch.status();
      if (!batch->has_value()) break;
      const Batch& value = **batch;
      if (in_epoch < print_batches) {
        std::vector<std::string> data, label;
        for (const Tensor& tensor : value.data) {
          data.push_back(Shape(tensor.shape));
        }
        for (const Tensor& tensor : value.label) {
          label.push_back(Shape(tensor.shape));
        }
        std::printf("epoch %lld batch %lld: data %s label %s pad %lld\n",
                    static_cast<long long>(value.epoch),
                    static_cast<long long>(in_epoch),
                    absl::StrJoin(data, " ").c_str(),
                    absl::StrJoin(label, " ").c_str(),
                    static_cast<long long>(value.pad));
      }
      ++in_epoch;
      total_bytes += value.payload->size();
    }
    std::printf("epoch %lld: %lld batches\n", static_cast<long long>(epoch),
                static_cast<long long>(in_epoch));
    total_batches += in_epoch;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("%lld batches, %.1f MB in %.3f s: %.1f batches/s, %.1f MB/s\n",
              static_cast<long long>(total_batches), total_bytes / 1e6, seconds,
              seconds > 0 ? total_batches / seconds : 0.0,
              seconds > 0 ? total_bytes / 1e6 / seconds : 0.0);
  absl::Status stats = PrintStats(iterator);
  if (!stats.ok()) return stats;
  if (absl::GetFlag(FLAGS_print_state)) {
    if (iterator.state().version() == 0) {
      return absl::FailedPreconditionError(
          "the daemon sent no iterator state (it is older than resumable "
          "iterators)");
    }
    std::printf(
        "state: %s\n",
        absl::Base64Escape(iterator.state().SerializeAsString()).c_str());
  }
  return iterator.Close();
}

// The state of --resume_state; nullopt when the flag is empty.
absl::StatusOr<std::optional<iterd::v1::IteratorState>> ResumeState() {
  const std::string encoded = absl::GetFlag(FLAGS_resume_state);
  if (encoded.empty()) return std::optional<iterd::v1::IteratorState>();
  std::string bytes;
  iterd::v1::IteratorState state;
  if (!absl::Base64Unescape(encoded, &bytes) || !state.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        "--resume_state is not the base64 of an iterd.v1.IteratorState (the "
        "text after 'state: ' that --print_state printed)");
  }
  return std::optional<iterd::v1::IteratorState>(std::move(state));
}

absl::Status OpenConfig(Client& client, const std::string& text,
                        const iterd::v1::IteratorState* resume_from) {
  iterd::v1::PipelineConfig config;
  if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse the iterd.v1.PipelineConfig text: ", text));
  }
  return Read(client.OpenConfig(config, resume_from));
}

// Reads the flags' epochs from this trainer's parts on every daemon.
absl::Status OpenSharded(const std::string& argument, ClientOptions options) {
  ShardedIteratorOptions sharded;
  sharded.client_options = options;
  sharded.max_batches = absl::GetFlag(FLAGS_max_batches);
  const std::string balance = absl::GetFlag(FLAGS_balance);
  if (balance == "pad" || balance == "discard") {
    sharded.balance =
        balance == "pad" ? BalanceMode::kPad : BalanceMode::kDiscard;
  } else if (!balance.empty()) {
    return absl::InvalidArgumentError("--balance must be pad or discard");
  }
  const std::string failure = absl::GetFlag(FLAGS_on_daemon_failure);
  if (failure != "fail" && failure != "reassign") {
    return absl::InvalidArgumentError(
        "--on_daemon_failure must be fail or reassign");
  }
  sharded.on_daemon_failure = failure == "fail" ? DaemonFailureMode::kFail
                                                : DaemonFailureMode::kReassign;
  const std::vector<std::string> servers = {absl::GetFlag(FLAGS_server)};
  const int rank = absl::GetFlag(FLAGS_rank);
  const int world_size = absl::GetFlag(FLAGS_world_size);
  absl::StatusOr<std::unique_ptr<ShardedIterator>> opened;
  if (argument.find('{') == std::string::npos) {
    opened = ShardedIterator::CreateNamed(servers, rank, world_size, argument,
                                          sharded);
  } else {
    iterd::v1::PipelineConfig config;
    if (!google::protobuf::TextFormat::ParseFromString(argument, &config)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot parse the iterd.v1.PipelineConfig text: ", argument));
    }
    opened =
        ShardedIterator::Create(servers, rank, world_size, config, sharded);
  }
  if (!opened.ok()) return opened.status();
  ShardedIterator& iterator = **opened;
  const std::optional<int64_t> target = iterator.batches_per_epoch();
  std::printf("rank %d of %d: parts %s on %s; %s batches per epoch\n", rank,
              world_size, absl::StrJoin(iterator.part_indices(), ",").c_str(),
              absl::StrJoin(iterator.part_addresses(), ",").c_str(),
              target.has_value() ? absl::StrCat(*target).c_str() : "unknown");
  for (int64_t epoch = 0; epoch < absl::GetFlag(FLAGS_epochs); ++epoch) {
    if (epoch > 0) {
      absl::Status status = iterator.Reset();
      if (!status.ok()) return status;
    }
    int64_t in_epoch = 0;
    Batch batch;
    for (;;) {
      absl::StatusOr<bool> more = iterator.Next(&batch);
      if (!more.ok()) return more.status();
      if (!*more) break;
      if (in_epoch < absl::GetFlag(FLAGS_print_batches)) {
        std::printf(
            "epoch %lld batch %lld: data %s pad %lld\n",
            static_cast<long long>(epoch), static_cast<long long>(in_epoch),
            batch.data.empty() ? "()" : Shape(batch.data[0].shape).c_str(),
            static_cast<long long>(batch.pad));
      }
      ++in_epoch;
    }
    std::printf("epoch %lld: %lld batches\n", static_cast<long long>(epoch),
                static_cast<long long>(in_epoch));
  }
  for (int d = 0; d < iterator.num_daemons(); ++d) {
    std::printf("daemon %s: %lld batches%s\n", iterator.addresses()[d].c_str(),
                static_cast<long long>(iterator.daemon_batches()[d]),
                iterator.failed_daemons().count(iterator.addresses()[d]) > 0
                    ? " (failed)"
                    : "");
  }
  return iterator.Close();
}

int Run(const std::vector<char*>& args) {
  const std::string command = args.size() > 1 ? args[1] : "";
  absl::Status status;
  if (command != "list" && !((command == "open" || command == "open-config" ||
                              command == "open-sharded") &&
                             args.size() == 3)) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  const std::string transport = absl::GetFlag(FLAGS_transport);
  if (transport != "raw" && transport != "proto") {
    std::fprintf(stderr, "--transport must be raw or proto, not '%s'\n",
                 transport.c_str());
    return 2;
  }
  ClientOptions options;
  options.transport =
      transport == "raw" ? FetchTransport::kRaw : FetchTransport::kProto;
  options.security.root_certificates = absl::GetFlag(FLAGS_tls_ca_file);
  options.security.certificate_chain = absl::GetFlag(FLAGS_tls_cert_file);
  options.security.private_key = absl::GetFlag(FLAGS_tls_key_file);
  if (!absl::GetFlag(FLAGS_token_file).empty()) {
    absl::StatusOr<std::string> token =
        io::ReadSmallFile(absl::GetFlag(FLAGS_token_file), 64 << 10);
    if (!token.ok()) {
      std::fprintf(stderr, "--token_file: %s\n",
                   std::string(token.status().message()).c_str());
      return 2;
    }
    options.security.token = *std::move(token);
  }
  absl::StatusOr<std::optional<iterd::v1::IteratorState>> resume_state =
      ResumeState();
  if (!resume_state.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(resume_state.status().message()).c_str());
    return 2;
  }
  if (command == "open-sharded" &&
      (resume_state->has_value() || absl::GetFlag(FLAGS_print_state))) {
    // A sharded iterator is one iterator per part, each with its own state.
    std::fprintf(stderr,
                 "--print_state and --resume_state apply to open and "
                 "open-config, not open-sharded\n");
    return 2;
  }
  const iterd::v1::IteratorState* resume_from =
      resume_state->has_value() ? &**resume_state : nullptr;
  if (command == "open-sharded") {
    status = OpenSharded(args[2], options);
    if (!status.ok()) {
      std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
      return 1;
    }
    return 0;
  }
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(absl::GetFlag(FLAGS_server), options);
  if (!client.ok()) {
    status = client.status();
  } else if (command == "list") {
    status = List(**client);
  } else if (command == "open") {
    status = Read((*client)->OpenNamed(args[2], iterd::v1::PipelineOverrides(),
                                       resume_from));
  } else {
    status = OpenConfig(**client, args[2], resume_from);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace iterd::client

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "iterd_cli --server=HOST:PORT list | open NAME | open-config "
      "PIPELINE_CONFIG_TEXT [--batches=N] [--epochs=E] [--print_state] "
      "[--resume_state=BASE64] | open-sharded "
      "NAME_OR_CONFIG_TEXT --server=A,B,... --rank=R --world_size=W");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  return iterd::client::Run(args);
}
