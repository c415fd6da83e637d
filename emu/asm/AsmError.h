#pragma once
// AsmError: a problem in E2K assembly source, with "file:line: " context in the message.
#include <stdexcept>
#include <string>

namespace e2kvm::emu {

class AsmError : public std::runtime_error {
public:
    explicit AsmError(const std::string& what) : std::runtime_error(what) {}
};

} // namespace e2kvm::emu
