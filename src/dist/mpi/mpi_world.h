#pragma once
// The MPI world group, made once by crunet::dist::world() when an MPI launcher started the
// process (src/dist/mpi/mpi_process_group.cpp; src/dist/mpi_absent.cpp in builds without MPI).
#include <memory>

#include "crunet/dist/process_group.h"

namespace crunet::dist {

std::shared_ptr<ProcessGroup> make_mpi_world();

}  // namespace crunet::dist
