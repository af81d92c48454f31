#pragma once
// Layer 2: define-by-run reverse-mode differentiation.
#include "crunet/autograd/grad_mode.h"
#include "crunet/autograd/hooks.h"
#include "crunet/autograd/node.h"
