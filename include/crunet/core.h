#pragma once
// Layer 1: tensors, devices, memory, random numbers.
#include "crunet/core/allocator.h"
#include "crunet/core/device.h"
#include "crunet/core/dtype.h"
#include "crunet/core/elementwise.h"
#include "crunet/core/error.h"
#include "crunet/core/half.h"
#include "crunet/core/rng.h"
#include "crunet/core/safetensors.h"
#include "crunet/core/shape.h"
#include "crunet/core/storage.h"
#include "crunet/core/tensor.h"
