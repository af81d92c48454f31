#pragma once
// The MPI checker (STYLE.md habit 8): a failed call becomes a crunet::RuntimeError naming the call,
// MPI's error class and text, and where it was made. Our communicators return errors
// (MPI_ERRORS_RETURN) instead of aborting, so that they reach this checker.
#include <mpi.h>

namespace crunet::dist {

[[noreturn]] void throw_mpi_error(int status, const char* call, const char* file, int line);

inline void check_mpi(int status, const char* call, const char* file, int line) {
  if (status != MPI_SUCCESS) throw_mpi_error(status, call, file, line);
}

}  // namespace crunet::dist

#define CRUNET_MPI_CHECK(call) ::crunet::dist::check_mpi((call), #call, __FILE__, __LINE__)
