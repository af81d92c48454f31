#include "crunet/core/storage.h"

#include <cstring>

#include "crunet/core/allocator.h"

namespace crunet {

Storage::Storage(std::size_t nbytes, Device device)
    : Storage(nbytes, device, allocator_for(device)) {}

Storage::Storage(std::size_t nbytes, Device device, Allocator& allocator)
    : nbytes_(nbytes), device_(device), allocator_(&allocator) {
  data_ = allocator_->allocate(nbytes_);
}

Storage::~Storage() { allocator_->deallocate(data_, nbytes_); }

}  // namespace crunet
