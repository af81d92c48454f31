# cuDNN and NCCL are not part of CMake's CUDAToolkit module: find them beside the toolkit (or where
# CUDNN_ROOT / NCCL_ROOT point, e.g. the wheels under a PyTorch installation on the GPU machines).
find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64)
if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
  message(FATAL_ERROR "cuDNN not found (cudnn.h / libcudnn.so); set CUDNN_ROOT or -DCRUNET_CUDA=OFF")
endif()
add_library(crunet_cudnn INTERFACE)
target_include_directories(crunet_cudnn INTERFACE ${CUDNN_INCLUDE_DIR})
target_link_libraries(crunet_cudnn INTERFACE ${CUDNN_LIBRARY})
message(STATUS "crunet: cuDNN ${CUDNN_LIBRARY}")
