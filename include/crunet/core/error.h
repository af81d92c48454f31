#pragma once
// Errors are exceptions carrying what failed and where. Only the programs in tools/ turn them into
// a message and an exit status; the library never exits or aborts.
#include <stdexcept>
#include <string>

namespace crunet {

// Base of every error the library throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Wrong argument from the caller: shape, dtype or device mismatch, bad parameter value.
class ValueError : public Error {
 public:
  using Error::Error;
};

// The operation exists but not for this device or dtype in this build.
class NotImplementedError : public Error {
 public:
  using Error::Error;
};

// A user input (config, file, command line) is wrong. Tools exit with status 2 for these.
class UserError : public Error {
 public:
  using Error::Error;
};

// A failure reported by a library underneath (CUDA, cuDNN, oneDNN, MPI, I/O).
class RuntimeError : public Error {
 public:
  using Error::Error;
};

}  // namespace crunet
