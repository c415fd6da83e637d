// libFuzzer: arbitrary transmission-phase requests after a valid handshake with structured
// replies and every context selected; also the option payload decoders on their own.
#include "FuzzSession.h"

#include "nbd/OptionParsing.h"

#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace e2kvm::nbd;
    try {
        parseInfoRequest(std::span<const uint8_t>(data, size));
    } catch (const OptionSyntaxError&) {
    }
    try {
        parseMetaContextRequest(std::span<const uint8_t>(data, size));
    } catch (const OptionSyntaxError&) {
    }
    std::vector<uint8_t> input = fuzz::handshakePrefix();
    input.insert(input.end(), data, data + size);
    fuzz::runSession(input.data(), input.size());
    return 0;
}
