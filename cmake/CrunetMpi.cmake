# MPI for data-parallel training (CRUNET_MPI=AUTO|ON|OFF; Debian: libopenmpi-dev) and, when the
# CUDA backend is built too, NCCL for the GPU all-reduce: nccl.h and libnccl beside the CUDA
# toolkit, or where NCCL_ROOT points. Sets CRUNET_WITH_MPI and CRUNET_WITH_NCCL.
if(NOT CRUNET_MPI STREQUAL "OFF")
  # The C API through the C++ compiler; MPI's deprecated C++ bindings are left out.
  set(MPI_CXX_SKIP_MPICXX ON)
  find_package(MPI QUIET COMPONENTS CXX)
endif()
crunet_resolve_option(CRUNET_MPI MPI_CXX_FOUND "MPI (Debian: libopenmpi-dev)" CRUNET_WITH_MPI)

set(CRUNET_WITH_NCCL OFF)
if(CRUNET_WITH_MPI AND CRUNET_WITH_CUDA)
  find_path(NCCL_INCLUDE_DIR nccl.h
    HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2
    HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(CRUNET_WITH_NCCL ON)
    add_library(crunet_nccl INTERFACE)
    target_include_directories(crunet_nccl INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(crunet_nccl INTERFACE ${NCCL_LIBRARY})
  else()
    message(WARNING "NCCL not found (nccl.h / libnccl.so; set NCCL_ROOT): multi-process training "
                    "on GPUs is not available in this build")
  endif()
endif()
message(STATUS "crunet: MPI=${CRUNET_WITH_MPI} NCCL=${CRUNET_WITH_NCCL}")
