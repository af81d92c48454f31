#pragma once
// Layer 8: data-parallel training over MPI (CPU) and NCCL (GPU): the process group, bucketed
// gradient averaging overlapped with backward, weight broadcast and SyncBN. docs/distributed.md.
#include "crunet/dist/data_parallel.h"
#include "crunet/dist/process_group.h"
#include "crunet/dist/reducer.h"
