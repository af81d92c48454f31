#pragma once
// Everything a user of libcrunet needs: #include <crunet/crunet.h>, link crunet::crunet.
#include "crunet/autograd.h"
#include "crunet/core.h"
#include "crunet/data.h"
#include "crunet/dist.h"
#include "crunet/models.h"
#include "crunet/nn.h"
#include "crunet/ops.h"
#include "crunet/optim.h"
#include "crunet/train.h"
#include "crunet/version.h"
