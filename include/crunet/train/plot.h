#pragma once
#include <string>
#include <vector>

#include "crunet/train/state.h"

namespace crunet::train {

// An SVG picture of a run for a browser, three panels: loss (training and validation); accuracy
// (training top-1, validation top-1 and top-5, in %); the learning rate at the end of each epoch
// (on a log scale when it spans a factor of 10 or more). Values that are negative (not evaluated,
// not recorded) are left out; a series with none has no line and no legend entry. Each point is
// a dot whose tooltip gives its value.
void write_training_curves(const std::string& path, const std::vector<EpochRecord>& history,
                           const std::string& title);

// The epoch records of a run's metrics.jsonl ("kind": "epoch" lines; step lines are skipped), by
// epoch; a key that is missing (a run of an older version) reads as -1, not recorded. An epoch
// written twice (a resumed run) keeps its later record. A line that is not a JSON object, or an
// epoch record without an integer "epoch", is a UserError "file:line: ...".
std::vector<EpochRecord> read_epoch_records(const std::string& metrics_path);

}  // namespace crunet::train
