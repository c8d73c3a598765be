#ifndef SWIFT_CACHING_CHIREDIS_SHIM_H
#define SWIFT_CACHING_CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>

#endif
