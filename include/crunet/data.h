#pragma once
// Layer 6: datasets, decoding, augmentation, a multi-threaded loader.
#include "crunet/data/class_map.h"
#include "crunet/data/config.h"
#include "crunet/data/dataset.h"
#include "crunet/data/image.h"
#include "crunet/data/loader.h"
#include "crunet/data/recordio.h"
#include "crunet/data/transforms.h"
