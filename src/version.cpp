#include "crunet/version.h"

namespace crunet {

const char* version() { return CRUNET_VERSION; }

}  // namespace crunet
