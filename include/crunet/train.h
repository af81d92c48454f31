#pragma once
// Layer 9: the trainer, its config, checkpoints and metrics.
#include "crunet/train/checkpoint.h"
#include "crunet/train/config.h"
#include "crunet/train/metrics.h"
#include "crunet/train/plot.h"
#include "crunet/train/precision.h"
#include "crunet/train/state.h"
#include "crunet/train/trainer.h"
