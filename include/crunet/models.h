#pragma once
// Layer 5: model specs, the builder and the zoo.
#include "crunet/models/mxnet_import.h"
#include "crunet/models/network.h"
#include "crunet/models/spec.h"
#include "crunet/models/summary.h"
