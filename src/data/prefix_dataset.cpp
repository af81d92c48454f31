#include "crunet/core/error.h"
#include "crunet/data/dataset.h"

namespace crunet::data {

PrefixDataset::PrefixDataset(std::shared_ptr<const Dataset> dataset, std::int64_t count)
    : dataset_(std::move(dataset)), count_(count) {
  if (!dataset_ || count_ < 0 || count_ > dataset_->size()) {
    throw ValueError("PrefixDataset: count " + std::to_string(count_) + " outside the dataset's " +
                     std::to_string(dataset_ ? dataset_->size() : 0) + " samples");
  }
}

Example PrefixDataset::get(std::int64_t index) const {
  if (index < 0 || index >= count_) {
    throw ValueError("PrefixDataset: index " + std::to_string(index) + " outside [0, " +
                     std::to_string(count_) + ")");
  }
  return dataset_->get(index);
}

std::string PrefixDataset::describe() const {
  return "the first " + std::to_string(count_) + " samples of " + dataset_->describe();
}

}  // namespace crunet::data
