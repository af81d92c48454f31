#pragma once
// Layer 4: modules, the basic layers and the residual units.
#include "crunet/nn/autocast.h"
#include "crunet/nn/init.h"
#include "crunet/nn/layers.h"
#include "crunet/nn/module.h"
#include "crunet/nn/units.h"
#include "crunet/nn/weights.h"
