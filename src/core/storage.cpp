#include "crunet/core/storage.h"

#include <cstring>

#include "crunet/core/allocator.h"

namespace crunet {

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = allocator_for(device_).allocate(nbytes_);
}

Storage::~Storage() { allocator_for(device_).deallocate(data_, nbytes_); }

}  // namespace crunet
