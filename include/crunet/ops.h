#pragma once
// Layer 3: differentiable functional ops, dispatched on the tensors' device.
#include "crunet/ops/add.h"
#include "crunet/ops/batch_norm.h"
#include "crunet/ops/cast.h"
#include "crunet/ops/conv2d.h"
#include "crunet/ops/cross_entropy.h"
#include "crunet/ops/flatten.h"
#include "crunet/ops/global_avg_pool.h"
#include "crunet/ops/linear.h"
#include "crunet/ops/math_mode.h"
#include "crunet/ops/max_pool2d.h"
#include "crunet/ops/relu.h"
#include "crunet/ops/sync_batch_norm.h"
