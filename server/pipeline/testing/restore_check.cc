#include "server/pipeline/testing/restore_check.h"

#include <cstdint>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace iterd::pipeline::testing {
namespace {

// What the consumer sees of one step of a run.
struct Event {
  std::string what;      // A rendered batch, "end", "reset" or an error.
  StreamPosition after;  // The position right after it.
};

std::string Render(const Batch& batch) {
  const absl::Span<const uint8_t> payload = batch.payload();
  std::string text =
      absl::StrCat("batch epoch ", batch.epoch, " seq ", batch.sequence,
                   " pad ", batch.pad, " index [");
  for (uint64_t id : batch.index) absl::StrAppend(&text, id, ",");
  absl::StrAppend(&text, "] payload ");
  text.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  return text;
}

std::string Describe(const StreamPosition& position) {
  return absl::StrCat("{epoch ", position.epoch, " seq ", position.sequence,
                      " over ", position.epoch_over, " started ",
                      position.epoch_started, " source ", position.source.epoch,
                      "/", position.source.pass, "/", position.source.position,
                      " wrap ", position.continue_after_wrap, " held ",
                      position.held_rows, "@", position.held_from.epoch, "/",
                      position.held_from.position, "}");
}

// Runs script steps [first_step, end) on `pipeline`; the first step starts
// after `skip_batches` of its batches (already read before the cut) and, if
// `skip_to_reset`, only resets.
std::vector<Event> Run(BatchIterator* pipeline,
                       const std::vector<RestoreStep>& script,
                       size_t first_step, int skip_batches,
                       bool skip_to_reset) {
  std::vector<Event> events;
  for (size_t step = first_step; step < script.size(); ++step) {
    const int wanted = script[step].batches;
    bool ended = false;
    if (!(step == first_step && skip_to_reset)) {
      int read = step == first_step ? skip_batches : 0;
      while (wanted < 0 || read < wanted) {
        std::shared_ptr<Batch> batch;
        bool end = false;
        const absl::Status status = pipeline->GetNext(&batch, &end);
        if (!status.ok()) {
          events.push_back({absl::StrCat("error ", status.ToString()), {}});
          return events;
        }
        if (end) {
          events.push_back({"end", pipeline->position()});
          ended = true;
          break;
        }
        events.push_back({Render(*batch), batch->after});
        ++read;
      }
    } else {
      ended = true;  // A cut at "end" is followed by its reset.
    }
    const absl::Status reset = pipeline->Reset(ended);
    if (!reset.ok()) {
      events.push_back({absl::StrCat("error ", reset.ToString()), {}});
      return events;
    }
    events.push_back({"reset", pipeline->position()});
  }
  return events;
}

}  // namespace

std::vector<RestoreStep> DefaultRestoreScript() {
  return {{-1}, {1}, {-1}, {-1}};
}

std::string CheckSaveRestore(
    const std::function<std::unique_ptr<BatchIterator>()>& make,
    const std::vector<RestoreStep>& script) {
  std::unique_ptr<BatchIterator> reference = make();
  const StreamPosition start = reference->position();
  const std::vector<Event> full = Run(reference.get(), script, 0, 0, false);
  for (const Event& event : full) {
    if (absl::StartsWith(event.what, "error")) {
      return absl::StrCat("uninterrupted run: ", event.what);
    }
  }
  // Cut k: restore to the position after event k - 1 (k = 0: the start) and
  // compare events [k, end).
  size_t step = 0;
  int read_in_step = 0;
  for (size_t cut = 0; cut <= full.size(); ++cut) {
    if (cut > 0) {
      const Event& previous = full[cut - 1];
      if (previous.what == "reset") {
        ++step;
        read_in_step = 0;
      } else if (previous.what != "end") {
        ++read_in_step;
      }
    }
    if (step >= script.size()) break;
    const bool at_end = cut > 0 && full[cut - 1].what == "end";
    std::unique_ptr<BatchIterator> resumed = make();
    const StreamPosition& position = cut == 0 ? start : full[cut - 1].after;
    const absl::Status restored = resumed->Restore(position);
    if (!restored.ok()) {
      return absl::StrCat("cut ", cut, ": Restore(", Describe(position),
                          "): ", restored.ToString());
    }
    const std::vector<Event> rest =
        Run(resumed.get(), script, step, read_in_step, at_end);
    for (size_t i = 0; i < rest.size() || cut + i < full.size(); ++i) {
      const std::string expected =
          cut + i < full.size() ? full[cut + i].what : "(nothing)";
      const std::string got = i < rest.size() ? rest[i].what : "(nothing)";
      if (expected != got) {
        return absl::StrCat(
            "cut ", cut, " (restored to ", Describe(position), "), event ",
            cut + i, ": expected ", expected.substr(0, 60), "..., got ",
            got.substr(0, 60), "...",
            expected.size() == got.size() ? " (same length)" : "");
      }
      if (!(full[cut + i].after == rest[i].after)) {
        return absl::StrCat("cut ", cut, ", event ", cut + i,
                            ": position after it ", Describe(rest[i].after),
                            ", expected ", Describe(full[cut + i].after));
      }
    }
  }
  return "";
}

}  // namespace iterd::pipeline::testing
