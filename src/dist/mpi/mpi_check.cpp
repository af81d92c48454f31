#include "mpi_check.h"

#include <string>

#include "crunet/core/error.h"

namespace crunet::dist {

void throw_mpi_error(int status, const char* call, const char* file, int line) {
  int error_class = status;
  MPI_Error_class(status, &error_class);
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(status, text, &length) != MPI_SUCCESS) text[0] = '\0';
  char class_text[MPI_MAX_ERROR_STRING] = {0};
  if (MPI_Error_string(error_class, class_text, &length) != MPI_SUCCESS) class_text[0] = '\0';
  std::string where = file;
  const std::size_t slash = where.find_last_of('/');
  if (slash != std::string::npos) where = where.substr(slash + 1);
  std::string code = "error " + std::to_string(status);
  if (class_text[0] != '\0' && std::string(class_text) != text) code += " (" + std::string(class_text) + ")";
  if (text[0] != '\0') code += ": " + std::string(text);
  throw RuntimeError(std::string("MPI call ") + call + " failed: " + code + " (at " + where + ":" +
                     std::to_string(line) + ")");
}

}  // namespace crunet::dist
