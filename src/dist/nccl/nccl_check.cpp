#include "nccl_check.h"

#include <string>

#include "crunet/core/error.h"

namespace crunet::dist {

void throw_nccl_error(ncclResult_t status, const char* call, const char* file, int line) {
  std::string where = file;
  const std::size_t slash = where.find_last_of('/');
  if (slash != std::string::npos) where = where.substr(slash + 1);
  std::string code = "error " + std::to_string(static_cast<int>(status)) + ", " +
                     ncclGetErrorString(status);
  if (const char* last = ncclGetLastError(nullptr); last != nullptr && last[0] != '\0') {
    code += " (" + std::string(last) + ")";
  }
  throw RuntimeError(std::string("NCCL call ") + call + " failed: " + code + " (at " + where + ":" +
                     std::to_string(line) + ")");
}

}  // namespace crunet::dist
