#pragma once
// The NCCL checker (STYLE.md habit 8): a failed call becomes a crunet::RuntimeError naming the
// call, NCCL's result code and text, NCCL's last error message, and where it was made.
#include <nccl.h>

namespace crunet::dist {

[[noreturn]] void throw_nccl_error(ncclResult_t status, const char* call, const char* file, int line);

// ncclInProgress is not a failure: a non-blocking communicator is still working.
inline void check_nccl(ncclResult_t status, const char* call, const char* file, int line) {
  if (status != ncclSuccess && status != ncclInProgress) throw_nccl_error(status, call, file, line);
}

}  // namespace crunet::dist

#define CRUNET_NCCL_CHECK(call) ::crunet::dist::check_nccl((call), #call, __FILE__, __LINE__)
