#pragma once
// Layer 7: optimisers and learning-rate schedules.
#include "crunet/optim/schedule.h"
#include "crunet/optim/sgd.h"
