// File: server/pipeline/testing/restore_check.h
//
// The save/restore check every pipeline kind must pass (as tf.data's
// checkpoint test base does for every op): run a script of epochs over a
// fresh pipeline (whole epochs, a reset mid-epoch, epochs read to their end
// and reset), recording every batch byte for byte and the position after
// every step; then, for every step, restore a new pipeline to the position
// there and run the rest of the script, which must give exactly the batches
// of the uninterrupted run.

#ifndef ITERD_SERVER_PIPELINE_TESTING_RESTORE_CHECK_H_
#define ITERD_SERVER_PIPELINE_TESTING_RESTORE_CHECK_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/pipeline/batch_iterator.h"

namespace iterd::pipeline::testing {

// One step of the script: read `batches` batches of the epoch (-1: to its
// end), then reset (finished when the end was seen).
struct RestoreStep {
  int batches = -1;
};

// The default script: four epochs, the second reset after one batch.
std::vector<RestoreStep> DefaultRestoreScript();

// Runs the check. `make` builds a fresh pipeline of one config (each call an
// independent instance, as on another daemon). Returns "" on success, else a
// description of the first difference (the cut, the batch, what differs).
std::string CheckSaveRestore(
    const std::function<std::unique_ptr<BatchIterator>()>& make,
    const std::vector<RestoreStep>& script = DefaultRestoreScript());

}  // namespace iterd::pipeline::testing

#endif  // ITERD_SERVER_PIPELINE_TESTING_RESTORE_CHECK_H_
