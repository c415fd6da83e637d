#pragma once
// Decoding of the payloads of NBD_OPT_INFO/GO and NBD_OPT_LIST/SET_META_CONTEXT. Pure
// functions over untrusted bytes (fuzzed); malformed input throws OptionSyntaxError.
#include "nbd/NbdError.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace e2kvm::nbd {

class OptionSyntaxError : public NbdError {
public:
    using NbdError::NbdError;
};

struct InfoRequest {
    std::string name;
    std::vector<uint16_t> infos;
};
InfoRequest parseInfoRequest(std::span<const uint8_t> data);

struct MetaContextRequest {
    std::string exportName;
    std::vector<std::string> queries;
};
MetaContextRequest parseMetaContextRequest(std::span<const uint8_t> data);

} // namespace e2kvm::nbd
