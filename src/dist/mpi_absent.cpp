// Builds without MPI (CRUNET_MPI=OFF or MPI not found): there is no MPI world to join.
#include "crunet/core/error.h"
#include "dist/mpi/mpi_world.h"

namespace crunet::dist {

std::shared_ptr<ProcessGroup> make_mpi_world() {
  throw NotImplementedError("this build of crunet has no MPI (CRUNET_MPI=OFF or MPI not found)");
}

}  // namespace crunet::dist
