#pragma once
#include <string>
#include <vector>

#include "crunet/train/state.h"

namespace crunet::train {

// An SVG picture of loss and top-1 accuracy per epoch (training and validation), for a browser.
void write_training_curves(const std::string& path, const std::vector<EpochRecord>& history,
                           const std::string& title);

}  // namespace crunet::train
