// libFuzzer: arbitrary client bytes from the first byte of the handshake (options, then
// possibly requests).
#include "FuzzSession.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    e2kvm::nbd::fuzz::runSession(data, size);
    return 0;
}
