#include "block/HumanSize.h"

#include <cmath>
#include <cstdio>

namespace e2kvm::block {

std::string humanSize(uint64_t bytes) {
    static const char* const units[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    // Switch to the next unit once the value reaches 1000 of the current one, i.e. pick the
    // largest k with 1024^k <= bytes * 1024 / 1000.
    double scaled = double(bytes) * (1024.0 / 1000.0);
    int unit = 0;
    while (unit < 6 && scaled >= std::ldexp(1.0, 10 * (unit + 1)))
        ++unit;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%0.3g %sB", double(bytes) / std::ldexp(1.0, 10 * unit),
                  units[unit]);
    return buf;
}

} // namespace e2kvm::block
